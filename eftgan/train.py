"""Training ECNet: seeded, early-stopped, resumable after a kill, with a model card at the end.

A run folder holds, while training, ``state.safetensors`` (model, best model and optimiser
tensors, with the run's JSON state in the safetensors metadata), rewritten atomically after
every epoch. Starting the same command again resumes from it and ends with exactly the weights
an uninterrupted run would have: the shuffling of epoch ``k`` is drawn from a generator seeded
by ``(seed, k)``, so it needs no saved random state. When training ends the folder becomes a
model folder (see :mod:`eftgan.checkpoint`) with ``history.csv`` and ``loss.png`` beside it.

The loop is plain PyTorch rather than PyTorch Lightning: Lightning's ``.ckpt`` resume files are
pickles, which this project does not write or load (see the README for the measured cost).
"""

from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save
from torch_geometric.data import Batch, Data

from eftgan.checkpoint import package_versions, write_model_folder
from eftgan.dataset import PHASES, TARGETS, Dataset, split_by_composition
from eftgan.ecnet import ECNet, ECNetConfig
from eftgan.elements import EmbeddingTable
from eftgan.errors import UserError
from eftgan.files import atomic_write_bytes, atomic_write_text
from eftgan.graphs import structure_to_graph

STATE_FILE = "state.safetensors"


@dataclass
class TrainConfig:
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

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["split"] = list(self.split)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        d = dict(d)
        if "split" in d:
            d["split"] = tuple(d["split"])
        return cls(**d)


@dataclass
class TrainResult:
    folder: Path
    epochs: int
    best_epoch: int
    best_val_loss: float
    wall_s: float
    metrics: dict[str, Any] = field(default_factory=dict)
    resumed_from: int = 0


def phase_index(phase: str | None, phases: Sequence[str] = PHASES) -> int:
    if phase not in phases:
        raise UserError(f"phase {phase!r} is not one of {', '.join(phases)}")
    return list(phases).index(phase)  # type: ignore[arg-type]


def dataset_graphs(dataset: Dataset, config: ECNetConfig) -> list[Data]:
    """One graph per entry, with targets; entries without a phase label are refused."""
    graphs = []
    for e in dataset:
        if e.phase is None:
            raise UserError(
                f"entry {e.name} has no phase: name it *_sqsfcc/*_sqsbcc or add a 'phase' column"
            )
        graphs.append(
            structure_to_graph(
                e.structure,
                config.elements,
                config.cutoff,
                phase_index(e.phase, config.phases),
                e.target_vector(),
                name=e.name,
            )
        )
    return graphs


