"""Training SACA networks on simulated spectra: resumable, seeded, ending in a model folder.

:func:`train_saca` trains a :class:`~spectral.model.SACA` network on a
:class:`~spectral.dataset.SpectraSet` with the settings of a :class:`SACATrainConfig`, and
writes a model folder (``kind = "saca"``) that :func:`spectral.predict.load_saca` reads.

Data and loss. The spectra are split 70/15/15 (:func:`split_indices`, from the seed). The loss
is the mean squared error of the wt % of each element divided by that element's spread in the
training set (so that 0.01 wt % of europium counts as much as its share of the spread of
iron), plus 0.5 x the binary cross-entropy of the presence outputs (present above 0.01 wt %).

Optimisation. Adam; the learning rate either drops by ``lr_factor`` whenever the validation
loss has not improved for ``lr_patience`` epochs (``lr_schedule = "plateau"``, down to
``min_lr``, with early stopping after ``patience`` epochs without improvement: a constant rate
leaves the composition biased by about 1 wt % of Cr where training stalls), or falls along half
a cosine from ``lr`` to ``min_lr`` over ``max_epochs`` (``"cosine"``, every epoch run). The
weights of the best epoch by validation loss are kept either way.

Augmentation and noise. Each batch is shifted, tilted and jittered (:func:`spectral.dataset.
augment`; the jitter's largest standard deviation is ``jitter`` of full scale). Networks that
read the square root of the spectrum see 1 % of noise on an empty baseline as 10 %, which
buries weak lines: give them a smaller jitter. With ``noise = "fresh"`` (data simulated with
``keep_clean``) every training batch gets new shot and read noise from the instrument's model
on its noiseless counts, so the network never sees the same noise twice and cannot learn a
noise pattern by heart; validation and test spectra keep their one noise draw.

Weight averaging. With ``ema`` (a decay such as 0.999) an exponential moving average of the
weights (batch-norm statistics included) is updated after every step and validated beside the
raw weights (``val_loss_raw`` in the history); each epoch the better of the two is the
candidate kept, since early in a run the loss falls faster than the average follows.

Calibration. After training, the kept weights are calibrated on the validation spectra
(:func:`spectral.calibration.calibrate`), and the test metrics are recorded both ways.
``init_from`` fine-tunes a trained model folder (its architecture and weights, a new
calibration).

Resume and devices. After every epoch the whole state goes to the run folder
through :class:`eftgan.runstate.RunState`: running the same command again continues from there
and ends with the weights an uninterrupted run gives. Where the run stops (``max_minutes``) and
where it computes (``device``) are not part of its fingerprint. With ``device = "cuda"`` the
network runs on a GPU while the batches are drawn, noised and augmented on the CPU from the
same generator: the data a run sees do not depend on the device, the arithmetic does (the card
records the device).
"""

from __future__ import annotations

import copy
import dataclasses
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from eftgan.devices import device_name, resolve_device
from eftgan.errors import UserError
from eftgan.runstate import Restored, RunState, check_output_folder
from eftgan.settings import JSONSettings
from spectral.calibration import calibrate
from spectral.dataset import (
    PRESENCE_WT_PCT,
    STEEL_ELEMENTS,
    SpectraSet,
    augment,
    fresh_noise,
    minmax,
)
from spectral.instrument import current_instrument_name, get_instrument
from spectral.model import SACA, SACAConfig, check_variant, n_parameters
from spectral.predict import network_state, predict

__all__ = [
    "LR_SCHEDULES",
    "NOISE_MODES",
    "SACATrainConfig",
    "composition_metrics",
    "ema_update",
    "split_indices",
    "train_saca",
]

#: Learning-rate schedules of :func:`train_saca`.
LR_SCHEDULES = ("plateau", "cosine")
#: Detector noise of the training spectra: drawn once with the data, or afresh for every batch.
NOISE_MODES = ("fixed", "fresh")
#: Settings that say where and for how long a run goes on, not what it computes: left out of
#: the run's fingerprint, so that a run resumes on another device or with another time limit.
RUN_CONTROL = ("device", "max_minutes")


