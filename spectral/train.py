"""Training SACA models on simulated spectra, with exact resume; metrics in the seed's form.

``train_saca`` simulates ``n_spectra`` steel spectra from ``seed`` (the same seed gives the
same spectra, whose SHA-256 is recorded), splits them 70/15/15, and trains with Adam (lr
0.001, batch 64), the seed's augmentation and early stopping on the validation loss. The loss
is the mean squared error of the wt % of each element divided by that element's spread in
the training set (so that 0.01 wt % of europium counts as much as its share of the spread of
iron), plus 0.5 x the binary cross-entropy of the presence outputs. The learning rate drops
by ``lr_factor`` whenever the validation loss has not improved for ``lr_patience`` epochs
(down to ``min_lr``): without it the seed's constant 0.001 leaves the composition biased by
about 1 wt % of Cr at the point where training stalls. With ``lr_schedule="cosine"`` the rate
instead falls along half a cosine from ``lr`` to ``min_lr`` over ``max_epochs``, with no early
stopping (the plateau schedule of v3 reached its floor at epoch 27 of 51 and spent the rest
there); the best epoch by validation loss is kept either way. The jitter of the augmentation is
``jitter`` of full scale at most (the seed's 1 % by default; the compact model from v3 on
uses 0.2 %: it reads the square root of the spectrum, which turns 1 % noise on an empty
baseline into 10 %, and buries the weak rare-earth lines that the test spectra show). After
training, the best weights are calibrated (:func:`calibrate`: a slope and an offset per
element, and a shift of each presence logit that balances precision and recall, fitted on the
validation spectra), and the test metrics are given both ways. With
``init_from`` a trained model folder is fine-tuned (its architecture, its weights, a new
calibration). With ``noise="fresh"`` (the data simulated with ``keep_clean``) every training
batch gets new detector noise, shot and read noise from the instrument's model, on its
noiseless counts: the network never sees the same noise twice, so it cannot learn a noise
pattern by heart, and the augmentation's jitter, which only approximates that noise, can be
turned down (validation and test spectra keep their one noise draw). After every epoch the
whole training state goes to ``OUT/state.safetensors``; running the same command again
continues from there. With ``ema`` (a decay such as 0.999) the weights that are validated,
kept and shipped are an exponential moving average of the trained ones, updated after every
step (batch-norm statistics averaged the same way): it smooths the epoch-to-epoch jumps of the
validation loss that a small batch leaves at the end of training; the history then also gives
the validation loss of the raw weights (``val_loss_raw``). Each epoch the better of the two by
validation loss is the candidate for the kept weights: early in a run from scratch the loss
falls faster than the average follows (the wide variant's first GPU run ended with 0.068 for
the average and 0.047 for the raw weights). With ``device="cuda"`` the network, its
validation and the final evaluation run on a GPU, while the batches are drawn, noised and
augmented on the CPU from the same generator: the data a run sees do not depend on the
device, the arithmetic does (the card records the device). The model folder (``kind =
"saca"``) holds the weights, the configuration with the instrument's grid, the test metrics,
the loss curve (PNG and CSV) and a model card.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from eftgan.checkpoint import package_versions, write_model_folder
from eftgan.errors import UserError
from eftgan.files import atomic_write_bytes, atomic_write_text
from eftgan.train import (
    STATE_FILE,
    _optimizer_from_tensors,
    _optimizer_to_tensors,
    _prefixed,
    _unprefixed,
    check_output_folder,
    load_run_state,
)
from spectral.calibration import calibrate
from spectral.dataset import (
    PRESENCE_WT_PCT,
    STEEL_ELEMENTS,
    SpectraSet,
    augment,
    fresh_noise,
    minmax,
)
from spectral.model import SACA, SACAConfig, n_parameters
from spectral.predict import network_state, predict

#: Learning-rate schedules of :func:`train_saca`.
LR_SCHEDULES = ("plateau", "cosine")
#: Detector noise of the training spectra: drawn once with the data, or afresh for every batch.
NOISE_MODES = ("fixed", "fresh")


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
    variant: str = "compact",
    seed: int = 0,
    max_epochs: int = 40,
    patience: int = 6,
    batch_size: int = 64,
    lr: float = 1e-3,
    instrument: str = "seed",
    progress: bool = True,
    force: bool = False,
    max_minutes: float | None = None,
    data_config: dict[str, Any] | None = None,
    lr_factor: float = 0.3,
    lr_patience: int = 2,
    min_lr: float = 1e-5,
    init_from: Path | None = None,
    jitter: float = 0.01,
    lr_schedule: str = "plateau",
    noise: str = "fixed",
    ema: float = 0.0,
    device: str = "cpu",
) -> dict[str, Any]:
    """Train a SACA model on ``data`` into the folder ``out`` (see the module docstring)."""
    from tqdm import tqdm

    check_output_folder(out, force)
    if lr_schedule not in LR_SCHEDULES:
        raise UserError(f"unknown learning-rate schedule {lr_schedule!r}; "
                        f"choose one of {', '.join(LR_SCHEDULES)}")  # fmt: skip
    if noise not in NOISE_MODES:
        raise UserError(f"unknown noise mode {noise!r}; choose one of {', '.join(NOISE_MODES)}")
    if not 0.0 <= ema < 1.0:
        raise UserError(f"EMA decay {ema} is outside [0, 1); give 0 (off) or e.g. 0.999")
    if noise == "fresh" and (data.clean is None or data.noise_sd is None):
        raise ValueError("noise='fresh' needs spectra simulated with keep_clean=True")
    dev = resolve_device(device)
    if dev.type == "cuda":
        torch.backends.cudnn.benchmark = True  # fixed input length: pick the fastest kernels
    t0 = time.perf_counter()
    elements = STEEL_ELEMENTS
    init_state, init_sha = None, None
    if init_from is not None:  # fine-tuning: the architecture comes from the model folder
        from eftgan.checkpoint import read_model_folder

        init_cfg, init_state = read_model_folder(Path(init_from), kind="saca")
        cfg = dataclasses.replace(SACAConfig.from_dict(init_cfg["model"]["saca"]),
                                  calibrated=False, presence_calibrated=False)  # fmt: skip
        init_state = network_state(init_state)
        init_sha = init_cfg["weights"]["sha256"]
        if cfg.n_points != data.spectra.shape[1] or tuple(cfg.elements) != elements:
            raise UserError(f"{init_from}: the model reads {cfg.n_points} points of "
                            f"{','.join(cfg.elements)}; the data do not fit it")  # fmt: skip
    else:
        cfg = SACAConfig.variant(variant, elements, n_points=data.spectra.shape[1])
    tr, va, te = split_indices(len(data.spectra), seed)
    if len(tr) < batch_size or len(va) == 0:
        raise UserError(f"{len(data.spectra)} spectra are too few to train; give at least 200")
    scale = torch.from_numpy(data.wt_pct[tr].std(0).clip(min=0.05).astype(np.float32))
    fingerprint = {
        "config": cfg.as_dict(), "seed": seed, "batch_size": batch_size, "lr": lr,
        "data_sha256": data.sha256(), "max_epochs": max_epochs, "patience": patience,
        "lr_schedule": {"factor": lr_factor, "patience": lr_patience, "min_lr": min_lr}
        if lr_schedule == "plateau" else {"kind": "cosine", "min_lr": min_lr},
        "init_from_sha256": init_sha, "jitter": jitter, "noise": noise,
    }  # fmt: skip
    if ema:  # absent when off, so that runs from before the option resume as they were
        fingerprint["ema"] = ema
    torch.manual_seed(seed)
    model = SACA(cfg)
    if init_state is not None:
        model.load_state_dict(init_state)
    else:
        with torch.no_grad():  # start from the mean composition instead of equal shares
            mean = torch.from_numpy(data.wt_pct[tr].mean(0).astype(np.float32)).clamp(min=1e-3)
            model.fc.bias.copy_(torch.log(mean / mean.sum()))
    model.to(dev)
    averaged = copy.deepcopy(model) if ema else None
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched: Any
    if lr_schedule == "plateau":
        sched = torch.optim.lr_scheduler.ReduceLROnPlateau(
            opt, factor=lr_factor, patience=lr_patience, min_lr=min_lr
        )
    else:
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max_epochs, eta_min=min_lr)
    gen = torch.Generator().manual_seed(seed)
    history: list[dict[str, float]] = []
    best_val, best_epoch, bad, start = float("inf"), 0, 0, 0
    best_state = {k: v.clone() for k, v in model.state_dict().items()}
    state_path = out / STATE_FILE
    if force:
        state_path.unlink(missing_ok=True)
    saved = load_run_state(state_path, fingerprint)
    if saved is not None:
        tensors, run = saved
        model.load_state_dict(_unprefixed(tensors, "model"))
        if averaged is not None:
            averaged.load_state_dict(_unprefixed(tensors, "ema"))
        best_state = _unprefixed(tensors, "best")
        opt.load_state_dict(_optimizer_from_tensors(tensors, run["param_groups"]))
        gen.set_state(tensors["rng"])
        history, best_val, best_epoch = run["history"], run["best_val"], run["best_epoch"]
        bad, start = run["bad"], run["epoch"]
        sched.load_state_dict(run["scheduler"])
    x_all = torch.from_numpy(minmax(data.spectra.astype(np.float32)))
    y_all = torch.from_numpy(data.wt_pct.astype(np.float32))
    x_va, y_va = x_all[va], y_all[va]
    scale = scale.to(dev)
    if noise == "fresh":
        assert data.clean is not None and data.noise_sd is not None
        clean_all, sd_all = torch.from_numpy(data.clean), torch.from_numpy(data.noise_sd)
    stopped = "max_epochs"
    for epoch in range(start, max_epochs):
        model.train()
        perm = torch.randperm(len(tr), generator=gen)
        losses = []
        bar = tqdm(range(0, len(tr) - batch_size + 1, batch_size), desc=f"epoch {epoch + 1}",
                   disable=not progress, mininterval=1.0, leave=False)  # fmt: skip
        for s in bar:
            idx = torch.from_numpy(tr)[perm[s : s + batch_size]]
            if noise == "fresh":
                x = minmax(fresh_noise(clean_all[idx], sd_all[idx], data.full_scale, gen))
                assert isinstance(x, torch.Tensor)
            else:
                x = x_all[idx]
            xb = augment(x, gen, jitter).to(dev, non_blocking=True)
            loss = _loss(model(xb), y_all[idx].to(dev, non_blocking=True), scale)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if averaged is not None:
                ema_update(averaged, model, ema)
            losses.append(loss.detach())  # no float() here: it would wait for a GPU each step
        val = _val_loss(averaged if averaged is not None else model, x_va, y_va, scale)
        train_loss = float(torch.stack(losses).double().mean())
        history.append({"epoch": epoch + 1, "train_loss": train_loss, "val_loss": val,
                        "lr": float(opt.param_groups[0]["lr"])})  # fmt: skip
        kept_val, kept = val, averaged if averaged is not None else model
        if averaged is not None:
            history[-1]["val_loss_raw"] = _val_loss(model, x_va, y_va, scale)
            if history[-1]["val_loss_raw"] < val:  # the average lags while the loss falls fast
                kept_val, kept = history[-1]["val_loss_raw"], model
        if lr_schedule == "plateau":
            sched.step(kept_val)
        else:
            sched.step()
        if kept_val < best_val:
            best_val, best_epoch, bad = kept_val, epoch + 1, 0
            best_state = {k: v.clone() for k, v in kept.state_dict().items()}
        else:
            bad += 1
        opt_t, groups = _optimizer_to_tensors(opt)
        tensors = {**_prefixed(model, "model"), **_prefixed(best_state, "best"), **opt_t,
                   "rng": gen.get_state()}  # fmt: skip
        if averaged is not None:
            tensors.update(_prefixed(averaged, "ema"))
        tensors = {k: v.cpu() for k, v in tensors.items()}
        run = {"fingerprint": fingerprint, "epoch": epoch + 1, "history": history,
               "best_val": best_val, "best_epoch": best_epoch, "bad": bad,
               "param_groups": groups, "scheduler": sched.state_dict()}  # fmt: skip
        from safetensors.torch import save as st_save

        out.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(state_path, st_save(tensors, metadata={"run": json.dumps(run)}))
        if progress:
            raw_val = history[-1].get("val_loss_raw")
            print(f"epoch {epoch + 1}: train {history[-1]['train_loss']:.4f} val {val:.4f} "
                  + (f"(raw weights {raw_val:.4f}) " if raw_val is not None else "")
                  + f"lr {history[-1]['lr']:.1e}", flush=True)  # fmt: skip
        if bad >= patience and lr_schedule == "plateau":
            stopped = "early_stopping"
            break
        if max_minutes is not None and (time.perf_counter() - t0) / 60 > max_minutes:
            stopped = "time_limit"
            break
    model.load_state_dict(best_state)
    pred, prob = predict(model, data.spectra[te])
    raw_metrics = composition_metrics(pred, data.wt_pct[te], elements, prob > 0.5)
    model, cfg = calibrate(model, data.spectra[va], data.wt_pct[va], device=dev)
    pred, prob = predict(model, data.spectra[te], device=dev)
    metrics = composition_metrics(pred, data.wt_pct[te], elements, prob > 0.5)
    wall = time.perf_counter() - t0
    _write(out, model, cfg, history, metrics, fingerprint, instrument, data, data_config,
           wall, stopped, len(tr), len(va), len(te), raw_metrics, _device_name(dev))  # fmt: skip
    state_path.unlink(missing_ok=True)
    return {"metrics": metrics, "history": history, "best_epoch": best_epoch, "wall_s": wall,
            "stopped": stopped}  # fmt: skip


def resolve_device(device: str) -> torch.device:
    """``"cpu"``, ``"cuda"`` (a one-line error where torch sees no CUDA GPU) or ``"auto"``
    (CUDA where there is one)."""
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise UserError("--device cuda: torch sees no CUDA GPU here (a CPU build of torch, or "
                        "no driver); train with --device cpu")  # fmt: skip
    if device not in ("cpu", "cuda"):
        raise UserError(f"unknown device {device!r}; choose cpu, cuda or auto")
    return torch.device(device)


def _device_name(dev: torch.device) -> str:
    if dev.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(dev)})"
    return f"cpu ({torch.get_num_threads()} threads)"


@torch.no_grad()
def _val_loss(model: SACA, x: torch.Tensor, y: torch.Tensor, scale: torch.Tensor) -> float:
    model.eval()
    dev = scale.device
    return float(np.mean([float(_loss(model(x[s : s + 256].to(dev)), y[s : s + 256].to(dev),
                                      scale))
                          for s in range(0, len(x), 256)]))  # fmt: skip


def _write(out: Path, model: SACA, cfg: SACAConfig, history: list[dict[str, float]],
           metrics: dict[str, Any], fingerprint: dict[str, Any], instrument: str,
           data: SpectraSet, data_config: dict[str, Any] | None, wall: float, stopped: str,
           n_tr: int, n_va: int, n_te: int,
           raw_metrics: dict[str, Any] | None = None,
           device: str = "cpu") -> None:  # fmt: skip
    from spectral.instrument import get_instrument

    inst = get_instrument(instrument)
    variant = "compact" if cfg.stem else "wide" if cfg.position_channel else "seed"
    raw = bool(history) and "val_loss_raw" in history[0]
    lines = ["epoch,train_loss,val_loss,lr" + (",val_loss_raw" if raw else "")] + [
        f"{h['epoch']},{h['train_loss']:.6f},{h['val_loss']:.6f},{h.get('lr', float('nan')):.2e}"
        + (f",{h['val_loss_raw']:.6f}" if raw else "")
        for h in history
    ]
    atomic_write_text(out / "history.csv", "\n".join(lines) + "\n")
    from eftgan.plotting import loss_curves_png

    ep = [h["epoch"] for h in history]
    curves = {"train": (ep, [h["train_loss"] for h in history]),
              "validation (EMA weights)" if raw else "validation":
                  (ep, [h["val_loss"] for h in history])}  # fmt: skip
    if raw:
        curves["validation (raw weights)"] = (ep, [h["val_loss_raw"] for h in history])
    loss_curves_png(out / "loss.png", curves, "epoch", log=True)
    rows = "\n".join(
        f"| {el} | {m['mae']:.4f} | {m['rmse']:.4f} | {m['r2']:.4f} | {m['precision']:.3f} | "
        f"{m['recall']:.3f} |"
        for el, m in metrics.items()
    )
    init_line = ""
    if fingerprint.get("init_from_sha256"):
        how = "fine-tuned from" if history else "calibrated afresh, not trained further:"
        init_line = f"\n- {how} weights `{fingerprint['init_from_sha256']}`"
    card = f"""# SACA model `{out.name}`

