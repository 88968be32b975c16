"""Synthetic optical micrographs of cast Al-Si alloys, with their ground-truth phase maps.

Physics (the Al-Si binary phase diagram):

* eutectic at 12.6 wt % Si and 577 °C; at that temperature α-Al holds at most 1.65 wt % Si,
  and Si holds no Al;
* **hypoeutectic** (Si < 12.6 wt %): primary α-Al solidifies first. Lever rule at the eutectic
  temperature: primary α-Al mass fraction ``(12.6 - Si) / (12.6 - 1.65)``, the rest eutectic;
* **hypereutectic** (Si > 12.6 wt %): primary Si forms first, mass fraction
  ``(Si - 12.6) / (100 - 12.6)``, the rest eutectic;
* the **eutectic** is α-Al plus ``(12.6 - 1.65) / (100 - 1.65) = 11.1 wt %`` Si, as needles or
  plates (unmodified alloys);
* mass fractions become area fractions through the densities (Al 2.70, Si 2.33 g/cm³); the Si
  that stays dissolved in α-Al (up to 1.65 wt % at the eutectic, less at room temperature) is
  ignored;
* the **scale** follows the cooling rate: the secondary dendrite arm spacing ``λ = 40 R^{-1/3}``
  µm for a cooling rate ``R`` in K/s (a common fit for Al-Si casting alloys), and the
  eutectic Si spacing is a tenth of it.

Rendering, and its simplifications:

* primary α-Al appears as rounded cells (a Gaussian random field, correlation length λ/2,
  thresholded to the lever-rule fraction), not as branched dendrites;
* eutectic Si as straight needles of random orientation (length 2-8 eutectic spacings, width
  1-3 pixels) drawn into the eutectic region until the eutectic's Si fraction is reached;
  primary Si as convex polygons;
* the phase map is computed exactly, then rendered as an etched optical micrograph: Si dark
  (gray 0.25-0.35), eutectic α-Al a little darker than primary α-Al (0.72 against 0.85),
  blurred by the optics (Gaussian, 0.8 px), multiplied by an uneven illumination (a smooth
  low-order field of ±10 %), with shot-like and read noise, quantised to 8 bits.

Pixel size: ``pixel_um`` (default 1 µm per pixel, a 256-pixel image is 256 µm wide).
Outputs of :func:`synthesize`: the image (float in [0, 1]) and labels (0 primary α-Al,
1 eutectic α-Al, 2 Si); :func:`phase_map` is the binary Si map the metrics use.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from eftgan.errors import UserError

EUTECTIC_SI = 12.6
SI_IN_AL = 1.65
RHO_AL, RHO_SI = 2.70, 2.33
LABEL_PRIMARY_AL, LABEL_EUTECTIC_AL, LABEL_SI = 0, 1, 2


__all__ = [
    "LABEL_EUTECTIC_AL",
    "LABEL_PRIMARY_AL",
    "LABEL_SI",
    "Fractions",
    "dendrite_arm_spacing_um",
    "folder_si_wt_pct",
    "gaussian_field",
    "lever_rule",
    "phase_map",
    "render",
    "synthesize",
    "threshold_to_fraction",
    "write_synth_folder",
]


@dataclass(frozen=True)
class Fractions:
    """Area fractions of the phases of an Al-Si alloy just below the eutectic temperature.

    Attributes:
        primary_al: primary α-Al.
        eutectic: the eutectic (α-Al and Si together).
        primary_si: primary Si (hypereutectic alloys).
        si_total: all Si, eutectic and primary.
        si_in_eutectic: Si within the eutectic (a fraction of the eutectic's area).
    """

    primary_al: float
    eutectic: float
    primary_si: float
    si_total: float
    si_in_eutectic: float


def _area(mass_si: float) -> float:
    """Area (volume) fraction of Si in a mixture with ``mass_si`` mass fraction of Si."""
    v_si = mass_si / RHO_SI
    return v_si / (v_si + (1 - mass_si) / RHO_AL)


def lever_rule(si_wt_pct: float) -> Fractions:
    """Phase fractions (area) of an Al-Si alloy just below the eutectic (see the docstring)."""
    if not (0.0 <= si_wt_pct <= 25.0):
        raise UserError(f"Si content {si_wt_pct:g} wt % is outside 0-25 wt %")
    eut_si_mass = (EUTECTIC_SI - SI_IN_AL) / (100.0 - SI_IN_AL)
    si_eut_area = _area(eut_si_mass)
    if si_wt_pct <= SI_IN_AL:
        return Fractions(1.0, 0.0, 0.0, 0.0, si_eut_area)
    if si_wt_pct <= EUTECTIC_SI:
        m_alpha = (EUTECTIC_SI - si_wt_pct) / (EUTECTIC_SI - SI_IN_AL)
        m_eut, m_psi = 1 - m_alpha, 0.0
    else:
        m_psi = (si_wt_pct - EUTECTIC_SI) / (100.0 - EUTECTIC_SI)
        m_alpha, m_eut = 0.0, 1 - m_psi
    # masses -> volumes: primary Al (density Al), eutectic (mixed), primary Si
    v_eut_density = 1.0 / (eut_si_mass / RHO_SI + (1 - eut_si_mass) / RHO_AL)
    vols = np.array([m_alpha / RHO_AL, m_eut / v_eut_density, m_psi / RHO_SI])
    a = vols / vols.sum()
    return Fractions(
        float(a[0]), float(a[1]), float(a[2]), float(a[2] + a[1] * si_eut_area), si_eut_area
    )


def dendrite_arm_spacing_um(cooling_rate_k_s: float) -> float:
    """Secondary dendrite arm spacing λ = 40 R^(-1/3) in µm for a cooling rate R in K/s."""
    return 40.0 * cooling_rate_k_s ** (-1.0 / 3.0)


def gaussian_field(shape: tuple[int, int], corr_px: float, rng: np.random.Generator) -> np.ndarray:
    """A stationary Gaussian random field (zero mean, unit variance, periodic) of ``shape``
    with a Gaussian correlation of length ``corr_px`` pixels, drawn from ``rng``."""
    h, w = shape
    fy = np.fft.fftfreq(h)[:, None]
    fx = np.fft.rfftfreq(w)[None, :]
    spec = np.exp(-2 * (np.pi * corr_px) ** 2 * (fx**2 + fy**2))
    noise = np.fft.rfft2(rng.standard_normal(shape))
    f = np.fft.irfft2(noise * spec, s=shape)
    return (f - f.mean()) / (f.std() + 1e-12)


def threshold_to_fraction(field: np.ndarray, frac: float) -> np.ndarray:
    """Boolean mask of the largest ``frac`` (0-1) of ``field``'s values: a phase of that
    area fraction whose shape is set by the field."""
    if frac <= 0:
        return np.zeros(field.shape, dtype=bool)
    if frac >= 1:
        return np.ones(field.shape, dtype=bool)
    return field > np.quantile(field, 1 - frac)


def _draw_needle(
    mask: np.ndarray, y: float, x: float, angle: float, length: float, width: float
) -> None:
    h, w = mask.shape
    half = length / 2
    n = max(2, int(length * 2))
    t = np.linspace(-half, half, n)
    ys, xs = y + t * np.sin(angle), x + t * np.cos(angle)
    r = max(0, int(np.ceil(width / 2 - 0.5)))
    for dy in range(-r, r + 1):
        for dx in range(-r, r + 1):
            yy = np.clip(np.rint(ys + dy).astype(int), 0, h - 1)
            xx = np.clip(np.rint(xs + dx).astype(int), 0, w - 1)
            mask[yy, xx] = True


def _polygon(
    mask: np.ndarray, cy: float, cx: float, radius: float, rng: np.random.Generator
) -> None:
    """Fill a random convex polygon (a primary Si crystal) into ``mask``."""
    k = int(rng.integers(5, 9))
    ang = np.sort(rng.uniform(0, 2 * np.pi, k))
    rad = radius * rng.uniform(0.7, 1.0, k)
    py, px = cy + rad * np.sin(ang), cx + rad * np.cos(ang)
    h, w = mask.shape
    y0, y1 = max(0, int(py.min())), min(h, int(py.max()) + 1)
    x0, x1 = max(0, int(px.min())), min(w, int(px.max()) + 1)
    if y1 <= y0 or x1 <= x0:
        return
    yy, xx = np.mgrid[y0:y1, x0:x1]
    inside = np.ones(yy.shape, dtype=bool)
    for i in range(k):
        j = (i + 1) % k
        cross = (px[j] - px[i]) * (yy - py[i]) - (py[j] - py[i]) * (xx - px[i])
        inside &= cross >= 0
    mask[y0:y1, x0:x1] |= inside


def synthesize(
    si_wt_pct: float,
    size: int = 256,
    cooling_rate_k_s: float = 10.0,
    pixel_um: float = 1.0,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """One micrograph (float image in [0, 1], (size, size)) and its labels (uint8)."""
    if size < 32:
        raise UserError(f"--size {size} is too small; use at least 32 pixels")
    rng = np.random.default_rng(seed)
    fr = lever_rule(si_wt_pct)
    lam_px = dendrite_arm_spacing_um(cooling_rate_k_s) / pixel_um
    shape = (size, size)
    labels = np.full(shape, LABEL_EUTECTIC_AL, dtype=np.uint8)
    primary = threshold_to_fraction(gaussian_field(shape, lam_px / 2, rng), fr.primary_al)
    labels[primary] = LABEL_PRIMARY_AL
    si = np.zeros(shape, dtype=bool)
    if fr.primary_si > 0:  # blocky primary Si, about 3 arm spacings across
        target = fr.primary_si * size * size
        while si.sum() < target:
            _polygon(
                si, rng.uniform(0, size), rng.uniform(0, size), rng.uniform(1.0, 2.0) * lam_px, rng
            )
    eut = labels == LABEL_EUTECTIC_AL
    eut &= ~si
    target = fr.si_in_eutectic * eut.sum()
    spacing = max(2.0, lam_px / 10)
    needles = np.zeros(shape, dtype=bool)
    ey, ex = np.nonzero(eut)
    tries = 0
    while ey.size and (needles & eut).sum() < target and tries < 20000:
        i = int(rng.integers(ey.size))
        _draw_needle(
            needles,
            ey[i],
            ex[i],
            rng.uniform(0, np.pi),
            spacing * rng.uniform(2, 8),
            rng.uniform(1, 3),
        )
        tries += 1
    si |= needles & eut
    labels[si] = LABEL_SI
    return render(labels, rng), labels


def render(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """An etched optical micrograph of a label map (see the module docstring)."""
    from scipy.ndimage import gaussian_filter

    gray = np.array([0.85, 0.72, rng.uniform(0.25, 0.35)])[labels]
    img = gaussian_filter(gray, 0.8)
    h, w = labels.shape
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w) - 0.5
    c = rng.uniform(-0.1, 0.1, 5)
    illum = 1 + c[0] * xx + c[1] * yy + c[2] * xx * yy + c[3] * (xx**2 + yy**2) + c[4] * xx**2
    img = img * illum
    img = img + rng.normal(0, 1, img.shape) * (0.01 + 0.02 * np.sqrt(np.clip(img, 0, None)))
    return np.round(np.clip(img, 0, 1) * 255) / 255


def phase_map(labels: np.ndarray) -> np.ndarray:
    """Binary Si map (True where Si) of a label image."""
    return labels == LABEL_SI


#: The metadata file ``write_synth_folder`` leaves beside the images.
SYNTH_META = "synth.json"


def write_synth_folder(
    out: str | os.PathLike[str],
    si_wt_pct: float,
    n: int = 20,
    size: int = 256,
    cooling_rate_k_s: float = 10.0,
    seed: int = 0,
    force: bool = False,
    progress: bool = False,
) -> dict[str, Any]:
    """Write ``n`` synthetic micrographs of Al-``si_wt_pct``Si into a new folder ``out``.

    ``OUT/alsi_<si>_<i>.png`` are the micrographs (``size`` pixels square, 1 µm per pixel),
    ``OUT/phase/`` the ground-truth Si maps (white where Si) under the same names, and
    ``OUT/synth.json`` the settings, the lever-rule fractions and the drawn mean Si area
    fraction. Image ``i`` is drawn with seed ``seed * 100003 + i``. The folder is built aside
    and renamed into place; an existing one is replaced only with ``force``. Returns the
    contents of ``synth.json``.
    """
    from tqdm import tqdm

    from eftgan.files import atomic_write_json, staged_dir
    from microstructure.images import write_png

    fr = lever_rule(si_wt_pct)
    if n < 1:
        raise UserError("--n must be at least 1")
    if cooling_rate_k_s <= 0:
        raise UserError("--cooling-rate must be positive")
    if size < 32:
        raise UserError(f"--size {size} is too small; use at least 32 pixels")
    with staged_dir(out, force) as tmp:
        (tmp / "phase").mkdir()
        got = []
        for i in tqdm(range(n), desc="synth", disable=None if progress else True):
            img, labels = synthesize(si_wt_pct, size, cooling_rate_k_s, seed=seed * 100003 + i)
            name = f"alsi_{si_wt_pct:g}_{i:04d}.png"
            write_png(tmp / name, img)
            write_png(tmp / "phase" / name, phase_map(labels) * 1.0)
            got.append(float(phase_map(labels).mean()))
        meta = {
            "si_wt_pct": si_wt_pct,
            "n": n,
            "size": size,
            "cooling_rate_k_s": cooling_rate_k_s,
            "seed": seed,
            "lever_rule": asdict(fr),
            "si_area_fraction_mean": sum(got) / len(got),
        }
        atomic_write_json(tmp / SYNTH_META, meta)
    return meta


def folder_si_wt_pct(folder: str | os.PathLike[str]) -> float | None:
    """The Si content (wt %) recorded in a folder's ``synth.json``, or None without one."""
    meta = Path(folder) / SYNTH_META
    if not meta.is_file():
        return None
    try:
        return float(json.loads(meta.read_text())["si_wt_pct"])
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        raise UserError(f"{meta} is not a synth.json with an si_wt_pct; fix or remove it") from None
