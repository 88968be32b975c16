"""Statistics that tell real micrographs from generated ones, in a metallurgist's terms.

* **Segmentation**: a gray-level threshold; the dark phase is Si. For comparing sets
  (:func:`compare_sets`) one threshold for both sets, set by the real set alone: the lower
  threshold of a three-class Otsu on the pooled gray levels of the real images (Si, eutectic
  α-Al and primary α-Al etch to three levels; a two-class Otsu on one small crop without Si
  splits the two α-Al levels instead). For a single image, :func:`segment` uses two-class
  Otsu (the middle of the optimum where it is flat).
* **Phase fraction**: the Si area fraction.
* **Two-point correlation** ``S2(r)``: the probability that two points ``r`` apart both lie in
  Si, from the FFT autocorrelation of the indicator (periodic boundaries), radially averaged
  in 1-pixel bins up to a quarter of the image size. ``S2(0)`` is the phase fraction and
  ``S2(r)`` falls to its square at long range.
* **Lineal path** ``L(r)``: the probability that a straight segment of ``r`` pixels, along the
  rows or columns, lies wholly in the α-Al matrix, from run lengths (no wrap-around).
* **Particle shapes**: the connected regions (8-neighbour) of the segmented phase, each
  with its area and its aspect ratio (the square root of the ratio of the principal second
  moments of its pixels: 1 for a disc, large for a needle); regions under
  :data:`MIN_PARTICLE_PX` pixels are left out (their shape is not defined). Two sets are
  compared by the Wasserstein-1 distance of the log10 areas (in decades) and of the aspect
  ratios: what S2 averages away, needles against blobs of the same area fraction.
* **Texture features** (:mod:`microstructure.features`): a Fréchet distance on a fixed
  random network's features, and the diversity of the generated images as a share of the
  real ones'.
* **Fréchet distance** between two sets of images on a statistic: each image gives a vector
  (its S2 curve, for ``frechet_s2``), each set a Gaussian (mean, covariance), and
  ``|mu1 - mu2|^2 + Tr(C1 + C2 - 2 (C1 C2)^{1/2})`` as for FID, on statistics instead of
  Inception features (whose weights cannot be downloaded here, and mean less to a
  metallurgist).

:func:`compare_sets` returns the JSON keys of ``eftgan micro evaluate``: ``phase_fraction_real``,
``phase_fraction_fake``, ``s2_mae`` (mean absolute difference of the mean S2 curves),
``lineal_path_mae``, ``frechet_s2``, ``frechet_features``, ``diversity_ratio``,
``particle_area_w1`` and ``aspect_ratio_w1`` (with the median area and aspect ratio of
each set).

The threshold between the phases is set on the real set alone: the lower of a three-class
Otsu for Al-Si (Si, eutectic and primary alpha-Al; ``classes=3``, the default), a two-class
Otsu for two-phase micrographs such as a superalloy's gamma / gamma-prime (``classes=2``).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = [
    "compare_folders",
    "compare_sets",
    "frechet_distance",
    "image_statistics",
    "lineal_path",
    "multi_otsu_low",
    "otsu_threshold",
    "segment",
    "two_point",
]


def otsu_threshold(img: np.ndarray) -> float:
    """Otsu's threshold of a gray image in [0, 1]."""
    hist, edges = np.histogram(img, bins=256, range=(0.0, 1.0))
    p = hist.astype(np.float64) / max(hist.sum(), 1)
    centers = 0.5 * (edges[:-1] + edges[1:])
    w0 = np.cumsum(p)
    m = np.cumsum(p * centers)
    mt = m[-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        between = (mt * w0 - m) ** 2 / (w0 * (1 - w0))
    between[~np.isfinite(between)] = -1
    best = np.flatnonzero(between >= between.max() * (1 - 1e-9))
    return float(edges[int(round(best.mean())) + 1])  # middle of a flat optimum


def multi_otsu_low(values: np.ndarray) -> float:
    """The lower of the two three-class Otsu thresholds (Si | eutectic α | primary α)."""
    hist, edges = np.histogram(values, bins=128, range=(0.0, 1.0))
    p = hist.astype(np.float64) / max(hist.sum(), 1)
    c = 0.5 * (edges[:-1] + edges[1:])
    cw, cm = np.concatenate([[0], np.cumsum(p)]), np.concatenate([[0], np.cumsum(p * c)])
    best, best_i = -1.0, 1
    n = len(p)
    for i in range(1, n - 1):
        for j in range(i + 1, n):
            w = np.array([cw[i], cw[j] - cw[i], cw[n] - cw[j]])
            m = np.array([cm[i], cm[j] - cm[i], cm[n] - cm[j]])
            if (w <= 0).any():
                continue
            v = float((m**2 / w).sum())
            if v > best:
                best, best_i = v, i
    return float(edges[best_i])


def segment(img: np.ndarray, threshold: float | None = None) -> np.ndarray:
    """Binary Si map (True where dark) of a gray micrograph (Otsu unless ``threshold``)."""
    return img < (otsu_threshold(img) if threshold is None else threshold)


def two_point(mask: np.ndarray, r_max: int | None = None) -> np.ndarray:
    """Radially averaged S2(r) for r = 0 .. r_max (default: a quarter of the smaller side)."""
    h, w = mask.shape
    r_max = r_max if r_max is not None else min(h, w) // 4
    f = np.fft.rfft2(mask.astype(np.float64))
    auto = np.fft.irfft2(f * np.conj(f), s=mask.shape) / (h * w)
    yy = np.minimum(np.arange(h), h - np.arange(h))[:, None]
    xx = np.minimum(np.arange(w), w - np.arange(w))[None, :]
    r = np.rint(np.sqrt(yy**2 + xx**2)).astype(np.int64)
    keep = r <= r_max
    sums = np.bincount(r[keep], weights=auto[keep], minlength=r_max + 1)
    counts = np.bincount(r[keep], minlength=r_max + 1)
    return sums / np.maximum(counts, 1)


def lineal_path(mask: np.ndarray, r_max: int | None = None) -> np.ndarray:
    """L(r), r = 1 .. r_max, of the phase where ``mask`` is True, along rows and columns."""
    h, w = mask.shape
    r_max = r_max if r_max is not None else min(h, w) // 4
    counts = np.zeros(r_max + 1)
    total = np.zeros(r_max + 1)
    for m in (mask, mask.T):
        n_rows, n = m.shape
        padded = np.zeros((n_rows, n + 2), dtype=np.int8)
        padded[:, 1:-1] = m
        d = np.diff(padded, axis=1)
        starts = np.argwhere(d == 1)
        ends = np.argwhere(d == -1)
        runs = ends[:, 1] - starts[:, 1]
        rs = np.arange(1, r_max + 1)
        counts[1:] += np.clip(runs[None, :] - rs[:, None] + 1, 0, None).sum(1)
        total[1:] += n_rows * np.clip(n - rs + 1, 0, None)
    return counts[1:] / np.maximum(total[1:], 1)


def image_statistics(
    img: np.ndarray, r_max: int | None = None, threshold: float | None = None
) -> dict[str, Any]:
    """Statistics of one gray image in [0, 1]: ``phase_fraction`` (Si area fraction),
    ``s2`` (S2(r), r = 0 .. r_max) and ``lineal_path`` (L(r) of the matrix, r = 1 .. r_max),
    segmented by :func:`segment` with ``threshold``."""
    si = segment(img, threshold)
    return {
        "phase_fraction": float(si.mean()),
        "s2": two_point(si, r_max),
        "lineal_path": lineal_path(~si, r_max),
    }


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to the rows of ``a`` and ``b``. With fewer
    rows than features the covariances are singular; their product's square root is still
    the one the distance needs, so scipy's warning about it is not passed on."""
    import warnings

    from scipy.linalg import LinAlgWarning, sqrtm

    mu1, mu2 = a.mean(0), b.mean(0)
    c1 = np.atleast_2d(np.cov(a, rowvar=False))
    c2 = np.atleast_2d(np.cov(b, rowvar=False))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LinAlgWarning)
        covmean = sqrtm(c1 @ c2)
    if np.iscomplexobj(covmean):
        covmean = covmean.real
    return float(((mu1 - mu2) ** 2).sum() + np.trace(c1 + c2 - 2 * covmean))


