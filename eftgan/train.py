"""Training ECNet: seeded, early-stopped, resumable after a kill, with a model card at the end.

The optimisation: Adam on the mean squared error of the standardised targets (each target
scaled by the training split's mean and standard deviation, unknown values masked out), the
learning rate halved when the validation loss (mean standardised MAE over the targets) stops
improving, and early stopping on that loss; the best epoch's weights are kept.

Resuming: while training, the run folder holds the :class:`eftgan.runstate.RunState`
(network, optimiser, LR schedule, best weights, history), rewritten atomically after every
epoch. Starting the same command again resumes from it and ends with exactly the weights an
uninterrupted run would have: the shuffling of epoch ``k`` is drawn from a generator seeded by
``(seed, k)``. When training ends the folder becomes a model folder (see
:func:`eftgan.checkpoint.write_finished_run`) with ``training.json`` (the run record, split by
structure name) and ``embeddings.json`` (the learned element vectors) beside it.

The loop is plain PyTorch rather than PyTorch Lightning: Lightning's ``.ckpt`` resume files are
pickles, which this project does not write or load.
"""

from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch_geometric.data import Batch, Data

from eftgan.checkpoint import package_versions, write_finished_run
from eftgan.dataset import (
    PHASES,
    TARGET_UNITS,
    TARGETS,
    Dataset,
    label_sources,
    short_name,
    split_by_composition,
)
from eftgan.ecnet import ECNet, ECNetConfig
from eftgan.elements import EmbeddingTable
from eftgan.errors import UserError
from eftgan.files import atomic_write_json
from eftgan.graphs import structure_to_graph
from eftgan.runstate import Restored, RunState
from eftgan.settings import JSONSettings


@dataclass
class TrainConfig(JSONSettings):
    """Optimisation settings; round-trips through JSON."""

    seed: int = 0
    max_epochs: int = 300
    patience: int = 50
    batch_size: int = 16
    lr: float = 3e-3
    weight_decay: float = 0.0
    lr_factor: float = 0.5
    lr_patience: int = 15
    min_lr: float = 2e-5
    split: tuple[float, float, float] = (0.8, 0.1, 0.1)
    #: Weight of each target (in ``ECNetConfig.targets`` order) in the training loss and the
    #: validation loss; empty: all equal. A multi-task lever, measured on validation by
    #: ``benchmarks/lever_multitask.py``.
    target_weights: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        if any(not w >= 0 for w in self.target_weights) or (
            self.target_weights and not any(self.target_weights)
        ):
            raise UserError("target weights must be non-negative and not all zero")

    def weights(self, n_targets: int) -> torch.Tensor:
        """The target weights as a tensor of ``n_targets``, normalised to mean 1."""
        w = torch.tensor(self.target_weights or [1.0] * n_targets, dtype=torch.float32)
        if len(w) != n_targets:
            raise UserError(f"{len(w)} target weights for {n_targets} targets")
        return w * (n_targets / w.sum())


@dataclass
class TrainResult:
    """What :meth:`Trainer.run` returns: the model folder, epochs run, best epoch and its
    validation loss (standardised), wall time (s), metrics per split and phase, and the epoch
    the run resumed from (0 for a fresh start)."""

    folder: Path
    epochs: int
    best_epoch: int
    best_val_loss: float
    wall_s: float
    metrics: dict[str, Any] = field(default_factory=dict)
    resumed_from: int = 0


def phase_index(phase: str | None, phases: Sequence[str] = PHASES) -> int:
    """Index of ``phase`` in ``phases`` (a :class:`UserError` for an unknown one)."""
    if phase not in phases:
        raise UserError(f"phase {phase!r} is not one of {', '.join(phases)}")
    return list(phases).index(phase)  # type: ignore[arg-type]


def dataset_graphs(dataset: Dataset, config: ECNetConfig) -> list[Data]:
    """One graph per entry, with targets; entries without a phase label are refused, and so
    are entries whose label source the model does not know."""
    graphs = []
    for e in dataset:
        if e.phase is None:
            raise UserError(
                f"entry {e.name} has no phase: name it *_sqsfcc/*_sqsbcc or add a 'phase' column"
            )
        if e.source not in config.sources:
            raise UserError(
                f"entry {e.name} is labelled by {e.source}, which this model does not know "
                f"(sources: {', '.join(config.sources)})"
            )
        graphs.append(
            structure_to_graph(
                e.structure,
                config.elements,
                config.cutoff,
                phase_index(e.phase, config.phases),
                e.target_vector(),
                name=e.name,
                source_index=config.sources.index(e.source),
            )
        )
    return graphs


