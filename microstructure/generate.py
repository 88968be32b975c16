"""Generating micrographs from a trained GAN model folder, with no training code imported.

A model folder of kind ``dcgan`` (written by :func:`microstructure.train.train_dcgan`) holds
the generator and the discriminator of either architecture (``config["model"]["arch"]``: the
paper's DCGAN, the default fully convolutional one of :mod:`microstructure.sngan`, or the
StyleGAN2-lite of :mod:`microstructure.stylegan`); only
the generator is loaded here. A generated image is the generator's tanh output mapped from
[-1, 1] to gray levels in [0, 1], from noise drawn from a seeded ``torch.Generator`` (so the
same seed gives the same images on any machine with the same torch): one 64 x 64 image per
noise vector for the paper's network, and for the fully convolutional ones an image of any
side that is a multiple of their noise field's spacing (16 or 32 pixels) per noise field. A
conditional model also takes the Si content of the Al-xSi alloy (wt %, 0-25), turned into
its condition vector through the element registry
(:func:`microstructure.dcgan.condition_vector`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from eftgan.errors import UserError
from microstructure.dcgan import DCGANConfig, Generator, condition_vector
from microstructure.sngan import SpatialConfig, SpatialGenerator
from microstructure.stylegan import StyleConfig, StyleGenerator

__all__ = ["generate_images", "load_generator", "write_images"]


def load_generator(
    folder: str | os.PathLike[str] | None = None, weights: str = "g"
) -> tuple[Generator | SpatialGenerator | StyleGenerator, dict[str, Any]]:
    """Load the generator of a GAN model folder (default: the shipped conditional model).

    Returns ``(generator, config)``: the generator in eval mode and the folder's
    ``config.json`` as a dictionary (``config["model"]["si_wt_pct"]`` lists the training Si
    contents of a conditional model). ``weights`` ``g`` is the generator that training keeps
    (the moving average of its weights where it kept one), ``g_raw`` the last one. Raises
    :class:`eftgan.errors.CheckpointError` for a folder that is not a GAN model or whose
    weights do not fit its configuration.
    """
    from eftgan.checkpoint import building, load_weights, read_model_folder
    from eftgan.paths import default_model_dir

    folder = Path(folder) if folder is not None else default_model_dir("dcgan")
    config, state = read_model_folder(folder, kind="dcgan")
    with building(folder, "dcgan"):
        model = config["model"]
        if "style" in model:
            tcfg = StyleConfig.from_dict(model["style"])
            g: nn.Module = load_weights(lambda: StyleGenerator(tcfg), state, folder, weights)
        elif "spatial" in model:
            scfg = SpatialConfig.from_dict(model["spatial"])
            g = load_weights(lambda: SpatialGenerator(scfg), state, folder, weights)
        else:
            cfg = DCGANConfig.from_dict(model["dcgan"])
            g = load_weights(lambda: Generator(cfg), state, folder, weights)
    return g.eval(), config


def _check_si(cfg: DCGANConfig | SpatialConfig | StyleConfig, si_wt_pct: float | None) -> None:
    if cfg.cond_dim and si_wt_pct is None:
        raise UserError("this model is conditional: give the Si content (--si)")
    if not cfg.cond_dim and si_wt_pct is not None:
        raise UserError("this model is not conditional; leave out --si")
    if si_wt_pct is not None and not 0 <= si_wt_pct <= 25:
        raise UserError(f"Si content {si_wt_pct:g} wt % is outside 0-25 wt %")


@torch.no_grad()
def generate_images(
    g: Generator | SpatialGenerator | StyleGenerator,
    n: int,
    si_wt_pct: float | None = None,
    seed: int = 0,
    gray: bool = True,
    size: int | None = None,
) -> np.ndarray:
    """``n`` generated micrographs as gray levels in [0, 1].

    Args:
        g: a generator (from :func:`load_generator`); it is put in eval mode.
        n: number of images.
        si_wt_pct: Si content in wt % (0-25) for a conditional model; None for an
            unconditional one (a one-line :class:`UserError` otherwise).
        seed: random seed of the noise.
        gray: average the channels of an RGB model into one gray image.
        size: side in pixels (default: the training crops'); larger fields, any multiple of
            the generator's ``upsampling`` (16 pixels for the default, 32 for the style GAN),
            from those fully convolutional architectures only.

    Returns:
        float32 array (n, size, size), or (n, size, size, 3) for an RGB model with
        ``gray=False``.
    """
    cfg = g.cfg
    _check_si(cfg, si_wt_pct)
    g.eval()
    gen = torch.Generator().manual_seed(seed)
    if isinstance(g, SpatialGenerator | StyleGenerator):
        step = g.upsampling
        if size is not None and (size < step or size % step):
            raise UserError(f"--size {size} is not a multiple of {step} pixels")
        z = g.noise(n, gen, size)
    elif size not in (None, cfg.image_size):
        raise UserError(
            f"this model (the paper's DCGAN) makes {cfg.image_size}-pixel images only; "
            "train the default architecture for larger fields"
        )
    else:
        z = torch.randn(n, cfg.nz, generator=gen)
    c = None
    if si_wt_pct is not None:
        c = torch.from_numpy(condition_vector(np.full(n, si_wt_pct)))
    x = (g(z, c) + 1) / 2
    if gray or cfg.channels == 1:
        return x.mean(1).numpy()
    return x.permute(0, 2, 3, 1).numpy()


def write_images(
    out: str | os.PathLike[str], images: np.ndarray, force: bool = False, prefix: str = "gen"
) -> Path:
    """Write images in [0, 1] ((n, H, W) gray or (n, H, W, 3) RGB) as ``OUT/<prefix>_0000.png``
    ... into a new folder ``out``, built aside and renamed into place (an existing folder is
    replaced only with ``force``). Returns the folder."""
    from eftgan.files import staged_dir
    from microstructure.images import write_png

    with staged_dir(out, force) as tmp:
        for i, a in enumerate(images):
            write_png(tmp / f"{prefix}_{i:04d}.png", a)
    return Path(out)