MIN_PARTICLE_PX = 4


def particle_shapes(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Areas (pixels) and aspect ratios of the 8-connected regions of ``mask`` with at least
    :data:`MIN_PARTICLE_PX` pixels (see the module docstring)."""
    from scipy import ndimage

    labels, n = ndimage.label(mask, structure=np.ones((3, 3)))
    if n == 0:
        return np.zeros(0), np.zeros(0)
    idx = np.arange(1, n + 1)
    area = ndimage.sum_labels(np.ones_like(labels), labels, idx)
    yy, xx = np.indices(mask.shape, dtype=np.float64)
    m = {k: ndimage.sum_labels(v, labels, idx) / np.maximum(area, 1) for k, v in
         (("y", yy), ("x", xx), ("yy", yy * yy), ("xx", xx * xx), ("xy", xx * yy))}  # fmt: skip
    cyy, cxx = m["yy"] - m["y"] ** 2 + 1 / 12, m["xx"] - m["x"] ** 2 + 1 / 12  # + pixel's own
    cxy = m["xy"] - m["x"] * m["y"]
    half_tr, det = (cyy + cxx) / 2, cyy * cxx - cxy**2
    root = np.sqrt(np.maximum(half_tr**2 - det, 0.0))
    aspect = np.sqrt((half_tr + root) / np.maximum(half_tr - root, 1e-12))
    keep = area >= MIN_PARTICLE_PX
    return area[keep], aspect[keep]


def shape_distances(real_masks: Sequence[np.ndarray], fake_masks: Sequence[np.ndarray]) -> dict:
    """Wasserstein-1 distances between the particle log10-area and aspect-ratio
    distributions of two sets of masks, and each set's medians (NaN without particles)."""
    from scipy.stats import wasserstein_distance

    def pooled(masks):
        parts = [particle_shapes(m) for m in masks]
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])

    (ar, asr), (af, asf) = pooled(real_masks), pooled(fake_masks)
    ok = len(ar) > 0 and len(af) > 0
    w1 = lambda a, b: float(wasserstein_distance(a, b)) if ok else float("nan")  # noqa: E731
    med = lambda a: float(np.median(a)) if len(a) else float("nan")  # noqa: E731
    return {
        "particle_area_w1": w1(np.log10(ar), np.log10(af)),
        "aspect_ratio_w1": w1(asr, asf),
        "particle_area_median_real": med(ar),
        "particle_area_median_fake": med(af),
        "aspect_ratio_median_real": med(asr),
        "aspect_ratio_median_fake": med(asf),
    }


