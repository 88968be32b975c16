"""Composition-only baselines that any structure-based model has to beat.

* :class:`CompositionRidge`: ridge regression on quadratic composition features
  (``c_i`` and ``c_i c_j``), one model per phase and target; the cluster-expansion-like
  baseline of alloy thermodynamics.
* :class:`DescriptorForest`: a random forest on composition-weighted registry descriptors
  (mean and spread over the alloy of each :data:`eftgan.elements.DESCRIPTOR_NAMES` entry, and
  the atomic-size mismatch δ), with the phase as an input.

Both take lists of fraction dicts and phases, and targets with NaN for unknown values.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from eftgan.composition import fraction_vector
from eftgan.elements import descriptor_matrix


def quadratic_features(
    fractions: Sequence[Mapping[str, float]], elements: Sequence[str]
) -> np.ndarray:
    """Fractions ``c_i`` and all products ``c_i c_j`` (i <= j), shape (N, n + n(n+1)/2)."""
    c = np.stack([fraction_vector(f, elements) for f in fractions])
    iu = np.triu_indices(len(elements))
    quad = (c[:, :, None] * c[:, None, :])[:, iu[0], iu[1]]
    return np.concatenate([c, quad], axis=1)


def descriptor_features(
    fractions: Sequence[Mapping[str, float]], elements: Sequence[str], phases: Sequence[str]
) -> np.ndarray:
    """Per alloy: composition-weighted mean and spread of each registry descriptor, the
    atomic-size mismatch δ, a bcc indicator and the fractions; shape (N, features)."""
    d = descriptor_matrix(elements)
    d = np.nan_to_num(d, nan=float(np.nanmean(d)))
    c = np.stack([fraction_vector(f, elements) for f in fractions])
    mean = c @ d
    spread = np.sqrt(np.clip(c @ d**2 - mean**2, 0.0, None))
    radius = d[:, 6] if np.isfinite(d[:, 6]).all() else d[:, 5]
    rbar = c @ radius
    delta = np.sqrt(np.clip(c @ (1.0 - radius[None, :] / rbar[:, None]).T ** 2, 0, None).diagonal())
    phase = np.array([[1.0 if p == "bcc" else 0.0] for p in phases])
    return np.concatenate([mean, spread, delta[:, None], phase, c], axis=1)


class CompositionRidge:
    """Ridge on ``[c_i, c_i c_j]``; one cross-validated model per phase and target."""

    def __init__(self, elements: Sequence[str]) -> None:
        self.elements = tuple(elements)
        self.models: dict[tuple[str, int], object] = {}

    def fit(
        self, fractions: Sequence[Mapping[str, float]], phases: Sequence[str], y: np.ndarray
    ) -> CompositionRidge:
        """Fit on fraction maps, phases and targets ``y`` (N, T), NaN = unknown; returns self."""
        from sklearn.linear_model import RidgeCV

        x = quadratic_features(fractions, self.elements)
        ph = np.asarray(phases)
        for phase in sorted(set(phases)):
            for j in range(y.shape[1]):
                m = (ph == phase) & np.isfinite(y[:, j])
                if m.sum() >= 2:
                    self.models[(phase, j)] = RidgeCV(alphas=np.logspace(-8, 1, 19)).fit(
                        x[m], y[m, j]
                    )
        self.n_targets = y.shape[1]
        return self

    def predict(
        self, fractions: Sequence[Mapping[str, float]], phases: Sequence[str]
    ) -> np.ndarray:
        """Predictions (N, T) in the units of the fitted targets (NaN where none was fitted)."""
        x = quadratic_features(fractions, self.elements)
        out = np.full((len(fractions), self.n_targets), np.nan)
        ph = np.asarray(phases)
        for (phase, j), model in self.models.items():
            m = ph == phase
            if m.any():
                out[m, j] = model.predict(x[m])  # type: ignore[attr-defined]
        return out


class DescriptorForest:
    """Random forest on composition-weighted element descriptors (one forest per target)."""

    def __init__(self, elements: Sequence[str], seed: int = 0, n_estimators: int = 300) -> None:
        self.elements = tuple(elements)
        self.seed = seed
        self.n_estimators = n_estimators
        self.models: list[object | None] = []

    def fit(
        self, fractions: Sequence[Mapping[str, float]], phases: Sequence[str], y: np.ndarray
    ) -> DescriptorForest:
        """Fit on fraction maps, phases and targets ``y`` (N, T), NaN = unknown; returns self."""
        from sklearn.ensemble import RandomForestRegressor

        x = descriptor_features(fractions, self.elements, phases)
        self.models = []
        for j in range(y.shape[1]):
            m = np.isfinite(y[:, j])
            rf = RandomForestRegressor(
                n_estimators=self.n_estimators, random_state=self.seed, n_jobs=1
            )
            self.models.append(rf.fit(x[m], y[m, j]) if m.sum() >= 2 else None)
        return self

    def predict(
        self, fractions: Sequence[Mapping[str, float]], phases: Sequence[str]
    ) -> np.ndarray:
        """Predictions (N, T) in the units of the fitted targets (NaN where none was fitted)."""
        x = descriptor_features(fractions, self.elements, phases)
        cols = [
            m.predict(x) if m is not None else np.full(len(x), np.nan)  # type: ignore[attr-defined]
            for m in self.models
        ]
        return np.stack(cols, axis=1)