def masked_loss(pred: torch.Tensor, batch: Batch) -> torch.Tensor:
    """Mean squared error over the known (standardised) targets of a batch."""
    mask = batch.y_mask.to(pred.dtype)
    return ((pred - batch.y) ** 2 * mask).sum() / mask.sum().clamp(min=1.0)


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
    """``{phase: {short target name: {mae, rmse, n}}}`` with short names eform, emix, ms, v0."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    ph = np.array([p or "" for p in phases])
    for phase in PHASES:
        m = ph == phase
        out[phase] = {
            t.split("_")[0]: regression_metrics(y_true[m, j], y_pred[m, j])
            for j, t in enumerate(TARGETS)
        }
    return out


def _optimizer_to_tensors(opt: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], Any]:
    return optimizer_state_tensors(opt.state_dict())


def optimizer_state_tensors(sd: dict[str, Any]) -> tuple[dict[str, torch.Tensor], Any]:
    """An optimizer ``state_dict`` as flat tensors plus its JSON-able ``param_groups``."""
    tensors = {}
    for pid, st in sd["state"].items():
        for k, v in st.items():
            tensors[f"opt.{pid}.{k}"] = torch.as_tensor(v).clone()
    return tensors, sd["param_groups"]


def _optimizer_from_tensors(tensors: dict[str, torch.Tensor], groups: Any) -> dict[str, Any]:
    state: dict[int, dict[str, torch.Tensor]] = {}
    for key, v in tensors.items():
        if key.startswith("opt."):
            _, pid, name = key.split(".", 2)
            state.setdefault(int(pid), {})[name] = v
    return {"state": state, "param_groups": groups}


def _prefixed(
    module: torch.nn.Module | dict[str, torch.Tensor], prefix: str
) -> dict[str, torch.Tensor]:
    sd = module.state_dict() if isinstance(module, torch.nn.Module) else module
    return {f"{prefix}.{k}": v.detach().clone().contiguous() for k, v in sd.items()}


def _unprefixed(tensors: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    n = len(prefix) + 1
    return {k[n:]: v for k, v in tensors.items() if k.startswith(prefix + ".")}


def _loss_png(history: list[dict[str, float]], path: Path) -> None:
    from eftgan.plotting import loss_curves_png

    ep = [h["epoch"] for h in history]
    loss_curves_png(
        path,
        {
            "train (MSE, standardised)": (ep, [h["train_loss"] for h in history]),
            "validation (mean MAE, standardised)": (ep, [h["val_loss"] for h in history]),
        },
        "epoch",
        log=True,
    )


def _history_csv(history: list[dict[str, float]]) -> str:
    cols = ["epoch", "train_loss", "val_loss", "lr", "seconds"]
    lines = [",".join(cols)]
    lines += [",".join(f"{h[c]:.8g}" for c in cols) for h in history]
    return "\n".join(lines) + "\n"


def _format_metrics_table(metrics: dict[str, dict[str, dict[str, float]]]) -> str:
    rows = ["| phase | target | MAE | RMSE | n |", "|---|---|---|---|---|"]
    units = {"eform": "eV/atom", "emix": "eV/atom", "ms": "μB/atom", "v0": "Å³/atom"}
    for phase, per in metrics.items():
        for t, m in per.items():
            rows.append(
                f"| {phase} | {t} ({units[t]}) | {m['mae']:.4f} | {m['rmse']:.4f} | {m['n']} |"
            )
    return "\n".join(rows)


def load_run_state(
    path: Path, fingerprint: dict[str, Any]
) -> tuple[dict[str, torch.Tensor], dict[str, Any]] | None:
    """``(tensors, run)`` of an unfinished run saved at ``path`` (safetensors with the run's
    JSON in its metadata), or None when there is none.

    A damaged file, or a run whose ``fingerprint`` (settings and data) differs, is a
    :class:`UserError`: resuming it would mix two runs.
    """
    if not path.is_file():
        return None
    try:
        tensors = st_load(path.read_bytes())
        run = json.loads(_read_metadata(path)["run"])
    except Exception:
        raise UserError(f"{path} is damaged; pass --force to start the run again") from None
    if run.get("fingerprint") != json.loads(json.dumps(fingerprint)):
        raise UserError(
            f"{path.parent} holds an unfinished run with other settings or data; pass --force "
            "to start over or choose another --out"
        )
    return tensors, run


def check_output_folder(out: Path, force: bool) -> None:
    """Refuse an output folder that holds a finished model or foreign files (unless ``force``).

    A folder with an unfinished run (``state.safetensors``) is accepted: training resumes there.
    """
    if force or not out.exists():
        return
    if (out / "config.json").exists():
        raise UserError(
            f"{out} already holds a trained model; pass --force to overwrite it or choose "
            "another --out"
        )
    if not (out / STATE_FILE).exists() and any(out.iterdir()):
        raise UserError(
            f"{out} exists and is not an eftgan run folder; choose another --out or pass --force"
        )


class Trainer:
    """Train an ECNet on a dataset into ``out``; see the module docstring for resuming."""

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
        self.mc = model_config or ECNetConfig(elements=dataset.elements)
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
        return {
            "model": {
                k: v for k, v in self.mc.as_dict().items() if k not in ("target_mean", "target_std")
            },
            "train": self.tc.as_dict(),
            "data_hash": self.dataset.data_hash,
            "split": [list(map(int, s)) for s in self.split],
        }

    def _check_out(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]] | None:
        """Saved ``(tensors, run state)`` to resume from, or None for a fresh start."""
        check_output_folder(self.out, self.force)
        state_path = self.out / STATE_FILE
        if self.force:
            state_path.unlink(missing_ok=True)
            (self.out / "config.json").unlink(missing_ok=True)
            return None
        return load_run_state(state_path, self.fingerprint())

    def run(self) -> TrainResult:
        t_start = time.perf_counter()
        resume = self._check_out()
        self.out.mkdir(parents=True, exist_ok=True)
        train_idx, val_idx, _ = self.split
        y_train = self.dataset.subset(train_idx).targets()
        mean = np.nanmean(y_train, axis=0)
        std = np.nanstd(y_train, axis=0)
        mean = np.where(np.isfinite(mean), mean, 0.0)
        std = np.where(np.isfinite(std) & (std > 1e-8), std, 1.0)
        self.mc.target_mean = [float(v) for v in mean]
        self.mc.target_std = [float(v) for v in std]

        graphs = dataset_graphs(self.dataset, self.mc)
        for g in graphs:
            g.y = (g.y - torch.tensor(mean, dtype=torch.float32)) / torch.tensor(
                std, dtype=torch.float32
            )
            g.y = torch.where(g.y_mask, g.y, torch.zeros_like(g.y))
        train_g = [graphs[i] for i in train_idx]
        val_g = [graphs[i] for i in val_idx]

        with torch.random.fork_rng():
            torch.manual_seed(self.tc.seed)
            net = ECNet(self.mc)
        opt = torch.optim.Adam(net.parameters(), lr=self.tc.lr, weight_decay=self.tc.weight_decay)
        sched = torch.optim.lr_scheduler.ReduceLROnPlateau(
            opt, factor=self.tc.lr_factor, patience=self.tc.lr_patience, min_lr=self.tc.min_lr
        )
        history: list[dict[str, float]] = []
        best_state = {k: v.clone() for k, v in net.state_dict().items()}
        best_val, best_epoch, bad, start_epoch = math.inf, -1, 0, 0
        if resume is not None:
            tensors, run = resume
            net.load_state_dict(_unprefixed(tensors, "model"))
            best_state = _unprefixed(tensors, "best")
            opt.load_state_dict(_optimizer_from_tensors(tensors, run["param_groups"]))
            sched.load_state_dict(run["scheduler"])
            history = run["history"]
            best_val, best_epoch, bad = run["best_val"], run["best_epoch"], run["bad_epochs"]
            start_epoch = run["epoch"] + 1
        resumed_from = start_epoch

        from tqdm import tqdm

        bar = tqdm(
            total=self.tc.max_epochs,
            initial=start_epoch,
            desc="train ecnet",
            unit="epoch",
            disable=not self.progress,
            file=sys.stderr,
            mininterval=1.0,
        )
        # a run killed after early stopping but before its outputs were written has no epochs left
        last_epoch = start_epoch if bad >= self.tc.patience else self.tc.max_epochs
        for epoch in range(start_epoch, last_epoch):
            t0 = time.perf_counter()
            net.train()
            gen = torch.Generator().manual_seed(self.tc.seed * 1_000_003 + epoch)
            perm = torch.randperm(len(train_g), generator=gen).tolist()
            total, count = 0.0, 0
            for i in range(0, len(perm), self.tc.batch_size):
                batch = Batch.from_data_list([train_g[j] for j in perm[i : i + self.tc.batch_size]])
                loss = masked_loss(net(batch), batch)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                total += float(loss.detach()) * batch.num_graphs
                count += batch.num_graphs
            val_loss = self._val_loss(net, val_g)
            sched.step(val_loss)
            if val_loss < best_val - 1e-6:
                best_val, best_epoch, bad = val_loss, epoch, 0
                best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
            else:
                bad += 1
            history.append(
                {
                    "epoch": epoch,
                    "train_loss": total / max(count, 1),
                    "val_loss": val_loss,
                    "lr": opt.param_groups[0]["lr"],
                    "seconds": time.perf_counter() - t0,
                }
            )
            self._save_state(net, best_state, opt, sched, history, epoch, best_val, best_epoch, bad)
            bar.update(1)
            bar.set_postfix(
                train=f"{total / max(count, 1):.3g}", val=f"{val_loss:.3g}", best=best_epoch
            )
            if self.on_epoch_end is not None:
                self.on_epoch_end(epoch)
            if bad >= self.tc.patience:
                break
        bar.close()

        net.load_state_dict(best_state)
        metrics = self._evaluate(net, graphs)
        wall = time.perf_counter() - t_start
        result = TrainResult(
            folder=self.out,
            epochs=len(history),
            best_epoch=best_epoch,
            best_val_loss=best_val,
            wall_s=wall,
            metrics=metrics,
            resumed_from=resumed_from,
        )
        self._write_outputs(net, history, result)
        (self.out / STATE_FILE).unlink(missing_ok=True)
        return result

    @torch.no_grad()
    def _val_loss(self, net: ECNet, graphs: list[Data]) -> float:
        """Mean over targets of the standardised MAE on the validation graphs."""
        net.eval()
        errs, masks = [], []
        for i in range(0, len(graphs), 64):
            b = Batch.from_data_list(graphs[i : i + 64])
            errs.append((net(b) - b.y).abs() * b.y_mask)
            masks.append(b.y_mask)
        e, m = torch.cat(errs), torch.cat(masks).to(torch.float32)
        per_target = e.sum(0) / m.sum(0).clamp(min=1.0)
        return float(per_target[m.sum(0) > 0].mean())

    def _evaluate(self, net: ECNet, graphs: list[Data]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        y_all = self.dataset.targets()
        for name, idx in zip(("train", "validation", "test"), self.split, strict=True):
            if not idx:
                continue
            pred = predict_graphs(net, [graphs[i] for i in idx])
            out[name] = metrics_by_phase(
                y_all[list(idx)], pred, [self.dataset[i].phase for i in idx]
            )
        return out

    def _save_state(
        self,
        net: ECNet,
        best_state: dict[str, torch.Tensor],
        opt: torch.optim.Optimizer,
        sched: Any,
        history: list[dict[str, float]],
        epoch: int,
        best_val: float,
        best_epoch: int,
        bad: int,
    ) -> None:
        opt_tensors, groups = _optimizer_to_tensors(opt)
        tensors = {**_prefixed(net, "model"), **_prefixed(best_state, "best"), **opt_tensors}
        run = {
            "fingerprint": self.fingerprint(),
            "epoch": epoch,
            "best_val": best_val,
            "best_epoch": best_epoch,
            "bad_epochs": bad,
            "history": history,
            "param_groups": groups,
            "scheduler": sched.state_dict(),
        }
        atomic_write_bytes(
            self.out / STATE_FILE, st_save(tensors, metadata={"run": json.dumps(run)})
        )

    def _write_outputs(
        self, net: ECNet, history: list[dict[str, float]], result: TrainResult
    ) -> None:
        out = self.out
        atomic_write_text(out / "history.csv", _history_csv(history))
        if history:
            _loss_png(history, out / "loss.png")
        names = [self.dataset[i].name for i in range(len(self.dataset))]
        record = {
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
        atomic_write_text(out / "training.json", json.dumps(record, indent=1))
        name = out.name or "ecnet"
        with torch.no_grad():
            vectors = net.element_vectors().numpy().astype(float)
        EmbeddingTable(
            name=name,
            version=package_versions()["eftgan"],
            elements=self.mc.elements,
            vectors=vectors,
            meta={
                "what": "ECNet input vector of each element slot "
                "(embedding + projected descriptors)",
                "data_sha256": self.dataset.data_hash,
            },
        ).save(out / "embeddings.json")
        write_model_folder(
            out,
            net,
            kind="ecnet",
            model_config=self.mc.as_dict(),
            card=self._card(result),
            extra={
                "units": dict(
                    zip(
                        self.mc.targets,
                        ("eV/atom", "eV/atom", "mu_B/atom", "A^3/atom"),
                        strict=False,
                    )
                )
            },
        )

    def _card(self, result: TrainResult) -> str:
        v = package_versions()
        test = result.metrics.get("test")
        n_split = [len(s) for s in self.split]
        lines = [
            f"# ECNet model `{self.out.name}`",
            "",
            "Elemental-convolution graph network predicting, per atom, the formation energy",
            "(eV/atom), mixing energy (eV/atom), magnetic moment (μB/atom) and volume (Å³/atom)",
            "of an fcc- or bcc-based alloy structure.",
            "",
            "## Data",
            f"- source: `{self.dataset.source}`",
            f"- SHA-256 of the files read: `{self.dataset.data_hash}`",
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
            "## Versions",
            "",
            ", ".join(f"{k} {val}" for k, val in v.items()),
            "",
            "## Limits",
            "- Trained on special quasirandom structures of Fe, Ni, Co, Cr, Mn, Pd alloys; other",
            "  elements are refused; ordered or strongly distorted cells are outside the data.",
            "- Ms is the DFT spin moment of a collinear calculation.",
            "",
        ]
        return "\n".join(lines)


def _read_metadata(path: Path) -> dict[str, str]:
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        return dict(f.metadata() or {})