#: The fewest spectra ``spectral train`` takes: its train/validation/test split must fill a
#: batch and leave a validation set.
MIN_SPECTRA = 200


@dataclass
class SACATrainConfig(JSONSettings):
    """Every setting of a SACA training run; JSON round-trip through :meth:`as_dict` /
    :meth:`from_dict`. Invalid values give a one-line :class:`~eftgan.errors.UserError`.

    Attributes:
        variant: network variant (``compact``, ``paper`` or ``wide``, see
            :meth:`spectral.model.SACAConfig.variant`); ignored with ``init_from``.
        seed: random seed of the split, the initial weights, the batches and the augmentation.
        max_epochs: at most this many epochs.
        patience: epochs without a better validation loss before early stopping (plateau).
        batch_size: spectra per step.
        lr: (initial) Adam learning rate.
        lr_schedule: ``plateau`` or ``cosine`` (see the module docstring).
        lr_factor, lr_patience: the plateau schedule's cut and its patience (epochs).
        min_lr: the floor of either schedule.
        jitter: largest augmentation noise, a fraction of full scale.
        noise: detector noise of the training batches, ``fixed`` or ``fresh``.
        ema: decay of the weight average (0: off).
        instrument: the instrument preset the spectra were simulated on (recorded in the model
            folder with its pixel grid).
        init_from: a SACA model folder to fine-tune, or None to start afresh.
        device: ``cpu``, ``cuda`` or ``auto``.
        max_minutes: stop after this wall time (minutes), or None.
    """

    variant: str = "compact"
    seed: int = 0
    max_epochs: int = 40
    patience: int = 6
    batch_size: int = 64
    lr: float = 1e-3
    lr_schedule: str = "plateau"
    lr_factor: float = 0.3
    lr_patience: int = 2
    min_lr: float = 1e-5
    jitter: float = 0.01
    noise: str = "fixed"
    ema: float = 0.0
    instrument: str = "saca2021"
    init_from: str | None = None
    device: str = "cpu"
    max_minutes: float | None = None

    def __post_init__(self) -> None:
        if self.init_from is not None:
            self.init_from = str(self.init_from)
        check_variant(self.variant)
        get_instrument(self.instrument)
        if self.lr_schedule not in LR_SCHEDULES:
            raise UserError(
                f"unknown learning-rate schedule {self.lr_schedule!r}; "
                f"choose one of {', '.join(LR_SCHEDULES)}"
            )
        if self.noise not in NOISE_MODES:
            raise UserError(
                f"unknown noise mode {self.noise!r}; choose one of {', '.join(NOISE_MODES)}"
            )
        if not 0.0 <= self.ema < 1.0:
            raise UserError(f"EMA decay {self.ema} is outside [0, 1); give 0 (off) or e.g. 0.999")
        if self.device not in ("cpu", "cuda", "auto"):
            raise UserError(f"unknown device {self.device!r}; choose cpu, cuda or auto")

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SACATrainConfig:
        """The settings of :meth:`as_dict`'s dictionary (an older instrument name mapped to
        its current one)."""
        d = dict(d)
        if "instrument" in d:
            d["instrument"] = current_instrument_name(d["instrument"])
        return super().from_dict(d)

    def fingerprint(self, data_sha256: str, init_sha256: str | None) -> dict[str, Any]:
        """The run's identity for :class:`~eftgan.runstate.RunState`: the settings but
        :data:`RUN_CONTROL`, the training data's SHA-256 and the fine-tuned weights' SHA-256."""
        d = {k: v for k, v in self.as_dict().items() if k not in RUN_CONTROL}
        return {**d, "data_sha256": data_sha256, "init_from_sha256": init_sha256}

    def schedule(self) -> dict[str, Any]:
        """The learning-rate schedule in a few words, as the model card gives it."""
        if self.lr_schedule == "plateau":
            return {"factor": self.lr_factor, "patience": self.lr_patience, "min_lr": self.min_lr}
        return {"kind": "cosine", "min_lr": self.min_lr}


