"""Synthetic polycrystal micrographs with exact ground truth, rendered from grain maps.

A grain map (a label image, from :mod:`.phasefield` or any other source) becomes the
micrograph an etched, polished section would give, and the masks a segmentation network
learns from:

- **optical** (bright field after etching): grains of slightly different brightness (the
  etch rate depends on orientation), boundaries as dark grooves of their own width and
  depth, some faint and some broken (the etch does not open every boundary), dark
  inclusions and pits, straight polishing scratches, uneven illumination, blur and noise;
- **sem** (channelling/BSE-like): a strong orientation contrast between grains, thin
  boundaries brighter or darker than the grains, scan-line noise and shot noise.

The ground truth is exact: ``boundaries`` marks every pixel with a 4-neighbour of another
grain (a line two pixels wide, one on each side), whether the image shows that boundary or
not: a network must learn to close the broken ones. Every rendering parameter is drawn from
a range by :func:`draw_look` (recorded per image), so that a network trained on many looks
meets real micrographs as one more.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from eftgan.errors import UserError

__all__ = ["Look", "boundary_mask", "draw_look", "render", "render_folder"]

STYLES = ("optical", "sem")


@dataclass
class Look:
    """One micrograph's rendering parameters (intensities on 0-1)."""

    style: str
    grain_mean: float  # mean grain brightness
    orientation_contrast: float  # half-range of the grain-to-grain shading
    mottling: float  # smooth variation inside grains
    groove_width_px: tuple[float, float]  # range of the boundaries' Gaussian widths
    groove_depth: tuple[float, float]  # range of the boundaries' contrast
    boundary_sign: float  # -1 dark grooves, +1 bright edges
    faint_fraction: float  # boundaries at a sixth of their contrast
    broken_fraction: float  # boundaries with gaps
    gap_fraction: float  # how much of a broken boundary is missing
    inclusions_per_mpx: float  # dark inclusions and pits per 10^6 pixels
    scratches: int
    illumination: float  # amplitude of the illumination gradient and vignette
    blur_px: float
    noise: float
    scan_line_noise: float


def draw_look(rng: np.random.Generator, style: str = "optical") -> Look:
    """A random look of ``style`` (``optical`` or ``sem``)."""
    if style not in STYLES:
        raise UserError(f"--style {style!r} is not one of {', '.join(STYLES)}")
    u = rng.uniform
    optical = style == "optical"
    lo_w = u(0.5, 1.2)
    lo_d = u(0.25, 0.6) if optical else u(0.1, 0.35)
    return Look(
        style=style,
        grain_mean=u(0.55, 0.85) if optical else u(0.35, 0.6),
        orientation_contrast=u(0.02, 0.2) if optical else u(0.15, 0.35),
        mottling=u(0.0, 0.04),
        groove_width_px=(lo_w, lo_w + u(0.2, 1.2)),
        groove_depth=(lo_d, min(lo_d + u(0.1, 0.4), 0.95)),
        boundary_sign=-1.0 if optical or rng.random() < 0.5 else 1.0,
        faint_fraction=u(0.0, 0.3),
        broken_fraction=u(0.0, 0.4),
        gap_fraction=u(0.2, 0.6),
        inclusions_per_mpx=u(0, 800) if optical else u(0, 200),
        scratches=int(rng.integers(0, 5)) if optical else 0,
        illumination=u(0.0, 0.3) if optical else u(0.0, 0.1),
        blur_px=u(0.3, 1.4),
        noise=u(0.005, 0.04) if optical else u(0.02, 0.08),
        scan_line_noise=0.0 if optical else u(0.0, 0.03),
    )


def boundary_mask(labels: np.ndarray) -> np.ndarray:
    """Pixels with a 4-neighbour of another grain (bool): a line two pixels wide."""
    mask = np.zeros(labels.shape, dtype=bool)
    for axis in (0, 1):
        diff = np.diff(labels, axis=axis) != 0
        lead = [slice(None)] * 2
        lead[axis] = slice(0, -1)
        trail = [slice(None)] * 2
        trail[axis] = slice(1, None)
        mask[tuple(lead)] |= diff
        mask[tuple(trail)] |= diff
    return mask


