"""Peak finding and element identification on any emission spectrum.

:func:`find_peaks` removes a slowly varying baseline (a rolling minimum over 3 nm, smoothed),
estimates the noise from the median absolute deviation of successive differences, and keeps
peaks that rise ``snr`` times that noise above the noise floor (the 30th percentile of the
baseline-free signal) with at least that prominence.

:func:`identify` ranks candidate elements by how well their strong lines explain the peaks.
For each element it simulates a pure-element LTE spectrum (neutral and singly ionized, at
``temperature_k`` and ``ne_cm3``) with the spectrum's own resolution, takes its ``n_lines``
strongest distinct lines in the window, and weighs each line by the square root of its
predicted strength. Its line score is the weighted fraction of those lines that fall on a
detected peak (within ``tol_nm``), corrected for chance line by line: ``sum w (hit - p) / sum
w (1 - p)``, ``p`` being the chance that a random line lands on a peak there (from the peak
density within 5 nm: peaks crowd in the UV). The score multiplies it by the fourth root of
the share of the total peak height that lies on the element's lines (those above 1 % of its
strongest), so that an element whose few lines all match but explain little of the spectrum
(nitrogen in air over a metal) ranks below the metal. An element is reported with the lines
it matched.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

#: Elements tried by default: those a LIBS or spark-OES user meets in metals, minerals and air.
DEFAULT_CANDIDATES = (
    "H Li Be B C N O Na Mg Al Si P S K Ca Ti V Cr Mn Fe Co Ni Cu Zn Ga Ge Sr Y Zr Nb Mo Ru Rh "
    "Pd Ag Cd In Sn Sb Ba La Ce Pr Nd Sm Eu Gd Hf Ta W Re Ir Pt Au Pb Bi"
).split()


@dataclass(frozen=True)
class Peaks:
    """Peaks found in a spectrum: their wavelengths (nm), heights above the baseline (the
    spectrum's units), the noise level and the median FWHM (nm) of the strongest."""

    wavelength: np.ndarray
    height: np.ndarray  # above the baseline
    noise: float
    fwhm_nm: float  # median width of the strongest peaks


def baseline(y: np.ndarray, window: int) -> np.ndarray:
    """A slowly varying baseline under ``y``: its rolling minimum over ``window`` pixels,
    smoothed by a running mean of the same width."""
    from scipy.ndimage import minimum_filter1d, uniform_filter1d

    return uniform_filter1d(minimum_filter1d(y, window, mode="nearest"), window, mode="nearest")


def pixel_noise(y: np.ndarray) -> float:
    """Detector noise of a stretch of pixels: the robust spread (1.4826 MAD) of
    pixel-to-pixel differences, divided by sqrt 2 (lines and baseline are smooth on that
    scale, or rare)."""
    d = np.diff(y)
    return float(1.4826 * np.median(np.abs(d - np.median(d))) / np.sqrt(2.0))


def find_peaks(wavelength: np.ndarray, intensity: np.ndarray, snr: float = 5.0) -> Peaks:
    """Peaks of a spectrum (see the module docstring)."""
    from scipy.signal import find_peaks as sp_find_peaks
    from scipy.signal import peak_widths

    step = float(np.median(np.diff(wavelength)))
    window = max(5, int(round(3.0 / step)))  # 3 nm
    yb = intensity - baseline(intensity, window)
    noise = pixel_noise(yb) or 1e-12
    level = float(np.percentile(yb, 30))  # the noise floor above the rolling minimum
    idx, _ = sp_find_peaks(yb, height=level + snr * noise, prominence=snr * noise, distance=2)
    if idx.size:
        strongest = idx[np.argsort(-yb[idx])[:20]]
        widths = peak_widths(yb, strongest, rel_height=0.5)[0] * step
        fwhm = float(np.median(widths))
    else:
        fwhm = 2 * step
    return Peaks(wavelength[idx], yb[idx], noise, max(fwhm, step))


@dataclass(frozen=True)
class Match:
    """One candidate element of :func:`identify`: its score (see the module docstring), the
    wavelengths (nm) of its lines that fell on peaks, how many strong lines it was scored on,
    its chance-corrected line score and the share of the peak height its lines explain."""

    element: str
    score: float
    matched_lines: tuple[float, ...]
    n_lines: int
    line_score: float
    explained: float


def _distinct_strong_lines(wl: np.ndarray, strength: np.ndarray, n: int, sep: float) -> np.ndarray:
    order = np.argsort(-strength)
    chosen: list[int] = []
    for i in order:
        if all(abs(wl[i] - wl[j]) > sep for j in chosen):
            chosen.append(i)
            if len(chosen) == n:
                break
    return np.array(chosen, dtype=np.int64)


def identify(
    wavelength: np.ndarray,
    intensity: np.ndarray,
    elements: Sequence[str] | None = None,
    temperature_k: float = 10000.0,
    ne_cm3: float = 1e17,
    n_lines: int = 12,
    tol_nm: float | None = None,
    snr: float = 5.0,
) -> list[Match]:
    """Candidate elements ranked best first (see the module docstring)."""
    from spectral.atomic import load_atomic_data
    from spectral.plasma import LTEPlasma

    peaks = find_peaks(wavelength, intensity, snr)
    lo, hi = float(wavelength[0]), float(wavelength[-1])
    tol = tol_nm if tol_nm is not None else max(0.1, 0.6 * peaks.fwhm_nm)
    if peaks.wavelength.size == 0:
        return []
    # chance of a random line landing on a peak, locally (+-5 nm): peaks crowd in the UV
    pw = np.sort(peaks.wavelength)

    def p_chance(x: np.ndarray) -> np.ndarray:
        n_near = np.searchsorted(pw, x + 5.0) - np.searchsorted(pw, x - 5.0)
        return np.clip(n_near * 2 * tol / 10.0, 0.0, 0.95)

    total_height = float(peaks.height.sum())
    cands = list(elements) if elements else list(DEFAULT_CANDIDATES)
    atomic = load_atomic_data(cands)
    out = []
    for el in atomic.elements:
        plasma = LTEPlasma(atomic, (el,), (lo, hi))
        if plasma.n_lines == 0:
            continue
        rad = plasma.line_radiance(np.ones((1, 1)), np.array([temperature_k]), np.array([ne_cm3]))[
            0
        ]
        wl = plasma.table.lines.wavelength
        top = _distinct_strong_lines(wl, rad, n_lines, sep=peaks.fwhm_nm)
        w = np.sqrt(rad[top] / rad[top].max())
        dist = np.abs(wl[top][:, None] - peaks.wavelength[None, :]).min(1)
        hit = (dist <= tol).astype(np.float64)
        p = p_chance(wl[top])
        line_score = float((w * (hit - p)).sum() / (w * (1.0 - p)).sum())
        strong = wl[rad >= 0.01 * rad.max()]
        near = np.abs(peaks.wavelength[:, None] - strong[None, :]).min(1) <= tol
        explained = float(peaks.height[near].sum() / total_height) if total_height > 0 else 0.0
        score = max(line_score, 0.0) * explained**0.25
        matched = tuple(sorted(float(np.round(x, 2)) for x in wl[top][hit > 0]))
        out.append(Match(el, score, matched, len(top), line_score, explained))
    out.sort(key=lambda m: -m.score)
    return out
