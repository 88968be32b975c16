"""Reading folders of micrographs, random crops, and writing images atomically."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from eftgan.errors import UserError

__all__ = [
    "IMAGE_EXT",
    "bin_pixels",
    "colour_images",
    "image_files",
    "normalize_folder",
    "random_crops",
    "read_folder",
    "read_gray",
    "stretch_contrast",
    "write_png",
]

IMAGE_EXT = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp"}
#: Files beside images that are ignored (metadata written by ``eftgan micro synth``).
SIDECAR_EXT = {".json", ".csv", ".txt", ".md"}


def image_files(folder: str | os.PathLike[str]) -> list[Path]:
    """The image files of a folder (sorted); one-line errors for empty folders and strays."""
    d = Path(folder)
    if d.is_file():
        raise UserError(f"{d} is a file; give the folder that holds the images")
    if not d.is_dir():
        raise UserError(f"image folder {d} does not exist")
    files = []
    for p in sorted(d.iterdir()):
        if p.is_dir() or p.name.startswith("."):
            continue
        ext = p.suffix.lower()
        if ext in IMAGE_EXT:
            files.append(p)
        elif ext not in SIDECAR_EXT:
            raise UserError(f"{p} is not an image (PNG, JPEG, TIFF or BMP); move it out of {d}")
    if not files:
        raise UserError(f"{d} holds no images (PNG, JPEG, TIFF or BMP)")
    return files


def read_gray(path: str | os.PathLike[str], channels: int = 1) -> np.ndarray:
    """An image as float32 in [0, 1]: (H, W) for one channel, (H, W, 3) for three."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            im.load()
            if im.mode in ("I;16", "I;16B", "I"):
                a = np.asarray(im, dtype=np.float32)
                a = a / max(float(a.max()), 1.0)
                return a if channels == 1 else np.repeat(a[:, :, None], 3, 2)
            conv = im.convert("L" if channels == 1 else "RGB")
            return np.asarray(conv, dtype=np.float32) / 255.0
    except Image.DecompressionBombError:
        raise UserError(
            f"{path} has more pixels than Pillow reads safely (decompression-bomb limit); "
            "crop or downscale it"
        ) from None
    except (UnidentifiedImageError, OSError, EOFError, ValueError, SyntaxError) as exc:
        reason = " ".join(str(exc).split())[:120]
        raise UserError(f"cannot read image {path} ({reason})") from None


def colour_images(files: Sequence[Path]) -> list[Path]:
    """The files among ``files`` that hold colour: RGB (or palette) images whose channels
    differ somewhere by more than 2 gray levels; gray images stored as RGB are not colour."""
    from PIL import Image

    out = []
    for p in files:
        try:
            with Image.open(p) as im:
                if im.mode in ("1", "L", "LA", "I", "I;16", "I;16B", "F"):
                    continue
                a = np.asarray(im.convert("RGB"), dtype=np.int16)
        except (OSError, ValueError):
            continue  # unreadable or an unusual mode: read_folder says so
        if np.abs(np.diff(a, axis=2)).max() > 2:
            out.append(p)
    return out


def read_folder(
    folder: str | os.PathLike[str], min_size: int = 0, channels: int = 1
) -> list[np.ndarray]:
    """Every image of a folder (see :func:`image_files`) as float32 in [0, 1], gray (H, W) or
    RGB (H, W, 3); a one-line error for an image smaller than ``min_size`` pixels."""
    imgs = []
    for p in image_files(folder):
        a = read_gray(p, channels)
        if min(a.shape[:2]) < min_size:
            raise UserError(
                f"{p} is {a.shape[1]}x{a.shape[0]} pixels, smaller than the {min_size}-pixel "
                "crop; use larger images, or a smaller crop (--size, where the architecture "
                "takes one)"
            )
        imgs.append(a)
    return imgs


def random_crops(imgs: list[np.ndarray], n: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` random ``size`` x ``size`` crops: (n, C, size, size) float32 in [0, 1]."""
    out = []
    for _ in range(n):
        a = imgs[int(rng.integers(len(imgs)))]
        h, w = a.shape[:2]
        y, x = int(rng.integers(h - size + 1)), int(rng.integers(w - size + 1))
        c = a[y : y + size, x : x + size]
        out.append(c[None] if c.ndim == 2 else np.moveaxis(c, 2, 0))
    return np.stack(out).astype(np.float32)


#: Percentiles of an image's gray levels that :func:`stretch_contrast` maps to 0 and 1.
STRETCH_PERCENTILES = (1.0, 99.0)


def stretch_contrast(img: np.ndarray) -> np.ndarray:
    """The image's gray levels stretched linearly so that its :data:`STRETCH_PERCENTILES`
    become 0 and 1 (clipped): micrographs of one sample taken at different brightness and
    contrast (SEM images most of all) brought onto one scale, so that one threshold splits
    the phases of all of them and a generator learns the texture, not the exposure."""
    lo, hi = np.percentile(img, STRETCH_PERCENTILES)
    return np.clip((img - lo) / max(float(hi - lo), 1e-6), 0.0, 1.0).astype(np.float32)


def bin_pixels(img: np.ndarray, n: int) -> np.ndarray:
    """``n`` x ``n`` pixel binning (the mean of each block; a ragged edge is cut off): the
    same field at a coarser scale, so that a fixed-size crop holds more of the structure."""
    if n == 1:
        return img
    h, w = (img.shape[0] // n) * n, (img.shape[1] // n) * n
    a = img[:h, :w]
    return a.reshape(h // n, n, w // n, n, *a.shape[2:]).mean(axis=(1, 3)).astype(np.float32)


#: The smallest side (pixels) a binned image may have: a crop needs some structure to hold.
MIN_BINNED_PX = 16


def normalize_folder(
    src: str | os.PathLike[str], out: str | os.PathLike[str], force: bool = False, bins: int = 1
) -> Path:
    """Every image of ``src`` binned (:func:`bin_pixels`, ``bins`` x ``bins``) and through
    :func:`stretch_contrast`, as gray PNGs of the same names in a new folder ``out`` (built
    aside and renamed into place; an existing one is replaced only with ``force``)."""
    from eftgan.files import staged_dir

    if bins < 1:
        raise UserError(f"--bin {bins} is not a binning factor; give 1, 2, 4, ...")
    files = image_files(src)
    with staged_dir(out, force) as tmp:
        for p in files:
            img = read_gray(p)
            if min(img.shape[:2]) < MIN_BINNED_PX * bins:
                fix = "give a smaller --bin" if bins > 1 else "use larger images"
                raise UserError(
                    f"{p} is {img.shape[1]}x{img.shape[0]} pixels: binned {bins} x {bins} it "
                    f"would be under {MIN_BINNED_PX} pixels a side; {fix}"
                )
            write_png(tmp / f"{p.stem}.png", stretch_contrast(bin_pixels(img, bins)))
    return Path(out)


def write_png(path: str | os.PathLike[str], img: np.ndarray) -> None:
    """Write a gray (H, W) or RGB (H, W, 3) float image in [0, 1] as PNG, atomically."""
    import io

    from PIL import Image

    from eftgan.files import atomic_write_bytes

    a = np.clip(np.rint(np.asarray(img) * 255), 0, 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, format="PNG")
    atomic_write_bytes(path, buf.getvalue())
