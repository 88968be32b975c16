"""Training the structure-free EFTGAN model on top of a trained ECNet.

1. The ECNet extracts element features from the real structures of *its own training split*
   (read from the ECNet folder's ``training.json``), so the validation and test compositions
   stay unseen by every stage.
2. An InfoGAN (:mod:`eftgan.infogan`) learns to generate those features from composition,
   phase and noise.
3. A property MLP (:mod:`eftgan.augment`) learns the four targets from the real features and
   from ``gen_draws`` generated samples of each training composition (with its real labels),
   optionally with ``rounds`` rounds of transferring-corrected augmentation.

The model folder (``kind = "eftgan"``) holds the generator, discriminator and MLP weights, the
feature and target scaling, and the training compositions with the distance threshold that
defines the extrapolation flag (see :mod:`eftgan.explore`).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from eftgan.augment import FitSettings, augmented_fit
from eftgan.checkpoint import package_versions, write_model_folder
from eftgan.dataset import TARGETS, Dataset
from eftgan.errors import UserError
from eftgan.files import atomic_write_bytes
from eftgan.infogan import (
    Discriminator,
    GANConfig,
    Generator,
    composition_matrix,
    feature_tensor,
    q_mae,
    train_gan,
)
from eftgan.model import ECNetModel
from eftgan.train import (
    STATE_FILE,
    _optimizer_from_tensors,
    _prefixed,
    _unprefixed,
    check_output_folder,
    load_run_state,
    optimizer_state_tensors,
)


def ecnet_split(ecnet: ECNetModel) -> dict[str, list[str]]:
    """The train/validation/test structure names recorded with an ECNet model."""
    if ecnet.folder is None or not (ecnet.folder / "training.json").is_file():
        raise UserError("the ECNet model has no training.json with its split; retrain it")
    rec = json.loads((ecnet.folder / "training.json").read_text())
    return {k: list(v) for k, v in rec["split"].items() if k in ("train", "validation", "test")}


def nn_distance_threshold(train_c: np.ndarray, quantile: float = 0.95) -> float:
    """Quantile of leave-one-out nearest-neighbour distances among training compositions.

    Distances are total-variation distances, ``0.5 * sum |x - y|`` (0 to 1).
    """
    d = 0.5 * np.abs(train_c[:, None, :] - train_c[None, :, :]).sum(axis=2)
    np.fill_diagonal(d, np.inf)
    return float(np.quantile(d.min(axis=1), quantile))


class Arrays:
    """Features, compositions, phases and targets of a set of structures as tensors."""

    def __init__(self, ecnet: ECNetModel, ds: Dataset) -> None:
        feats = ecnet.element_features(
            [e.structure for e in ds], phase=[e.phase for e in ds], names=ds.names
        )
        els = ecnet.elements
        self.f = feature_tensor(feats, els, ecnet.model_config.hidden)
        self.c = torch.from_numpy(composition_matrix([e.fractions for e in ds], els))
        self.phase = torch.tensor([ecnet.model_config.phases.index(e.phase) for e in ds])
        self.y = torch.tensor(ds.targets(), dtype=torch.float32)
        self.names = ds.names

    def __len__(self) -> int:
        return len(self.names)


def train_eftgan(
    ecnet: ECNetModel,
    dataset: Dataset,
    out: Path,
    seed: int = 0,
    gan_steps: int = 3000,
    rounds: int = 0,
    n_aug: int = 400,
    gen_draws: int = 8,
    force: bool = False,
    progress: bool = True,
    train_names: list[str] | None = None,
    checkpoint_every: int = 250,
) -> dict[str, Any]:
    """Train the generator and property MLP; write a model folder to ``out``; return metrics.

    Every ``checkpoint_every`` GAN steps the training state is saved to ``out/state.safetensors``;
    running again with the same settings and data continues from there and gives the same
    weights as an uninterrupted run.
    """
    check_output_folder(out, force)
    t0 = time.perf_counter()
    split = ecnet_split(ecnet)
    names = set(train_names if train_names is not None else split["train"])
    train_ds = Dataset([e for e in dataset if e.name in names], dataset.source, dataset.data_hash)
    if len(train_ds) < 10:
        raise UserError(
            f"only {len(train_ds)} training structures found; is this the ECNet's dataset?"
        )
    a = Arrays(ecnet, train_ds)
    present = a.c > 0
    fmean = (a.f * present[:, :, None]).sum((0, 1)) / present.sum()
    fstd = (((a.f - fmean) ** 2) * present[:, :, None]).sum((0, 1)) / present.sum()
    fstd = fstd.sqrt().clamp(min=1e-6)
    f_std = ((a.f - fmean) / fstd) * present[:, :, None]
    ymean = torch.nanmean(a.y, 0)
    ystd = torch.from_numpy(np.nanstd(a.y.numpy(), 0)).clamp(min=1e-8)
    y_std = (a.y - ymean) / ystd

    cfg = GANConfig(
        elements=ecnet.elements, feature_dim=f_std.shape[2], phases=ecnet.model_config.phases
    )
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        g, d = Generator(cfg), Discriminator(cfg)
    fingerprint = {
        "gan": cfg.as_dict(),
        "seed": seed,
        "gan_steps": gan_steps,
        "data_hash": dataset.data_hash,
        "ecnet_sha256": ecnet.config.get("weights", {}).get("sha256"),
        "train": sorted(names),
    }
    state_path = out / STATE_FILE
    if force:
        state_path.unlink(missing_ok=True)
    resume = _load_gan_state(state_path, fingerprint, g, d)
    out.mkdir(parents=True, exist_ok=True)
    hist = train_gan(
        g, d, f_std, a.c, a.phase, steps=gan_steps, seed=seed, progress=progress,
        resume=resume, checkpoint=lambda st: _save_gan_state(state_path, fingerprint, st),
        checkpoint_every=checkpoint_every,
    )  # fmt: skip
    g.eval()
    with torch.no_grad():
        _, q_real = d(f_std, a.c, a.phase)
    mlp = augmented_fit(
        g, f_std, a.c, a.phase, y_std, rounds=rounds, n_aug=n_aug, seed=seed, gen_draws=gen_draws
    )

    train_c = a.c.numpy().astype(np.float64)
    config = {
        "gan": cfg.as_dict(),
        "targets": list(TARGETS),
        "feature_mean": fmean.tolist(),
        "feature_std": fstd.tolist(),
        "target_mean": ymean.tolist(),
        "target_std": ystd.tolist(),
        "mlp_hidden": FitSettings().hidden,
        "mlp_training": {"gen_draws": gen_draws, "rounds": rounds, "n_aug": n_aug},
        "train_compositions": np.round(train_c, 6).tolist(),
        "extrapolation": {
            "rule": "total-variation distance to the nearest training composition above "
            "the 95th percentile of leave-one-out nearest-neighbour distances among them",
            "threshold": nn_distance_threshold(train_c),
        },
        "ecnet": {
            "folder": ecnet.folder.name if ecnet.folder else None,
            "weights_sha256": ecnet.config.get("weights", {}).get("sha256"),
        },
    }
    modules = nn.ModuleDict({"g": g, "d": d, "mlp": mlp})
    metrics = {
        "q_mae_train_real": q_mae(q_real, a.c),
        "final_d_loss": float(np.mean(hist.d_loss[-100:])),
        "final_g_loss": float(np.mean(hist.g_loss[-100:])),
        "n_train": len(a),
        "resumed_from_step": int(resume["step"]) if resume else 0,
        "wall_s": time.perf_counter() - t0,
    }
    out.mkdir(parents=True, exist_ok=True)
    _gan_png(hist, out / "gan_loss.png")
    card = "\n".join(
        [
            f"# EFTGAN model `{out.name}`",
            "",
            "Structure-free property prediction for any composition of "
            f"{', '.join(cfg.elements)}: an InfoGAN generates ECNet element features from "
            "composition, phase and noise; an MLP reads the properties from them.",
            "",
            f"- ECNet: `{config['ecnet']['folder']}` (weights SHA-256 "
            f"`{config['ecnet']['weights_sha256']}`); features of its {len(a)} training structures",
            f"- data SHA-256: `{dataset.data_hash}`",
            f"- seed {seed}, GAN steps {gan_steps}, augmentation rounds {rounds} x {n_aug}, "
            f"{gen_draws} generated draws per training composition in the MLP's training set",
            f"- Q-network MAE of recovered fractions on real training features: "
            f"{metrics['q_mae_train_real']:.4f}",
            f"- extrapolation threshold (TV distance): {config['extrapolation']['threshold']:.3f}",
            f"- wall time {metrics['wall_s']:.0f} s",
            "",
            "Versions: " + ", ".join(f"{k} {v}" for k, v in package_versions().items()),
            "",
        ]
    )
    write_model_folder(
        out, modules, kind="eftgan", model_config=config, card=card, extra={"metrics": metrics}
    )
    state_path.unlink(missing_ok=True)
    return metrics


def _save_gan_state(path: Path, fingerprint: dict[str, Any], st: dict[str, Any]) -> None:
    """Write a GAN training state (safetensors plus JSON metadata, no pickle) atomically."""
    from safetensors.torch import save as st_save

    og, groups_g = _optimizer_to_tensors_named(st["opt_g"], "opt_g")
    od, groups_d = _optimizer_to_tensors_named(st["opt_d"], "opt_d")
    tensors = {
        **_prefixed(st["g"], "g"),
        **_prefixed(st["d"], "d"),
        **og,
        **od,
        "rng": st["rng"].clone(),
    }
    run = {
        "fingerprint": fingerprint,
        "step": st["step"],
        "history": st["history"],
        "groups_g": groups_g,
        "groups_d": groups_d,
    }
    atomic_write_bytes(path, st_save(tensors, metadata={"run": json.dumps(run)}))


def _optimizer_to_tensors_named(
    sd: dict[str, Any], prefix: str
) -> tuple[dict[str, torch.Tensor], Any]:
    tensors, groups = optimizer_state_tensors(sd)
    return {f"{prefix}.{k}": v for k, v in tensors.items()}, groups


def _load_gan_state(
    path: Path, fingerprint: dict[str, Any], g: Generator, d: Discriminator
) -> dict[str, Any] | None:
    """The saved state to resume from, or None; a state of other settings is a user error."""
    saved = load_run_state(path, fingerprint)
    if saved is None:
        return None
    tensors, run = saved
    return {
        "g": _unprefixed(tensors, "g"),
        "d": _unprefixed(tensors, "d"),
        "opt_g": _optimizer_from_tensors(_unprefixed(tensors, "opt_g"), run["groups_g"]),
        "opt_d": _optimizer_from_tensors(_unprefixed(tensors, "opt_d"), run["groups_d"]),
        "rng": tensors["rng"],
        "history": run["history"],
        "step": run["step"],
    }


def _gan_png(hist: Any, path: Path) -> None:
    from eftgan.plotting import loss_curves_png

    curves = {n.replace("_", " "): (None, getattr(hist, n)) for n in ("d_loss", "g_loss", "q_loss")}
    loss_curves_png(path, curves, "step", smooth_points=100)
