"""The paper's augmentation with kornia: width/height shift, shear, zoom, horizontal and
vertical flips (the paper grew 67 micrographs to 13,000 this way).

Shifts up to 20 % of the size, shear up to 10 degrees, zoom 0.8-1.2, reflection padding so
that no black borders appear (a micrograph continues beyond its frame).
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

__all__ = ["augment_batch", "augment_folder", "augmenter"]


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