Reads the composition (wt %) of stainless steels with rare earths from a raw emission
spectrum, {inst.range_nm[0]:.0f}-{inst.range_nm[1]:.0f} nm on the `{instrument}` instrument
grid ({len(inst.wavelength_nm)} points), min-max scaled. Variant: {variant}
({n_parameters(model):,} parameters). Trained on simulated spectra only (`spectral.dataset`):
real spectrometers differ; calibrate on reference samples before trusting it on them.

- data: {len(data.spectra)} simulated spectra, SHA-256 `{fingerprint["data_sha256"]}`,
  split {n_tr}/{n_va}/{n_te}; settings {json.dumps(data_config or {})}
- seed {fingerprint["seed"]}, Adam lr {fingerprint["lr"]}, batch {fingerprint["batch_size"]},
  learning-rate schedule {json.dumps(fingerprint["lr_schedule"])},
  augmentation jitter up to {fingerprint["jitter"]} of full scale, detector noise
  {_NOISE_WORDS[fingerprint.get("noise", "fixed")]}, {_ema_words(fingerprint)}{len(history)} epochs
  ({stopped}), wall time {wall:.0f} s on {device}{init_line}

Held-out simulated test spectra, after the calibration fitted on the validation spectra
(before it: `metrics_uncalibrated` in `config.json`):

| element | MAE (wt %) | RMSE | R² | precision | recall |
|---|---|---|---|---|---|
{rows}

Versions: {", ".join(f"{k} {v}" for k, v in package_versions().items())}
"""
    write_model_folder(
        out,
        model,
        kind="saca",
        model_config={
            "saca": cfg.as_dict(),
            "instrument": instrument,
            "wavelength_nm": {
                "first": float(inst.wavelength_nm[0]),
                "last": float(inst.wavelength_nm[-1]),
                "n": len(inst.wavelength_nm),
            },
            "presence_wt_pct": PRESENCE_WT_PCT,
        },
        card=card,
        extra={
            "metrics": metrics,
            "metrics_uncalibrated": raw_metrics,
            "history": history,
            "fingerprint": fingerprint,
            "data": data_config or {},
            "wall_s": wall,
            "stopped": stopped,
            "device": device,
        },
    )


def _ema_words(fingerprint: dict[str, Any]) -> str:
    ema = fingerprint.get("ema")
    return f"weights averaged (EMA, decay {ema}) over the steps, " if ema else ""


_NOISE_WORDS = {"fixed": "drawn once with the data", "fresh": "drawn afresh for every batch"}