def _boundary_pairs(labels: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """For each pixel of ``mask``, a key of the pair of grains its boundary separates
    (-1 elsewhere)."""
    other = labels.copy()
    padded = np.pad(labels, 1, mode="edge")  # the image's edge has no neighbour beyond it
    h, w = labels.shape
    for dy, dx in ((-1, 0), (1, 0), (0, -1), (0, 1)):
        near = padded[1 + dy : 1 + dy + h, 1 + dx : 1 + dx + w]
        take = (near != labels) & (other == labels)
        other[take] = near[take]
    n = int(labels.max()) + 1
    key = np.minimum(labels, other) * n + np.maximum(labels, other)
    return np.where(mask, key, -1)


def _smooth_noise(rng: np.random.Generator, shape: tuple[int, int], sigma: float) -> np.ndarray:
    """Gaussian-filtered white noise scaled to unit standard deviation."""
    from scipy.ndimage import gaussian_filter

    f = gaussian_filter(rng.standard_normal(shape), sigma, mode="wrap")
    return f / max(float(f.std()), 1e-12)


def _grooves(
    labels: np.ndarray, mask: np.ndarray, look: Look, rng: np.random.Generator
) -> np.ndarray:
    """The boundaries' contrast per pixel: each pair of grains gets a width and a depth,
    some are faint, some broken by gaps along their length."""
    from scipy.ndimage import distance_transform_edt

    if not mask.any():  # one grain: nothing to draw
        return np.zeros(labels.shape)
    pairs = _boundary_pairs(labels, mask)
    dist, (ri, ci) = distance_transform_edt(~mask, return_indices=True)
    keys, inverse = np.unique(pairs[mask], return_inverse=True)
    n = len(keys)
    width = rng.uniform(*look.groove_width_px, n)
    depth = rng.uniform(*look.groove_depth, n)
    depth[rng.random(n) < look.faint_fraction] /= 6
    broken = rng.random(n) < look.broken_fraction
    per_pixel = np.full(labels.shape, -1)
    per_pixel[mask] = inverse
    idx = per_pixel[ri, ci]  # the nearest boundary pixel's pair
    gaps = _smooth_noise(rng, labels.shape, 3.0) < np.quantile(
        rng.standard_normal(4096), look.gap_fraction
    )
    shown = ~(broken[idx] & gaps)
    d = dist + 0.5  # to the line between the two grains
    return depth[idx] * np.exp(-((d / width[idx]) ** 2)) * shown


def _inclusions(shape: tuple[int, int], look: Look, rng: np.random.Generator) -> np.ndarray:
    """Darkening by inclusions and pits: discs of random radius and depth."""
    from scipy.spatial import cKDTree
    from scipy.special import expit

    n = rng.poisson(look.inclusions_per_mpx * shape[0] * shape[1] / 1e6)
    out = np.zeros(shape)
    if n == 0:
        return out
    pts = rng.random((n, 2)) * shape
    radius = np.clip(rng.exponential(1.2, n), 0.5, 4.0)
    depth = rng.uniform(0.3, 0.8, n)
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]]
    d, i = cKDTree(pts).query(np.c_[yy.ravel(), xx.ravel()])
    d, i = d.reshape(shape), i.reshape(shape)
    return depth[i] * expit(4 * (radius[i] - d))


def _scratches(shape: tuple[int, int], look: Look, rng: np.random.Generator) -> np.ndarray:
    """Straight polishing scratches, lighter or darker, across the field."""
    out = np.zeros(shape)
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]]
    for _ in range(look.scratches):
        angle = rng.uniform(0, np.pi)
        y0, x0 = rng.random(2) * shape
        d = np.abs((yy - y0) * np.cos(angle) - (xx - x0) * np.sin(angle))
        out += (
            rng.choice((-1, 1))
            * rng.uniform(0.03, 0.12)
            * np.exp(-((d / rng.uniform(0.4, 1.2)) ** 2))
        )
    return out


