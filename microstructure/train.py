"""Training the DCGANs on folders of micrographs, resumable, into a model folder.

Each iteration takes a batch of random crops (64 pixels square) from the training images,
scaled to [-1, 1], and makes one discriminator and one generator step of the paper's minimax
loss (binary cross-entropy; the generator maximises log D(G(z)), the usual non-saturating
form). For the conditional variant every folder comes with the Si content of its alloy, and each
crop carries the condition vector of its folder.

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
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from eftgan.errors import UserError
from eftgan.runstate import RunState, check_output_folder
from eftgan.settings import JSONSettings
from microstructure.dcgan import COND_DIM, DCGANConfig, Discriminator, Generator, build
from microstructure.dcgan import condition_vector as cond_vec
from microstructure.generate import generate_images
from microstructure.images import random_crops, read_folder

__all__ = ["DCGANTrainConfig", "train_dcgan"]

#: Crop size in pixels: the networks are built for 64 x 64 images.
CROP = 64
HISTORY_KEYS = ("d_loss", "g_loss", "d_real", "d_fake")


@dataclass
class DCGANTrainConfig(JSONSettings):
    """Settings of one DCGAN training run; round-trips through JSON (:meth:`as_dict`).

    Attributes:
        iters: training iterations (one discriminator and one generator step each).
        batch_size: crops per iteration.
        lr: Adam learning rate of both networks (beta1 0.5, as in the paper).
        nz: noise vector size (the paper: 1000).
        channels: 1 (gray) or 3 (RGB); image files are converted on reading.
        width: base width of both networks (the paper: 64).
        seed: random seed of the weights, the crops and the noise.
        checkpoint_every: iterations between saved run states.
        si_wt_pct: Si content (wt %, 0-25) of each training folder, in the order of the
            folders, for the conditional model; None trains the unconditional one.
    """

    iters: int = 2000
    batch_size: int = 64
    lr: float = 5e-4
    nz: int = 1000
    channels: int = 1
    width: int = 64
    seed: int = 0
    checkpoint_every: int = 100
    si_wt_pct: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        if self.si_wt_pct is not None:
            self.si_wt_pct = tuple(float(s) for s in self.si_wt_pct)

    def fingerprint(self) -> dict[str, Any]:
        """The settings that change the result (all but ``checkpoint_every``)."""
        return {k: v for k, v in self.as_dict().items() if k != "checkpoint_every"}

    def validate(self, n_folders: int) -> None:
        """One-line :class:`UserError` for settings that cannot train on ``n_folders``."""
        if self.iters < 1 or self.batch_size < 1 or self.checkpoint_every < 1:
            raise UserError("iters, batch size and checkpoint interval must be at least 1")
        if not 0 < self.lr < 1:
            raise UserError(f"--lr {self.lr:g} is not a learning rate; give a value such as 0.0002")
        if self.channels not in (1, 3):
            raise UserError(f"channels must be 1 (gray) or 3 (RGB), not {self.channels}")
        if self.si_wt_pct is None:
            return
        if len(self.si_wt_pct) != n_folders:
            raise UserError("give one --condition-si value per --images folder")
        for s in self.si_wt_pct:
            if not 0 <= s <= 25:
                raise UserError(f"Si content {s:g} wt % is outside 0-25 wt %")

    def model_config(self) -> DCGANConfig:
        """The architecture these settings train."""
        cond = COND_DIM if self.si_wt_pct else 0
        w = self.width
        return DCGANConfig(nz=self.nz, channels=self.channels, cond_dim=cond, ngf=w, ndf=w)


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


@dataclass
class _Run:
    """The objects of one training run and the steps that use them."""

    cfg: DCGANTrainConfig
    sets: list[list[np.ndarray]]
    g: Generator
    d: Discriminator
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer
    rng: np.random.Generator  # crops
    gen: torch.Generator  # noise

    @classmethod
    def build(cls, cfg: DCGANTrainConfig, sets: list[list[np.ndarray]]) -> _Run:
        """Networks initialised from ``cfg.seed``, Adam optimizers, seeded generators."""
        g, d = build(cfg.model_config(), cfg.seed)
        opt_g, opt_d = (
            torch.optim.Adam(m.parameters(), lr=cfg.lr, betas=(0.5, 0.999)) for m in (g, d)
        )
        rng = np.random.default_rng(cfg.seed)
        gen = torch.Generator().manual_seed(cfg.seed)
        return cls(cfg, sets, g, d, opt_g, opt_d, rng, gen)

    def track(self, state: RunState) -> None:
        """Register everything a resumed run needs with ``state``."""
        state.track(
            g=self.g, d=self.d, opt_g=self.opt_g, opt_d=self.opt_d, gen=self.gen, rng=self.rng
        )

    def batch(
        self, conds: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]:
        """Real crops in [-1, 1], their condition vectors (or None) and noise."""
        n = self.cfg.batch_size
        which = self.rng.integers(len(self.sets), size=n)
        crops = np.concatenate([random_crops(self.sets[k], 1, CROP, self.rng) for k in which])
        real = torch.from_numpy(crops) * 2 - 1
        c = conds[torch.from_numpy(which)] if conds is not None else None
        z = torch.randn(n, self.cfg.nz, generator=self.gen)
        return real, c, z

    def step(self, real: torch.Tensor, c: torch.Tensor | None, z: torch.Tensor) -> dict:
        """One discriminator and one generator step; returns the losses and D's mean outputs."""
        g, d = self.g, self.d
        bce = nn.BCEWithLogitsLoss()  # the paper's BCE on D's sigmoid, fused (see Discriminator)
        fake = g(z, c)
        p_real, p_fake = d.logits(real, c), d.logits(fake.detach(), c)
        loss_d = bce(p_real, torch.ones_like(p_real)) + bce(p_fake, torch.zeros_like(p_fake))
        self.opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        self.opt_d.step()
        # The generator step needs gradients through D, not of D's weights: freezing them
        # skips the weight gradients of D's backward pass.
        d.requires_grad_(False)
        p_gen = d.logits(fake, c)
        loss_g = bce(p_gen, torch.ones_like(p_gen))
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        self.opt_g.step()
        d.requires_grad_(True)
        return {
            "d_loss": float(loss_d.detach()),
            "g_loss": float(loss_g.detach()),
            "d_real": float(torch.sigmoid(p_real.detach()).mean()),
            "d_fake": float(torch.sigmoid(p_fake.detach()).mean()),
        }

    def loop(
        self, hist: dict[str, list[float]], start: int, state: RunState, progress: bool
    ) -> None:
        """Iterations ``start`` .. ``iters - 1``, appending to ``hist`` and saving ``state``
        every ``checkpoint_every`` iterations (not after the last: the model folder follows)."""
        from tqdm import tqdm

        cfg, si = self.cfg, self.cfg.si_wt_pct
        conds = torch.from_numpy(cond_vec(np.array(si))) if si else None
        its = range(start, cfg.iters)
        bar = tqdm(its, "train", cfg.iters, disable=not progress, mininterval=1.0, initial=start)
        for it in bar:
            for k, v in self.step(*self.batch(conds)).items():
                hist[k].append(v)
            if (it + 1) % cfg.checkpoint_every == 0 and it + 1 < cfg.iters:
                state.save({"iter": it + 1, "history": hist})

    def samples_png(self, path: Path) -> None:
        """A 4 x 8 grid: 16 training crops (left half) beside 16 generated images (right)."""
        from eftgan.plotting import pyplot, save_png

        gm = Generator(self.g.cfg)
        gm.load_state_dict(self.g.state_dict())
        si = self.cfg.si_wt_pct
        fakes = generate_images(gm, 16, si[0] if si else None, seed=self.cfg.seed)
        reals = random_crops(self.sets[0], 16, CROP, self.rng).mean(1)
        plt = pyplot()
        fig, axs = plt.subplots(4, 8, figsize=(8, 4.4), dpi=120)
        for i, ax in enumerate(axs.flat):
            img = reals[i % 16] if i % 8 < 4 else fakes[(i // 8) * 4 + i % 4]
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
        out.mkdir(parents=True, exist_ok=True)
        self.samples_png(out / "samples.png")
        n = len(hist["d_loss"])
        rows = [{"iter": i + 1, **{k: hist[k][i] for k in HISTORY_KEYS}} for i in range(n)]
        write_finished_run(
            out,
            nn.ModuleDict({"g": self.g, "d": self.d}),
            kind="dcgan",
            model_config={"dcgan": mcfg.as_dict(), "si_wt_pct": list(si) if si else None},
            card=_card(out, mcfg, cfg, folders, wall),
            history=rows,
            curves={"d loss": "d_loss", "g loss": "g_loss"},
            x="iter",
            extra={"wall_s": wall, "iters": cfg.iters, "seed": cfg.seed, "train": cfg.as_dict()},
            smooth_points=50,
        )


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
        folders: folders of training images (PNG, JPEG, TIFF or BMP, at least 64 pixels on a
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
    t0 = time.perf_counter()
    sets = [read_folder(f, CROP, cfg.channels) for f in paths]
    run = _Run.build(cfg, sets)
    state = RunState(out, {"config": cfg.fingerprint(), "data": data_key(sets)}, force=force)
    run.track(state)
    saved = state.restore()
    start = int(saved.scalars["iter"]) if saved else 0
    hist = saved.scalars["history"] if saved else {k: [] for k in HISTORY_KEYS}
    run.loop(hist, start, state, progress)
    wall = time.perf_counter() - t0
    run.write(out, paths, hist, wall)
    state.finish()
    return {"history": hist, "wall_s": wall, "resumed_from": start}


def _card(
    out: Path, mcfg: DCGANConfig, cfg: DCGANTrainConfig, folders: Sequence[Path], wall: float
) -> str:
    """The model card (Markdown); the package versions are appended when it is written."""
    si = cfg.si_wt_pct
    kind = "Conditional on Al-xSi via the element registry" if si else "The paper's DCGAN"
    images = ", ".join(str(f) for f in folders)
    if si:
        images += f" (Si {', '.join(f'{x:g}' for x in si)} wt %)"
    return (
        f"# DCGAN `{out.name}`\n\n{kind}, {mcfg.channels} channel(s), 64x64, nz {mcfg.nz}, "
        f"width {mcfg.ngf}.\n\n- images: {images}\n"
        f"- seed {cfg.seed}, {cfg.iters} iterations, wall time {wall:.0f} s\n"
    )