def compare_sets(
    real: Sequence[np.ndarray], fake: Sequence[np.ndarray], classes: int = 3
) -> dict[str, float]:
    """The ``eftgan micro evaluate`` figures of two sets of gray images in [0, 1], the
    phases split by a threshold set on the real set (``classes``: see the module
    docstring)."""
    from microstructure.features import diversity_ratio, feature_frechet, texture_features, tiles

    size = min(min(x.shape) for x in (*real, *fake))
    r_max = size // 4
    pooled = np.concatenate([np.ravel(x) for x in real])
    t = multi_otsu_low(pooled) if classes == 3 else otsu_threshold(pooled)
    sr = [image_statistics(x, r_max, t) for x in real]
    sf = [image_statistics(x, r_max, t) for x in fake]
    s2r, s2f = np.stack([s["s2"] for s in sr]), np.stack([s["s2"] for s in sf])
    lr, lf = np.stack([s["lineal_path"] for s in sr]), np.stack([s["lineal_path"] for s in sf])
    pr = np.array([s["phase_fraction"] for s in sr])
    pf = np.array([s["phase_fraction"] for s in sf])
    fr, ff = (texture_features(tiles(list(x), size)) for x in (real, fake))
    return {
        "phase_fraction_real": float(pr.mean()),
        "phase_fraction_fake": float(pf.mean()),
        "phase_fraction_error": float(abs(pr.mean() - pf.mean())),
        "s2_mae": float(np.abs(s2r.mean(0) - s2f.mean(0)).mean()),
        "lineal_path_mae": float(np.abs(lr.mean(0) - lf.mean(0)).mean()),
        "frechet_s2": frechet_distance(s2r, s2f) if min(len(sr), len(sf)) > 1 else float("nan"),
        "frechet_features": feature_frechet(fr, ff) if min(len(fr), len(ff)) > 4 else float("nan"),
        "diversity_ratio": diversity_ratio(ff, fr),
        **shape_distances([x < t for x in real], [x < t for x in fake]),
        "n_real": len(sr),
        "n_fake": len(sf),
        "r_max_px": r_max,
        "threshold": t,
    }


def compare_folders(
    real: str | os.PathLike[str], fake: str | os.PathLike[str], classes: int = 3
) -> dict[str, float]:
    """:func:`compare_sets` of two folders of images, read as gray (what ``eftgan micro
    evaluate`` prints)."""
    from microstructure.images import read_folder

    return compare_sets(read_folder(real), read_folder(fake), classes)
