"""The user-facing ECNet model: load a model folder, predict from structures, extract features.

    >>> import eftgan
    >>> model = eftgan.load_model()                       # the shipped default model
    >>> rows = model.predict_structures([structure])      # pymatgen Structures or ASE Atoms
    >>> rows[0]["eform_ev_per_atom"], rows[0]["phase"], rows[0]["phase_source"]

The phase input (the lattice a structure is based on) is taken, in order, from the ``phase``
argument, from the structure's name when it follows the dataset convention (``*_sqsfcc``,
``*_sqsbcc``), or from its nearest-neighbour shells (:mod:`eftgan.lattice`); each row says which.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch_geometric.data import Batch

from eftgan.checkpoint import (
    building,
    calibration_factors,
    ensemble_members,
    load_weights,
    read_model_folder,
)
from eftgan.dataset import PHASES, phase_from_name, std_column
from eftgan.devices import resolve_device
from eftgan.ecnet import ECNet, ECNetConfig
from eftgan.errors import CheckpointError, UserError
from eftgan.graphs import structure_to_graph, to_structure
from eftgan.lattice import classify_phase
from eftgan.paths import default_model_dir

PhaseArg = str | Sequence[str | None] | None


def resolve_phase(
    structure: Any, name: str | None = None, explicit: str | None = None
) -> tuple[str, str]:
    """``(phase, source)`` with source ``"given"``, ``"file name"`` or ``"coordination"``."""
    if explicit is not None:
        p = explicit.lower()
        if p not in PHASES:
            raise UserError(f"phase {explicit!r} is not one of {', '.join(PHASES)}")
        return p, "given"
    if name:
        p2 = phase_from_name(name)
        if p2:
            return p2, "file name"
    p3, eta = classify_phase(structure)
    if p3 is None:
        raise UserError(
            f"cannot tell whether {name or structure.formula} is fcc- or bcc-based from its "
            "neighbour shells; pass phase='fcc' or 'bcc' (--phase on the command line)"
        )
    return p3, f"coordination (order parameter {eta:.2f})"


def _maker(model_config: dict[str, Any]):
    """A function building the ECNet a member's config describes."""
    return lambda: ECNet(ECNetConfig.from_dict(model_config))


def _slot_fractions(batch: Batch, n_slots: int) -> np.ndarray:
    """Atomic fraction of each element slot in each structure of a batch, shape (B, n_slots)."""
    b = int(batch.num_graphs)
    counts = torch.bincount(batch.batch * n_slots + batch.slot, minlength=b * n_slots)
    c = counts.reshape(b, n_slots).double()
    return (c / c.sum(dim=1, keepdim=True)).numpy()