def masked_loss(
    pred: torch.Tensor, batch: Batch, weights: torch.Tensor | None = None
) -> torch.Tensor:
    """Mean squared error over the known (standardised) targets of a batch, each target
    weighted by ``weights`` (mean 1; default equal)."""
    mask = batch.y_mask.to(pred.dtype)
    w = mask if weights is None else mask * weights
    return ((pred - batch.y) ** 2 * w).sum() / mask.sum().clamp(min=1.0)


@torch.no_grad()
def predict_graphs(net: ECNet, graphs: Sequence[Data], batch_size: int = 32) -> np.ndarray:
    """Physical-unit predictions for graphs, shape (n, n_targets)."""
    net.eval()
    out = []
    for i in range(0, len(graphs), batch_size):
        batch = Batch.from_data_list(list(graphs[i : i + batch_size]))
        out.append(net.to_physical(net(batch)).numpy())
    return np.concatenate(out) if out else np.zeros((0, len(net.config.targets)))


def regression_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """MAE, RMSE (units of the target) and count over the finite values of ``y_true``."""
    ok = np.isfinite(y_true)
    if not ok.any():
        return {"mae": math.nan, "rmse": math.nan, "n": 0}
    err = y_pred[ok] - y_true[ok]
    return {
        "mae": float(np.mean(np.abs(err))),
        "rmse": float(np.sqrt(np.mean(err**2))),
        "n": int(ok.sum()),
    }


