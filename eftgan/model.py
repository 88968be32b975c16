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

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch_geometric.data import Batch

from eftgan.checkpoint import building, load_weights, read_model_folder
from eftgan.dataset import PHASES, phase_from_name
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


class ECNetModel:
    """A trained ECNet with its configuration, ready to predict."""

    def __init__(self, net: ECNet, config: dict[str, Any], folder: Path | None = None) -> None:
        self.net = net.eval()
        self.config = config
        self.folder = folder

    @classmethod
    def from_folder(cls, folder: str | os.PathLike[str]) -> ECNetModel:
        """Load a checked ECNet model folder (a :class:`CheckpointError` if it does not fit)."""
        config, state = read_model_folder(folder, kind="ecnet")
        with building(folder, "ecnet"):
            mc = ECNetConfig.from_dict(config["model"])
            net = load_weights(lambda: ECNet(mc), state, folder)
        return cls(net, config, Path(folder))

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
            yield Batch.from_data_list(graphs)

    @torch.no_grad()
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
        preds = []
        for batch in self._batches(structs, resolved, labels, batch_size):
            preds.append(self.net.to_physical(self.net(batch)).numpy())
        y = np.concatenate(preds) if preds else np.zeros((0, len(self.targets)))
        rows = []
        for lab, (p, src), vals in zip(labels, resolved, y, strict=True):
            row: dict[str, Any] = {"structure": lab, "phase": p, "phase_source": src}
            row.update({t: float(v) for t, v in zip(self.targets, vals, strict=True)})
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
            feats = nodes.features.numpy()
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