class ECNetModel:
    """A trained ECNet, or a deep ensemble of them, with its configuration, ready to predict.

    An ensemble (:mod:`eftgan.ensemble`) predicts the mean over its members and, per target,
    the spread between them (``<name>_std``, e.g. ``eform_std``) times the factor that made the
    spread match the errors on validation structures. Features for the EFTGAN generator come
    from the first member.
    """

    def __init__(
        self,
        net: ECNet,
        config: dict[str, Any],
        folder: Path | None = None,
        members: Sequence[ECNet] = (),
    ) -> None:
        self.net = net.eval()
        self.members = [m.eval() for m in members] or [self.net]
        self.config = config
        self.folder = folder
        self.device = torch.device("cpu")

    def to(self, device: str | torch.device) -> ECNetModel:
        """Compute on ``device`` (``cpu``, ``cuda`` or ``auto``, see :mod:`eftgan.devices`);
        graphs are built on the CPU and moved batch by batch."""
        self.device = resolve_device(device)
        for net in (self.net, *self.members):
            net.to(self.device)  # in place; moving a module twice is a no-op
        return self

    @classmethod
    def from_folder(cls, folder: str | os.PathLike[str]) -> ECNetModel:
        """Load a checked ECNet model folder (a :class:`CheckpointError` if it does not fit)."""
        config, state = read_model_folder(folder, kind="ecnet")
        nets = []
        with building(folder, "ecnet"):
            for mc_dict, prefix in ensemble_members(config["model"]):
                nets.append(load_weights(_maker(mc_dict), state, folder, prefix[:-1]))
        return cls(nets[0], config, Path(folder), nets)

    @property
    def model_config(self) -> ECNetConfig:
        """The network's architecture and target scaling."""
        return self.net.config

    @property
    def elements(self) -> tuple[str, ...]:
        """The element slots the model was trained on."""
        return self.net.config.elements

    @property
    def targets(self) -> tuple[str, ...]:
        """Predicted columns, with units in the names (``eform_ev_per_atom``, ...)."""
        return self.net.config.targets

    def _prepare(
        self, structures: Sequence[Any], phase: PhaseArg, names: Sequence[str | None] | None
    ) -> tuple[list[Any], list[tuple[str, str]], list[str]]:
        structs = [to_structure(s) for s in structures]
        if names is None:
            names = [None] * len(structs)
        if len(names) != len(structs):
            raise UserError(f"{len(names)} names for {len(structs)} structures")
        if phase is None or isinstance(phase, str):
            phases: list[str | None] = [phase] * len(structs)
        else:
            phases = list(phase)
            if len(phases) != len(structs):
                raise UserError(f"{len(phases)} phases for {len(structs)} structures")
        resolved = [resolve_phase(s, n, p) for s, n, p in zip(structs, names, phases, strict=True)]
        labels = [n or s.composition.reduced_formula for s, n in zip(structs, names, strict=True)]
        return structs, resolved, labels

    def _batches(
        self,
        structs: list[Any],
        resolved: list[tuple[str, str]],
        labels: list[str],
        batch_size: int,
    ):
        cfg = self.net.config
        for i in range(0, len(structs), batch_size):
            graphs = [
                structure_to_graph(s, cfg.elements, cfg.cutoff, cfg.phases.index(p), name=lab)
                for s, (p, _), lab in zip(
                    structs[i : i + batch_size],
                    resolved[i : i + batch_size],
                    labels[i : i + batch_size],
                    strict=True,
                )
            ]
            yield Batch.from_data_list(graphs).to(self.device)

    @functools.cached_property
    def _reach(self) -> dict[str, Any] | None:
        """Per-phase training compositions recorded in the folder (built once), or None."""
        m = self.config["model"]
        if "train_compositions" not in m:
            return None
        from eftgan.reach import reach_by_phase

        return reach_by_phase(
            np.asarray(m["train_compositions"]), m["train_phases"], self.model_config.phases
        )

    def _extrapolation(self, c: np.ndarray, phases: list[str]) -> np.ndarray | None:
        """Per composition ``c`` (N, elements): outside the training data of its phase
        (:mod:`eftgan.reach`); None for a model folder that does not record its training
        compositions."""
        reach = self._reach
        if reach is None:
            return None
        ph = np.array(phases)
        out = np.zeros(len(c), dtype=bool)
        for p, r in reach.items():
            if (ph == p).any():
                out[ph == p] = r.extrapolates(c[ph == p])
        return out

    @torch.inference_mode()
    def predict_structures(
        self,
        structures: Sequence[Any],
        phase: PhaseArg = None,
        names: Sequence[str | None] | None = None,
        batch_size: int = 32,
    ) -> list[dict[str, Any]]:
        """One dict per structure: ``structure``, ``phase``, ``phase_source`` and the targets.

        Args:
            structures: pymatgen ``Structure`` or ASE ``Atoms`` objects (periodic).
            phase: ``"fcc"``/``"bcc"`` for all, one per structure, or None to infer.
            names: labels for the rows (file names carry the ``_sqsfcc`` convention).
            batch_size: structures per forward pass.
        """
        structs, resolved, labels = self._prepare(structures, phase, names)
        preds, fractions = [], [np.zeros((0, len(self.elements)))]
        for batch in self._batches(structs, resolved, labels, batch_size):
            preds.append(np.stack([m.to_physical(m(batch)).cpu().numpy() for m in self.members]))
            fractions.append(_slot_fractions(batch.cpu(), len(self.elements)))
        y = np.concatenate(preds, axis=1) if preds else np.zeros((1, 0, len(self.targets)))
        mean, std = y.mean(axis=0), y.std(axis=0)
        factors = calibration_factors(self.config["model"])
        far = self._extrapolation(np.concatenate(fractions), [p for p, _ in resolved])
        rows = []
        for i, (lab, (p, src)) in enumerate(zip(labels, resolved, strict=True)):
            row: dict[str, Any] = {"structure": lab, "phase": p, "phase_source": src}
            if far is not None:
                row["extrapolation"] = bool(far[i])
            for j, t in enumerate(self.targets):
                row[t] = float(mean[i, j])
                if len(self.members) > 1:
                    row[std_column(t)] = float(std[i, j]) * factors.get(p, {}).get(t, 1.0)
            rows.append(row)
        return rows

    @torch.no_grad()
    def element_features(
        self,
        structures: Sequence[Any],
        phase: PhaseArg = None,
        names: Sequence[str | None] | None = None,
        batch_size: int = 32,
    ) -> list[dict[str, np.ndarray]]:
        """Element-wise feature vectors (the element nodes after the elemental convolutions).

        Returns one ``{element: vector of length hidden}`` per structure; this is the input of
        the EFTGAN generator.
        """
        structs, resolved, labels = self._prepare(structures, phase, names)
        out: list[dict[str, np.ndarray]] = []
        for batch in self._batches(structs, resolved, labels, batch_size):
            nodes = self.net.element_nodes(batch)
            feats = nodes.features.cpu().numpy()
            per: list[dict[str, np.ndarray]] = [{} for _ in range(int(batch.num_graphs))]
            for f, s, slot in zip(
                feats, nodes.structure.tolist(), nodes.slot.tolist(), strict=True
            ):
                per[s][self.elements[slot]] = f.copy()
            out.extend(per)
        return out


def load_model(path: str | os.PathLike[str] | None = None) -> ECNetModel:
    """Load an ECNet model folder; without a path, the default model shipped with eftgan."""
    folder = Path(path) if path is not None else default_model_dir()
    if path is None and not folder.is_dir():
        raise CheckpointError(
            f"the default model is missing from {folder}; reinstall eftgan or pass a model folder"
        )
    return ECNetModel.from_folder(folder)
