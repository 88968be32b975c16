"""Training the DCGANs on folders of micrographs, resumable, into a model folder.

Each iteration takes a batch of random crops (64 pixels square by default, ``size``) from the
training images, scaled to [-1, 1], and makes one discriminator and one generator step of the
paper's minimax loss (binary cross-entropy; the generator maximises log D(G(z)), the usual
non-saturating form). For the conditional variant every folder comes with the Si content of
its alloy, and each crop carries the condition vector of its folder.

The settings are a :class:`DCGANTrainConfig`; with a digest of the training images they form
the run's fingerprint. Every ``checkpoint_every`` iterations the whole run (both networks, both
optimizers, the noise and crop generators, the loss history) is saved through
:class:`eftgan.runstate.RunState`, and the same call continues from there with the weights an
uninterrupted run would reach. The finished model folder (``kind = "dcgan"``, written by
:func:`eftgan.checkpoint.write_finished_run`) holds the generator and discriminator, the
configuration with the training Si contents, the loss history (CSV) and curve (PNG, the paper's
Fig. 9), and a grid of generated images beside training crops (``samples.png``, Figs. 7
and 8). Generating from it needs only :mod:`microstructure.generate`.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from eftgan.checkpoint import read_model_folder
from eftgan.errors import UserError
from eftgan.paths import START_MODELS, shipped_models_dir
from eftgan.runstate import RunState, check_output_folder
from eftgan.settings import JSONSettings
from microstructure.dcgan import COND_DIM, DCGANConfig, build
from microstructure.dcgan import condition_vector as cond_vec
from microstructure.generate import generate_images
from microstructure.images import random_crops, read_folder
from microstructure.sngan import UPSAMPLING, SpatialConfig, build_spatial
from microstructure.stylegan import StyleConfig, build_style

__all__ = ["DCGANTrainConfig", "TrainingCollapsed", "train_dcgan"]

HISTORY_KEYS = ("d_loss", "g_loss", "d_real", "d_fake")
#: What :class:`CollapseWatch` keeps in the history: ``[iteration, diversity ratio]`` pairs
#: and the warnings given.
WATCH_KEYS = ("diversity", "warnings")
#: Samples' diversity (a share of the real crops', :func:`microstructure.features.diversity`)
#: under which training warns, and under which it stops as collapsed.
WARN_DIVERSITY = 0.5
COLLAPSE_DIVERSITY = 0.2
#: D "wins outright" when, over the last :data:`D_WINS_ITERS` iterations, its mean output
#: is above ``1 - D_WINS_MARGIN`` on real crops and below ``D_WINS_MARGIN`` on generated ones.
D_WINS_ITERS = 50
D_WINS_MARGIN = 0.05
#: The same under the hinge loss, whose logits sit near +-1: both hinge terms at zero, the
#: logits beyond the margin (sigmoid(-1)).
HINGE_WINS = 0.2689
WATCH_SAMPLES = 64
#: The checks warn or stop only from this iteration on: a generator that has barely started
#: draws near-constant images, which is not a collapse.
WATCH_FROM = 200


#: Each architecture's training recipe (see :class:`DCGANTrainConfig`): the paper's DCGAN as
#: printed, and the default, set from the literature before any run. Fine-tuned from the
#: start model on Super1's validation halves (``benchmarks/microstructure_halves.py``, five
#: seeds each), one learning rate scored 0.06 lower than the two time scales (0.4 standard
#: errors: no better), the last G instead of its average 1.1 higher (1.7), no augmentation
#: 2.1 higher (15.7) and no spectral norm (start model included) 0.38 higher (2.9), so each
#: stays; see ``docs/microstructure.md``.
RECIPES: dict[str, dict[str, Any]] = {
    "paper": {
        "nz": 1000, "width": 64, "batch_size": 64, "lr": 5e-4, "lr_d": 5e-4,
        "betas": (0.5, 0.999), "loss": "bce", "spectral_norm": False, "augment": False,
        "ema": 0.0, "size": 64,
    },
    "spatial": {
        "nz": 64, "width": 16, "batch_size": 32, "lr": 1e-4, "lr_d": 4e-4,
        "betas": (0.0, 0.9), "loss": "hinge", "spectral_norm": True, "augment": True,
        "ema": 0.99, "size": 64, "pixel_noise": False, "histogram": 0.0,
    },
    # the default's stabilisers, on 128-pixel crops, with half the batch (CPU time); the
    # noise spacing and the padding chosen on Super1's validation micrographs
    # (benchmarks/microstructure_large.py)
    "style": {
        "nz": 32, "width": 16, "batch_size": 16, "lr": 1e-4, "lr_d": 4e-4,
        "betas": (0.0, 0.9), "loss": "hinge", "spectral_norm": True, "augment": True,
        "ema": 0.99, "size": 128, "upsampling": 32, "padding": "zeros",
    },
}  # fmt: skip
ARCHS = tuple(RECIPES)


@dataclass
class DCGANTrainConfig(JSONSettings):
    """Settings of one GAN training run; round-trips through JSON (:meth:`as_dict`).

    ``None`` takes the value of the architecture's recipe (:data:`RECIPES`); :meth:`resolved`
    fills them in.

    Attributes:
        iters: training iterations (one discriminator and one generator step each).
        arch: ``spatial`` (default: :mod:`microstructure.sngan`), ``style`` (the stronger
            StyleGAN2-lite of :mod:`microstructure.stylegan`, for 128- and 256-pixel crops)
            or ``paper`` (the seed's DCGAN as printed, :mod:`microstructure.dcgan`).
        size: side of the training crops in pixels (64 for ``paper``; a multiple of 16 for
            ``spatial``; a power of two from 32 for ``style``).
        upsampling: ``style`` only: pixels per vector of its noise field (a power of two;
            :class:`microstructure.stylegan.StyleConfig`).
        padding: ``style`` only: ``reflect`` or ``zeros`` at the generator's field edges.
        pixel_noise: ``spatial`` only: per-pixel noise inputs in the generator
            (:class:`microstructure.sngan.SpatialConfig`).
        histogram: weight of the gray-level term of G's loss (:func:`gray_level_distance`;
            0: none). Off by default: at 10 it held the phase fractions closer to the
            training crops' but doubled the texture FD on two of Super1's four validation
            micrographs (``benchmarks/microstructure_halves.py --arm histogram``).
        batch_size: crops per iteration.
        lr: Adam learning rate of the generator (of both networks for ``paper``, unless
            ``lr_d`` is given).
        lr_d: Adam learning rate of the discriminator (larger than ``lr``: two time scales).
        betas: Adam's betas for both networks.
        loss: ``bce`` (the paper's minimax, non-saturating for G) or ``hinge``.
        spectral_norm: spectral normalisation in D (spatial and style).
        augment: differentiable augmentation of everything D sees (translation and
            cutout, on real and generated crops alike: :func:`diff_augment`).
        ema: decay of the moving average of G's weights that is kept and generated from
            (0: none, the last G).
        nz: noise vector size.
        channels: 1 (gray) or 3 (RGB), image files converted on reading; None: 1 where every
            training image is gray (also gray stored as RGB), 3 where every one is in colour,
            and an error where they are mixed.
        width: base width of both networks.
        seed: random seed of the weights, the crops and the noise.
        checkpoint_every: iterations between saved run states (and collapse checks).
        si_wt_pct: Si content (wt %, 0-25) of each training folder, in the order of the
            folders, for the conditional model; None trains the unconditional one.
        stop_on_collapse: stop a run whose samples collapse (:class:`CollapseWatch`); false
            only warns (to measure a network that collapses).
        init: where the weights that start the run come from. ``auto``: the shipped start
            model (:data:`eftgan.paths.START_MODELS`, a GAN trained on real SEM micrographs)
            where these settings train its architecture (gray, unconditional, ``spatial``,
            64-pixel crops, nz 64, width 16: the defaults), random weights from ``seed``
            otherwise; ``none`` (or None): random weights; or a GAN model folder, fine-tuned
            on these micrographs, whose architecture must be the one these settings train.
            A model starts with its last generator and its discriminator
            (:func:`initial_weights`). The start model is the default because, on Super1's
            validation micrographs, 600 iterations from it scored 5.9 (sd 0.3 over five
            seeds) against 14.8 (sd 7.1) from random weights
            (``benchmarks/microstructure_halves.py``).
    """

    iters: int = 2000
    arch: str = "spatial"
    size: int | None = None
    upsampling: int | None = None
    padding: str | None = None
    pixel_noise: bool | None = None
    histogram: float | None = None
    batch_size: int | None = None
    lr: float | None = None
    lr_d: float | None = None
    betas: tuple[float, float] | None = None
    loss: str | None = None
    spectral_norm: bool | None = None
    augment: bool | None = None
    ema: float | None = None
    nz: int | None = None
    channels: int | None = None
    width: int | None = None
    seed: int = 0
    checkpoint_every: int = 100
    si_wt_pct: tuple[float, ...] | None = None
    stop_on_collapse: bool = True
    init: str | None = "auto"

    def __post_init__(self) -> None:
        if self.si_wt_pct is not None:
            self.si_wt_pct = tuple(float(s) for s in self.si_wt_pct)
        if self.betas is not None:
            self.betas = (float(self.betas[0]), float(self.betas[1]))

    def resolved(self) -> DCGANTrainConfig:
        """These settings with every ``None`` taken from the architecture's recipe."""
        if self.arch not in RECIPES:
            raise UserError(f"unknown --arch {self.arch!r}; choose {' or '.join(ARCHS)}")
        recipe = dict(RECIPES[self.arch])
        if self.arch == "paper" and self.lr is not None:
            recipe["lr_d"] = self.lr  # the paper has one learning rate for both networks
        filled = {
            k: recipe[k] if v is None and k in recipe else v for k, v in self.as_dict().items()
        }
        return DCGANTrainConfig(**filled)

    def fingerprint(self) -> dict[str, Any]:
        """The settings that change the result (all but ``checkpoint_every``). The crop
        size, the style GAN's settings and pixel noise are left out where they hold what
        every run before them had (64-pixel crops, no style settings, no pixel noise), so
        that such a run's saved state still resumes."""
        skip = ("checkpoint_every", "stop_on_collapse")
        out = {k: v for k, v in self.resolved().as_dict().items() if k not in skip}
        if out["arch"] != "style" and out["size"] == 64:
            for k in ("size", "upsampling", "padding"):
                out.pop(k)
        for k in ("pixel_noise", "histogram"):
            if not out.get(k):
                out.pop(k, None)
        start = self.start_folder()
        if start is None:
            out.pop("init")
        else:  # the weights (their recorded hash, checked when they load), not the path
            out["init"] = json.loads((start / "config.json").read_text())["weights"]["sha256"]
        return out

    def start_folder(self) -> Path | None:
        """The model folder whose weights start the run (``init`` resolved; None: random
        weights). ``auto`` compares the shipped start model's architecture with
        :meth:`model_config`, so gray or colour must be known (``channels``; None counts as
        gray)."""
        if self.init in (None, "none"):
            return None
        if self.init != "auto":
            return Path(self.init)
        folder, start = start_model()
        return folder if self.model_config() == start else None

    def validate(self, n_folders: int) -> None:
        """One-line :class:`UserError` for settings that cannot train on ``n_folders``."""
        c = self.resolved()
        assert c.batch_size is not None and c.lr is not None and c.lr_d is not None
        if c.iters < 1 or c.batch_size < 1 or c.checkpoint_every < 1:
            raise UserError("iters, batch size and checkpoint interval must be at least 1")
        for name, lr in (("--lr", c.lr), ("--lr-d", c.lr_d)):
            if not 0 < lr < 1:
                raise UserError(
                    f"{name} {lr:g} is not a learning rate; give a value such as 0.0002"
                )
        if c.histogram is not None and c.histogram < 0:
            raise UserError(f"--histogram {c.histogram:g} is negative; give 0 (off) or more")
        if c.loss not in ("bce", "hinge"):
            raise UserError(f"unknown loss {c.loss!r}; choose bce or hinge")
        _check_size(c.arch, int(c.size or 0), c.upsampling, c.padding)
        if c.pixel_noise and c.arch != "spatial":
            raise UserError("pixel noise is a setting of --arch spatial only")
        if self.channels not in (None, 1, 3):
            raise UserError(f"channels must be 1 (gray) or 3 (RGB), not {self.channels}")
        if self.init not in (None, "none", "auto"):  # a missing or damaged model, early
            read_model_folder(Path(self.init), "dcgan", option="--init")
        if self.si_wt_pct is None:
            return
        if len(self.si_wt_pct) != n_folders:
            raise UserError("give one --condition-si value per --images folder")
        for s in self.si_wt_pct:
            if not 0 <= s <= 25:
                raise UserError(f"Si content {s:g} wt % is outside 0-25 wt %")

    def model_config(self) -> DCGANConfig | SpatialConfig | StyleConfig:
        """The architecture these settings train."""
        c = self.resolved()
        cond = COND_DIM if self.si_wt_pct else 0
        assert c.nz is not None and c.width is not None
        if c.arch == "paper":
            return DCGANConfig(
                nz=c.nz, channels=c.channels or 1, cond_dim=cond, ngf=c.width, ndf=c.width
            )
        common: dict[str, Any] = dict(
            nz=c.nz, channels=c.channels or 1, cond_dim=cond, ngf=c.width, ndf=c.width,
            image_size=int(c.size or 64), spectral_norm=bool(c.spectral_norm),
        )  # fmt: skip
        if c.arch == "style":
            return StyleConfig(
                **common, upsampling=int(c.upsampling or 32), padding=c.padding or "zeros"
            )
        return SpatialConfig(**common, pixel_noise=bool(c.pixel_noise))


def _check_size(arch: str, size: int, upsampling: int | None, padding: str | None) -> None:
    """One-line :class:`UserError` for a crop size (or a noise spacing) the architecture
    cannot train on."""
    if upsampling is not None and arch != "style":
        raise UserError("upsampling is a setting of --arch style only")
    if padding not in (None, "reflect", "zeros") or (padding is not None and arch != "style"):
        raise UserError(f"padding {padding!r}: reflect or zeros, for --arch style only")
    if upsampling is not None and (upsampling < 2 or upsampling & (upsampling - 1)):
        raise UserError(f"upsampling {upsampling} is not a power of two")
    if upsampling is not None and size % upsampling:
        raise UserError(f"--size {size} is not a multiple of the noise spacing {upsampling}")
    if arch == "paper" and size != 64:
        raise UserError("the paper's DCGAN trains on 64-pixel crops only; leave out --size")
    if arch == "spatial" and (size < UPSAMPLING or size % UPSAMPLING):
        raise UserError(f"--size {size} is not a multiple of {UPSAMPLING} pixels")
    if arch == "style" and (size < 32 or size & (size - 1)):
        raise UserError(f"--size {size} is not a power of two of 32 or more (e.g. 128, 256)")


def arch_key(arch: str) -> str:
    """The key under which a model folder's ``config.json`` holds an architecture's settings
    (the paper's network is ``dcgan``)."""
    return "dcgan" if arch == "paper" else arch


def initial_weights(
    folder: Path,
    arch: str,
    mcfg: DCGANConfig | SpatialConfig | StyleConfig,
    g: nn.Module,
    d: nn.Module,
) -> None:
    """Load a trained model's generator and discriminator into ``g`` and ``d`` to fine-tune
    them: its last generator (the one its discriminator was trained against; the averaged one
    where it kept no other). A one-line :class:`UserError` where the model's architecture is
    not ``mcfg``'s (``arch`` and its settings)."""
    config, state = read_model_folder(folder, "dcgan", option="--init")
    stored = config["model"].get(arch_key(arch))
    if stored is None:
        raise UserError(
            f"--init {folder} is not a --arch {arch} model; train with its --arch or leave "
            "--init out"
        )
    trained = type(mcfg).from_dict(stored).as_dict()
    wanted = mcfg.as_dict()
    if trained != wanted:
        diff = ", ".join(
            f"{k} {trained.get(k, '?')} there, {v} here" for k, v in wanted.items()
            if trained.get(k) != v
        )  # fmt: skip
        raise UserError(
            f"--init {folder} is another architecture ({diff}); train with its settings "
            "(--arch, --nz, --width, --size, channels, condition) or leave --init out"
        )
    g_key = "g_raw" if any(k.startswith("g_raw.") for k in state) else "g"
    for net, key in ((g, g_key), (d, "d")):
        n = len(key) + 1
        net.load_state_dict({k[n:]: v for k, v in state.items() if k.startswith(key + ".")})


def data_key(sets: Sequence[Sequence[np.ndarray]]) -> list[str]:
    """SHA-256 of the pixels of each training folder (its images in file order): the data half
    of the run fingerprint, so that a run never resumes on other images."""
    keys = []
    for imgs in sets:
        h = hashlib.sha256()
        for a in imgs:
            h.update(str(a.shape).encode())
            h.update(np.ascontiguousarray(a, dtype=np.float32).tobytes())
        keys.append(h.hexdigest())
    return keys


def diff_augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Differentiable augmentation (Zhao et al. 2020) of a batch that D is about to see:
    each image shifted by up to an eighth of its side (zero fill), and a square of about half
    its side (31 pixels on a 64-pixel crop), centred at a random pixel and clipped at the
    edges, cut out. Applied alike to real and generated crops, in both
    networks' steps, so D cannot memorise a few training images and G is not taught the
    augmentations (they are not invertible, so they do not leak into the samples)."""
    b, _, h, w = x.shape
    shift = torch.randint(-(h // 8), h // 8 + 1, (b, 2), generator=gen)
    yy = torch.arange(h)[None, :, None] - shift[:, 0, None, None]
    xx = torch.arange(w)[None, None, :] - shift[:, 1, None, None]
    inside = ((yy >= 0) & (yy < h) & (xx >= 0) & (xx < w)).to(x.dtype)
    idx = (yy.clamp(0, h - 1) * w + xx.clamp(0, w - 1)).reshape(b, 1, h * w)
    moved = torch.gather(x.reshape(b, x.shape[1], h * w), 2, idx.expand(-1, x.shape[1], -1))
    x = moved.reshape(x.shape) * inside[:, None]
    cy, cx = (torch.randint(0, n, (b,), generator=gen) for n in (h, w))
    ys, xs = torch.arange(h)[None, :, None], torch.arange(w)[None, None, :]
    cut = ((ys - cy[:, None, None]).abs() < h // 4) & ((xs - cx[:, None, None]).abs() < w // 4)
    return x * (~cut)[:, None].to(x.dtype)


def gray_level_distance(fake: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """The Wasserstein-1 distance between the gray levels of a generated and a real batch
    (per channel, pooled over the batch; the mean gap between their sorted values).

    A micrograph's phase fractions are its gray-level histogram cut at the phases'
    thresholds, and a discriminator that judges texture barely sees a few per cent of
    pixels drawn on the wrong side of a threshold: a generator trained on it alone can miss
    its training images' phase fractions by a few hundredths. This term pulls the generated
    histogram onto the real one directly, as in histogram-matched texture synthesis (Risser
    et al. 2017), during training instead of after it. The real batch carries the same
    folders (conditions) as the generated one, so the target is the right mix for a
    conditional model too."""
    f = fake.transpose(0, 1).reshape(fake.shape[1], -1).sort(dim=1).values
    r = real.transpose(0, 1).reshape(real.shape[1], -1).sort(dim=1).values
    return (f - r).abs().mean()


def d_losses(loss: str, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """D's loss from its logits on real and generated crops: the paper's binary
    cross-entropy, or the hinge ``relu(1 - D(x)) + relu(1 + D(G(z)))``."""
    if loss == "hinge":
        return torch.relu(1 - real).mean() + torch.relu(1 + fake).mean()
    bce = nn.functional.binary_cross_entropy_with_logits
    return bce(real, torch.ones_like(real)) + bce(fake, torch.zeros_like(fake))


def g_loss(loss: str, fake: torch.Tensor) -> torch.Tensor:
    """G's loss from D's logits on its crops: non-saturating BCE, or ``-D(G(z))`` (hinge)."""
    if loss == "hinge":
        return -fake.mean()
    return nn.functional.binary_cross_entropy_with_logits(fake, torch.ones_like(fake))


def _stderr(message: str) -> None:
    print(message, file=sys.stderr)


class TrainingCollapsed(UserError):
    """Training stopped because the generator collapsed (see :class:`CollapseWatch`)."""


class CollapseWatch:
    """The checks of a training run, every ``checkpoint_every`` iterations: the diversity of
    :data:`WATCH_SAMPLES` images from the (averaged) generator, as a share of that of as many
    real crops (:func:`microstructure.features.diversity_ratio`), and whether D wins outright.
    From iteration :data:`WATCH_FROM` on, below :data:`WARN_DIVERSITY` or when D wins, a
    warning is logged (and kept in the model
    folder); below :data:`COLLAPSE_DIVERSITY` the run stops with :class:`TrainingCollapsed`
    before its state is saved, so the last good checkpoint stays (``cfg.stop_on_collapse``
    false only warns). Its own random generators leave the run's untouched, so a watched run
    trains exactly as an unwatched one would."""

    def __init__(self, run: _Run, hist: dict[str, list]) -> None:
        from microstructure.features import texture_features

        self.run, self.hist = run, hist
        rng = np.random.default_rng(run.cfg.seed + 7919)
        # the first folder's crops: a conditional model is checked at its first content
        crops = random_crops(run.sets[0], WATCH_SAMPLES, int(run.cfg.size or 64), rng)
        self.real = texture_features(crops.mean(1))

    def check(self, it: int, write) -> None:
        """Check at iteration ``it``; ``write`` prints a warning."""
        from microstructure.features import diversity_ratio, texture_features

        cfg, si = self.run.cfg, self.run.cfg.si_wt_pct
        si0 = si[0] if si else None
        fakes = generate_images(self.run.ema, WATCH_SAMPLES, si0, seed=cfg.seed + 7919)
        ratio = diversity_ratio(texture_features(fakes), self.real)
        self.hist["diversity"].append([it, ratio])
        if it < WATCH_FROM:
            return
        d_real = float(np.mean(self.hist["d_real"][-D_WINS_ITERS:]))
        d_fake = float(np.mean(self.hist["d_fake"][-D_WINS_ITERS:]))
        margin = D_WINS_MARGIN if cfg.loss == "bce" else HINGE_WINS
        msgs = []
        if ratio < WARN_DIVERSITY:
            msgs.append(f"the samples' diversity is {ratio:.2f} of the real crops' (collapse?)")
        if d_real > 1 - margin and d_fake < margin:
            msgs.append(f"D wins outright (D(real) {d_real:.3f}, D(fake) {d_fake:.3f})")
        for m in msgs:
            self.hist["warnings"].append(f"iteration {it}: {m}")
            write(f"warning: iteration {it}: {m}")
        if ratio < COLLAPSE_DIVERSITY and cfg.stop_on_collapse:
            kept = it - cfg.checkpoint_every
            saved = f"the run state of iteration {kept} is kept" if kept else "nothing is kept"
            raise TrainingCollapsed(
                f"training collapsed at iteration {it} (the samples' diversity is {ratio:.2f} "
                f"of the real crops'); {saved}: start again with another --seed or a lower "
                "--lr (--force)"
            )


@dataclass
class _Run:
    """The objects of one training run and the steps that use them."""

    cfg: DCGANTrainConfig  # resolved
    sets: list[list[np.ndarray]]
    g: nn.Module
    d: nn.Module
    ema: nn.Module  # the moving average of G (a copy of G when cfg.ema is 0)
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer
    rng: np.random.Generator  # crops
    gen: torch.Generator  # noise and augmentation

    @classmethod
    def build(cls, cfg: DCGANTrainConfig, sets: list[list[np.ndarray]]) -> _Run:
        """Networks initialised from ``cfg.seed``, Adam optimizers, seeded generators."""
        import copy

        mcfg = cfg.model_config()
        g: nn.Module
        d: nn.Module
        if isinstance(mcfg, DCGANConfig):
            g, d = build(mcfg, cfg.seed)
        elif isinstance(mcfg, StyleConfig):
            g, d = build_style(mcfg, cfg.seed)
        else:
            g, d = build_spatial(mcfg, cfg.seed)
        start = cfg.start_folder()
        if start is not None:
            initial_weights(start, cfg.arch, mcfg, g, d)
        assert cfg.betas is not None
        opt_g = torch.optim.Adam(g.parameters(), lr=cfg.lr, betas=cfg.betas)
        opt_d = torch.optim.Adam(d.parameters(), lr=cfg.lr_d, betas=cfg.betas)
        ema = copy.deepcopy(g).requires_grad_(False).eval()  # only ever generates
        rng = np.random.default_rng(cfg.seed)
        gen = torch.Generator().manual_seed(cfg.seed)
        return cls(cfg, sets, g, d, ema, opt_g, opt_d, rng, gen)

    def track(self, state: RunState) -> None:
        """Register everything a resumed run needs with ``state``."""
        state.track(
            g=self.g, d=self.d, ema=self.ema, opt_g=self.opt_g, opt_d=self.opt_d,
            gen=self.gen, rng=self.rng,
        )  # fmt: skip

    def noise(self, n: int) -> Any:
        """The generator's noise for ``n`` images: its own :meth:`noise` where it has one
        (a field, or the style GAN's field, latent and pixel noise), else vectors."""
        if hasattr(self.g, "noise"):
            return self.g.noise(n, self.gen)
        return torch.randn(n, self.g.cfg.nz, generator=self.gen)

    def batch(self, conds: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor | None, Any]:
        """Real crops in [-1, 1], their condition vectors (or None) and noise."""
        n = self.cfg.batch_size
        assert n is not None
        which = self.rng.integers(len(self.sets), size=n)
        size = int(self.cfg.size or 64)
        crops = np.concatenate([random_crops(self.sets[k], 1, size, self.rng) for k in which])
        real = torch.from_numpy(crops) * 2 - 1
        c = conds[torch.from_numpy(which)] if conds is not None else None
        return real, c, self.noise(n)

    def seen(self, x: torch.Tensor) -> torch.Tensor:
        """What D is shown of a batch: augmented (:func:`diff_augment`) or as it is."""
        return diff_augment(x, self.gen) if self.cfg.augment else x

    def step(self, real: torch.Tensor, c: torch.Tensor | None, z: Any, it: int) -> dict:
        """One discriminator and one generator step; returns the losses and D's mean outputs."""
        g, d, loss = self.g, self.d, str(self.cfg.loss)
        fake = g(z, c)
        p_real, p_fake = d.logits(self.seen(real), c), d.logits(self.seen(fake.detach()), c)
        loss_d = d_losses(loss, p_real, p_fake)
        self.opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        self.opt_d.step()
        # The generator step needs gradients through D, not of D's weights: freezing them
        # skips the weight gradients of D's backward pass.
        d.requires_grad_(False)
        loss_g = g_loss(loss, d.logits(self.seen(fake), c))
        if self.cfg.histogram:
            loss_g = loss_g + self.cfg.histogram * gray_level_distance(fake, real)
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        self.opt_g.step()
        d.requires_grad_(True)
        self.update_ema(it)
        return {
            "d_loss": float(loss_d.detach()),
            "g_loss": float(loss_g.detach()),
            "d_real": float(torch.sigmoid(p_real.detach()).mean()),
            "d_fake": float(torch.sigmoid(p_fake.detach()).mean()),
        }

    @torch.no_grad()
    def update_ema(self, it: int) -> None:
        """The moving average of G's weights and of its batch-norm statistics (a plain copy
        at ``cfg.ema`` 0), so that the averaged weights are normalised by statistics averaged
        alike; counters are copied. The decay warms up as ``min(ema, (1 + it) / (10 + it))``
        after iteration ``it``, so that the average forgets the random initial weights within
        tens of iterations instead of hundreds."""
        decay = min(float(self.cfg.ema or 0.0), (1 + it) / (10 + it))
        for pe, p in zip(self.ema.parameters(), self.g.parameters(), strict=True):
            pe.lerp_(p, 1.0 - decay)
        for be, b in zip(self.ema.buffers(), self.g.buffers(), strict=True):
            if be.is_floating_point():
                be.lerp_(b, 1.0 - decay)
            else:
                be.copy_(b)

    def loop(
        self, hist: dict[str, list[float]], start: int, state: RunState, progress: bool
    ) -> None:
        """Iterations ``start`` .. ``iters - 1``, appending to ``hist``; every
        ``checkpoint_every`` iterations the samples' diversity is checked
        (:class:`CollapseWatch`) and ``state`` saved (not after the last: the model folder
        follows), never after a collapse."""
        from tqdm import tqdm

        cfg, si = self.cfg, self.cfg.si_wt_pct
        conds = torch.from_numpy(cond_vec(np.array(si))) if si else None
        watch = CollapseWatch(self, hist)
        its = range(start, cfg.iters)
        bar = tqdm(its, "train", cfg.iters, disable=not progress, mininterval=1.0, initial=start)
        for it in bar:
            for k, v in self.step(*self.batch(conds), it).items():
                hist[k].append(v)
            if (it + 1) % cfg.checkpoint_every == 0:
                watch.check(it + 1, bar.write if progress else _stderr)
                if it + 1 < cfg.iters:
                    state.save({"iter": it + 1, "history": hist})

    def samples_png(self, path: Path) -> None:
        """A 4 x 8 grid: 16 training crops (left half) beside 16 generated images (right)."""
        from eftgan.plotting import pyplot, save_png

        si = self.cfg.si_wt_pct
        fakes = generate_images(self.ema, 16, si[0] if si else None, seed=self.cfg.seed)
        reals = random_crops(self.sets[0], 16, int(self.cfg.size or 64), self.rng).mean(1)
        plt = pyplot()
        fig, axs = plt.subplots(4, 8, figsize=(8, 4.4), dpi=120)
        for i, ax in enumerate(axs.flat):
            k = (i // 8) * 4 + i % 4  # the k-th of each half, four per row
            img = reals[k] if i % 8 < 4 else fakes[k]
            ax.imshow(img, cmap="gray", vmin=0, vmax=1)
            ax.set_axis_off()
        fig.suptitle("training crops (left) and generated (right)", fontsize=9)
        save_png(fig, path)

    def write(
        self, out: Path, folders: Sequence[Path], hist: dict[str, list[float]], wall: float
    ) -> None:
        """The finished model folder: samples, history, loss curve, card, weights, config."""
        from eftgan.checkpoint import write_finished_run

        cfg, mcfg, si = self.cfg, self.g.cfg, self.cfg.si_wt_pct
        raw = {"g_raw": self.g} if cfg.ema else {}  # the last G, beside its average
        out.mkdir(parents=True, exist_ok=True)
        self.samples_png(out / "samples.png")
        n = len(hist["d_loss"])
        rows = [{"iter": i + 1, **{k: hist[k][i] for k in HISTORY_KEYS}} for i in range(n)]
        write_finished_run(
            out,
            nn.ModuleDict({"g": self.ema, "d": self.d, **raw}),
            kind="dcgan",
            model_config={
                "arch": cfg.arch,
                arch_key(cfg.arch): mcfg.as_dict(),
                "si_wt_pct": list(si) if si else None,
            },
            card=_card(out, mcfg, cfg, folders, wall),
            history=rows,
            curves={"d loss": "d_loss", "g loss": "g_loss"},
            x="iter",
            extra={
                "wall_s": wall,
                "iters": cfg.iters,
                "seed": cfg.seed,
                "train": cfg.as_dict(),
                "warnings": hist.get("warnings", []),
                "diversity": hist.get("diversity", []),
            },
            smooth_points=50,
        )


def auto_channels(folders: Sequence[Path]) -> int:
    """1 where every image of the folders is gray (gray stored as RGB included), 3 where every
    one is in colour; a one-line error where they are mixed."""
    from microstructure.images import colour_images, image_files

    files = [f for d in folders for f in image_files(d)]
    colour = colour_images(files)
    if not colour:
        return 1
    if len(colour) == len(files):
        return 3
    raise UserError(
        f"the training images mix gray and colour ({len(colour)} of {len(files)} in colour, "
        f"e.g. {colour[0]}); give --channels 1 (all as gray) or --channels 3 (all as RGB)"
    )


def read_training_folder(folder: Path, cfg: DCGANTrainConfig, n_folders: int) -> list[np.ndarray]:
    """A folder's images for training, with one-line errors for images smaller than the crop
    and for fewer non-overlapping crops than its share of a batch (the batch over the
    folders)."""
    assert cfg.batch_size is not None and cfg.channels is not None
    size = int(cfg.size or 64)
    imgs = read_folder(folder, size, cfg.channels)
    crops = sum((a.shape[0] // size) * (a.shape[1] // size) for a in imgs)
    share = -(-cfg.batch_size // n_folders)
    if crops < share:
        whole = "a batch" if n_folders == 1 else f"its share of a batch ({n_folders} folders)"
        raise UserError(
            f"{folder} holds {len(imgs)} image(s), which make only {crops} non-overlapping "
            f"{size}-pixel crops, fewer than {whole} of {share}; add images or give a "
            "smaller --batch-size"
        )
    return imgs


def train_dcgan(
    folders: Sequence[str | os.PathLike[str]],
    out: str | os.PathLike[str],
    config: DCGANTrainConfig | None = None,
    *,
    progress: bool = True,
    force: bool = False,
    **settings: Any,
) -> dict[str, Any]:
    """Train the paper's DCGAN, or the conditional one, on folders of micrographs into ``out``.

    Args:
        folders: folders of training images (PNG, JPEG, TIFF or BMP, at least a crop on a
            side); with ``config.si_wt_pct`` one Si content per folder.
        out: the model folder; an unfinished run there (same settings and images) resumes.
        config: the settings; fields may also be given as keywords (``iters=8, nz=16``), which
            override ``config``'s.
        progress: show a progress bar.
        force: start afresh even where ``out`` holds a run or a model.

    Returns:
        ``{"history": {"d_loss": [...], "g_loss": [...], "d_real": [...], "d_fake": [...]},
        "wall_s": seconds, "resumed_from": iteration (0 for a fresh start)}``.
    """
    if config is not None and not isinstance(config, DCGANTrainConfig):
        raise TypeError("train_dcgan(folders, out, config): config is a DCGANTrainConfig")
    cfg = DCGANTrainConfig(**{**(config or DCGANTrainConfig()).as_dict(), **settings})
    paths, out = [Path(f) for f in folders], Path(out)
    check_output_folder(out, force)
    cfg.validate(len(paths))
    cfg = cfg.resolved()
    if cfg.channels is None:
        cfg.channels = auto_channels(paths)
    t0 = time.perf_counter()
    sets = [read_training_folder(f, cfg, len(paths)) for f in paths]
    run = _Run.build(cfg, sets)
    if progress:
        _stderr(start_words(cfg))
    state = RunState(out, {"config": cfg.fingerprint(), "data": data_key(sets)}, force=force)
    run.track(state)
    saved = state.restore()
    start = int(saved.scalars["iter"]) if saved else 0
    hist = saved.scalars["history"] if saved else {k: [] for k in (*HISTORY_KEYS, *WATCH_KEYS)}
    run.loop(hist, start, state, progress)
    wall = time.perf_counter() - t0
    run.write(out, paths, hist, wall)
    state.finish()
    return {"history": hist, "wall_s": wall, "resumed_from": start}


def _card(
    out: Path,
    mcfg: DCGANConfig | SpatialConfig | StyleConfig,
    cfg: DCGANTrainConfig,
    folders: Sequence[Path],
    wall: float,
) -> str:
    """The model card (Markdown); the package versions are appended when it is written."""
    si = cfg.si_wt_pct
    net = {
        "paper": "The paper's DCGAN",
        "spatial": "The default GAN (microstructure.sngan)",
        "style": "The StyleGAN2-lite GAN (microstructure.stylegan)",
    }[cfg.arch]
    kind = f"{net}, conditional on Al-xSi via the element registry" if si else net
    images = ", ".join(str(f) for f in folders)
    if si:
        images += f" (Si {', '.join(f'{x:g}' for x in si)} wt %)"
    return (
        f"# GAN `{out.name}`\n\n{kind}, {mcfg.channels} channel(s), {cfg.size}x{cfg.size} "
        f"crops, nz {mcfg.nz}, "
        f"width {mcfg.ngf}.\n\n- images: {images}\n"
        f"- seed {cfg.seed}, {cfg.iters} iterations, wall time {wall:.0f} s\n"
        + f"- {start_words(cfg)}\n"
        + (f"- gray-level term in G's loss, weight {cfg.histogram:g}\n" if cfg.histogram else "")
    )


def start_model() -> tuple[Path, SpatialConfig]:
    """The shipped start model's folder and architecture (an unconditional ``spatial`` GAN)."""
    folder = shipped_models_dir() / START_MODELS["dcgan"]
    stored = json.loads((folder / "config.json").read_text())["model"]
    return folder, SpatialConfig.from_dict(stored["spatial"])


def start_words(cfg: DCGANTrainConfig) -> str:
    """Where a run's first weights come from, in words (for the log and the card)."""
    start, shipped = cfg.start_folder(), START_MODELS["dcgan"]
    if cfg.init == "auto" and start is not None:
        return f"started from the shipped model {shipped} (use --init none for random weights)"
    if start is not None:
        return f"started from the weights of {start}"
    if cfg.init == "auto":
        m = start_model()[1]
        return (
            f"started from random weights: the shipped start model {shipped} is another "
            f"architecture ({'gray' if m.channels == 1 else 'RGB'}, unconditional, spatial, "
            f"{m.image_size}-pixel crops, nz {m.nz}, width {m.ngf})"
        )
    return "started from random weights (--init none)"