def metrics_by_phase(
    y_true: np.ndarray, y_pred: np.ndarray, phases: Sequence[str | None]
) -> dict[str, dict[str, dict[str, float]]]:
    """``{phase: {short target name: {mae, rmse, n}}}``; short names etot, eform, emix, ms,
    rmsd, v0 (the part of the target's name before the first underscore)."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    ph = np.array([p or "" for p in phases])
    for phase in PHASES:
        m = ph == phase
        out[phase] = {
            short_name(t): regression_metrics(y_true[m, j], y_pred[m, j])
            for j, t in enumerate(TARGETS)
        }
    return out


def _format_metrics_table(metrics: dict[str, dict[str, dict[str, float]]]) -> str:
    rows = ["| phase | target | MAE | RMSE | n |", "|---|---|---|---|---|"]
    units = {short_name(t): u for t, u in TARGET_UNITS.items()}
    units["v0"] += ", read from the input cell"
    for phase, per in metrics.items():
        for t, m in per.items():
            rows.append(
                f"| {phase} | {t} ({units[t]}) | {m['mae']:.4f} | {m['rmse']:.4f} | {m['n']} |"
            )
    return "\n".join(rows)


@dataclass
class _Loop:
    """The objects of one ECNet run and its progress: what :class:`RunState` saves."""

    net: ECNet
    opt: torch.optim.Optimizer
    sched: Any
    best_state: dict[str, torch.Tensor]
    history: list[dict[str, float]] = field(default_factory=list)
    best_val: float = math.inf
    best_epoch: int = -1
    bad: int = 0
    start_epoch: int = 0

    def scalars(self, epoch: int) -> dict[str, Any]:
        """The JSON part of the run state after ``epoch``."""
        return {
            "epoch": epoch,
            "best_val": self.best_val,
            "best_epoch": self.best_epoch,
            "bad_epochs": self.bad,
            "history": self.history,
        }

    def resume(self, saved: Restored) -> None:
        """Continue from a restored state (the tracked objects are already loaded)."""
        s = saved.scalars
        self.best_state = saved.tensors["best"]
        self.history = s["history"]
        self.best_val, self.best_epoch, self.bad = s["best_val"], s["best_epoch"], s["bad_epochs"]
        self.start_epoch = s["epoch"] + 1


class Trainer:
    """Train an ECNet on a dataset into ``out``; see the module docstring for resuming.

    Args:
        dataset: labelled structures (targets in eV/atom, μB/atom, Å³/atom).
        out: run folder; it becomes the model folder when training ends.
        model_config: architecture (default: :class:`ECNetConfig` over the dataset's elements).
        train_config: optimisation settings (default: :class:`TrainConfig`).
        split: ``(train, validation, test)`` entry indices (default: by composition, seeded).
        excluded: names of entries left out by validation, recorded in the card.
        progress: show a progress bar on stderr.
        force: start afresh over a finished model or an unfinished run in ``out``.
        on_epoch_end: called with the epoch number after each epoch's state is saved.
    """

    def __init__(
        self,
        dataset: Dataset,
        out: str | Path,
        model_config: ECNetConfig | None = None,
        train_config: TrainConfig | None = None,
        split: tuple[Sequence[int], Sequence[int], Sequence[int]] | None = None,
        excluded: Sequence[str] = (),
        progress: bool = True,
        force: bool = False,
        on_epoch_end: Callable[[int], None] | None = None,
    ) -> None:
        self.dataset = dataset
        self.out = Path(out)
        self.tc = train_config or TrainConfig()
        self.mc = model_config or ECNetConfig(
            elements=dataset.elements, sources=label_sources(dataset)
        )
        self.split = split or split_by_composition(dataset, self.tc.split, self.tc.seed)
        self.excluded = list(excluded)
        self.progress = progress
        self.force = force
        self.on_epoch_end = on_epoch_end
        if not self.split[0]:
            raise UserError("the training split is empty: give a larger dataset or other fractions")
        if not self.split[1]:
            raise UserError(
                "the validation split is empty: give a larger dataset or other fractions"
            )

    def fingerprint(self) -> dict[str, Any]:
        """Settings and data identity of this run; a saved state resumes only under the same."""
        return {
            "model": {
                k: v for k, v in self.mc.as_dict().items() if k not in ("target_mean", "target_std")
            },
            "train": self.tc.as_dict(),
            "data_hash": self.dataset.data_hash,
            "split": [list(map(int, s)) for s in self.split],
        }

    def run(self) -> TrainResult:
        """Train (or resume) to early stopping or ``max_epochs``; write the model folder."""
        t_start = time.perf_counter()
        state = RunState(self.out, self.fingerprint(), force=self.force)
        graphs = self._standardised_graphs()
        loop = self._build()
        state.track(model=loop.net, opt=loop.opt, sched=loop.sched)
        saved = state.restore()
        if saved is not None:
            loop.resume(saved)
        self.out.mkdir(parents=True, exist_ok=True)
        self._train(loop, state, graphs)
        loop.net.load_state_dict(loop.best_state)
        result = TrainResult(
            folder=self.out,
            epochs=len(loop.history),
            best_epoch=loop.best_epoch,
            best_val_loss=loop.best_val,
            wall_s=time.perf_counter() - t_start,
            metrics=self._evaluate(loop.net, graphs),
            resumed_from=loop.start_epoch,
        )
        self._write_outputs(loop.net, loop.history, result)
        state.finish()
        return result

    def _standardised_graphs(self) -> list[Data]:
        """Every entry's graph with targets standardised by the training split's mean and std
        (recorded in the model config, so predictions come back in physical units)."""
        y_train = self.dataset.subset(self.split[0]).targets()
        mean = np.nanmean(y_train, axis=0)
        std = np.nanstd(y_train, axis=0)
        mean = np.where(np.isfinite(mean), mean, 0.0)
        std = np.where(np.isfinite(std) & (std > 1e-8), std, 1.0)
        self.mc.target_mean = [float(v) for v in mean]
        self.mc.target_std = [float(v) for v in std]
        graphs = dataset_graphs(self.dataset, self.mc)
        mean_t = torch.tensor(mean, dtype=torch.float32)
        std_t = torch.tensor(std, dtype=torch.float32)
        for g in graphs:
            g.y = (g.y - mean_t) / std_t
            g.y = torch.where(g.y_mask, g.y, torch.zeros_like(g.y))
        return graphs

    def _build(self) -> _Loop:
        """A freshly initialised network (seeded), Adam and the plateau LR schedule."""
        with torch.random.fork_rng():
            torch.manual_seed(self.tc.seed)
            net = ECNet(self.mc)
        opt = torch.optim.Adam(net.parameters(), lr=self.tc.lr, weight_decay=self.tc.weight_decay)
        sched = torch.optim.lr_scheduler.ReduceLROnPlateau(
            opt, factor=self.tc.lr_factor, patience=self.tc.lr_patience, min_lr=self.tc.min_lr
        )
        best = {k: v.clone() for k, v in net.state_dict().items()}
        return _Loop(net=net, opt=opt, sched=sched, best_state=best)

    def _train(self, loop: _Loop, state: RunState, graphs: list[Data]) -> None:
        """Epochs from ``loop.start_epoch`` until early stopping, saving the state after each."""
        from tqdm import tqdm

        train_g = [graphs[i] for i in self.split[0]]
        val_g = [graphs[i] for i in self.split[1]]
        bar = tqdm(
            total=self.tc.max_epochs,
            initial=loop.start_epoch,
            desc="train ecnet",
            unit="epoch",
            disable=not self.progress,
            file=sys.stderr,
            mininterval=1.0,
        )
        # a run killed after early stopping but before its outputs were written has no epochs left
        last = loop.start_epoch if loop.bad >= self.tc.patience else self.tc.max_epochs
        for epoch in range(loop.start_epoch, last):
            row = self._epoch(loop, epoch, train_g, val_g)
            state.save(loop.scalars(epoch), best=loop.best_state)
            bar.update(1)
            bar.set_postfix(
                train=f"{row['train_loss']:.3g}", val=f"{row['val_loss']:.3g}", best=loop.best_epoch
            )
            if self.on_epoch_end is not None:
                self.on_epoch_end(epoch)
            if loop.bad >= self.tc.patience:
                break
        bar.close()

    def _epoch(
        self, loop: _Loop, epoch: int, train_g: list[Data], val_g: list[Data]
    ) -> dict[str, float]:
        """One epoch: shuffled mini-batches (drawn from a generator seeded by ``(seed,
        epoch)``), validation, LR schedule, best-so-far bookkeeping; returns its history row."""
        t0 = time.perf_counter()
        net, opt = loop.net, loop.opt
        net.train()
        gen = torch.Generator().manual_seed(self.tc.seed * 1_000_003 + epoch)
        perm = torch.randperm(len(train_g), generator=gen).tolist()
        total, count = 0.0, 0
        for i in range(0, len(perm), self.tc.batch_size):
            batch = Batch.from_data_list([train_g[j] for j in perm[i : i + self.tc.batch_size]])
            loss = masked_loss(net(batch), batch, self.tc.weights(batch.y.shape[1]))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += float(loss.detach()) * batch.num_graphs
            count += batch.num_graphs
        val_loss = self._val_loss(net, val_g)
        loop.sched.step(val_loss)
        if val_loss < loop.best_val - 1e-6:
            loop.best_val, loop.best_epoch, loop.bad = val_loss, epoch, 0
            loop.best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
        else:
            loop.bad += 1
        row = {
            "epoch": epoch,
            "train_loss": total / max(count, 1),
            "val_loss": val_loss,
            "lr": opt.param_groups[0]["lr"],
            "seconds": time.perf_counter() - t0,
        }
        loop.history.append(row)
        return row

    @torch.no_grad()
    def _val_loss(self, net: ECNet, graphs: list[Data]) -> float:
        """Mean over targets of the standardised MAE on the validation graphs (weighted as the
        training loss is)."""
        net.eval()
        errs, masks = [], []
        for i in range(0, len(graphs), 64):
            b = Batch.from_data_list(graphs[i : i + 64])
            errs.append((net(b) - b.y).abs() * b.y_mask)
            masks.append(b.y_mask)
        e, m = torch.cat(errs), torch.cat(masks).to(torch.float32)
        per_target = e.sum(0) / m.sum(0).clamp(min=1.0) * self.tc.weights(e.shape[1])
        return float(per_target[m.sum(0) > 0].mean())

    def _evaluate(self, net: ECNet, graphs: list[Data]) -> dict[str, Any]:
        """Per-split, per-phase, per-target MAE/RMSE in physical units, on the rows of the
        first label source; with several sources also ``by_source`` (each row predicted for
        its own source)."""
        y_all = self.dataset.targets()
        sources = self.mc.sources

        def metrics(source: str) -> dict[str, Any]:
            out: dict[str, Any] = {}
            for name, split in zip(("train", "validation", "test"), self.split, strict=True):
                idx = [i for i in split if self.dataset[i].source == source]
                if idx:
                    pred = predict_graphs(net, [graphs[i] for i in idx])
                    phases = [self.dataset[i].phase for i in idx]
                    out[name] = metrics_by_phase(y_all[idx], pred, phases)
            return out

        result = metrics(sources[0])
        if len(sources) > 1:
            result["by_source"] = {src: metrics(src) for src in sources}
        return result

    def _write_outputs(
        self, net: ECNet, history: list[dict[str, float]], result: TrainResult
    ) -> None:
        """``training.json``, ``embeddings.json``, then the model folder (history, loss curve,
        card, weights, config) through :func:`write_finished_run`."""
        atomic_write_json(self.out / "training.json", self._record(result))
        self._embeddings(net).save(self.out / "embeddings.json")
        write_finished_run(
            self.out,
            net,
            kind="ecnet",
            model_config=self.mc.as_dict(),
            card=self._card(result),
            history=history,
            curves={
                "train (MSE, standardised)": "train_loss",
                "validation (mean MAE, standardised)": "val_loss",
            },
            x="epoch",
            extra={"units": {t: TARGET_UNITS[t] for t in self.mc.targets}},
            log=True,
        )

    def _record(self, result: TrainResult) -> dict[str, Any]:
        """The run record written to ``training.json`` (seed, data, split by name, metrics)."""
        names = [self.dataset[i].name for i in range(len(self.dataset))]
        return {
            "seed": self.tc.seed,
            "train_config": self.tc.as_dict(),
            "data": {
                "source": self.dataset.source,
                "sha256": self.dataset.data_hash,
                "n_entries_used": len(self.dataset),
                "excluded_flagged": self.excluded,
            },
            "split": {
                "method": "by composition (fcc and bcc of one composition on the same side)",
                "train": [names[i] for i in self.split[0]],
                "validation": [names[i] for i in self.split[1]],
                "test": [names[i] for i in self.split[2]],
            },
            "epochs": result.epochs,
            "best_epoch": result.best_epoch,
            "best_val_loss": result.best_val_loss,
            "wall_s": result.wall_s,
            "metrics": result.metrics,
            "versions": package_versions(),
        }

    def _embeddings(self, net: ECNet) -> EmbeddingTable:
        """The trained network's input vector of each element slot, as a registry table."""
        with torch.no_grad():
            vectors = net.element_vectors().numpy().astype(float)
        return EmbeddingTable(
            name=self.out.name or "ecnet",
            version=package_versions()["eftgan"],
            elements=self.mc.elements,
            vectors=vectors,
            meta={
                "what": "ECNet input vector of each element slot "
                "(embedding + projected descriptors)",
                "data_sha256": self.dataset.data_hash,
            },
        )

    def _source_lines(self) -> list[str]:
        """What the label sources mean for the card (counts per source, what is predicted)."""
        sources = self.mc.sources
        ms = {"dft": "the spin moment of a collinear DFT calculation"}
        if len(sources) == 1:
            what = ms.get(sources[0], "the mean magnitude of the site moments")
            return [f"- Labels from one source ({sources[0]}); Ms is {what}."]
        counts = {s: sum(e.source == s for e in self.dataset) for s in sources}
        return [
            "- Labels from several sources: "
            + ", ".join(f"{n} rows {s}" for s, n in counts.items())
            + f". Predictions are for {sources[0]}; the source is an input, so the other",
            "  sources' offset is learned where both label similar alloys and carried to the",
            "  alloys only they label. The metrics above are on the "
            f"{sources[0]} rows; see training.json (by_source) for the others.",
        ]

    def _card(self, result: TrainResult) -> str:
        """The model card (Markdown); :func:`write_finished_run` appends the versions line."""
        test = result.metrics.get("test")
        n_split = [len(s) for s in self.split]
        lines = [
            f"# ECNet model `{self.out.name}`",
            "",
            "Elemental-convolution graph network predicting, per atom, the total, formation and",
            "mixing energies (eV/atom), the magnetic moment (μB/atom), the local lattice",
            "distortion rmsd (Å) and the volume (Å³/atom) of an fcc- or bcc-based alloy",
            "structure. The volume is an input of the network (the relaxed cell's volume per",
            "atom), so its V0 is read back, not predicted.",
            "",
            "## Data",
            f"- source: `{self.dataset.source}`",
            f"- data hash: `{self.dataset.data_hash}` (SHA-256 of the files read; for several "
            "datasets, of their hashes in order)",
            f"- entries used: {len(self.dataset)}; flagged by `eftgan data validate` and excluded: "
            f"{len(self.excluded)}",
            f"- elements: {', '.join(self.mc.elements)}",
            "",
            "## Split and training",
            f"- split by composition, seed {self.tc.seed}: train {n_split[0]}, validation "
            f"{n_split[1]}, test {n_split[2]}",
            f"- epochs run: {result.epochs} (best at epoch {result.best_epoch}); wall time "
            f"{result.wall_s:.0f} s",
            f"- settings: `{json.dumps(self.tc.as_dict())}`",
            f"- reproduce: `eftgan train ecnet --data DATASET --out DIR --seed {self.tc.seed} "
            f"--epochs {self.tc.max_epochs} --patience {self.tc.patience} --cutoff "
            f"{self.mc.cutoff} --hidden {self.mc.hidden}`",
            f"- architecture: `{json.dumps(self.fingerprint()['model'])}`",
            "",
            "## Metrics on the test split" if test else "## Metrics",
            "",
            _format_metrics_table(test) if test else "No test split was held out.",
            "",
            "## Limits",
            f"- Trained on special quasirandom structures of {', '.join(self.mc.elements)} "
            "alloys; other",
            "  elements are refused; ordered or strongly distorted cells are outside the data.",
            *self._source_lines(),
        ]
        return "\n".join(lines) + "\n"
