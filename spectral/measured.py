"""The wavelength axis of a measured spectrum: its segments, and the frame (air or vacuum) and
calibration offset of each, read from the positions of the lines it shows.

Measured LIBS and OES files are often stitched from several spectrometers (ChemCam's three
CCDs, the two arms of a laboratory system), each calibrated on its own, sometimes one in air
wavelengths and the next in vacuum ones. This module finds the segments, then for each one
matches the centroids of its strong peaks to the NIST positions (air) of the lines of the
elements present, under both readings of the file's axis:

* **air**: the file's wavelengths are air wavelengths;
* **vacuum**: they are vacuum wavelengths, converted to air (Peck & Reeder).

Under the right reading the residuals (peak minus line) are small: they are the segment's
calibration error, a few hundredths of a nanometre for a calibrated spectrometer. Under the
wrong one they also carry the air-vacuum difference ``lambda (n(lambda) - 1)``, 0.06 nm at
200 nm, 0.12 nm at 430 nm and 0.27 nm at 980 nm. The file's frame is the one whose segment
offsets (the median residual of each segment) are smaller, as a line-weighted RMS over the
segments; it is *decided* when the other frame's RMS is at least :data:`DECIDED_RATIO` times
larger, :data:`DECIDED_NM` more, and more by :data:`DECIDED_SIGMAS` standard errors of the
difference (each offset's from the spread of its lines' residuals). Each segment keeps its
own offset, so a stitched file whose parts are calibrated differently is corrected part by
part. Within a segment the residuals' slope along the wavelength (Theil-Sen, robust to
wrong matches) is reported as well: a dispersion error of the instrument, which a constant
offset does not remove.

Reference lines are the strong (:data:`STRONG_LINE` of their element's strongest and above)
and isolated (no other within :data:`ISOLATED_NM`) lines of the elements given, so that a
peak is matched to one line or none; peaks are the :data:`TOP_PEAKS` strongest of a segment.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from eftgan.errors import UserError
from spectral.atomic import vacuum_to_air
from spectral.io import Spectrum

FRAMES = ("air", "vacuum")
MIN_LINES = 5  # matched lines for a segment's offset to count in the decision
DECIDED_RATIO = 2.0
DECIDED_NM = 0.03
DECIDED_SIGMAS = 2.0
MIN_SEGMENT_PX = 50
STRONG_LINE = 0.1  # reference lines: this share of their element's strongest and above
ISOLATED_NM = 0.3  # reference lines with another within this distance are left out
TOP_PEAKS = 60  # the strongest peaks of a segment that are matched


def segments(wavelength: np.ndarray) -> list[slice]:
    """Runs of pixels from one spectrometer: cut at gaps (a step over three times the local
    median step), at irregular steps (non-increasing, or a third or three times the local
    median: interleaved pixels of two detectors, which are left out) and kept when at least
    :data:`MIN_SEGMENT_PX` long."""
    from scipy.ndimage import median_filter

    step = np.diff(np.asarray(wavelength, dtype=np.float64))
    med = median_filter(step, 31, mode="nearest")
    ratio = np.where(step > 0, step / np.maximum(med, 1e-12), 0.0)
    cut = (ratio <= 1 / 3) | (ratio >= 3)
    out: list[slice] = []
    start = 0
    for i in np.flatnonzero(cut).tolist():
        if i + 1 - start >= MIN_SEGMENT_PX:
            out.append(slice(start, i + 1))
        start = i + 1
    if len(wavelength) - start >= MIN_SEGMENT_PX:
        out.append(slice(start, len(wavelength)))
    return out


def peak_centroids(wavelength: np.ndarray, intensity: np.ndarray, snr: float = 10.0) -> np.ndarray:
    """Centroids (nm, the file's axis) of the peaks :func:`spectral.identify.find_peaks` finds,
    refined by a parabola through each peak's three highest pixels."""
    from spectral.identify import find_peaks

    wl, y = np.asarray(wavelength, float), np.asarray(intensity, float)
    peaks = find_peaks(wl, y, snr)
    top = np.sort(peaks.wavelength[np.argsort(-peaks.height)[:TOP_PEAKS]])
    idx = np.searchsorted(wl, top)
    idx = idx[(idx > 0) & (idx < len(wl) - 1)]
    a, b, c = y[idx - 1], y[idx], y[idx + 1]
    curv = a - 2 * b + c
    d = np.where(curv < 0, 0.5 * (a - c) / np.where(curv < 0, curv, -1.0), 0.0)
    return wl[idx] + np.clip(d, -0.5, 0.5) * 0.5 * (wl[idx + 1] - wl[idx - 1])


def reference_lines(elements: Sequence[str], lo_nm: float, hi_nm: float) -> np.ndarray:
    """Air wavelengths (nm, sorted) of the strong lines of ``elements`` in a window: those at
    :data:`STRONG_LINE` of their element's strongest and above, in an LTE plasma at
    10,000 K and 1e17 cm^-3."""
    from spectral.atomic import load_atomic_data
    from spectral.plasma import LTEPlasma

    atomic = load_atomic_data(list(elements))
    out = []
    for el in atomic.elements:
        plasma = LTEPlasma(atomic, (el,), (lo_nm, hi_nm))
        if plasma.n_lines == 0:
            continue
        rad = plasma.line_radiance(np.ones((1, 1)), np.array([1e4]), np.array([1e17]))[0]
        out.append(plasma.table.lines.wavelength[rad >= STRONG_LINE * rad.max()])
    if not out:
        return np.zeros(0)
    w = np.sort(np.concatenate(out))
    gap = np.diff(w)
    lonely = np.r_[True, gap > ISOLATED_NM] & np.r_[gap > ISOLATED_NM, True]
    return w[lonely]


@dataclass(frozen=True)
class FrameFit:
    """One reading of a segment's axis: the matched lines, the constant offset (nm, peak
    minus line, median), the residual slope along the segment (nm per 100 nm, Theil-Sen),
    the half-width of its 95 % confidence interval, and the standard error of the offset
    (nm; from the residuals' median absolute deviation, infinite with under three lines)."""

    n_lines: int
    offset_nm: float
    slope: float
    slope_half_width: float
    offset_se_nm: float = np.inf


def fit_frame(centroids: np.ndarray, lines: np.ndarray, tol_nm: float) -> FrameFit:
    """Match centroids (air nm) to reference lines in two passes (within 0.5 nm, then within
    ``tol_nm`` of the first pass's median offset) and fit the residuals' slope."""
    from scipy.stats import theilslopes

    if len(lines) == 0 or len(centroids) == 0:
        return FrameFit(0, 0.0, 0.0, np.inf)
    offset = 0.0
    for window in (0.5, tol_nm):
        j = np.clip(np.searchsorted(lines, centroids - offset), 1, len(lines) - 1)
        lo, hi = lines[j - 1], lines[j]
        near = np.where(np.abs(hi - centroids + offset) < np.abs(lo - centroids + offset), hi, lo)
        r = centroids - near
        ok = np.abs(r - offset) <= window
        if ok.sum() < 3:
            return FrameFit(int(ok.sum()), offset, 0.0, np.inf)
        offset = float(np.median(r[ok]))
    x = (centroids[ok] - centroids[ok].mean()) / 100.0
    slope, _, low, high = theilslopes(r[ok], x, alpha=0.95)
    # the median's standard error: 1.2533 sigma / sqrt(n), sigma from the MAD
    sigma = 1.4826 * float(np.median(np.abs(r[ok] - offset)))
    se = 1.2533 * sigma / np.sqrt(ok.sum())
    return FrameFit(int(ok.sum()), offset, float(slope), float(0.5 * (high - low)), se)


@dataclass(frozen=True)
class Segment:
    """A segment of the axis: its range (nm, as in the file), the file's frame, and the fits
    of both readings; the frame and the chosen fit's offset take its pixels to air."""

    lo_nm: float
    hi_nm: float
    frame: str
    fits: dict[str, FrameFit]

    @property
    def offset_nm(self) -> float:
        """The calibration offset under the chosen frame (nm, measured minus NIST); 0 where
        fewer than :data:`MIN_LINES` lines were matched (too few to trust)."""
        fit = self.fits[self.frame]
        return fit.offset_nm if fit.n_lines >= MIN_LINES else 0.0

    @property
    def n_lines(self) -> int:
        """Lines matched under the chosen frame."""
        return self.fits[self.frame].n_lines


def offset_rms(
    segs: Sequence[dict[str, FrameFit]],
) -> tuple[dict[str, float], dict[str, float]]:
    """Per frame: the line-weighted RMS of the segment offsets and the line-weighted mean of
    their standard errors (segments with at least :data:`MIN_LINES` matched lines under both
    readings); NaN without any."""
    use = [f for f in segs if min(x.n_lines for x in f.values()) >= MIN_LINES]
    rms, se = {}, {}
    for fr in FRAMES:
        n = np.array([f[fr].n_lines for f in use], dtype=float)
        off = np.array([f[fr].offset_nm for f in use])
        err = np.array([f[fr].offset_se_nm for f in use])
        rms[fr] = float(np.sqrt((n * off**2).sum() / n.sum())) if n.sum() else float("nan")
        se[fr] = float((n * err).sum() / n.sum()) if n.sum() else float("nan")
    return rms, se


def decide(rms: dict[str, float], se: dict[str, float] | None = None) -> tuple[str, bool]:
    """The frame with the smaller offsets, and whether the other's are clearly larger: by
    :data:`DECIDED_RATIO` times, :data:`DECIDED_NM` and, given the offsets' standard
    errors ``se``, :data:`DECIDED_SIGMAS` standard errors of the difference. The last
    matters at low resolution, where a few blended lines can put the wrong reading's
    offsets closer to zero: without it, a pure Cr spectrum simulated at 0.5-0.9 nm
    resolution in vacuum wavelengths reads as air, decided, at 0.7 standard errors
    (``benchmarks/spectral_pure_metals.py``)."""
    if not all(np.isfinite(v) for v in rms.values()):
        return "air", False
    best = min(FRAMES, key=lambda k: rms[k])
    gap = rms[FRAMES[1 - FRAMES.index(best)]] - rms[best]
    clear = gap >= (DECIDED_RATIO - 1) * rms[best] and gap >= DECIDED_NM
    if se is not None:
        clear = clear and gap >= DECIDED_SIGMAS * float(np.hypot(se["air"], se["vacuum"]))
    return best, clear


@dataclass(frozen=True)
class Axis:
    """The segments of a measured spectrum's wavelength axis (see the module docstring)."""

    segments: tuple[Segment, ...]
    slices: tuple[slice, ...]
    frame: str
    decided: bool
    offset_rms_nm: dict[str, float]
    #: Per frame, the standard error of those offsets (what :func:`decide` weighs the gap by).
    offset_se_nm: dict[str, float]
    #: Whether the frame was given (``--wavelengths air|vacuum``) rather than read.
    given: bool = False
    #: Where the frame was given: the other frame, where the lines clearly fit it better
    #: (:func:`decide`); else None.
    lines_frame: str | None = None

    def to_air(self, wavelength: np.ndarray, offsets: bool = True) -> np.ndarray:
        """The file's wavelengths as air wavelengths, each segment's offset removed (with
        ``offsets``); pixels outside every segment (gaps, interleaved stretches) are NaN."""
        wl = np.asarray(wavelength, dtype=np.float64)
        out = np.full(wl.shape, np.nan)
        for seg, sl in zip(self.segments, self.slices, strict=True):
            w = wl[sl] if seg.frame == "air" else vacuum_to_air(wl[sl])
            out[sl] = w - seg.offset_nm if offsets else w
        return out

    def summary(self) -> str:
        """For people: the frame, how clearly, and one line per segment."""
        how = "decided" if self.decided else "NOT decided: check it, or give --wavelengths"
        if self.given:
            how = "as given"
        rms = ", ".join(
            f"{k} {v:.3f} +/- {self.offset_se_nm[k]:.3f} nm" for k, v in self.offset_rms_nm.items()
        )
        rows = [f"wavelengths read as {self.frame} ({how}; RMS offset {rms})"]
        for s in self.segments:
            f = s.fits[s.frame]
            if not f.n_lines:
                rows.append(f"  {s.lo_nm:.1f}-{s.hi_nm:.1f} nm: no line matched, no offset")
                continue
            rows.append(
                f"  {s.lo_nm:.1f}-{s.hi_nm:.1f} nm: offset {s.offset_nm:+.3f} nm from "
                f"{f.n_lines} lines, residual slope {f.slope:+.3f} nm/100 nm"
            )
        return "\n".join(rows)


def read_axis(
    wavelength: np.ndarray,
    intensity: np.ndarray,
    elements: Sequence[str],
    frame: str = "auto",
    tol_nm: float = 0.15,
) -> Axis:
    """The axis of a spectrum whose lines come from ``elements`` (see the module docstring).
    ``frame`` ``air`` or ``vacuum`` forces the reading (offsets are still fitted)."""
    wl, y = np.asarray(wavelength, float), np.asarray(intensity, float)
    slices = segments(wl)
    lines = reference_lines(elements, float(wl[0]) - 1.0, float(wl[-1]) + 1.0)
    fits = []
    for sl in slices:
        cen = peak_centroids(wl[sl], y[sl])
        fits.append(
            {
                "air": fit_frame(cen, lines, tol_nm),
                "vacuum": fit_frame(vacuum_to_air(cen), lines, tol_nm),
            }
        )
    rms, se = offset_rms(fits)
    best, clear = decide(rms, se)
    pick, decided = (best, clear) if frame == "auto" else (frame, True)
    segs = tuple(
        Segment(float(wl[sl][0]), float(wl[sl][-1]), pick, f)
        for sl, f in zip(slices, fits, strict=True)
    )
    other = best if clear and best != pick else None
    return Axis(segs, tuple(slices), pick, decided, rms, se, frame != "auto", other)


#: The fewest pixels a spectrum's axis is read from (lines, peaks and segments need some).
MIN_PIXELS = 20


def calibrate_spectrum(
    spec: Spectrum,
    frame: str = "auto",
    elements: Sequence[str] | None = None,
    candidates: Sequence[str] | None = None,
    offsets: bool = True,
) -> tuple[Spectrum, Axis]:
    """``spec`` on air wavelengths (pixels outside every segment dropped; each segment's
    offset removed with ``offsets``) and the reading of its axis (:func:`read_axis`).
    Without ``elements``, the reference lines are those of the three elements
    :func:`spectral.identify.identify` ranks first (among ``candidates``, default its own
    list) under the reading of the axis where they score higher together."""
    from spectral.identify import identify

    if frame not in ("auto", *FRAMES):
        raise UserError(f"unknown wavelength frame {frame!r}; choose auto, air or vacuum")
    wl, y = spec.wavelength, spec.intensity
    if len(wl) < MIN_PIXELS:
        raise UserError(
            f"{spec.source or 'the spectrum'} holds {len(wl)} pixels; reading its lines "
            f"needs at least {MIN_PIXELS}"
        )
    if elements is None:
        ranked = [identify(w, y, candidates)[:3] for w in (wl, vacuum_to_air(wl))]
        best = max(ranked, key=lambda top: sum(m.score for m in top))
        elements = [m.element for m in best]
    axis = read_axis(wl, y, elements, frame)
    air = axis.to_air(wl, offsets)
    keep = np.isfinite(air)
    meta = {**spec.meta, "wavelength_frame": axis.frame}
    return Spectrum(air[keep], y[keep], spec.source, meta), axis
