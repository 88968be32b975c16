"""Training the DCGANs on folders of micrographs, resumable; generating from a model folder.

Each iteration takes a batch of random crops (``image_size`` pixels) from the training
images, scaled to [-1, 1], and makes one discriminator and one generator step of the seed's
minimax loss (BCE; the generator maximises log D(G(z)), the usual non-saturating form).
For the conditional variant every folder comes with its Si content, and each crop carries the
condition vector of its folder. Every ``checkpoint_every`` iterations the whole state
(both networks, both optimizers, the random generators, the loss history) goes to
``OUT/state.safetensors``; the same command continues from there. The model folder
(``kind = "dcgan"``) holds the generator and discriminator, the configuration, the training
Si contents, the loss curve (PNG, the seed's Fig. 9, and CSV) and a sample grid beside
training crops (PNG, Figs. 7 and 8).
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from eftgan.checkpoint import package_versions, write_model_folder
from eftgan.files import atomic_write_bytes, atomic_write_text
from eftgan.errors import UserError
from eftgan.train import (
    STATE_FILE,
    _optimizer_from_tensors,
    _prefixed,
    _unprefixed,
    check_output_folder,
    load_run_state,
    optimizer_state_tensors,
)
from microstructure.dcgan import COND_DIM, DCGANConfig, Discriminator, Generator, build
from microstructure.dcgan import condition_vector as cond_vec
from microstructure.generate import generate_images
from microstructure.images import random_crops, read_folder


def train_dcgan(
    folders: Sequence[Path],
    out: Path,
    si_wt_pct: Sequence[float] | None = None,
    iters: int = 2000,
    batch_size: int = 64,
    lr: float = 5e-4,
    nz: int = 1000,
    channels: int = 1,
    width: int = 64,
    seed: int = 0,
    checkpoint_every: int = 100,
    progress: bool = True,
    force: bool = False,
) -> dict[str, Any]:
    """Train the seed DCGAN (``si_wt_pct`` None) or the conditional one into ``out``."""
    from tqdm import tqdm

    check_output_folder(out, force)
    if si_wt_pct is not None:
        if len(si_wt_pct) != len(folders):
            raise UserError("give one --condition-si value per --images folder")
        for s in si_wt_pct:
            if not 0 <= s <= 25:
                raise UserError(f"Si content {s:g} wt % is outside 0-25 wt %")
    t0 = time.perf_counter()
    size = 64
    sets = [read_folder(f, size, channels) for f in folders]
    cfg = DCGANConfig(nz=nz, channels=channels, cond_dim=COND_DIM if si_wt_pct else 0,
                      ngf=width, ndf=width)  # fmt: skip
    g, d = build(cfg, seed)
    opt_g = torch.optim.Adam(g.parameters(), lr=lr, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(d.parameters(), lr=lr, betas=(0.5, 0.999))
    rng = np.random.default_rng(seed)
    gen = torch.Generator().manual_seed(seed)
    hist: dict[str, list[float]] = {"d_loss": [], "g_loss": [], "d_real": [], "d_fake": []}
    start = 0
    data_key = [sum(a.size for a in s) for s in sets]
    fingerprint = {"config": cfg.as_dict(), "seed": seed, "iters": iters, "lr": lr,
                   "batch_size": batch_size, "folders": [str(f) for f in folders],
                   "si": list(si_wt_pct) if si_wt_pct else None, "data_key": data_key}  # fmt: skip
    state_path = out / STATE_FILE
    if force:
        state_path.unlink(missing_ok=True)
    saved = load_run_state(state_path, fingerprint)
    if saved is not None:
        t, run = saved
        g.load_state_dict(_unprefixed(t, "g"))
        d.load_state_dict(_unprefixed(t, "d"))
        opt_g.load_state_dict(_optimizer_from_tensors(_unprefixed(t, "og"), run["groups_g"]))
        opt_d.load_state_dict(_optimizer_from_tensors(_unprefixed(t, "od"), run["groups_d"]))
        gen.set_state(t["rng"])
        rng.bit_generator.state = run["np_rng"]
        hist, start = run["history"], run["iter"]
    conds = torch.from_numpy(cond_vec(np.array(si_wt_pct))) if si_wt_pct else None
    bce = nn.BCEWithLogitsLoss()  # the seed's BCE on D's sigmoid, fused (see Discriminator)
    bar = tqdm(range(start, iters), desc="train", disable=not progress, mininterval=1.0,
               initial=start, total=iters)  # fmt: skip
    for it in bar:
        which = rng.integers(len(sets), size=batch_size)
        crops = np.concatenate([random_crops(sets[k], 1, size, rng) for k in which])
        real = torch.from_numpy(crops) * 2 - 1
        c = conds[torch.from_numpy(which)] if conds is not None else None
        z = torch.randn(batch_size, nz, generator=gen)
        fake = g(z, c)
        p_real, p_fake = d.logits(real, c), d.logits(fake.detach(), c)
        loss_d = bce(p_real, torch.ones_like(p_real)) + bce(p_fake, torch.zeros_like(p_fake))
        opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        opt_d.step()
        # The generator step needs gradients through D, not of D's weights: freezing them
        # skips the weight gradients of D's backward pass.
        d.requires_grad_(False)
        p_gen = d.logits(fake, c)
        loss_g = bce(p_gen, torch.ones_like(p_gen))
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        opt_g.step()
        d.requires_grad_(True)
        hist["d_loss"].append(float(loss_d.detach()))
        hist["g_loss"].append(float(loss_g.detach()))
        hist["d_real"].append(float(torch.sigmoid(p_real.detach()).mean()))
        hist["d_fake"].append(float(torch.sigmoid(p_fake.detach()).mean()))
        if (it + 1) % checkpoint_every == 0 and it + 1 < iters:
            _save_state(state_path, g, d, opt_g, opt_d, gen, rng, hist, it + 1, fingerprint)
    wall = time.perf_counter() - t0
    _write(out, g, d, cfg, hist, sets, si_wt_pct, folders, seed, iters, wall, rng)
    state_path.unlink(missing_ok=True)
    return {"history": hist, "wall_s": wall, "resumed_from": start}


def _save_state(
    path: Path,
    g: nn.Module,
    d: nn.Module,
    opt_g: torch.optim.Optimizer,
    opt_d: torch.optim.Optimizer,
    gen: torch.Generator,
    rng: np.random.Generator,
    hist: dict[str, list[float]],
    it: int,
    fingerprint: dict[str, Any],
) -> None:
    from safetensors.torch import save as st_save

    og, groups_g = optimizer_state_tensors(opt_g.state_dict())
    od, groups_d = optimizer_state_tensors(opt_d.state_dict())
    tensors = {**_prefixed(g, "g"), **_prefixed(d, "d"),
               **{f"og.{k}": v for k, v in og.items()}, **{f"od.{k}": v for k, v in od.items()},
               "rng": gen.get_state()}  # fmt: skip
    run = {"fingerprint": fingerprint, "iter": it, "history": hist, "groups_g": groups_g,
           "groups_d": groups_d, "np_rng": rng.bit_generator.state}  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, st_save(tensors, metadata={"run": json.dumps(run)}))


def _write(out: Path, g: Generator, d: Discriminator, cfg: DCGANConfig,
           hist: dict[str, list[float]], sets: list[list[np.ndarray]],
           si: Sequence[float] | None, folders: Sequence[Path], seed: int, iters: int,
           wall: float, rng: np.random.Generator) -> None:  # fmt: skip
    from eftgan.plotting import loss_curves_png, pyplot, save_png

    out.mkdir(parents=True, exist_ok=True)
    lines = ["iter,d_loss,g_loss,d_real,d_fake"] + [
        f"{i + 1},{a:.5f},{b:.5f},{c:.4f},{e:.4f}"
        for i, (a, b, c, e) in enumerate(
            zip(hist["d_loss"], hist["g_loss"], hist["d_real"], hist["d_fake"], strict=True)
        )
    ]
    atomic_write_text(out / "history.csv", "\n".join(lines) + "\n")
    curves = {k.replace("_", " "): (None, hist[k]) for k in ("d_loss", "g_loss")}
    loss_curves_png(out / "loss.png", curves, "iteration", smooth_points=50)
    plt = pyplot()
    modules = nn.ModuleDict({"g": g, "d": d})
    gm = Generator(cfg)
    gm.load_state_dict(g.state_dict())
    fakes = generate_images(gm, 16, si[0] if si else None, seed=seed)
    reals = random_crops(sets[0], 16, 64, rng).mean(1)
    fig, axs = plt.subplots(4, 8, figsize=(8, 4.4), dpi=120)
    for i, ax in enumerate(axs.flat):
        img = reals[i % 16] if i % 8 < 4 else fakes[(i // 8) * 4 + i % 4]
        ax.imshow(img, cmap="gray", vmin=0, vmax=1)
        ax.set_axis_off()
    fig.suptitle("training crops (left) and generated (right)", fontsize=9)
    save_png(fig, out / "samples.png")
    kind = "Conditional on Al-xSi via the element registry" if si else "The seed DCGAN"
    card = (f"# DCGAN `{out.name}`\n\n{kind}"
            f", {cfg.channels} channel(s), 64x64, nz {cfg.nz}, width {cfg.ngf}.\n\n"
            f"- images: {', '.join(str(f) for f in folders)}"
            + (f" (Si {', '.join(f'{x:g}' for x in si)} wt %)" if si else "")
            + f"\n- seed {seed}, {iters} iterations, wall time {wall:.0f} s\n\n"
            "Versions: " + ", ".join(f"{k} {v}" for k, v in package_versions().items())
            + "\n")  # fmt: skip
    config = {"dcgan": cfg.as_dict(), "si_wt_pct": list(si) if si else None}
    extra = {"wall_s": wall, "iters": iters, "seed": seed}
    write_model_folder(out, modules, kind="dcgan", model_config=config, card=card, extra=extra)
