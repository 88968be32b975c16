"""Training the structure-free EFTGAN model on top of a trained ECNet.

1. The ECNet extracts element features from the real structures of *its own training split*
   (read from the ECNet folder's ``training.json``), so the validation and test compositions
   stay unseen by every stage.
2. An InfoGAN (:mod:`eftgan.infogan`) learns to generate those features (standardised per
   channel over the present element slots) from composition, phase and noise.
3. A property MLP (:mod:`eftgan.augment`) learns the standardised targets from the real
   features and from ``gen_draws`` generated samples of each training composition (with its
   real labels), optionally with ``rounds`` rounds of transferring-corrected augmentation.
   For an ECNet trained on several label sources, features and targets are those of its
   first source (see :func:`first_source_targets`).

The settings are one :class:`EFTGANTrainConfig`. The GAN phase, the long one, is resumable:
its networks, optimizers and batch generator live in an :class:`eftgan.runstate.RunState`
saved every ``checkpoint_every`` steps, and a run started again with the same settings and
data continues from there to the weights an uninterrupted run gives. The MLP fits that follow
are short and seeded, so they are simply rerun.

The model folder (``kind = "eftgan"``, written by :func:`eftgan.checkpoint.write_finished_run`)
holds the generator, discriminator and MLP weights, the feature and target scaling, the
training compositions with the distance threshold that defines the extrapolation flag (see
:mod:`eftgan.explore`), ``history.csv`` (per GAN step: ``d_loss``, ``g_loss``, ``q_loss``) and
``loss.png`` (running means of those three curves).
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from eftgan.augment import FitSettings, augmented_fit
from eftgan.checkpoint import write_finished_run
from eftgan.dataset import TARGETS, Dataset
from eftgan.errors import UserError
from eftgan.infogan import (
    Discriminator,
    GANConfig,
    GANHistory,
    Generator,
    composition_matrix,
    feature_tensor,
    q_mae,
    train_gan,
)
from eftgan.model import ECNetModel
from eftgan.reach import reach_by_phase
from eftgan.runstate import RunState
from eftgan.settings import JSONSettings


@dataclass
class EFTGANTrainConfig(JSONSettings):
    """Settings of :func:`train_eftgan`; round-trips through JSON.

    Attributes:
        seed: random seed of the GAN's initialisation, batches and noise, and of the MLP.
        gan_steps: InfoGAN training steps.
        gan_batch_size: structures per GAN step (drawn with replacement).
        gan_lr: Adam learning rate of generator and discriminator.
        rounds: transferring-corrected augmentation rounds of the property MLP.
        n_aug: generated compositions added per augmentation round.
        gen_draws: generated feature samples of each training composition in the MLP's data.
        checkpoint_every: GAN steps between saved run states (does not change the result, so
            it is left out of the run's fingerprint).
    """

    seed: int = 0
    gan_steps: int = 3000
    gan_batch_size: int = 64
    gan_lr: float = 2e-4
    rounds: int = 0
    n_aug: int = 400
    gen_draws: int = 8
    checkpoint_every: int = 250

    def fingerprint(self) -> dict[str, Any]:
        """The settings that change the result (all but ``checkpoint_every``)."""
        return {k: v for k, v in self.as_dict().items() if k != "checkpoint_every"}


def ecnet_split(ecnet: ECNetModel) -> dict[str, list[str]]:
    """The train/validation/test structure names recorded with an ECNet model."""
    if ecnet.folder is None or not (ecnet.folder / "training.json").is_file():
        raise UserError("the ECNet model has no training.json with its split; retrain it")
    rec = json.loads((ecnet.folder / "training.json").read_text())
    return {k: list(v) for k, v in rec["split"].items() if k in ("train", "validation", "test")}


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
        self.y = torch.tensor(first_source_targets(ecnet, ds), dtype=torch.float32)
        self.names = ds.names
        self.sources = [e.source for e in ds]

    def __len__(self) -> int:
        return len(self.names)


def first_source_targets(ecnet: ECNetModel, ds: Dataset) -> np.ndarray:
    """The targets of ``ds`` at the ECNet's first label source (DFT where it has DFT data).

    Rows labelled by that source keep their labels. Rows of another source (an oracle's) take
    the ECNet's prediction for the first source instead: the multi-fidelity ECNet has learned
    the oracle's offset, and the EFTGAN, which has no source input, learns one fidelity.
    """
    y = ds.targets()
    first = ecnet.model_config.sources[0]
    other = [i for i, e in enumerate(ds) if e.source != first]
    if other:
        rows = ecnet.predict_structures(
            [ds[i].structure for i in other], phase=[ds[i].phase for i in other]
        )
        y[other] = np.array([[r.get(t, np.nan) for t in TARGETS] for r in rows])
    return y


@dataclass
class Scaling:
    """Per-channel feature scaling (over present slots) and per-target scaling of a training
    set, and the standardised features ``f`` (N, S, H) and targets ``y`` (N, T)."""

    f: torch.Tensor
    y: torch.Tensor
    f_mean: torch.Tensor
    f_std: torch.Tensor
    y_mean: torch.Tensor
    y_std: torch.Tensor

    @classmethod
    def of(cls, a: Arrays) -> Scaling:
        """Standardise the features and targets of ``a`` by its own means and deviations."""
        present = a.c > 0
        fmean = (a.f * present[:, :, None]).sum((0, 1)) / present.sum()
        fstd = (((a.f - fmean) ** 2) * present[:, :, None]).sum((0, 1)) / present.sum()
        fstd = fstd.sqrt().clamp(min=1e-6)
        ymean = torch.nanmean(a.y, 0)
        ystd = torch.from_numpy(np.nanstd(a.y.numpy(), 0)).clamp(min=1e-8)
        f = ((a.f - fmean) / fstd) * present[:, :, None]
        return cls(f, (a.y - ymean) / ystd, fmean, fstd, ymean, ystd)


def train_eftgan(
    ecnet: ECNetModel,
    dataset: Dataset,
    out: str | Path,
    config: EFTGANTrainConfig | None = None,
    force: bool = False,
    progress: bool = True,
    train_names: list[str] | None = None,
    **settings: Any,
) -> dict[str, Any]:
    """Train the generator and property MLP; write a model folder to ``out``; return metrics.

    Args:
        ecnet: the trained ECNet whose element features are learned.
        dataset: the dataset that ECNet was trained on.
        out: run folder, the model folder at the end; an unfinished run there is resumed.
        config: the settings (default :class:`EFTGANTrainConfig`); single settings may be
            given as keywords instead (``seed=1, gan_steps=500``), overriding ``config``.
        force: start afresh over a finished model or an unfinished run in ``out``.
        progress: show the GAN's progress bar.
        train_names: structures to train on (default: the ECNet's training split).

    Returns ``q_mae_train_real`` (the Q network's fraction MAE on the real training
    features), ``final_d_loss``/``final_g_loss`` (means over the last 100 steps), ``n_train``,
    ``resumed_from_step`` (0 for a fresh run) and ``wall_s``.
    """
    t0 = time.perf_counter()
    if config is not None and not isinstance(config, EFTGANTrainConfig):
        raise TypeError("train_eftgan(ecnet, dataset, out, config): config is an EFTGANTrainConfig")
    tc = dataclasses.replace(config or EFTGANTrainConfig(), **settings)
    _check_single(ecnet)
    out = Path(out)
    train_ds = _training_set(ecnet, dataset, train_names)
    cfg = GANConfig(
        elements=ecnet.elements,
        feature_dim=ecnet.model_config.hidden,
        phases=ecnet.model_config.phases,
    )
    state = RunState(out, _fingerprint(ecnet, train_ds, tc, cfg), force=force)
    a = Arrays(ecnet, train_ds)
    sc = Scaling.of(a)
    g, d, hist = _train_generator(cfg, tc, a, sc, state, progress)
    with torch.no_grad():
        _, q_real = d(sc.f, a.c, a.phase)
    mlp = augmented_fit(
        g, sc.f, a.c, a.phase, sc.y, tc.rounds, tc.n_aug, seed=tc.seed, gen_draws=tc.gen_draws
    )
    metrics = {
        "q_mae_train_real": q_mae(q_real, a.c),
        "final_d_loss": float(np.mean(hist.d_loss[-100:])),
        "final_g_loss": float(np.mean(hist.g_loss[-100:])),
        "n_train": len(a),
        "resumed_from_step": hist.start_step,
        "wall_s": time.perf_counter() - t0,
    }
    model_config = _model_config(ecnet, cfg, tc, a, sc)
    card = _card(out, dataset, tc, model_config, metrics)
    modules = nn.ModuleDict({"g": g, "d": d, "mlp": mlp})
    _write_model(out, modules, model_config, card, hist, metrics)
    state.finish()
    return metrics


def _check_single(ecnet: ECNetModel) -> None:
    """An EFTGAN learns the features of one network: refuse an ECNet ensemble."""
    if len(ecnet.members) > 1:
        raise UserError(
            "the ECNet is an ensemble: its members' features differ, so an EFTGAN learns one "
            "member's; train ensembles with 'eftgan train ensemble', or pass a single ECNet "
            "folder (e.g. RUN/members/ecnet-0)"
        )


def _fingerprint(
    ecnet: ECNetModel, train_ds: Dataset, tc: EFTGANTrainConfig, cfg: GANConfig
) -> dict[str, Any]:
    """What a saved GAN state must have been made with to be resumed: settings, architecture,
    data, ECNet weights and training structures."""
    return {
        "config": tc.fingerprint(),
        "gan": cfg.as_dict(),
        "data_hash": train_ds.data_hash,
        "ecnet_sha256": ecnet.config.get("weights", {}).get("sha256"),
        "train": sorted(train_ds.names),
    }


def _train_generator(
    cfg: GANConfig,
    tc: EFTGANTrainConfig,
    a: Arrays,
    sc: Scaling,
    state: RunState,
    progress: bool,
) -> tuple[Generator, Discriminator, GANHistory]:
    """Seeded networks trained (or resumed from ``state``) for ``tc.gan_steps`` steps; the
    generator is returned in eval mode."""
    with torch.random.fork_rng():
        torch.manual_seed(tc.seed)
        g, d = Generator(cfg), Discriminator(cfg)
    state.out.mkdir(parents=True, exist_ok=True)
    hist = train_gan(
        g,
        d,
        sc.f,
        a.c,
        a.phase,
        steps=tc.gan_steps,
        batch_size=tc.gan_batch_size,
        lr=tc.gan_lr,
        seed=tc.seed,
        progress=progress,
        state=state,
        checkpoint_every=tc.checkpoint_every,
    )
    g.eval()
    return g, d, hist


def _write_model(
    out: Path,
    modules: nn.Module,
    model_config: dict[str, Any],
    card: str,
    hist: GANHistory,
    metrics: dict[str, Any],
) -> None:
    """The model folder, with the per-step GAN losses as ``history.csv`` and ``loss.png``."""
    write_finished_run(
        out,
        modules,
        kind="eftgan",
        model_config=model_config,
        card=card,
        history=hist.rows(),
        curves={"d loss": "d_loss", "g loss": "g_loss", "q loss": "q_loss"},
        x="step",
        extra={"metrics": metrics},
        smooth_points=100,
    )


def _training_set(ecnet: ECNetModel, dataset: Dataset, train_names: list[str] | None) -> Dataset:
    """The entries of ``dataset`` in ``train_names`` (default: the ECNet's training split)."""
    names = set(train_names if train_names is not None else ecnet_split(ecnet)["train"])
    train_ds = Dataset([e for e in dataset if e.name in names], dataset.source, dataset.data_hash)
    if len(train_ds) < 10:
        raise UserError(
            f"only {len(train_ds)} training structures found; is this the ECNet's dataset?"
        )
    return train_ds


def _model_config(
    ecnet: ECNetModel, cfg: GANConfig, tc: EFTGANTrainConfig, a: Arrays, sc: Scaling
) -> dict[str, Any]:
    """The ``model`` part of the folder's ``config.json`` (what :class:`Screener` reads)."""
    train_c = a.c.numpy().astype(np.float64)
    phases = [cfg.phases[int(i)] for i in a.phase]
    reach = reach_by_phase(train_c, phases, cfg.phases)
    return {
        "gan": cfg.as_dict(),
        "targets": list(TARGETS),
        "feature_mean": sc.f_mean.tolist(),
        "feature_std": sc.f_std.tolist(),
        "target_mean": sc.y_mean.tolist(),
        "target_std": sc.y_std.tolist(),
        "mlp_hidden": FitSettings().hidden,
        "mlp_training": {"gen_draws": tc.gen_draws, "rounds": tc.rounds, "n_aug": tc.n_aug},
        "train_compositions": np.round(train_c, 6).tolist(),
        "train_phases": phases,
        "label_sources": {
            src: a.sources.count(src) for src in ecnet.model_config.sources if src in a.sources
        },
        "extrapolation": {
            "rule": "per phase: total-variation distance to the nearest training composition "
            "of that phase at or above the 95th percentile of leave-one-out nearest-neighbour "
            "distances among the unique training compositions of that phase (eftgan.reach)",
            "threshold": {p: r.threshold for p, r in reach.items()},
        },
        "ecnet": {
            "folder": ecnet.folder.name if ecnet.folder else None,
            "weights_sha256": ecnet.config.get("weights", {}).get("sha256"),
        },
    }


def _card(
    out: Path,
    dataset: Dataset,
    tc: EFTGANTrainConfig,
    config: dict[str, Any],
    metrics: dict[str, Any],
) -> str:
    """The model card (Markdown); :func:`write_finished_run` appends the versions line."""
    ec = config["ecnet"]
    lines = [
        f"# EFTGAN model `{out.name}`",
        "",
        "Structure-free property prediction for any composition of "
        f"{', '.join(config['gan']['elements'])}: an InfoGAN generates ECNet element features "
        "from composition, phase and noise; an MLP reads the properties from them.",
        "",
        f"- ECNet: `{ec['folder']}` (weights SHA-256 `{ec['weights_sha256']}`); features of "
        f"its {metrics['n_train']} training structures",
        f"- data SHA-256: `{dataset.data_hash}`",
        f"- seed {tc.seed}, GAN steps {tc.gan_steps}, augmentation rounds {tc.rounds} x "
        f"{tc.n_aug}, {tc.gen_draws} generated draws per training composition in the MLP's "
        "training set",
        f"- settings: `{json.dumps(tc.as_dict())}`",
        "- Q-network MAE of recovered fractions on real training features: "
        f"{metrics['q_mae_train_real']:.4f}",
        "- extrapolation thresholds (TV distance to the nearest training composition of the "
        "phase): "
        + ", ".join(f"{p} {t:.3f}" for p, t in config["extrapolation"]["threshold"].items()),
        f"- wall time {metrics['wall_s']:.0f} s",
    ]
    return "\n".join(lines) + "\n"