def split_indices(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """70/15/15 split."""
    perm = np.random.default_rng(seed + 7).permutation(n)
    a, b = int(0.7 * n), int(0.85 * n)
    return perm[:a], perm[a:b], perm[b:]


def composition_metrics(
    pred_wt: np.ndarray,
    true_wt: np.ndarray,
    elements: tuple[str, ...],
    pred_present: np.ndarray | None = None,
) -> dict[str, dict[str, float]]:
    """Per element MAE, RMSE, R² (wt %) and presence precision/recall (above 0.01 wt %)."""
    present = true_wt > PRESENCE_WT_PCT
    called = pred_present if pred_present is not None else pred_wt > PRESENCE_WT_PCT
    out = {}
    for j, el in enumerate(elements):
        e = pred_wt[:, j] - true_wt[:, j]
        var = float(np.var(true_wt[:, j]))
        tp = float((called[:, j] & present[:, j]).sum())
        out[el] = {
            "mae": float(np.mean(np.abs(e))),
            "rmse": float(np.sqrt(np.mean(e**2))),
            "r2": float(1 - np.mean(e**2) / var) if var > 0 else float("nan"),
            "precision": tp / max(float(called[:, j].sum()), 1.0),
            "recall": tp / max(float(present[:, j].sum()), 1.0),
            "n_present": int(present[:, j].sum()),
        }
    return out


@torch.no_grad()
def ema_update(ema: torch.nn.Module, model: torch.nn.Module, decay: float) -> None:
    """``ema <- decay * ema + (1 - decay) * model`` for every floating-point parameter and
    buffer; integer buffers (batch norm's step count) are copied."""
    for e, p in zip(ema.state_dict().values(), model.state_dict().values(), strict=True):
        if e.dtype.is_floating_point:
            e.lerp_(p, 1.0 - decay)
        else:
            e.copy_(p)


def _loss(out: dict[str, torch.Tensor], wt: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    comp = (((out["wt_pct"] - wt) / scale) ** 2).mean()
    pres = torch.nn.functional.binary_cross_entropy_with_logits(
        out["presence_logit"], (wt > PRESENCE_WT_PCT).float()
    )
    return comp + 0.5 * pres


def train_saca(
    data: SpectraSet,
    out: Path,
    config: SACATrainConfig | None = None,
    *,
    progress: bool = True,
    force: bool = False,
    data_config: dict[str, Any] | None = None,
    **settings: Any,
) -> dict[str, Any]:
    """Train a SACA network on ``data`` into the model folder ``out``.

    Args:
        data: simulated spectra with their compositions (``keep_clean`` for fresh noise).
        out: the run folder; an unfinished run there with the same settings and data resumes.
        config: the settings (default :class:`SACATrainConfig`'s); ``settings`` given by
            keyword (``max_epochs=2``, ``ema=0.999``, ...) replace single fields of it.
        progress: print a line per epoch and show a progress bar.
        force: start afresh, removing an unfinished run or a model in ``out``.
        data_config: how ``data`` was made (recorded in the card and ``config.json``).

    Returns:
        ``{"metrics", "history", "best_epoch", "wall_s", "stopped"}``: the calibrated model's
        test metrics per element (:func:`composition_metrics`), one row per epoch, the epoch
        kept, the wall time (s) and why training stopped (``max_epochs``,
        ``early_stopping`` or ``time_limit``).
    """
    if config is not None and not isinstance(config, SACATrainConfig):
        raise TypeError("train_saca(data, out, config): config is a SACATrainConfig")
    config = dataclasses.replace(config or SACATrainConfig(), **settings)
    out = Path(out)
    check_output_folder(out, force)
    if config.noise == "fresh" and (data.clean is None or data.noise_sd is None):
        raise ValueError("noise='fresh' needs spectra simulated with keep_clean=True")
    dev = resolve_device(config.device)
    if dev.type == "cuda":
        torch.backends.cudnn.benchmark = True  # fixed input length: pick the fastest kernels
    t0 = time.perf_counter()
    net_cfg, init_state, init_sha = _network_config(config, data)
    run = _Run.start(config, data, net_cfg, init_state, dev)
    state = RunState(out, config.fingerprint(data.sha256(), init_sha), force=force)
    state.track(model=run.model, opt=run.opt, sched=run.sched, gen=run.gen)
    run.resume(state.restore())
    stopped = _train(run, state, t0, progress)
    result = _finish(run, out, state.fingerprint, data_config, stopped, t0)
    state.finish()
    return result


def _network_config(
    config: SACATrainConfig, data: SpectraSet
) -> tuple[SACAConfig, dict[str, torch.Tensor] | None, str | None]:
    """The architecture to train, and for fine-tuning the starting weights and their SHA-256."""
    if config.init_from is None:
        net = SACAConfig.variant(config.variant, STEEL_ELEMENTS, n_points=data.spectra.shape[1])
        return net, None, None
    from eftgan.checkpoint import read_model_folder

    init_cfg, init_state = read_model_folder(
        Path(config.init_from), kind="saca", option="--init-from"
    )
    net = dataclasses.replace(
        SACAConfig.from_dict(init_cfg["model"]["saca"]),
        calibrated=False,
        presence_calibrated=False,
    )
    if net.n_points != data.spectra.shape[1] or tuple(net.elements) != STEEL_ELEMENTS:
        raise UserError(
            f"{config.init_from}: the model reads {net.n_points} points of "
            f"{','.join(net.elements)}; the data do not fit it"
        )
    return net, network_state(init_state), init_cfg["weights"]["sha256"]


@dataclass
class _Run:
    """One training run: its settings, data and split, the network (and its average), the
    optimiser, schedule and generator, and what it has learnt so far."""

    config: SACATrainConfig
    data: SpectraSet
    split: tuple[np.ndarray, np.ndarray, np.ndarray]
    dev: torch.device
    model: SACA
    averaged: SACA | None
    opt: torch.optim.Optimizer
    sched: Any
    gen: torch.Generator
    scale: torch.Tensor  # the spread of each element's wt % in the training split
    history: list[dict[str, float]] = field(default_factory=list)
    best_val: float = float("inf")
    best_epoch: int = 0
    bad: int = 0  # epochs since the last better validation loss
    epoch: int = 0  # epochs done
    best_state: dict[str, torch.Tensor] = field(default_factory=dict)

    @classmethod
    def start(
        cls,
        config: SACATrainConfig,
        data: SpectraSet,
        net_cfg: SACAConfig,
        init_state: dict[str, torch.Tensor] | None,
        dev: torch.device,
    ) -> _Run:
        """A fresh run: the split, the network initialised from the seed (its composition
        output started at the training set's mean) or from ``init_state``, the optimiser."""
        tr, va, te = split_indices(len(data.spectra), config.seed)
        if len(tr) < config.batch_size or len(va) == 0:
            raise UserError(
                f"{len(data.spectra)} spectra are too few to train; give at least {MIN_SPECTRA}"
            )
        scale = torch.from_numpy(data.wt_pct[tr].std(0).clip(min=0.05).astype(np.float32))
        torch.manual_seed(config.seed)
        model = SACA(net_cfg)
        if init_state is not None:
            model.load_state_dict(init_state)
        else:
            with torch.no_grad():  # start from the mean composition instead of equal shares
                mean = torch.from_numpy(data.wt_pct[tr].mean(0).astype(np.float32)).clamp(min=1e-3)
                model.fc.bias.copy_(torch.log(mean / mean.sum()))
        model.to(dev)
        averaged = copy.deepcopy(model) if config.ema else None
        opt = torch.optim.Adam(model.parameters(), lr=config.lr)
        run = cls(
            config,
            data,
            (tr, va, te),
            dev,
            model,
            averaged,
            opt,
            _scheduler(config, opt),
            torch.Generator().manual_seed(config.seed),
            scale.to(dev),
        )
        run.best_state = {k: v.clone() for k, v in model.state_dict().items()}
        return run

    def resume(self, saved: Restored | None) -> None:
        """Take up a saved run (the tracked objects are restored already)."""
        if saved is None:
            return
        s = saved.scalars
        self.history, self.best_val, self.best_epoch = s["history"], s["best_val"], s["best_epoch"]
        self.bad, self.epoch = s["bad"], s["epoch"]
        self.best_state = saved.tensors["best"]
        if self.averaged is not None:
            self.averaged.load_state_dict(saved.tensors["ema"])

    def save(self, state: RunState) -> None:
        """Checkpoint the run after an epoch."""
        scalars = {
            "epoch": self.epoch,
            "history": self.history,
            "best_val": self.best_val,
            "best_epoch": self.best_epoch,
            "bad": self.bad,
        }
        tensors = {"best": self.best_state}
        if self.averaged is not None:
            tensors["ema"] = self.averaged.state_dict()
        state.save(scalars, **tensors)


def _scheduler(config: SACATrainConfig, opt: torch.optim.Optimizer) -> Any:
    if config.lr_schedule == "plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(
            opt, factor=config.lr_factor, patience=config.lr_patience, min_lr=config.min_lr
        )
    return torch.optim.lr_scheduler.CosineAnnealingLR(
        opt, T_max=config.max_epochs, eta_min=config.min_lr
    )


def _train(run: _Run, state: RunState, t0: float, progress: bool) -> str:
    """Train epoch after epoch, checkpointing each; returns why training stopped."""
    config = run.config
    x_all = torch.from_numpy(minmax(run.data.spectra.astype(np.float32)))
    y_all = torch.from_numpy(run.data.wt_pct.astype(np.float32))
    if run.bad >= config.patience and config.lr_schedule == "plateau":
        return "early_stopping"  # resumed after the stopping epoch was saved: train no further
    while run.epoch < config.max_epochs:
        train_loss = _train_epoch(run, x_all, y_all, progress)
        row = _validate(run, x_all, y_all, train_loss)
        run.save(state)
        if progress:
            _print_epoch(row)
        if run.bad >= config.patience and config.lr_schedule == "plateau":
            return "early_stopping"
        if config.max_minutes is not None and (time.perf_counter() - t0) / 60 > config.max_minutes:
            return "time_limit"
    return "max_epochs"


def _train_epoch(run: _Run, x_all: torch.Tensor, y_all: torch.Tensor, progress: bool) -> float:
    """One pass over the training split in shuffled batches; returns the mean loss."""
    from tqdm import tqdm

    config, data, dev = run.config, run.data, run.dev
    tr = torch.from_numpy(run.split[0])
    bs = config.batch_size
    run.model.train()
    perm = torch.randperm(len(tr), generator=run.gen)
    losses = []
    bar = tqdm(
        range(0, len(tr) - bs + 1, bs),
        desc=f"epoch {run.epoch + 1}",
        disable=not progress,
        mininterval=1.0,
        leave=False,
    )
    for s in bar:
        idx = tr[perm[s : s + bs]]
        if config.noise == "fresh":
            assert data.clean is not None and data.noise_sd is not None
            clean = torch.from_numpy(data.clean)[idx]
            sd = torch.from_numpy(data.noise_sd)[idx]
            x = minmax(fresh_noise(clean, sd, data.full_scale, run.gen))
            assert isinstance(x, torch.Tensor)
        else:
            x = x_all[idx]
        xb = augment(x, run.gen, config.jitter).to(dev, non_blocking=True)
        loss = _loss(run.model(xb), y_all[idx].to(dev, non_blocking=True), run.scale)
        run.opt.zero_grad(set_to_none=True)
        loss.backward()
        run.opt.step()
        if run.averaged is not None:
            ema_update(run.averaged, run.model, config.ema)
        losses.append(loss.detach())  # no float() here: it would wait for a GPU each step
    return float(torch.stack(losses).double().mean())


def _validate(run: _Run, x_all: torch.Tensor, y_all: torch.Tensor, train_loss: float) -> dict:
    """Validate the epoch's weights (the average and the raw ones), step the schedule, keep
    the best; returns the epoch's history row."""
    va = torch.from_numpy(run.split[1])
    x_va, y_va = x_all[va], y_all[va]
    kept = run.averaged if run.averaged is not None else run.model
    val = _val_loss(kept, x_va, y_va, run.scale)
    row = {
        "epoch": run.epoch + 1,
        "train_loss": train_loss,
        "val_loss": val,
        "lr": float(run.opt.param_groups[0]["lr"]),
    }
    kept_val = val
    if run.averaged is not None:
        row["val_loss_raw"] = _val_loss(run.model, x_va, y_va, run.scale)
        if row["val_loss_raw"] < val:  # the average lags while the loss falls fast
            kept_val, kept = row["val_loss_raw"], run.model
    if run.config.lr_schedule == "plateau":
        run.sched.step(kept_val)
    else:
        run.sched.step()
    if kept_val < run.best_val:
        run.best_val, run.best_epoch, run.bad = kept_val, run.epoch + 1, 0
        run.best_state = {k: v.clone() for k, v in kept.state_dict().items()}
    else:
        run.bad += 1
    run.history.append(row)
    run.epoch += 1
    return row


def _print_epoch(row: dict[str, float]) -> None:
    raw = row.get("val_loss_raw")
    print(
        f"epoch {row['epoch']}: train {row['train_loss']:.4f} val {row['val_loss']:.4f} "
        + (f"(raw weights {raw:.4f}) " if raw is not None else "")
        + f"lr {row['lr']:.1e}",
        flush=True,
    )


@torch.no_grad()
def _val_loss(model: SACA, x: torch.Tensor, y: torch.Tensor, scale: torch.Tensor) -> float:
    model.eval()
    dev = scale.device
    losses = [
        float(_loss(model(x[s : s + 256].to(dev)), y[s : s + 256].to(dev), scale))
        for s in range(0, len(x), 256)
    ]
    return float(np.mean(losses))


@dataclass
class _Outcome:
    """What a finished run reports: the calibrated model's test metrics and the rest."""

    metrics: dict[str, Any]
    raw_metrics: dict[str, Any]
    fingerprint: dict[str, Any]
    data_config: dict[str, Any]
    wall_s: float
    stopped: str
    device: str


def _finish(
    run: _Run,
    out: Path,
    fingerprint: dict[str, Any],
    data_config: dict[str, Any] | None,
    stopped: str,
    t0: float,
) -> dict[str, Any]:
    """Test the kept weights, calibrate them on the validation spectra, test again, and write
    the model folder; returns :func:`train_saca`'s summary."""
    data, (_, va, te), dev = run.data, run.split, run.dev
    model = run.model
    model.load_state_dict(run.best_state)
    pred, prob = predict(model, data.spectra[te])
    raw_metrics = composition_metrics(pred, data.wt_pct[te], STEEL_ELEMENTS, prob > 0.5)
    model, net_cfg = calibrate(model, data.spectra[va], data.wt_pct[va], device=dev)
    pred, prob = predict(model, data.spectra[te], device=dev)
    metrics = composition_metrics(pred, data.wt_pct[te], STEEL_ELEMENTS, prob > 0.5)
    outcome = _Outcome(
        metrics,
        raw_metrics,
        fingerprint,
        data_config or {},
        time.perf_counter() - t0,
        stopped,
        device_name(dev),
    )
    _write(out, run, model, net_cfg, outcome)
    return {
        "metrics": metrics,
        "history": run.history,
        "best_epoch": run.best_epoch,
        "wall_s": outcome.wall_s,
        "stopped": stopped,
    }


def _write(out: Path, run: _Run, model: SACA, net_cfg: SACAConfig, outcome: _Outcome) -> None:
    """The model folder: weights, configuration (architecture, instrument grid, metrics,
    history, fingerprint), card, history CSV and loss curves."""
    from eftgan.checkpoint import write_finished_run

    inst = get_instrument(run.config.instrument)
    raw = bool(run.history) and "val_loss_raw" in run.history[0]
    curves = {
        "train": "train_loss",
        "validation (EMA weights)" if raw else "validation": "val_loss",
    }
    if raw:
        curves["validation (raw weights)"] = "val_loss_raw"
    model_config = {
        "saca": net_cfg.as_dict(),
        "instrument": inst.name,
        "wavelength_nm": {
            "first": float(inst.wavelength_nm[0]),
            "last": float(inst.wavelength_nm[-1]),
            "n": len(inst.wavelength_nm),
        },
        "presence_wt_pct": PRESENCE_WT_PCT,
    }
    extra = {
        "metrics": outcome.metrics,
        "metrics_uncalibrated": outcome.raw_metrics,
        "history": run.history,
        "fingerprint": outcome.fingerprint,
        "train_config": run.config.as_dict(),
        "data": outcome.data_config,
        "wall_s": outcome.wall_s,
        "stopped": outcome.stopped,
        "device": outcome.device,
    }
    write_finished_run(
        out,
        model,
        "saca",
        model_config,
        _card(out, run, model, outcome),
        run.history,
        curves,
        x="epoch",
        extra=extra,
        log=True,
    )


_NOISE_WORDS = {"fixed": "drawn once with the data", "fresh": "drawn afresh for every batch"}


def _card(out: Path, run: _Run, model: SACA, outcome: _Outcome) -> str:
    """The model card (Markdown) without its versions line."""
    c, fp, history, inst = (
        run.config,
        outcome.fingerprint,
        run.history,
        get_instrument(run.config.instrument),
    )
    variant = "compact" if model.cfg.stem else "wide" if model.cfg.position_channel else "paper"
    n_tr, n_va, n_te = (len(i) for i in run.split)
    rows = "\n".join(
        f"| {el} | {m['mae']:.4f} | {m['rmse']:.4f} | {m['r2']:.4f} | {m['precision']:.3f} | "
        f"{m['recall']:.3f} |"
        for el, m in outcome.metrics.items()
    )
    init_line = ""
    if fp.get("init_from_sha256"):
        how = "fine-tuned from" if history else "calibrated afresh, not trained further:"
        init_line = f"\n- {how} weights `{fp['init_from_sha256']}`"
    ema = f"weights averaged (EMA, decay {c.ema}) over the steps, " if c.ema else ""
    return f"""# SACA model `{out.name}`

Reads the composition (wt %) of stainless steels with rare earths from a raw emission
spectrum, {inst.range_nm[0]:.0f}-{inst.range_nm[1]:.0f} nm on the `{inst.name}` instrument
grid ({len(inst.wavelength_nm)} points), min-max scaled. Variant: {variant}
({n_parameters(model):,} parameters). Trained on simulated spectra only (`spectral.dataset`):
real spectrometers differ; calibrate on reference samples before trusting it on them.

- data: {len(run.data.spectra)} simulated spectra, SHA-256 `{fp["data_sha256"]}`,
  split {n_tr}/{n_va}/{n_te}; settings {json.dumps(outcome.data_config)}
- seed {c.seed}, Adam lr {c.lr}, batch {c.batch_size},
  learning-rate schedule {json.dumps(c.schedule())},
  augmentation jitter up to {c.jitter} of full scale, detector noise
  {_NOISE_WORDS[c.noise]}, {ema}{len(history)} epochs
  ({outcome.stopped}), wall time {outcome.wall_s:.0f} s on {outcome.device}{init_line}

Held-out simulated test spectra, after the calibration fitted on the validation spectra
(before it: `metrics_uncalibrated` in `config.json`):

| element | MAE (wt %) | RMSE | R² | precision | recall |
|---|---|---|---|---|---|
{rows}
"""
