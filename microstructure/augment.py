"""Augmentation with kornia, shared by the generators and the segmenters.

* :func:`augmenter`: the DCGAN paper's augmentation: width/height shift, shear, zoom,
  horizontal and vertical flips (the paper grew 67 micrographs to 13,000 this way). Shifts
  up to 20 % of the size, shear up to 10 degrees, zoom 0.8-1.2, reflection padding so that
  no black borders appear (a micrograph continues beyond its frame).
* :func:`label_warp`: the geometry of a segmenter's training crop drawn on its label image
  (nearest-neighbour resampling keeps labels exact), so that targets made from the warped
  labels stay exact too.
* :func:`photometric`: how one specimen, microscope and camera differ from the next, drawn
  on images only: gamma, contrast, brightness, blur and noise.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

__all__ = ["augment_batch", "augment_folder", "augmenter", "label_warp", "photometric"]


def augmenter() -> torch.nn.Module:
    """The random augmentation as a module on batches (B, C, H, W) in [0, 1]: affine (shift up
    to 20 %, zoom 0.8-1.2, shear up to 10 degrees, reflection padding), then flips."""
    import kornia.augmentation as K

    return torch.nn.Sequential(
        K.RandomAffine(
            degrees=0.0,
            translate=(0.2, 0.2),
            scale=(0.8, 1.2),
            shear=10.0,
            padding_mode="reflection",
            p=1.0,
        ),
        K.RandomHorizontalFlip(),
        K.RandomVerticalFlip(),
    )


def label_warp(stretch: float = 1.4) -> torch.nn.Module:
    """A random warp of label images (B, 1, H, W), float holding integer labels: any
    rotation, each axis scaled independently by ``1/stretch``-``stretch`` (grains elongated
    up to ``stretch^2`` : 1, as in rolled or drawn metal), shear up to 10 degrees, flips;
    nearest-neighbour resampling, reflection padding."""
    import kornia.augmentation as K

    lo = 1 / stretch
    return torch.nn.Sequential(
        K.RandomAffine(
            degrees=180.0,
            scale=(lo, stretch, lo, stretch),
            shear=10.0,
            resample="nearest",
            padding_mode="reflection",
            p=1.0,
        ),
        K.RandomHorizontalFlip(),
    )


def photometric(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Gamma, contrast, brightness, blur and noise on images in [0, 1] (B, 1, H, W), drawn
    per image from ``gen`` (the blur's width per batch)."""
    import kornia

    b = x.shape[0]

    def draw(lo: float, hi: float) -> torch.Tensor:
        return (lo + (hi - lo) * torch.rand(b, 1, 1, 1, generator=gen)).to(x)

    x = x.clamp(1e-4, 1) ** torch.exp(draw(-0.4, 0.4))
    mean = x.mean((2, 3), keepdim=True)
    x = (x - mean) * draw(0.6, 1.5) + mean + draw(-0.15, 0.15)
    sigma = float(draw(0.3, 1.5)[0])
    x = kornia.filters.gaussian_blur2d(x, (7, 7), (sigma, sigma))
    return x + torch.randn(x.shape, generator=gen) * draw(0.0, 0.05)


def augment_batch(x: torch.Tensor, seed: int) -> torch.Tensor:
    """Augmented copies of a batch (B, C, H, W) in [0, 1], reproducible from ``seed``."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return augmenter()(x).clamp(0, 1)


def augment_folder(
    folder: str | os.PathLike[str],
    out: str | os.PathLike[str],
    factor: int = 200,
    seed: int = 0,
    force: bool = False,
    progress: bool = False,
) -> int:
    """Write ``factor`` augmented copies of every image in ``folder`` into a new folder ``out``.

    Copy ``j`` of image ``k`` (in file order) is ``OUT/<stem>_aug<j>.png``, gray, the size of
    its source; the ``k``-th image's batch is drawn with seed ``seed * 1000003 + k``. A
    ``synth.json`` beside the images is copied along, so that the Si content travels with
    them. The folder is built aside and renamed into place; an existing one is replaced only
    with ``force``. Returns the number of images written.
    """
    import shutil

    from tqdm import tqdm

    from eftgan.errors import UserError
    from eftgan.files import staged_dir
    from microstructure.images import image_files, read_gray, write_png

    if factor < 1:
        raise UserError("--factor must be at least 1")
    files = image_files(folder)
    with staged_dir(out, force) as tmp:
        for k, p in enumerate(tqdm(files, desc="augment", disable=None if progress else True)):
            x = torch.from_numpy(read_gray(p)[None, None]).repeat(factor, 1, 1, 1)
            y = augment_batch(x, seed * 1_000_003 + k).numpy()
            for j in range(factor):
                write_png(tmp / f"{p.stem}_aug{j:04d}.png", y[j, 0])
        src = Path(folder) / "synth.json"
        if src.is_file():
            shutil.copy(src, tmp / "synth.json")
    return len(files) * factor