def _illumination(shape: tuple[int, int], look: Look, rng: np.random.Generator) -> np.ndarray:
    """A smooth multiplicative field: a tilt plus a vignette."""
    yy, xx = (np.mgrid[0 : shape[0], 0 : shape[1]] / max(shape) - 0.5) * 2
    gy, gx = rng.normal(0, 1, 2)
    field = 0.5 * (gy * yy + gx * xx) - rng.uniform(0, 1) * (yy**2 + xx**2)
    return 1 + look.illumination * field / max(np.abs(field).max(), 1e-12)


def render(
    labels: np.ndarray,
    look: Look,
    rng: np.random.Generator,
    orientations_deg: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """A micrograph (H x W, 0-1) of the grain map ``labels`` in ``look``, and its exact
    boundary mask (bool, :func:`boundary_mask`). Grain shading follows ``orientations_deg``
    (indexed by grain id; random when not given) through ``cos 4 theta``, the four-fold
    symmetry of a cubic grain seen along [001]."""
    from scipy.ndimage import gaussian_filter

    labels = np.asarray(labels, dtype=np.int64)
    n = int(labels.max()) + 1
    theta = np.asarray(orientations_deg) if orientations_deg is not None else rng.uniform(0, 90, n)
    phase = rng.uniform(0, 2 * np.pi)
    shade = look.grain_mean + look.orientation_contrast * np.cos(np.deg2rad(4 * theta) + phase)
    img = shade[labels] + look.mottling * _smooth_noise(rng, labels.shape, 12.0)
    mask = boundary_mask(labels)
    img = img + look.boundary_sign * _grooves(labels, mask, look, rng)
    img = img - _inclusions(labels.shape, look, rng) + _scratches(labels.shape, look, rng)
    img = gaussian_filter(img * _illumination(labels.shape, look, rng), look.blur_px)
    img = img + look.noise * rng.standard_normal(labels.shape)
    img = img + look.scan_line_noise * rng.standard_normal((labels.shape[0], 1))
    return np.clip(img, 0.0, 1.0), mask


def render_folder(
    folder: str | os.PathLike[str],
    out: str | os.PathLike[str],
    style: str = "optical",
    seed: int = 0,
    force: bool = False,
) -> list[dict[str, Any]]:
    """Render every label image of ``folder`` (``grains_*.png``, else every PNG) as
    ``<name>.png`` with ``<name>_boundaries.png`` and ``<name>_grains.png`` in ``out``, and
    each look in ``out/render.json``. Grain orientations come from the folder's
    ``observations.json`` when it has them."""
    import json

    from eftgan.files import atomic_write_json, staged_dir
    from microstructure.grainio import OBSERVATIONS, read_labels, snapshot_files, write_labels
    from microstructure.images import write_png

    folder = Path(folder)
    if not folder.is_dir():
        raise UserError(f"{folder} is not a folder of label images")
    files = snapshot_files(folder) or sorted(folder.glob("*.png"))
    if not files:
        raise UserError(f"{folder} holds no label image (grains_<step>.png or *.png)")
    orient = None
    if (folder / OBSERVATIONS).is_file():
        try:
            orient = json.loads((folder / OBSERVATIONS).read_text()).get("orientations_deg")
        except (ValueError, AttributeError) as exc:
            raise UserError(f"{folder / OBSERVATIONS} is not valid JSON ({exc})") from None
    labels_of = [read_labels(p) for p in files]
    if orient is not None and len(orient) <= max(int(lab.max()) for lab in labels_of):
        orient = None  # not one per grain id: shade at random
    rng = np.random.default_rng(seed)
    looks = []
    with staged_dir(out, force) as tmp:
        for p, labels in zip(files, labels_of, strict=True):
            look = draw_look(rng, style)
            img, mask = render(labels, look, rng, None if orient is None else np.asarray(orient))
            write_png(tmp / f"{p.stem}.png", img)
            write_png(tmp / f"{p.stem}_boundaries.png", mask.astype(float))
            write_labels(tmp / f"{p.stem}_grains.png", labels)
            looks.append({"image": f"{p.stem}.png", "source": p.name, **asdict(look)})
        atomic_write_json(tmp / "render.json", {"seed": seed, "style": style, "images": looks})
    return looks
