"""How far a composition lies from a model's training data: the extrapolation flag.

A structure-free prediction for composition ``x`` in phase ``p`` is only as good as the
training structures *of that phase* near ``x``. Distances are total-variation distances between
atomic-fraction vectors, ``0.5 * sum |x - y|`` (0 for the same composition, 1 for compositions
with no element in common). For each phase:

* the training compositions of that phase are made unique (several SQS cells of one
  composition, or one composition seen by several ensemble members, count once);
* the threshold is the 95th percentile of their leave-one-out nearest-neighbour distances, i.e.
  how far apart the training data of that phase typically lie;
* a composition extrapolates in that phase when its nearest training composition of that phase
  is at least that far, or when its number of elements lies outside the range of the phase's
  training compositions (pure elements, for data of binaries to quinaries).

The training compositions of this dataset lie on grids (binaries in steps of 0.25), so the
threshold is a grid step: a composition a full step away from every training composition of
its phase has no data of that phase around it. So bcc Ni0.5Co0.5 extrapolates: its fcc twin
was trained on, but its bcc cell (and the Ni- and Co-rich bcc cells beside it) relaxed off bcc
and were excluded, and the nearest bcc training composition is 0.25 away.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

QUANTILE = 0.95


def tv_distances(c: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """Total-variation distance from each row of ``c`` (N, S) to its nearest row of ``ref``."""
    if len(ref) == 0:
        return np.full(len(c), np.inf)
    a = torch.from_numpy(np.ascontiguousarray(c, dtype=np.float32))
    b = torch.from_numpy(np.ascontiguousarray(ref, dtype=np.float32))
    out = np.empty(len(c), dtype=np.float64)
    for i in range(0, len(c), 65536):
        out[i : i + 65536] = 0.5 * torch.cdist(a[i : i + 65536], b, p=1).min(dim=1).values
    return out


def nn_distance_threshold(train_c: np.ndarray, quantile: float = QUANTILE) -> float:
    """Quantile of leave-one-out nearest-neighbour TV distances among unique compositions."""
    u = np.unique(np.round(np.asarray(train_c, dtype=np.float64), 6), axis=0)
    if len(u) < 2:
        return 0.0
    d = 0.5 * np.abs(u[:, None, :] - u[None, :, :]).sum(axis=2)
    np.fill_diagonal(d, np.inf)
    return float(np.quantile(d.min(axis=1), quantile))


@dataclass
class PhaseReach:
    """The unique training compositions of one phase, their threshold and component range."""

    compositions: np.ndarray
    threshold: float
    n_components: tuple[int, int]

    @classmethod
    def of(cls, compositions: np.ndarray) -> PhaseReach:
        """The reach of a set of training compositions (N, S), duplicates allowed."""
        u = np.unique(np.round(np.asarray(compositions, dtype=np.float64), 6), axis=0)
        k = (u > 0).sum(axis=1) if len(u) else np.array([0])
        return cls(u.astype(np.float32), nn_distance_threshold(u), (int(k.min()), int(k.max())))

    def distance(self, c: np.ndarray) -> np.ndarray:
        """TV distance of each composition (N, S) to the nearest training composition."""
        return tv_distances(c, self.compositions)

    def extrapolates(self, c: np.ndarray) -> np.ndarray:
        """True where a composition lies outside this phase's training data (see module)."""
        k = (c > 0).sum(axis=1)
        lo, hi = self.n_components
        far = self.distance(c) >= self.threshold - 1e-6
        return far | (k < lo) | (k > hi)


def reach_by_phase(
    compositions: np.ndarray, phases: Sequence[str | None], model_phases: Sequence[str]
) -> dict[str, PhaseReach]:
    """One :class:`PhaseReach` per model phase from training compositions and their phases;
    a composition whose phase is unknown (None) counts for every phase."""
    ph = np.array([p or "" for p in phases])
    return {p: PhaseReach.of(compositions[(ph == p) | (ph == "")]) for p in model_phases}
