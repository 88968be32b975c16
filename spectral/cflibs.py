"""Calibration-free LIBS on measured spectra, for any elements with NIST data.

The model of a spectrum, pixel by pixel, is

    y(lambda) = r(lambda) * sum_e c_e B_e(lambda; T, n_e) + b(lambda)

* ``B_e`` is the emission of element ``e`` per unit of its number density in an optically
  thin, homogeneous LTE plasma (:mod:`spectral.plasma`): Saha balance of I and II at the
  temperature ``T`` and electron density ``n_e``, Boltzmann populations, NIST transition
  probabilities, each line spread over the pixels by the instrument function;
* ``c_e >= 0`` are the number densities, so the composition is ``c_e m_e / sum c m`` (mass
  fractions; elements given as ``nuisance``, such as the ambient gas, are fitted but left out
  of the composition);
* ``r`` is the spectral response, cubic B-splines with knots every :data:`RESPONSE_KNOT_NM`
  along each segment (one spectrometer of a stitched file, :func:`spectral.measured.segments`),
  so each spectrometer keeps its own gain and shape, floored at :data:`MIN_RESPONSE` of its
  segment's mean; ``b`` is the baseline (continuum and dark level), cubic B-splines with
  knots every :data:`BASELINE_KNOT_NM`.

The instrument function is a Gaussian (the lines' own Stark widths: below) whose width is
measured on the spectrum itself, per
segment (the lower quartile of the half-maximum widths of its strongest peaks, which also
hold the lines' Stark and Doppler widths), then scaled by the one of :data:`WIDTH_SCALES`
that fits best, all segments together and then each on its own (spectrometers differ).
Where no calibrated instrument is given and Stark widths are on, the instrument function
may have Lorentzian wings (one of :data:`WINGS` times the Gaussian's FWHM, added to each
line's Lorentzian: a Voigt instrument function), tried at the best widths: a Gaussian
alone fitted the measured spectra with widths 1.8-4.4 times those of their peaks. The
wavelength offsets and the air/vacuum frame come from
:func:`spectral.measured.calibrate_spectrum`; what is left of the axis error is measured
against the model at the starting plasma with every modelled line and subtracted from the
axis where it lowers the cost: first each segment's offset in whole pixels
(:func:`coarse_offsets`, for a spectrometer whose lines the axis reading could not match),
then an offset and a dispersion slope per segment (:func:`axis_correction`). Pixels at the
spectrum's maximum in a run (saturated) and stretches without any spread (dead) are left
out.

The fit is a variable projection. For given ``(T, n_e)`` the model is linear in ``c`` and
``b`` once ``r`` is fixed, and in ``r`` and ``b`` once ``c`` is: alternating least squares
solve both (``c >= 0``: the baseline eliminated exactly, then Lawson-Hanson on the
contents), while the cost falls. ``(T, n_e)`` minimise the
cost over a coarse grid and a Nelder-Mead polish. Pixel weights are
``1 / (sigma_0^2 + (f y)^2)``, from the data so that every fit minimises the same cost:
``sigma_0`` the detector noise of the segment (from the spread of pixel-to-pixel
differences) and ``f =`` :data:`MODEL_ERROR` the share of a line that the model cannot be
asked to get right (NIST transition probabilities are good to 10-25 %). The cost is the
weighted residual per degree of freedom; :data:`MODEL_OK_COST` is the largest value taken as
"the model explains the spectrum" (``model_ok``, also false when the temperature sits at a
bound of the search or no line was fitted, or when a content is not in the spectrum: an
element read at :data:`SUPPORT_WT_PCT` or more whose lines the fit can do without,
:func:`unsupported`).

**Self-absorption** of the strong lines (resonance lines of the major element above all)
comes last. Each plasma length of :data:`LENGTHS_M` gives every line its escape factor (the
curve of growth of :mod:`spectral.plasma`, with absolute densities from charge neutrality
at ``n_e``), which depends on the composition, which depends on the escape factors (a few
rounds of fixed-point iteration settle both), and on the plasma. The optically thin fit
chose ``(T, n_e)`` without them, and darkened strong lines pull it far off: on a simulated
basalt with 1 mm of plasma, the thin fit put ``n_e`` at its upper bound and read Fe 1.8
times too high. So each length gets its own ``(T, n_e)``, polished under its escape factors
(:func:`_self_absorption`, searching from 1 mm to the nearest minimum of the cost); the
length of the lowest cost is kept, or none (optically thin) when none lowers it, and the
line widths are chosen again under it. A line far from thin also leaves the plasma
wider than it was emitted (its centre saturates while its wings keep growing): with Stark
widths on and no calibrated instrument, the fit then tries every self-absorbed line at
once with its Lorentzian widened by its :func:`spectral.plasma.saturation_broadening`
(:func:`_try_saturation`; where the saturated lines carry enough of the emission), kept
where the cost falls (``saturation`` in the result; the project's simulator keeps thin
profiles, so on its spectra it stays off). The result reports both
costs. On the measured pure Fe and Ni spectra this lowers the cost by 23 and 14 %
(``benchmarks/spectral_real.py``); the stage takes over half of a fit's time (1.9 s for a
simulated 4001-pixel steel spectrum, 0.8 s without it).

**Stark widths.** A line's Stark width grows with ``n_e`` and with how loosely its upper
level is bound, so one width per spectrometer cannot fit the narrow resonance lines and the
broad lines of high levels at once. The fit also tries Voigt profiles: the instrument's
Gaussian convolved with each line's Lorentzian, the hydrogenic Stark width of
:mod:`spectral.plasma` at the plasma's ``n_e`` times one of :data:`STARK_SCALES` (that
scaling is good to a factor of about two). Gaussian and Voigt profiles are fitted side by
side and the lower cost is kept (``stark_scale`` in the result, 0 for Gaussian); with Voigt
profiles ``n_e`` acts through the widths as well as through the Saha balance.

**Two zones** (``zones=2``, off by default): a laser plume is hotter in its core than at
its rim, and a line of sight crosses both. The option adds a second zone with the same
atoms and ``n_e`` at another temperature ``T2``, ``f`` times as many atoms, chosen by the
cost after the one-zone fit and kept where it lowers it. On the 12 BHVO-2 spectra the
final cost moves by -3 to +2.5 % (lower on 5: the zone is chosen before self-absorption,
which is computed for the first zone only), and the composition moves further from the
certified one on ChemCam and SuperCam and closer on CSA (``bhvo2_two_zones`` in
``benchmarks/spectral_real.py``): with no consistent fall in the final cost, one zone
stays the default.

**Consistency.** The result also reads each element from parts of its lines alone (its
neutral lines, its ionic lines, each spectrometer's pixels) at the fitted plasma, widths and
response (:func:`partial_readings`). The cost allows every strong line a 10 % error and
hardly changes when one part is off by half; the readings show it, and whether a content
that misses the truth is missed by all of the element's lines alike.

Not modelled: measured (rather than hydrogenic) Stark widths, a temperature gradient, a
second zone's own electron density, molecular bands. ``LINE_CUTOFF`` and the other
settings were chosen by the fit cost on the Aalto Fe and Ni spectra; what was looked at on
BHVO-2 while building the fit is listed in ``benchmarks/spectral_real.py``.
"""

from __future__ import annotations

import copy
import functools
import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NoReturn

import numpy as np

from eftgan.errors import UserError
from spectral.atomic import K_B_EV
from spectral.identify import pixel_noise
from spectral.io import Spectrum

RESPONSE_KNOT_NM = 80.0
BASELINE_KNOT_NM = 15.0
MODEL_ERROR = 0.1
MODEL_OK_COST = 3.0
#: Contents from this many wt % up must show in the spectrum (:func:`unsupported`) ...
SUPPORT_WT_PCT = 10.0
#: ... by raising the weighted squared residual by at least this much when their lines are
#: taken out of the fit (25: five standard deviations of one amplitude).
SUPPORT_CHI2 = 25.0
#: Peaks a segment needs for a width of its own.
MIN_WIDTH_PEAKS = 8
#: Multipliers of the measured widths among which the fit picks the instrument function's.
WIDTH_SCALES = (0.7, 0.85, 1.0, 1.2, 1.45)
#: The fitted response is floored at this share of its segment's mean.
MIN_RESPONSE = 0.05
#: Lines weaker than this share of their element's strongest (at 10,000 K) are left out.
LINE_CUTOFF = 1e-4
#: With Stark widths, the profiles are built at n_e on a grid of this step in ln n_e.
STARK_NE_STEP = 0.1
#: Lorentzian FWHMs out to which a Voigt line profile is computed.
LORENTZ_REACH = 8
#: Area of a unit-peak Gaussian per unit of its FWHM, sqrt(pi / (4 ln 2)).
GAUSS_AREA = 1.0644670194312262
#: Multiples of the hydrogenic Stark widths among which the fit picks the lines' (the first
#: is tried with every instrument width, the others at the best of those).
STARK_SCALES = (1.0, 0.5, 2.0)
#: Lorentzian wings of the instrument function, as FWHM per FWHM of its Gaussian core, among
#: which the fit picks a spectrum's (0: a Gaussian instrument function).
WINGS = (0.0, 0.25, 0.5, 1.0)
#: Self-absorbed lines widened by less than this factor keep their thin profiles; none is
#: widened by more than the second (a line-centre depth of about 1700).
MIN_SATURATION = 1.05
MAX_SATURATION = 50.0
#: The widening is tried (a polish of its own) only where lines widened more than
#: :data:`SATURATED_FACTOR` times carry this share of the line emission: 0.03 in a
#: simulated stainless steel over 1 mm, where it never lowered the cost, 0.26 in a basalt.
SATURATED_FACTOR = 5.0
SATURATED_SHARE = 0.1
#: Cost evaluations of the Nelder-Mead polish of ``(T, n_e)``.
POLISH_EVALUATIONS = 40
#: A second plasma zone's temperatures (times the first's) and atoms (per atom of the first)
#: tried before its polish, and the polish's cost evaluations.
ZONE_T_RATIOS = (0.5, 0.7, 0.85, 1.2, 1.5)
ZONE_WEIGHTS = (0.1, 0.3, 1.0)
ZONE_EVALUATIONS = 20
#: Ridge on the unit diagonal of a scaled normal matrix, for columns the data do not constrain.
RIDGE = 1e-10
#: Profile matrices kept for reuse (the fit returns to the same widths and n_e often).
PROFILE_CACHE = 32
#: Sets of one profile block per segment kept for reuse (for the widths' trials).
PART_CACHE = 4
START_T_K = (6000.0, 8000.0, 10000.0, 12000.0, 15000.0)
START_NE_CM3 = (3e16, 1e17, 3e17)
T_BOUNDS_K = (4000.0, 25000.0)
NE_BOUNDS_CM3 = (1e15, 1e19)
#: Plasma lengths (m) tried for self-absorption, the one the search starts from (a typical
#: LIBS plume's size), the fixed-point rounds of composition and escape factors at each,
#: and the cost evaluations of its polish of ``(T, n_e)``.
LENGTHS_M = (3e-5, 1e-4, 3e-4, 1e-3, 3e-3)
START_LENGTH_M = 1e-3
SA_ITERATIONS = 3
SA_EVALUATIONS = 30
#: Windows (nm) in which the residual wavelength shift of the data from the model is measured.
SHIFT_WINDOW_NM = 20.0
#: A wavelength correction below this share of a pixel everywhere is not applied.
MIN_SHIFT_PX = 0.1
#: The largest offset (nm) of a segment's axis that :func:`coarse_offsets` searches for: the
#: air-vacuum difference at 1000 nm (0.28) and a spectrometer's calibration error besides.
COARSE_REACH_NM = 0.6
#: An element counts as present above this content (wt %).
PRESENT_WT_PCT = 0.5
#: :func:`select_elements` takes a candidate while it lowers the fit cost by at least this
#: share, among at most this many of the best that ``identify`` ranks.
SELECT_MIN_DROP = 0.005
SELECT_POOL = 24
#: Candidates of a step whose cost is also searched over the plasma grid.
SELECT_SHORTLIST = 4
#: Temperatures (K) at which :func:`explained_share` fits a spectrum's elements.
SHARE_T_K = (7000.0, 9000.0, 11000.0, 13000.0)
#: Temperatures (K) at which :func:`held_cost_ratio` fits a reading and free contents. Every
#: 1000 K: with :data:`SHARE_T_K`'s 2000 K steps a right reading of a plasma between two of
#: them cost up to 1.34 times the free contents (hot plasmas; 300 simulated steels read by
#: SACA, ``benchmarks/saca_domain.py``), every 1000 K at most 1.14 (every 500 K and at three
#: n_e 1.12, at five times the time).
READING_T_K = tuple(float(t) for t in range(6000, 14001, 1000))


@dataclass
class CFResult:
    """What :func:`fit_cflibs` finds: the composition (wt %, summing to 100 over ``elements``)
    with standard errors, the plasma, the instrument, the fit's cost and verdict, and the
    model on the spectrum's pixels (for plots)."""

    elements: tuple[str, ...]
    wt_pct: np.ndarray
    sd_wt_pct: np.ndarray
    temperature_k: float
    ne_cm3: float
    fwhm_nm: list[float]
    cost: float
    model_ok: bool
    wavelength: np.ndarray = field(repr=False)
    intensity: np.ndarray = field(repr=False)
    model: np.ndarray = field(repr=False)
    nuisance: dict[str, float] = field(default_factory=dict)
    frame: str = "air"
    frame_decided: bool = False
    #: Where the frame was given: the other one, where the lines clearly fit it better.
    lines_frame: str | None = None
    thin_cost: float = float("nan")
    length_m: float = 0.0
    response: np.ndarray | None = field(default=None, repr=False)
    slices: list[slice] = field(default_factory=list, repr=False)
    #: Per segment, the wavelength correction the fit applied on top of the axis reading:
    #: ``(shift at the segment's centre in nm, slope in nm per 100 nm)``.
    axis_correction: list[tuple[float, float]] = field(default_factory=list)
    #: The multiple of the hydrogenic Stark widths in the line profiles (0: Gaussian only).
    stark_scale: float = 0.0
    #: The instrument function's Lorentzian wings, FWHM per FWHM of its Gaussian (:data:`WINGS`).
    wings: float = 0.0
    #: Whether the self-absorbed lines were widened by their saturation (kept by the cost).
    saturation: bool = False
    #: The second plasma zone kept, ``(T2 in K, its atoms per atom of the first)``, or None;
    #: and the cost of the one-zone fit (before self-absorption) it is measured against.
    second_zone: tuple[float, float] | None = None
    one_zone_cost: float = float("nan")
    #: The contents read from each ionisation stage and each segment alone (None for a
    #: fit at a held composition).
    readings: PartialReadings | None = None
    #: Elements read at :data:`SUPPORT_WT_PCT` or more that the spectrum does not show
    #: (:func:`unsupported`); any makes ``model_ok`` false.
    unsupported: tuple[str, ...] = ()
    #: The strongest lines of the fit that stand apart, ``(air wavelength in nm, species)``
    #: such as ``(393.37, "Ca II")``, strongest first (:func:`strongest_lines`).
    labels: list[tuple[float, str]] = field(default_factory=list)


@dataclass
class PartialReadings:
    """Each element's content read from a part of its lines alone, at the fitted plasma,
    widths and response (:func:`partial_readings`), in wt % on the fit's own scale: 100
    times that part's density and mass over the whole fit's sum of densities and masses,
    so that a reading equal to the fit's content means that part agrees with the rest.
    NaN where the element has no line of weight in the part."""

    #: (2, elements): read from the neutral lines, and from the ionic lines.
    by_stage: np.ndarray
    #: (segments, elements): read from one segment (spectrometer) of the file, in the
    #: order of the segments the fit kept (stretches without any spread are left out).
    by_segment: np.ndarray
    #: The fit's cost with each element's stages (segments) given their own amplitudes.
    cost_by_stage: float
    cost_by_segment: float


def peak_fwhm(wl: np.ndarray, y: np.ndarray, n_peaks: int = 25) -> tuple[float, int]:
    """Lower-quartile full width at half maximum (nm) of the strongest peaks of a segment,
    above its running minimum (blends only widen a peak), and how many peaks it rests on."""
    from scipy.ndimage import minimum_filter1d
    from scipy.signal import find_peaks, peak_widths

    base = minimum_filter1d(y, 41)
    s = y - base
    idx, _ = find_peaks(s, prominence=20 * max(pixel_noise(y), 1e-300), distance=5)
    if len(idx) == 0:
        return float(3 * np.median(np.diff(wl))), 0
    top = idx[np.argsort(-s[idx])[:n_peaks]]
    widths = peak_widths(s, top, rel_height=0.5)[0]
    step = np.interp(top, np.arange(len(wl) - 1), np.diff(wl))
    return float(np.percentile(widths * step, 25)), len(top)


def instrument_widths(wl: np.ndarray, y: np.ndarray, slices: Sequence[slice]) -> list[float]:
    """Per segment the width of :func:`peak_fwhm`; a segment with fewer than
    :data:`MIN_WIDTH_PEAKS` peaks takes the median of the others (or keeps its own if none
    has enough)."""
    return fill_widths([peak_fwhm(wl[sl], y[sl]) for sl in slices])


def fill_widths(found: Sequence[tuple[float, int]]) -> list[float]:
    """:func:`instrument_widths` from each segment's ``(width, peaks)``."""
    good = [w for w, n in found if n >= MIN_WIDTH_PEAKS]
    fallback = float(np.median(good)) if good else None
    return [w if n >= MIN_WIDTH_PEAKS or fallback is None else fallback for w, n in found]


class LineModel:
    """The lines of ``elements`` on a spectrum's pixels, with the plasma physics to weigh them.

    The profile matrix (pixels x lines, sparse: each line's profile over the pixels within
    its reach) is fixed by the axis and the widths (and, with Stark widths, by ``n_e`` on a
    grid); only the lines' intensities change with ``(T, n_e)``, so a new plasma costs one
    sparse product per element.
    """

    def __init__(
        self,
        wl: np.ndarray,
        slices: Sequence[slice],
        fwhm: Sequence[float],
        elements: Sequence[str],
    ) -> None:
        from spectral.atomic import load_atomic_data
        from spectral.plasma import LTEPlasma

        self.elements = tuple(elements)
        atomic = load_atomic_data(self.elements)
        none = [e for e in self.elements if not (atomic.lines.element == e).any()]
        if none:
            raise UserError(
                f"no NIST lines for {', '.join(none)} in the atomic tables; leave "
                f"{'it' if len(none) == 1 else 'them'} out of --elements"
            )
        self.plasma = LTEPlasma(atomic, self.elements, (float(wl.min()) - 1, float(wl.max()) + 1))
        lines = self.plasma.table.lines
        self.full = (
            self.plasma.table.el_index,
            lines.stage - 1,
            np.log(lines.aki * lines.gk / lines.wavelength),
            lines.ek,
        )
        li = self.log_intensity(10000.0, 1e17)
        top = np.full(len(self.elements), -np.inf)
        np.maximum.at(top, self.full[0], li)
        strong = np.flatnonzero(li >= top[self.full[0]] + np.log(LINE_CUTOFF))
        #: The modelled lines (indices into the plasma's line table), element by element, so
        #: that each element's profiles are one block of columns.
        self.strong = strong[np.argsort(self.full[0][strong], kind="stable")]
        self.el = self.full[0][self.strong]
        self.modelled = tuple(a[self.strong] for a in self.full)
        self.blocks = np.searchsorted(self.el, np.arange(len(self.elements) + 1))
        self.centres = lines.wavelength[self.strong]
        #: The same plasma over the modelled lines alone, for their self-absorption.
        self.absorbing = copy.copy(self.plasma)
        self.absorbing.table = self.plasma.table.select(self.strong)
        #: Each line's Stark FWHM (nm) at n_e = 1e17 cm^-3 (hydrogenic, :mod:`spectral.plasma`).
        self.stark_ref = self.plasma.table.stark_ref_nm[self.strong]
        #: Multiple of those Stark widths in the profiles (0: Gaussian profiles only).
        self.stark_scale = 0.0
        #: Lorentzian wings of the instrument function, FWHM per FWHM of its Gaussian core.
        self.wings = 0.0
        #: Whether self-absorbed lines are widened by their saturation, where escape factors
        #: are given (:func:`spectral.plasma.saturation_broadening`).
        self.saturation = False
        self.ne_profiles = 1e17
        self._profiles: dict[tuple, Any] = {}  # profile matrices by widths, Stark scale, n_e
        self._parts: dict[tuple, Any] = {}  # one segment's profiles by segment, width, ...
        #: A second plasma zone ``(T2 in K, its atoms per atom of the first)``, or None.
        self.second_zone: tuple[float, float] | None = None
        #: Held number-density shares of the leading elements (a known composition), or None.
        self.held: np.ndarray | None = None
        self.wl, self.slices = wl, slices
        self.set_widths(fwhm)
        self.present = np.bincount(self.el, minlength=len(self.elements)) > 0

    def set_widths(
        self, fwhm: Sequence[float], stark_scale: float | None = None, wings: float | None = None
    ) -> None:
        """Spread the lines with these instrument widths (nm, one per segment) and, when
        ``stark_scale`` is above 0, that multiple of their Stark widths, and with ``wings``
        (:attr:`wings`), from now on."""
        self.fwhm = list(fwhm)
        if stark_scale is not None:
            self.stark_scale = stark_scale
        if wings is not None:
            self.wings = wings
        ne = self.ne_profiles if self.stark_scale else 0.0
        key = (tuple(self.fwhm), self.stark_scale, ne, self.wings)
        if key not in self._profiles:
            lorentz = None
            if self.stark_scale > 0:
                lorentz = self.stark_scale * self.stark_ref * (self.ne_profiles / 1e17)
            if len(self._profiles) >= PROFILE_CACHE:
                self._profiles.pop(next(iter(self._profiles)))
            parts = [self._segment_part(i, w, lorentz) for i, w in enumerate(self.fwhm)]
            csc = _assemble_parts(parts, (len(self.wl), len(self.centres)))
            self._profiles[key] = _column_blocks(csc, self.blocks)
        self.profiles_by_element = self._profiles[key]

    def _segment_part(self, i: int, fwhm: float, lorentz: np.ndarray | None) -> Any:
        """Segment ``i``'s profiles (:func:`_segment_part`), kept for reuse, most recently
        used last: a stitched file's widths are tried one spectrometer at a time
        (:func:`_best_widths`), and each trial changes one segment's profiles."""
        key = (i, fwhm, self.stark_scale, self.ne_profiles if self.stark_scale else 0.0, self.wings)
        part = self._parts.pop(key, None)
        if part is None:
            if self.wings > 0:  # Lorentzians convolve by adding their FWHMs
                base = np.zeros(len(self.centres)) if lorentz is None else lorentz
                lorentz = base + self.wings * fwhm
            part = _segment_part(self.wl, self.slices[i], fwhm, self.centres, lorentz)
            if len(self._parts) >= PART_CACHE * len(self.slices):
                self._parts.pop(next(iter(self._parts)))
        self._parts[key] = part
        return part

    def set_axis(self, wl: np.ndarray) -> None:
        """Put the lines on a corrected wavelength axis (same pixels) from now on."""
        self.wl = wl
        self._profiles.clear()
        self._parts.clear()
        self.set_widths(self.fwhm)

    def log_intensity(self, t_k: float, ne_cm3: float, lines: tuple | None = None) -> np.ndarray:
        """Log emission of every line of the window (or of ``lines``, e.g.
        :attr:`modelled`) per unit density of its element (arbitrary units): Saha balance,
        Boltzmann population, ``g_k A_ki / lambda``."""
        from spectral.plasma import saha_ratio

        el, stage, log_ga, ek = self.full if lines is None else lines
        u = self.plasma.partition(np.array([t_k]))[0]  # (E, 2)
        kt = K_B_EV * t_k
        ratio = saha_ratio(self.plasma.chi, u[:, 1] / u[:, 0], t_k, ne_cm3)  # n_II / n_I
        frac = np.stack([1.0 / (1.0 + ratio), ratio / (1.0 + ratio)], 1)  # (E, 2)
        log_pop = np.log(np.maximum(frac / u, 1e-300))[el, stage]
        return log_pop + log_ga - ek / kt

    def escape(
        self, mole_fraction: np.ndarray, t_k: float, ne_cm3: float, length_m: float
    ) -> np.ndarray:
        """Self-absorption factor of each line (1: optically thin) in a homogeneous plasma
        of ``length_m`` with this composition (mole fractions over :attr:`elements`), the
        absolute densities fixed by charge neutrality at ``n_e`` (:mod:`spectral.plasma`),
        with the plasma module's own line widths (hydrogenic Stark widths, multiple 1) and
        the first zone only: an approximation where the fit chose another Stark multiple
        or a second zone."""
        self.absorbing.set_length(length_m)
        args = (mole_fraction[None, :], np.array([t_k]), np.array([ne_cm3]))
        escape = self.absorbing.escape_factors_t(*args)[0].double().numpy()
        return np.clip(escape, 0.0, 1.0)

    def intensities(
        self, t_k: float, ne_cm3: float, escape: np.ndarray | None = None
    ) -> np.ndarray:
        """Emission of each modelled line per unit density of its element (the second zone's
        added, times the escape factors), with the line profiles made ready for ``n_e``."""
        if self.stark_scale > 0:
            snapped = float(np.exp(STARK_NE_STEP * np.round(np.log(ne_cm3) / STARK_NE_STEP)))
            if snapped != self.ne_profiles:
                self.ne_profiles = snapped
                self.set_widths(self.fwhm)
        inten = np.exp(self.log_intensity(t_k, ne_cm3, self.modelled))
        if self.second_zone is not None:  # same atoms and n_e, f times as many, at T2
            t2, f = self.second_zone
            inten = inten + f * np.exp(self.log_intensity(t2, ne_cm3, self.modelled))
        return inten if escape is None else inten * escape

    def basis(
        self, t_k: float, ne_cm3: float, escape: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """``B_e`` on the pixels, (P, E), each column scaled to a maximum of 1, and the scale
        (each column's maximum before scaling, so ``c_e / scale_e`` is the density). With
        :attr:`held` shares, the held elements' columns are scaled so that equal
        amplitudes give those shares and their sum has a maximum of 1 (the fit then gives
        them one amplitude: :attr:`_Problem.tied`)."""
        b = self.columns(self.intensities(t_k, ne_cm3, escape), escape, ne_cm3)
        peak = b.max(0)
        peak[peak <= 0] = 1.0
        if self.held is not None:  # the held elements' columns sum to their mix, of peak 1
            n = len(self.held)
            mix = float((b[:, :n] @ self.held).max()) or 1.0
            with np.errstate(divide="ignore"):
                peak[:n] = mix / self.held  # infinite for an absent element: a zero column
        return b / peak, peak

    def columns(
        self, inten: np.ndarray, escape: np.ndarray | None = None, ne_cm3: float = 1e17
    ) -> np.ndarray:
        """(P, E): each element's lines of intensities ``inten`` spread over the pixels;
        with :attr:`saturation` and the ``escape`` factors, the lines that saturation
        widens with profiles of their own (at ``n_e``)."""
        wide = self._saturated(escape)
        if wide is None:
            return _element_columns(self, inten)
        lines, factor = wide  # out of the thin profiles, and in with their own
        thin = inten.copy()
        thin[lines] = 0.0
        return _element_columns(self, thin) + self._widened_columns(
            lines, factor, inten[lines], ne_cm3
        )

    def _saturated(self, escape: np.ndarray | None) -> tuple[np.ndarray, np.ndarray] | None:
        """The lines that self-absorption widens by more than :data:`MIN_SATURATION`, and
        their widening factors (at most :data:`MAX_SATURATION`), or None."""
        if escape is None or not self.saturation:
            return None
        from spectral.plasma import saturation_broadening

        factor = np.minimum(saturation_broadening(escape), MAX_SATURATION)
        lines = np.flatnonzero(factor > MIN_SATURATION)
        return (lines, factor[lines]) if len(lines) else None

    def _widened_columns(
        self, lines: np.ndarray, factor: np.ndarray, inten: np.ndarray, ne_cm3: float
    ) -> np.ndarray:
        """(P, E): ``lines`` (indices into the modelled lines) of intensities ``inten``,
        summed per element, with the profiles of :meth:`widened_profiles`."""
        profiles = self.widened_profiles(lines, factor, ne_cm3)
        weights = np.zeros((len(lines), len(self.elements)))
        weights[np.arange(len(lines)), self.el[lines]] = inten
        return np.asarray(profiles @ weights)

    def widened_profiles(self, lines: np.ndarray, factor: np.ndarray, ne_cm3: float) -> Any:
        """(P, len(lines)) sparse: the profiles of ``lines`` (indices into the modelled
        lines) with their Lorentzian widened by ``factor`` and the instrument's Gaussian and
        wings as they are. With Voigt profiles the Lorentzian is the line's Stark width (its
        multiple, at the profiles' ``n_e``) times ``factor``; with Gaussian ones, whose
        fitted width holds the thin lines' Stark widths, the widening alone: the hydrogenic
        Stark width at ``ne_cm3`` times ``factor - 1`` (so that both meet the thin profile
        where the factor is 1)."""
        if self.stark_scale > 0:
            thin = self.stark_scale * self.stark_ref[lines] * (self.ne_profiles / 1e17)
            lorentz = thin * factor
        else:
            lorentz = self.stark_ref[lines] * (ne_cm3 / 1e17) * (factor - 1.0)
        parts = [
            _segment_part(self.wl, sl, w, self.centres[lines], lorentz + self.wings * w)
            for sl, w in zip(self.slices, self.fwhm, strict=True)
        ]
        return _assemble_parts(parts, (len(self.wl), len(lines)))


def _element_columns(lines: LineModel, inten: np.ndarray) -> np.ndarray:
    """(P, E): each element's lines of these intensities spread over the pixels."""
    b = np.zeros((len(lines.wl), len(lines.elements)))
    for e, (a, z) in enumerate(itertools.pairwise(lines.blocks)):
        if z > a:
            b[:, e] = lines.profiles_by_element[e] @ inten[a:z]
    return b


def _profile_matrix(
    wl: np.ndarray,
    slices: Sequence[slice],
    fwhm: Sequence[float],
    centres: np.ndarray,
    lorentz: np.ndarray | None = None,
):
    """Sparse (pixels x lines, CSC) line profiles: per segment a Gaussian of unit peak and its
    own width or, with ``lorentz`` (each line's Lorentzian FWHM, nm), its Voigt profile with
    that Gaussian, of the Gaussian's area (the pseudo-Voigt of Thompson, Cox and Hastings;
    within 5 % of the exact profile's peak)."""
    parts = [_segment_part(wl, sl, w, centres, lorentz) for sl, w in zip(slices, fwhm, strict=True)]
    return _assemble_parts(parts, (len(wl), len(centres)))


def _segment_part(
    wl: np.ndarray, sl: slice, fwhm: float, centres: np.ndarray, lorentz: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """One segment's block of :func:`_profile_matrix`: values and pixel rows line after line,
    and each line's count (None where no line reaches the segment)."""
    x = wl[sl]
    inside = np.flatnonzero((centres > x[0] - 2 * fwhm) & (centres < x[-1] + 2 * fwhm))
    if len(inside) == 0:
        return None
    f_l = np.zeros(len(inside)) if lorentz is None else lorentz[inside]
    v, rows, count = _segment_profiles(x, centres[inside], fwhm, f_l)
    counts = np.zeros(len(centres), dtype=np.int64)
    counts[inside] = count
    return v, (rows + sl.start).astype(np.int32), counts


def _assemble_parts(parts: Sequence[Any], shape: tuple[int, int]):
    """The CSC matrix of the segments' blocks (:func:`_segment_part`, in pixel order), in
    double precision: its products with the double intensities would otherwise convert its
    values on every model evaluation (the profiles are computed in single precision)."""
    from scipy.sparse import csc_matrix

    parts = [p for p in parts if p is not None]
    if not parts:
        return csc_matrix(shape, dtype=np.float64)
    indptr = np.r_[0, np.cumsum(sum(counts for _, _, counts in parts))]
    if len(parts) == 1:
        return csc_matrix((parts[0][0].astype(np.float64), parts[0][1], indptr), shape)
    # each line's column holds its segments' values one segment after the other: the
    # segments come in pixel order, so the rows rise within a column as CSC wants
    data = np.empty(indptr[-1], dtype=np.float64)
    indices = np.empty(indptr[-1], dtype=np.int32)
    free = indptr[:-1].copy()  # each column's next free slot
    for v, rows, counts in parts:
        dest = np.repeat(free - (np.cumsum(counts) - counts), counts) + np.arange(len(v))
        data[dest], indices[dest] = v, rows
        free += counts
    return csc_matrix((data, indices, indptr), shape)


def _column_blocks(csc, blocks: np.ndarray) -> list:
    """The column blocks ``[blocks[i], blocks[i + 1])`` of a CSC matrix, sharing its arrays
    (a CSC block of whole columns is a slice of them)."""
    from scipy.sparse import csc_matrix

    out = []
    for a, b in itertools.pairwise(blocks):
        lo, hi = csc.indptr[a], csc.indptr[b]
        arrays = (csc.data[lo:hi], csc.indices[lo:hi], csc.indptr[a : b + 1] - lo)
        out.append(csc_matrix(arrays, shape=(csc.shape[0], b - a), copy=False))
    return out


def _segment_profiles(
    x: np.ndarray, centres: np.ndarray, f_g: float, f_l: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The profiles of lines at ``centres`` (Lorentzian FWHMs ``f_l``) on one segment's
    pixels ``x``: values and pixel rows line after line (pixels rising within each, so a
    CSC matrix needs no sort), and each line's count.

    A Gaussian profile has a peak of 1; a Voigt profile has the area of that Gaussian (a
    convolution keeps a line's emission, it only spreads it), so a broadened line is lower,
    not brighter. Each reaches four Gaussian and :data:`LORENTZ_REACH` Lorentzian widths
    (beyond which a Lorentzian holds under 4 % of its area), and no further than the
    segment."""
    f, eta = _pseudo_voigt(f_g, f_l)
    n = len(x)
    step = np.median(np.diff(x))
    half = np.ceil((4 * f_g + LORENTZ_REACH * f_l) / step).astype(np.int64) + 1
    half = np.minimum(half, n)
    low = np.searchsorted(x, centres) - half
    start, stop = np.clip(low, 0, n), np.clip(low + 2 * half + 1, 0, n)
    count = stop - start
    first = np.cumsum(count) - count
    px = np.arange(int(count.sum())) + np.repeat(start - first, count)
    # offsets in double precision, the profile in single (ample for a 1e-4 model), in place:
    # a build passes over a few hundred thousand values, dozens of times per fit
    u = (x[px] - np.repeat(centres, count)).astype(np.float32)
    u *= np.repeat((2 / f).astype(np.float32), count)
    np.square(u, out=u)
    v = np.multiply(u, np.float32(-np.log(2)))
    np.exp(v, out=v)
    if f_l.any():  # eta / (1 + u) + (1 - eta) v, times the area's scale
        # areas of unit-peak profiles: Gaussian 1.0645 f, Lorentzian (pi / 2) f
        area = (eta * np.pi / 2 + (1 - eta) * GAUSS_AREA) * f
        lorentz = np.add(u, np.float32(1), out=u)
        np.reciprocal(lorentz, out=lorentz)
        lorentz -= v
        lorentz *= np.repeat(eta.astype(np.float32), count)
        v += lorentz
        v *= np.repeat((GAUSS_AREA * f_g / area).astype(np.float32), count)
    return v, px, count


def _pseudo_voigt(f_g: float, f_l: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """FWHM and Lorentzian share of the pseudo-Voigt that stands for the Voigt profile of a
    Gaussian FWHM ``f_g`` and Lorentzian FWHMs ``f_l`` (Thompson, Cox and Hastings 1987)."""
    f5 = f_g**5 + f_l * (2.69269 * f_g**4 + f_l * (2.42843 * f_g**3 + f_l * (
        4.47163 * f_g**2 + f_l * (0.07842 * f_g + f_l))))  # fmt: skip
    f = f5**0.2
    q = f_l / f
    return f, q * (1.36603 + q * (-0.47719 + q * 0.11116))


def saturated(y: np.ndarray, run: int = 3) -> np.ndarray:
    """Pixels in runs of at least ``run`` consecutive values at the spectrum's maximum: a
    detector at full scale says only that the signal is at least that."""
    at_max = np.asarray(y >= np.nanmax(y), dtype=np.int8)
    edges = np.flatnonzero(np.diff(np.r_[0, at_max, 0]))
    out = np.zeros(len(y), dtype=bool)
    for start, stop in zip(edges[::2], edges[1::2], strict=True):
        if stop - start >= run:
            out[start:stop] = True
    return out


def _spline_block(wl: np.ndarray, sl: slice, knot_nm: float) -> np.ndarray:
    """Cubic B-splines over one segment (knots about ``knot_nm`` apart, at least one
    interval), as dense columns over all pixels (zero outside the segment)."""
    from scipy.interpolate import BSpline

    x = wl[sl]
    n_knots = max(2, int(np.ceil((x[-1] - x[0]) / knot_nm)) + 1)
    inner = np.linspace(x[0], x[-1], n_knots)
    knots = np.r_[[inner[0]] * 3, inner, [inner[-1]] * 3]
    cols = BSpline.design_matrix(np.clip(x, inner[0], inner[-1]), knots, 3).toarray()
    out = np.zeros((len(wl), cols.shape[1]))
    out[sl] = cols
    return out


class _Problem:
    """The linear parts of the model on a spectrum's valid pixels (see the module docstring).

    Every solve is a weighted least-squares problem ``[D, S] b = y`` with ``D`` a few dense
    columns (the lines, or the response's) and ``S`` the baseline's splines, whose block of
    the normal equations is computed once."""

    def __init__(
        self, wl: np.ndarray, y: np.ndarray, slices: Sequence[slice], valid: np.ndarray
    ) -> None:
        from scipy.sparse import csr_matrix

        self.y = y
        self.slices = list(slices)
        #: A response known from a reference spectrum (:func:`calibrate_instrument`), or None.
        self.fixed_response: np.ndarray | None = None
        #: The number of leading columns of a basis that share one amplitude (a held
        #: composition, :attr:`LineModel.held`); 0: every column has its own.
        self.tied = 0
        self.sigma0 = np.zeros(len(y))
        for sl in slices:
            self.sigma0[sl] = pixel_noise(y[sl][valid[sl]])
        # dense (a few tens of columns), where products with other dense columns are
        # wanted: scipy's per-call overhead would cost more than a sparse product saves
        self.response_splines = np.hstack([_spline_block(wl, s, RESPONSE_KNOT_NM) for s in slices])
        baseline = np.hstack([_spline_block(wl, s, BASELINE_KNOT_NM) for s in slices])
        # a floor: a clipped or quantised stretch can show no pixel-to-pixel spread at all
        self.sigma0 = np.maximum(self.sigma0, 1e-4 * float(np.abs(y).max()) + 1e-300)
        self.w = valid / (self.sigma0**2 + (MODEL_ERROR * np.maximum(y, 0.0)) ** 2)
        self.n_valid = int(valid.sum())
        baseline_w = baseline * self.w[:, None]
        self.a_bb = baseline.T @ baseline_w
        self.g_b = baseline_w.T @ y
        # the splines are local (four per pixel): sparse, their products with the dense
        # columns cost a fraction of dense ones; and the baseline's block of the normal
        # equations is the same in every solve, so it is inverted once
        self.baseline = csr_matrix(baseline)
        self.baseline_wt = csr_matrix(baseline_w.T)
        self.baseline_inverse = scaled_inverse(self.a_bb)

    def solve(self, d: np.ndarray, n_pos: int) -> tuple[np.ndarray, np.ndarray]:
        """Coefficients of ``[d, baseline]`` (the first ``n_pos`` nonnegative: none or all of
        ``d``) and the normal matrix (for errors)."""
        n = d.shape[1]
        dw = d * self.w[:, None]
        a = np.empty((n + len(self.a_bb),) * 2)
        a[:n, :n] = dw.T @ d
        a[n:, :n] = self.baseline_wt @ d
        a[:n, n:] = a[n:, :n].T
        a[n:, n:] = self.a_bb
        g = np.r_[dw.T @ self.y, self.g_b]
        return nonnegative_normal(a, g, n_pos, self.baseline_inverse), a

    def response(self, lines_sum: np.ndarray) -> np.ndarray:
        """The response along each segment that fits ``r * lines_sum + baseline`` best."""
        d = self.response_splines * lines_sum[:, None]
        coef, _ = self.solve(d, 0)
        r = self.response_splines @ coef[: d.shape[1]]
        for sl in self.slices:  # a spectrometer's response is positive: floor it
            mean = max(float(np.abs(r[sl]).mean()), 1e-300)
            r[sl] = np.maximum(r[sl], MIN_RESPONSE * mean)
        return r / float(r.mean())

    def fit(
        self, basis: np.ndarray, rounds: int = 3, response: np.ndarray | None = None
    ) -> dict[str, Any]:
        """Alternate contents and response while the cost falls (each step minimises it over
        one block; the response's floor can undo that, so a rise stops it). The contents
        ``c`` come back per column of ``basis``, the :attr:`tied` ones equal. ``response``
        is held for this fit (default: :attr:`fixed_response`, if any)."""
        given = self.fixed_response if response is None else response
        fixed = given is not None
        r = np.ones(len(self.y)) if given is None else given
        best: dict[str, Any] = {}
        columns = basis
        if self.tied:
            columns = np.column_stack([basis[:, : self.tied].sum(1), basis[:, self.tied :]])
        n = columns.shape[1]
        dof = max(self.n_valid - n - self.baseline.shape[1] - self.response_splines.shape[1], 1)
        for left in reversed(range(rounds)):  # rounds left after this one
            d = r[:, None] * columns
            coef, a = self.solve(d, n)
            model = d @ coef[:n] + self.baseline @ coef[n:]
            cost = float((self.w * (self.y - model) ** 2).sum() / dof)
            if best and cost >= best["cost"]:
                break
            best = {"c": coef[:n], "model": model, "normal": a, "cost": cost, "r": r, "dof": dof}
            if fixed or not coef[:n].any() or not left:
                break
            r = self.response(columns @ coef[:n])
        if self.tied:
            best["c"] = np.r_[np.repeat(best["c"][0], self.tied), best["c"][1:]]
        return best


def scaled_inverse(a: np.ndarray) -> np.ndarray:
    """The inverse of ``a`` as :func:`nonnegative_normal` scales it (unit diagonal, a tiny
    ridge), for a block that many problems share."""
    scale = np.sqrt(np.maximum(np.diag(a), 1e-300))
    return _spd_inverse(a / np.outer(scale, scale) + RIDGE * np.eye(len(a)))


def _spd_inverse(a: np.ndarray) -> np.ndarray:
    """The inverse of a symmetric positive definite matrix, through its Cholesky factor."""
    from scipy.linalg import cho_factor, cho_solve

    return cho_solve(cho_factor(a, check_finite=False), np.eye(len(a)), check_finite=False)


def nonnegative_normal(
    a: np.ndarray, g: np.ndarray, n_pos: int, tail_inverse: np.ndarray | None = None
) -> np.ndarray:
    """Minimise ``b^T a b / 2 - g^T b`` (least squares through its normal equations) with
    ``b[:n_pos] >= 0`` and the rest free.

    The free coefficients are eliminated exactly (Schur complement), which leaves a
    nonnegative least-squares problem in the first ``n_pos``: with ``S = L L^T`` its
    Cholesky factor, ``min |L^T b - L^-1 h|`` over ``b >= 0``, solved by Lawson-Hanson
    (``scipy.optimize.nnls``). Columns are scaled to unit norm first, with a tiny ridge for
    those the data do not constrain. ``tail_inverse`` (:func:`scaled_inverse` of a trailing
    block of free coefficients that many problems share) spares its factorisation; the
    leading coefficients are then all nonnegative (``n_pos`` their number) or all free
    (``n_pos`` 0)."""
    scale = np.sqrt(np.maximum(np.diag(a), 1e-300))
    a = a / np.outer(scale, scale) + RIDGE * np.eye(len(a))
    g = g / scale
    n_tail = len(a) - n_pos if tail_inverse is None else len(tail_inverse)
    head, tail = slice(0, len(a) - n_tail), slice(len(a) - n_tail, len(a))
    if tail_inverse is not None and n_pos not in (0, head.stop):
        raise ValueError("with a tail inverse the leading coefficients are all held or all free")
    if not n_tail:
        return _nonnegative_head(a, g, n_pos) / scale
    if tail_inverse is None:
        tail_inverse = _spd_inverse(a[tail, tail])
    # x = a_tt^-1 [a_th, g_t]: the tail's coefficients are x[:, -1] - x[:, :-1] @ b_head
    x = tail_inverse @ np.column_stack([a[tail, head], g[tail]])
    b = np.zeros(len(a))
    if head.stop:
        eliminated = a[head, tail] @ x
        b[head] = _nonnegative_head(
            a[head, head] - eliminated[:, :-1], g[head] - eliminated[:, -1], n_pos
        )
    b[tail] = x[:, -1] - x[:, :-1] @ b[head]
    return b / scale


def _nonnegative_head(s_mat: np.ndarray, h: np.ndarray, n_pos: int) -> np.ndarray:
    """``S b = h`` with every ``b >= 0`` (``n_pos`` = its length) or every ``b`` free (0)."""
    from scipy.linalg import solve_triangular
    from scipy.optimize import nnls

    if not n_pos:
        return np.linalg.solve(s_mat, h)
    low = np.linalg.cholesky(s_mat + 1e-12 * np.eye(n_pos))
    rhs = solve_triangular(low, h, lower=True, check_finite=False)
    return nnls(low.T, rhs, maxiter=50 * n_pos)[0]


def _fit_pixels(spec: Spectrum) -> tuple[np.ndarray, np.ndarray, list[slice]]:
    """The pixels the fit uses: finite ones, on segments found on the whole axis (a masked
    saturated line must not cut a spectrometer in two), dead stretches (no spread at all)
    left out, and the segments re-indexed onto what is kept."""
    from spectral.measured import segments

    finite = np.isfinite(spec.intensity)
    wl, y = spec.wavelength[finite], np.asarray(spec.intensity, dtype=np.float64)[finite]
    kept = [sl for sl in segments(wl) if np.ptp(y[sl]) > 0]
    if not kept:
        raise UserError(f"{spec.source or 'the spectrum'} has no stretch of evenly spaced pixels")
    idx = np.concatenate([np.arange(sl.start, sl.stop) for sl in kept])
    bounds = np.cumsum([0] + [sl.stop - sl.start for sl in kept])
    return wl[idx], y[idx], [slice(int(a), int(b)) for a, b in itertools.pairwise(bounds)]


def no_lines(source: str, elements: Sequence[str], wl: np.ndarray) -> UserError:
    """The one-line refusal of a spectrum (file ``source``, axis ``wl``) in which none of
    ``elements`` has a line."""
    return UserError(
        f"{source or 'the spectrum'}: no line of {', '.join(elements)} falls in "
        f"{wl[0]:.0f}-{wl[-1]:.0f} nm; give elements whose lines the spectrum covers"
    )


def _one_blas_thread(fit):
    """Run ``fit`` with BLAS on one thread: its products are a few thousand pixels by a
    few tens of columns, where more threads cost more than they give and their spinning
    competes with torch's threads (a 4001-pixel steel spectrum took 5.8 s with two BLAS
    threads on two cores, 3.1 s with one)."""

    @functools.wraps(fit)
    def one_thread(*args, **kwargs):
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=1, user_api="blas"):
            return fit(*args, **kwargs)

    return one_thread


@_one_blas_thread
def fit_cflibs(
    spec: Spectrum,
    elements: Sequence[str],
    nuisance: Sequence[str] = (),
    frame: str = "auto",
    instrument: dict[str, Any] | None = None,
    stark: bool = True,
    zones: int | str = 1,
    composition: dict[str, float] | None = None,
) -> CFResult:
    """Fit the model of the module docstring to a measured spectrum; composition over
    ``elements`` (``nuisance`` species are fitted and reported apart). With ``instrument``
    (from :func:`calibrate_instrument`), its response and widths are used as they are, with
    Gaussian profiles (the widths, fitted so, hold the reference's Stark widths), and
    its air/vacuum frame unless ``frame`` says otherwise; a segment outside the calibrated
    range takes the nearest calibrated segment's. ``stark`` False keeps to Gaussian line
    profiles (no Stark widths). ``zones``: 1 (default), 2 (a second plasma zone is tried
    and kept where it lowers the cost) or ``auto`` (tried only where one zone's cost is
    above :data:`MODEL_OK_COST`). ``composition`` (wt %, elements left out are absent)
    holds the contents at a known composition: the elements share one amplitude in its
    proportions, the plasma, the instrument and the ambient gas are fitted as usual, and
    the cost says how well that composition explains the spectrum
    (:func:`calibrate_instrument`)."""
    from spectral.measured import calibrate_spectrum

    if isinstance(zones, bool) or zones not in (1, 2, "auto"):
        raise ValueError(f"zones must be 1, 2 or 'auto', not {zones!r}")
    elements = list(dict.fromkeys(elements))
    species = tuple(dict.fromkeys([*elements, *nuisance]))
    if instrument is not None:
        require_instrument(instrument, spec)
    frame = instrument_frame(instrument, frame)
    spec, axis = calibrate_spectrum(spec, frame, candidates=list(elements))
    wl, y, slices = _fit_pixels(spec)
    if instrument is not None:
        fwhm = instrument_widths_on(instrument, wl, slices)
    else:
        found = [peak_fwhm(wl[sl], y[sl]) for sl in slices]
        fwhm = fill_widths(found)
    lines = LineModel(wl, slices, fwhm, species)
    if not lines.present[: len(elements)].any():
        raise no_lines(spec.source, elements, wl)
    prob = _problem(lines, y, instrument, composition, len(elements))

    def cost(p: np.ndarray) -> float:
        basis, _ = lines.basis(float(p[0]), float(np.exp(p[1])))
        return float(prob.fit(basis, rounds=2)["cost"])

    grid = [(t, np.log(ne)) for t in START_T_K for ne in START_NE_CM3]
    start = min(grid, key=lambda p: cost(np.array(p)))
    correction = _correct_axis(lines, prob, start[0], float(np.exp(start[1])))
    # a calibrated instrument's widths are kept as they are (and its profiles Gaussian)
    own = [n >= MIN_WIDTH_PEAKS for _, n in found] if instrument is None else [False] * len(fwhm)
    scales = WIDTH_SCALES if instrument is None else (1.0,)
    # a calibrated instrument's widths already hold its reference's Stark widths
    voigt = stark and instrument is None
    profiles = ((0.0,), STARK_SCALES) if voigt else ((0.0,),)
    wings = WINGS if voigt else (0.0,)
    fwhm, opt = _widths_and_plasma(lines, fwhm, own, cost, np.array(start), scales, profiles, wings)
    t_k, ne = float(opt.x[0]), float(np.exp(opt.x[1]))
    one_zone = float(opt.fun)
    if zones == 2 or (zones == "auto" and one_zone > MODEL_OK_COST):
        _second_zone(lines, cost, t_k, ne)
    # the widths are chosen again under self-absorption, in the family the thin fit chose
    again = [lines.stark_scale, *(s for s in STARK_SCALES if s != lines.stark_scale)]
    refit = (own, again if lines.stark_scale > 0 else [0.0]) if instrument is None else None
    # the saturated lines' widening: not with Gaussian profiles asked for (stark False),
    # nor with a calibrated instrument (its response was learned without it)
    widen = stark and instrument is None
    t_k, ne, length, escape, thin_cost = _self_absorption(lines, prob, t_k, ne, refit, widen)
    fwhm = list(lines.fwhm)
    res = _result(spec, lines.wl, y, lines, prob, (t_k, ne, escape), fwhm, len(elements))
    res.thin_cost, res.length_m, res.axis_correction = thin_cost, length, correction
    res.one_zone_cost, res.second_zone = one_zone, lines.second_zone
    res.stark_scale, res.wings, res.saturation = lines.stark_scale, lines.wings, lines.saturation
    res.frame, res.frame_decided = axis.frame, axis.decided
    res.lines_frame = axis.lines_frame
    res.slices = slices
    return res


@dataclass(frozen=True)
class Selection:
    """What :func:`select_elements` finds: the elements (nuisance species left out), and
    the path of the selection, each species it took (nuisance ones included) with the share
    of the fit cost left before it that it removed, in the order taken (the first: of the
    baseline's alone; the shares do not add up); the best candidate it refused and that
    share (None when none was left); the plasma of the last step and the final cost."""

    elements: tuple[str, ...]
    path: tuple[tuple[str, float], ...]
    refused: tuple[str, float] | None
    temperature_k: float
    ne_cm3: float
    cost: float


@_one_blas_thread
def select_elements(
    spec: Spectrum,
    candidates: Sequence[str] | None = None,
    nuisance: Sequence[str] = (),
    min_drop: float = SELECT_MIN_DROP,
    instrument: dict[str, Any] | None = None,
) -> Selection:
    """The elements present in an air-calibrated spectrum, by forward selection with the
    LTE model: one species at a time, the candidate whose column lowers the fit cost most,
    while it lowers it by at least ``min_drop`` of the cost (at first, the cost of the
    baseline alone: a spectrum without lines gives none). The contents, response and
    baseline are fitted as in :func:`fit_cflibs`, with Gaussian profiles of the measured
    widths, optically thin; each step tries every candidate at the plasma of the last
    step and its :data:`SELECT_SHORTLIST` best over the whole starting grid.

    Elements are judged together, not one by one: a line shared by two elements goes to
    the one whose other lines agree, so a heavy element with thousands of lines (W, Hf,
    Ta), which lands a few on any peaks by chance, is taken only when its lines explain
    what the others leave. The ``nuisance`` species (the ambient gas) compete like the
    others and are left out of the result: taken first, their many lines would soak up
    a metal's before it is tried. The candidates are the :data:`SELECT_POOL` best that
    :func:`spectral.identify.identify` ranks with a positive line score (default: its
    candidates). The share is scale-free: on a measured spectrum the cost is set by the
    major elements' misfit (NIST transition probabilities, self-absorption), and a minor
    element's lines lower it by about a percent. With ``instrument``
    (:func:`calibrate_instrument`), its widths and response are used, as in
    :func:`fit_cflibs`."""
    from spectral.identify import identify

    gases = list(dict.fromkeys(nuisance))
    ranked = identify(spec.wavelength, spec.intensity, candidates)
    pool = [m.element for m in ranked if m.line_score > 0 and m.element not in gases]
    pool = pool[:SELECT_POOL]
    if not pool:
        return Selection((), (), None, float("nan"), float("nan"), float("nan"))
    wl, y, slices = _fit_pixels(spec)
    if instrument is None:
        widths = instrument_widths(wl, y, slices)
    else:
        require_instrument(instrument, spec)
        widths = instrument_widths_on(instrument, wl, slices)
    lines = LineModel(wl, slices, widths, [*pool, *gases])
    prob = _problem(lines, y, instrument, None, 0)
    bases: dict[tuple[float, float], np.ndarray] = {}

    def cost(columns: list[int], plasma: tuple[float, float]) -> float:
        if plasma not in bases:
            bases[plasma] = lines.basis(*plasma)[0]
        return float(prob.fit(bases[plasma][:, columns], rounds=2)["cost"])

    grid = [(t, ne) for t in START_T_K for ne in START_NE_CM3]
    left = list(np.flatnonzero(lines.present))
    taken: list[int] = []
    plasma, current = grid[0], cost([], grid[0])  # the baseline alone
    path: list[tuple[str, float]] = []
    refused = None
    while left:
        trials = {i: (cost([*taken, i], plasma), plasma) for i in left}
        # an element may fit only at another plasma (its stage, its excitation): the
        # shortlist is tried over the whole grid (the best is always among it)
        for i in sorted(left, key=trials.__getitem__)[:SELECT_SHORTLIST]:
            trials[i] = min((cost([*taken, i], p), p) for p in grid)
        best = min(trials, key=trials.__getitem__)
        drop = 1.0 - trials[best][0] / current
        if drop < min_drop:
            refused = (lines.elements[best], drop)
            break
        taken.append(best)
        left.remove(best)
        path.append((lines.elements[best], drop))
        current, plasma = trials[best]
    elements = tuple(e for e, _ in path if e not in gases)
    return Selection(elements, tuple(path), refused, *plasma, current)


@_one_blas_thread
def explained_share(
    wl: np.ndarray, spectra: np.ndarray, elements: Sequence[str], fwhm_nm: float
) -> np.ndarray:
    """Per spectrum (the rows of ``spectra``, on the one evenly spread axis ``wl``): the
    share of its line signal that the lines of ``elements`` explain, ``1 - c / c_0``, with
    ``c`` the cost of the fit of those elements (contents, response and baseline as in
    :func:`fit_cflibs`, Gaussian profiles of ``fwhm_nm``, optically thin, the lowest over
    :data:`SHARE_T_K` at 1e17 cm^-3) and ``c_0`` that of the baseline alone.

    It asks whether a spectrum is made of those elements at all, not what their contents
    are: a steel's lines are mostly Fe, Cr, Ni, Mo and Mn lines, a basalt's are not, and
    no composition of the steel elements changes that."""
    slices = [slice(0, len(wl))]
    lines = LineModel(wl, slices, [fwhm_nm], elements)
    bases = [lines.basis(t_k, 1e17)[0] for t_k in SHARE_T_K]
    out = np.zeros(len(spectra))
    for k, y in enumerate(np.asarray(spectra, dtype=np.float64)):
        if not np.ptp(y) > 0:  # a flat spectrum has no line signal to explain: share 0
            continue
        prob = _problem(lines, y, None, None, 0)
        alone = prob.fit(np.zeros((len(wl), 0)))["cost"]
        if alone > 0:
            out[k] = 1.0 - min(prob.fit(b)["cost"] for b in bases) / alone
    return out


@_one_blas_thread
def held_cost_ratio(
    wl: np.ndarray,
    spectra: np.ndarray,
    elements: Sequence[str],
    fwhm_nm: float,
    wt_pct: np.ndarray,
) -> np.ndarray:
    """Per spectrum (rows of ``spectra`` on the evenly spread axis ``wl``): how much worse
    the lines are fitted with the contents held at a reading (``wt_pct``, one row per
    spectrum over ``elements``) than with free contents, as the ratio of the two costs
    (each the lowest over :data:`READING_T_K` at 1e17 cm^-3; the model of
    :func:`explained_share`, whose response and baseline are free in both). About 1 or
    more: the free contents include the held ones (the alternating fit of contents and
    response can end a little apart, 0.999 on a brass); NaN where the reading has no
    content.

    It asks whether a reading is a composition of those elements that the spectrum's
    lines allow, not whether it is the best one: the model is too coarse to rank steels
    that differ by a few wt % (on simulated steels a wrong steel's reading costs about as
    much as the right one), but where the elements' lines make up the spectrum
    (:func:`explained_share`), an element read at 15 wt % whose lines are not there, or one
    read absent whose lines are, raises the cost by a quarter or more."""
    slices = [slice(0, len(wl))]
    lines = LineModel(wl, slices, [fwhm_nm], elements)
    free_bases = [lines.basis(t_k, 1e17)[0] for t_k in READING_T_K]
    out = np.full(len(spectra), np.nan)
    for k, (y, wt) in enumerate(zip(np.asarray(spectra, float), wt_pct, strict=True)):
        reading = {e: float(w) for e, w in zip(elements, wt, strict=True) if w > 0}
        if not reading:
            continue
        prob = _problem(lines, y, None, reading, len(elements))  # the reading held
        held = min(prob.fit(lines.basis(t_k, 1e17)[0])["cost"] for t_k in READING_T_K)
        prob.tied = 0  # and free
        free = min(prob.fit(b)["cost"] for b in free_bases)
        out[k] = held / free if free > 0 else np.nan
    return out


def _problem(
    lines: LineModel,
    y: np.ndarray,
    instrument: dict[str, Any] | None,
    composition: dict[str, float] | None,
    n_main: int,
) -> _Problem:
    """The linear problem on the line model's pixels, with what the fit holds: a calibrated
    instrument's response, and a known composition's shares (set in the line model and the
    problem together: the held columns share one amplitude)."""
    prob = _Problem(lines.wl, y, lines.slices, valid=~saturated(y))
    if instrument is not None:
        prob.fixed_response = instrument_response(instrument, lines.wl, lines.slices)
    if composition is not None:
        lines.held = held_shares(composition, lines.elements[:n_main], lines.plasma.mass)
        prob.tied = len(lines.held)
    return prob


def held_shares(
    composition: dict[str, float], elements: Sequence[str], mass: np.ndarray
) -> np.ndarray:
    """Number-density shares of ``elements`` (summing to 1) in a composition given in wt %
    (``mass``: the elements' atomic masses, in their order)."""
    unknown = sorted(set(composition) - set(elements))
    if unknown:
        raise ValueError(f"the composition holds {', '.join(unknown)}, not among the elements")
    wt = np.array([max(float(composition.get(e, 0.0)), 0.0) for e in elements])
    if not wt.sum() > 0:
        raise ValueError("the composition has no positive content")
    moles = wt / np.asarray(mass[: len(elements)], dtype=float)
    return moles / moles.sum()


def _widths_and_plasma(
    lines: LineModel,
    fwhm: list[float],
    own: list[bool],
    cost,
    start: np.ndarray,
    width_scales: Sequence[float] = WIDTH_SCALES,
    profiles: Sequence[Sequence[float]] = ((0.0,), STARK_SCALES),
    wings: Sequence[float] = (0.0,),
):
    """The line profiles and the plasma ``(T, log n_e)`` of the lowest cost, from the
    measured widths and a starting plasma. Each kind of profile in ``profiles`` (its Stark
    multiples for :func:`_best_widths`: Gaussian, and Voigt with :data:`STARK_SCALES`) gets
    the widths of :func:`_best_widths` at ``start`` and half a :func:`_polish` from there,
    since the lower cost at the start does not always stay lower; the better one gets the
    other half, where a plasma at a bound of the search counts as worse than one within
    them (:func:`_at_bound`: on a self-absorbed basalt simulated with Voigt profiles, the
    optically thin Gaussian arm with wings won by 1 % with n_e at its upper bound, and the
    fit then read Fe 32 wt % for 20). The line model keeps the winner."""
    if len(profiles) == 1:
        widths, _ = _best_widths(
            lines, fwhm, lambda: cost(start), own, profiles[0], width_scales, wings
        )
        return widths, _polish(cost, start, POLISH_EVALUATIONS)
    arms = []
    for scales in profiles:
        widths, _ = _best_widths(lines, fwhm, lambda: cost(start), own, scales, width_scales, wings)
        polished = _polish(cost, start, POLISH_EVALUATIONS // 2)
        arms.append((polished, widths, lines.stark_scale, lines.wings))
    opt, widths, stark, wing = min(arms, key=lambda arm: (_at_bound(arm[0].x), arm[0].fun))
    lines.set_widths(widths, stark, wing)
    return widths, _polish(cost, opt.x, POLISH_EVALUATIONS - POLISH_EVALUATIONS // 2)


def _near_bound(x: float, bounds: tuple[float, float], margin: float) -> bool:
    """Whether ``x`` lies within ``margin`` (a share of the bound) of either of ``bounds``."""
    return not bounds[0] * (1 + margin) < x < bounds[1] * (1 - margin)


def _at_bound(p: np.ndarray) -> bool:
    """Whether a plasma ``(T, log n_e)`` sits at a bound of the search (within 0.5 %)."""
    return _near_bound(float(p[0]), T_BOUNDS_K, 0.005) or _near_bound(
        float(np.exp(p[1])), NE_BOUNDS_CM3, 0.005
    )


def _second_zone(lines: LineModel, cost, t_k: float, ne: float) -> None:
    """Try a second plasma zone at the fitted ``(T, n_e)``: the same atoms and electron
    density at another temperature ``T2``, ``f`` times as many along the line of sight (a
    plume's cooler rim, or its hotter core). ``T2`` from :data:`ZONE_T_RATIOS` times ``T``
    and ``f`` from :data:`ZONE_WEIGHTS`, then a Nelder-Mead polish of ``(T2, log f)``; the
    line model keeps the zone only where it lowers the cost of this optically thin fit
    (self-absorption, which comes next, is computed for the first zone's plasma only, so
    the final cost can end a little higher)."""
    one = cost(np.array([t_k, np.log(ne)]))
    point = np.array([t_k, np.log(ne)])

    def with_zone(p: np.ndarray) -> float:
        lines.second_zone = (float(np.clip(p[0], *T_BOUNDS_K)), float(np.exp(p[1])))
        return cost(point)

    grid = [
        (float(np.clip(r * t_k, *T_BOUNDS_K)), np.log(f))
        for r in ZONE_T_RATIOS
        for f in ZONE_WEIGHTS
    ]
    start = np.array(min(grid, key=lambda p: with_zone(np.array(p))))
    weights = (np.log(ZONE_WEIGHTS[0]) - 2, np.log(ZONE_WEIGHTS[-1]) + 2)
    opt = _polish(with_zone, start, ZONE_EVALUATIONS, [T_BOUNDS_K, weights])
    lines.second_zone = None
    if opt.fun < one:
        lines.second_zone = (float(np.clip(opt.x[0], *T_BOUNDS_K)), float(np.exp(opt.x[1])))


def _polish(cost, start: np.ndarray, evaluations: int, bounds=None):
    """Nelder-Mead on a temperature and a log from ``start`` within ``bounds`` (default:
    those of ``(T, log n_e)``)."""
    from scipy.optimize import minimize

    bounds = bounds or [T_BOUNDS_K, tuple(np.log(NE_BOUNDS_CM3))]
    return minimize(
        cost, start, method="Nelder-Mead", bounds=bounds,
        options={"maxfev": evaluations, "xatol": 1e-3, "fatol": 1e-3, "initial_simplex": [
            start, (start[0] * 1.1, start[1]), (start[0], start[1] + 0.5)]},
    )  # fmt: skip


def axis_correction(
    wl: np.ndarray, y: np.ndarray, model: np.ndarray, w: np.ndarray, slices: Sequence[slice]
) -> tuple[np.ndarray, list[tuple[float, float]]]:
    """The shift (nm, per pixel) of the data from a fitted model, as a straight line along
    each segment: an offset and a dispersion error that the line positions alone fix too
    loosely, measured with every line the model holds.

    In each :data:`SHIFT_WINDOW_NM` window, one Gauss-Newton step for a data shifted by
    ``s`` (``y(lambda) ~ m(lambda - s) ~ m - s m'``): ``s = -sum w r m' / sum w m'^2``,
    with ``I = sum w m'^2`` its information; a window's shift is clipped to a pixel. A
    line ``s(lambda)`` weighted by ``I`` is then fitted to the windows of each segment
    (a constant where fewer than three carry lines), each window placed at its lines'
    information-weighted centre. The corrected (air) wavelengths are ``lambda - s``."""
    dm = np.zeros(len(wl))
    for sl in slices:  # never across the join of two spectrometers
        if sl.stop - sl.start > 1:
            dm[sl] = np.gradient(model[sl], wl[sl])
    wr, info = w * (y - model) * dm, w * dm * dm
    shift = np.zeros(len(wl))
    lines: list[tuple[float, float]] = []
    for sl in slices:
        x = wl[sl]
        step = float(np.median(np.diff(x)))
        win = ((x - x[0]) / SHIFT_WINDOW_NM).astype(int)
        n_win = int(win.max()) + 1
        i_k = np.bincount(win, info[sl], n_win)
        s_k = -np.bincount(win, wr[sl], n_win) / np.maximum(i_k, 1e-300)
        s_k = np.clip(s_k, -step, step)
        c_k = np.bincount(win, info[sl] * x, n_win) / np.maximum(i_k, 1e-300)
        use = i_k > 1e-6 * i_k.max() if i_k.max() > 0 else np.zeros(n_win, bool)
        centre = float(x.mean())
        if use.sum() >= 3:
            slope, off = np.polyfit(c_k[use] - centre, s_k[use], 1, w=np.sqrt(i_k[use]))
        elif use.any():
            slope, off = 0.0, float(np.average(s_k[use], weights=i_k[use]))
        else:
            slope, off = 0.0, 0.0
        shift[sl] = off + slope * (x - centre)
        lines.append((float(off), float(100 * slope)))
    return shift, lines


def coarse_offsets(
    wl: np.ndarray,
    lines_data: np.ndarray,
    lines_model: np.ndarray,
    w: np.ndarray,
    slices: Sequence[slice],
    reach_nm: float = COARSE_REACH_NM,
) -> np.ndarray:
    """The offset (nm) of each segment's data from the model, over whole pixels out to
    ``reach_nm`` and refined by a parabola: the shift at which the model's lines
    (``lines_model``: with the response, without the baseline), scaled, explain most of
    the data's (``lines_data``: the data less the model's baseline), in the weights ``w``.
    A matched filter over the whole segment, for offsets beyond the single pixel that the
    Gauss-Newton steps of :func:`axis_correction` can see: a segment whose lines the axis
    reading could not match (:mod:`spectral.measured`) can sit several pixels off."""
    out = np.zeros(len(slices))
    for i, sl in enumerate(slices):
        x, d, m, ws = wl[sl], lines_data[sl], lines_model[sl], w[sl]
        step = float(np.median(np.diff(x))) if len(x) > 1 else 0.0
        reach = int(reach_nm / step) if step > 0 else 0
        if reach < 1 or not np.any(m > 0):
            continue
        lags = np.arange(-reach, reach + 1)
        gain = np.full(len(lags), -np.inf)
        for j, lag in enumerate(lags):  # the data at x match the model at x - s
            ms = np.interp(x - lag * step, x, m, left=0.0, right=0.0)
            num, den = float((ws * d * ms).sum()), float((ws * ms * ms).sum())
            if den > 0:
                gain[j] = num * abs(num) / den  # the residual removed by the best scale
        k = int(np.argmax(gain))
        frac = 0.0
        if 0 < k < len(lags) - 1 and np.isfinite(gain[k - 1 : k + 2]).all():
            a, b, c = gain[k - 1 : k + 2]
            curve = a - 2 * b + c
            frac = 0.5 * (a - c) / curve if curve < 0 else 0.0
        out[i] = (lags[k] + frac) * step
    return out


def _segment_costs(prob: _Problem, model: np.ndarray, slices: Sequence[slice]) -> np.ndarray:
    """The weighted squared residual of each segment."""
    r2 = prob.w * (prob.y - model) ** 2
    return np.array([float(r2[sl].sum()) for sl in slices])


def _coarse_axis(
    lines: LineModel, prob: _Problem, plasma: tuple[float, float], basis: np.ndarray, fit: dict
) -> tuple[dict[str, Any], np.ndarray]:
    """Move each segment by its :func:`coarse_offsets` where that is a pixel or more; a
    segment whose own residual it raises is put back (and the rest tried again), and the
    whole is kept only where it lowers the cost. Returns the fit after it and the offsets
    applied (nm per segment); the line model keeps the axis."""
    lines_model = fit["r"] * (basis @ fit["c"])
    lines_data = prob.y - (fit["model"] - lines_model)
    found = coarse_offsets(lines.wl, lines_data, lines_model, prob.w, lines.slices)
    steps = np.array([np.median(np.diff(lines.wl[sl])) for sl in lines.slices])
    move = np.abs(found) >= steps
    if not move.any():
        return fit, np.zeros(len(found))
    before, costs = lines.wl, _segment_costs(prob, fit["model"], lines.slices)
    while move.any():
        shift = np.zeros(len(before))
        for sl, s, m in zip(lines.slices, found, move, strict=True):
            shift[sl] = s if m else 0.0
        lines.set_axis(before - shift)
        trial = prob.fit(lines.basis(*plasma)[0], rounds=2)
        worse = move & (_segment_costs(prob, trial["model"], lines.slices) > costs)
        if not worse.any():
            if trial["cost"] < fit["cost"]:
                return trial, np.where(move, found, 0.0)
            break
        move &= ~worse
    lines.set_axis(before)
    return fit, np.zeros(len(found))


def _correct_axis(
    lines: LineModel, prob: _Problem, t_k: float, ne: float
) -> list[tuple[float, float]]:
    """Each segment's offset beyond a pixel (:func:`_coarse_axis`), then up to two rounds
    of :func:`axis_correction` at the plasma ``(T, n_e)``; the line model keeps the
    corrected axis. A round is applied only where its shift reaches :data:`MIN_SHIFT_PX`
    of a pixel somewhere (a simulated spectrum or a well calibrated file is left as it is)
    and kept only where it lowers the cost."""
    steps = np.concatenate([np.full(sl.stop - sl.start, np.median(np.diff(lines.wl[sl])))
                            for sl in lines.slices])  # fmt: skip
    basis = lines.basis(t_k, ne)[0]
    fit, coarse = _coarse_axis(lines, prob, (t_k, ne), basis, prob.fit(basis, rounds=2))
    total = [(float(c), 0.0) for c in coarse]
    for _ in range(2):
        shift, found = axis_correction(lines.wl, prob.y, fit["model"], prob.w, lines.slices)
        if not np.any(np.abs(shift) > MIN_SHIFT_PX * steps):
            break
        before = lines.wl
        lines.set_axis(before - shift)
        trial = prob.fit(lines.basis(t_k, ne)[0], rounds=2)
        if trial["cost"] >= fit["cost"]:
            lines.set_axis(before)
            break
        fit = trial
        total = [(a + c, b + d) for (a, b), (c, d) in zip(total, found, strict=True)]
    return total


def _best_widths(
    lines: LineModel,
    fwhm: list[float],
    cost,
    own: list[bool],
    stark_scales: Sequence[float] = (0.0,),
    width_scales: Sequence[float] = WIDTH_SCALES,
    wings: Sequence[float] = (0.0,),
) -> tuple[list[float], float]:
    """The line widths with the lowest cost, and that cost, by coordinates: one multiple of
    all the given widths (``width_scales``) at the first of ``stark_scales`` (multiples
    of the lines' Stark widths, 0 for Gaussian profiles), then the other Stark multiples,
    then, in a stitched file, each segment's own multiple on top (segments with enough
    peaks of their own, :data:`MIN_WIDTH_PEAKS`), since each spectrometer has its own
    resolution. The line model keeps them."""
    best, best_stark, best_cost = fwhm, stark_scales[0], float("inf")
    lines.wings = wings[0]  # the trials below build the profiles
    trials = [(stark_scales[0], k) for k in width_scales] + [(x, None) for x in stark_scales[1:]]
    for stark, k in trials:
        trial = [k * w for w in fwhm] if k is not None else best
        lines.set_widths(trial, stark)
        c = cost()
        if c < best_cost:
            best, best_stark, best_cost = trial, stark, c
    best_wings = wings[0]
    for x in wings[1:]:  # the instrument function's wings, at the best widths so far
        lines.set_widths(best, best_stark, x)
        c = cost()
        if c < best_cost:
            best_wings, best_cost = x, c
    lines.set_widths(best, best_stark, best_wings)
    for i in range(len(best) if len(best) > 1 else 0):
        if not own[i]:
            continue
        for k in (k for k in WIDTH_SCALES if k != 1.0):
            trial = [w * (k if j == i else 1.0) for j, w in enumerate(best)]
            lines.set_widths(trial)
            c = cost()
            if c < best_cost:
                best, best_cost = trial, c
    lines.set_widths(best)
    return best, best_cost


def _self_absorption(
    lines: LineModel,
    prob: _Problem,
    t_k: float,
    ne: float,
    widths: tuple[list[bool], Sequence[float]] | None = None,
    widen: bool = False,
) -> tuple[float, float, float, np.ndarray | None, float]:
    """The self-absorbed plasma of lowest cost, ``(T, n_e, length, escape factors, thin
    cost)``: length 0 and no escape factors (optically thin) where no length of
    :data:`LENGTHS_M` lowers the cost of the thin fit at ``(T, n_e)``. With ``widen``, the
    saturated lines' widening is tried at the length kept (:func:`_try_saturation`).

    The escape factors depend on the composition, which depends on them, and on the plasma,
    which the optically thin fit chose without them. Strong lines darkened by self-absorption
    pull a thin fit's plasma far off (on a simulated basalt with 1 mm of plasma, the thin
    fit put n_e at its upper bound), so each length gets its own plasma
    (:func:`_polished_length`). The cost of a length so polished has had a single minimum
    along :data:`LENGTHS_M` on every spectrum looked at (two simulated, fourteen measured),
    so the search walks down from :data:`START_LENGTH_M` to the nearest minimum: three
    polishes where all five lengths would take five. With ``widths`` (each segment's right
    to a width of its own, and the Stark multiples to try), the line widths of the length
    kept are chosen again under its self-absorption, and its plasma polished once more."""
    basis, peak = lines.basis(t_k, ne)
    thin_fit = prob.fit(basis)
    thin, thin_densities = float(thin_fit["cost"]), np.asarray(thin_fit["c"]) / peak
    polished: dict[int, tuple[float, float, float, np.ndarray]] = {}

    def cost_at(i: int) -> float:
        if i not in polished:
            plasma = (t_k, ne)
            polished[i] = _polished_length(lines, prob, plasma, LENGTHS_M[i], thin_densities)
        return polished[i][0]

    i = LENGTHS_M.index(START_LENGTH_M)
    for step in (-1, 1):
        while 0 <= i + step < len(LENGTHS_M) and cost_at(i + step) < cost_at(i):
            i += step
    cost, t, n, x = polished[i]
    if not cost < thin:
        return t_k, ne, 0.0, None, thin
    length = LENGTHS_M[i]
    if widen:
        t, n, x = _try_saturation(lines, prob, (cost, t, n, x), length, (t_k, ne), thin_densities)
    if widths is not None:
        own, stark_scales = widths
        absorbed = _absorbed_cost(lines, prob, x, length)
        _best_widths(
            lines,
            lines.fwhm,
            lambda: absorbed(np.array([t, np.log(n)])),
            own,
            stark_scales,
            wings=(lines.wings,),  # the thin fit's wings kept
        )
        t, n = _absorbed_polish(lines, prob, (t, n), x, length)
    _, _, escape = _absorbed(lines, prob, (t, n), length, x)
    return t, n, length, escape, thin


def _try_saturation(
    lines: LineModel,
    prob: _Problem,
    kept: tuple[float, float, float, np.ndarray],
    length_m: float,
    thin_plasma: tuple[float, float],
    thin_densities: np.ndarray,
) -> tuple[float, float, np.ndarray]:
    """The plasma and densities ``(T, n_e, densities)`` of ``kept`` (``(cost, T, n_e,
    densities)`` of the self-absorbed fit over ``length_m``), or of the same length polished
    from the optically thin fit's plasma with every saturated line widened
    (:attr:`LineModel.saturation`, all or none), whichever costs less; the line model keeps
    the choice. Tried only where :func:`_saturated_share` reaches :data:`SATURATED_SHARE`,
    since the polish takes a third of a second."""
    cost, t, n, x = kept
    if _saturated_share(lines, (t, n), length_m, x) < SATURATED_SHARE:
        return t, n, x
    lines.saturation = True
    widened = _polished_length(lines, prob, thin_plasma, length_m, thin_densities)
    if widened[0] < cost:
        return widened[1], widened[2], widened[3]
    lines.saturation = False
    return t, n, x


def _saturated_share(
    lines: LineModel, plasma: tuple[float, float], length_m: float, densities: np.ndarray
) -> float:
    """The share of the model's line emission, at ``plasma`` with these element
    ``densities`` over ``length_m``, in lines that saturation would widen more than
    :data:`SATURATED_FACTOR` times (:func:`spectral.plasma.saturation_broadening`)."""
    from spectral.plasma import saturation_broadening

    t_k, ne = plasma
    escape = lines.escape(densities / densities.sum(), t_k, ne, length_m)
    emission = lines.intensities(t_k, ne, escape) * densities[lines.el]
    total = float(emission.sum())
    wide = saturation_broadening(escape) > SATURATED_FACTOR
    return float(emission[wide].sum()) / total if total > 0 else 0.0


def _polished_length(
    lines: LineModel,
    prob: _Problem,
    plasma: tuple[float, float],
    length_m: float,
    densities: np.ndarray,
) -> tuple[float, float, float, np.ndarray]:
    """``(cost, T, n_e, densities)`` of the self-absorbed fit over ``length_m``: the fixed
    point of :func:`_absorbed` at ``plasma`` from the optically thin fit's ``densities``
    there, a Nelder-Mead polish of ``(T, n_e)`` with that composition's escape factors
    (:func:`_absorbed_cost`), and the fixed point again there (cost infinite where no
    element is left)."""
    _, x, _ = _absorbed(lines, prob, plasma, length_m, densities)
    if x.sum() <= 0:
        return float("inf"), *plasma, x
    t, n = _absorbed_polish(lines, prob, plasma, x, length_m)
    fit, x, _ = _absorbed(lines, prob, (t, n), length_m, x)
    return float(fit["cost"]), t, n, x


def _absorbed(
    lines: LineModel,
    prob: _Problem,
    plasma: tuple[float, float],
    length_m: float,
    densities: np.ndarray,
) -> tuple[dict[str, Any], np.ndarray, np.ndarray | None]:
    """The fit at ``plasma = (T, n_e)`` with self-absorption over ``length_m``, from the
    ``densities`` of a fit before it: :data:`SA_ITERATIONS` rounds of escape factors from
    the densities and densities from the escape factors. Returns the last fit, its
    densities (per element, arbitrary units) and the escape factors it used (the optically
    thin fit and None where no element is left)."""
    t_k, ne = plasma
    fit, escape = None, None
    for _ in range(SA_ITERATIONS):
        if densities.sum() <= 0:
            break
        escape = lines.escape(densities / densities.sum(), t_k, ne, length_m)
        basis, peak = lines.basis(t_k, ne, escape)
        fit = prob.fit(basis)
        densities = np.asarray(fit["c"]) / peak
    return fit if fit is not None else prob.fit(lines.basis(t_k, ne)[0]), densities, escape


def _absorbed_cost(lines: LineModel, prob: _Problem, densities: np.ndarray, length_m: float):
    """The cost at a plasma ``p = (T, log n_e)``, each line's escape factor computed there
    for the composition of ``densities`` (held) over ``length_m``."""
    mole = densities / densities.sum()

    def cost(p: np.ndarray) -> float:
        t_k, ne = float(p[0]), float(np.exp(p[1]))
        escape = lines.escape(mole, t_k, ne, length_m)
        return float(prob.fit(lines.basis(t_k, ne, escape)[0], rounds=2)["cost"])

    return cost


def _absorbed_polish(
    lines: LineModel,
    prob: _Problem,
    plasma: tuple[float, float],
    densities: np.ndarray,
    length_m: float,
) -> tuple[float, float]:
    """``(T, n_e)`` polished from ``plasma`` under :func:`_absorbed_cost`."""
    cost = _absorbed_cost(lines, prob, densities, length_m)
    opt = _polish(cost, np.array([plasma[0], np.log(plasma[1])]), SA_EVALUATIONS)
    return float(opt.x[0]), float(np.exp(opt.x[1]))


def _result(
    spec: Spectrum,
    wl: np.ndarray,
    y: np.ndarray,
    lines: LineModel,
    prob: _Problem,
    plasma: tuple[float, float, np.ndarray | None],
    fwhm: list[float],
    n_main: int,
) -> CFResult:
    """The composition, its standard errors, the verdict and the readings by part
    (:func:`partial_readings`, none at a held composition) at the fitted plasma (``T``,
    ``n_e`` and the lines' escape factors)."""
    t_k, ne, escape = plasma
    basis, peak = lines.basis(t_k, ne, escape)
    fit = prob.fit(basis)
    c = np.asarray(fit["c"])
    mass = lines.plasma.mass / peak  # per unit of amplitude: density times atomic mass
    weight = c * mass
    total = weight[:n_main].sum()
    wt = 100 * weight[:n_main] / total if total > 0 else np.zeros(n_main)
    # a held composition is exact by construction
    sd = np.zeros(n_main) if prob.tied else _content_errors(fit, mass, n_main, total)
    # T only: with one element and Gaussian profiles, n_e is barely tied (through the
    # ionisation balance) and can rest at a bound of a fit that describes the spectrum
    at_bound = _near_bound(t_k, T_BOUNDS_K, 0.01)
    missing = () if prob.tied else unsupported(prob, basis, fit, wt, lines.elements[:n_main])
    nuis = {
        e: float(weight[i] / total * 100) if total > 0 else 0.0
        for i, e in enumerate(lines.elements[n_main:], start=n_main)
    }
    return CFResult(
        elements=lines.elements[:n_main],
        wt_pct=wt,
        sd_wt_pct=sd,
        temperature_k=t_k,
        ne_cm3=ne,
        fwhm_nm=fwhm,
        cost=float(fit["cost"]),
        model_ok=bool(
            float(fit["cost"]) <= MODEL_OK_COST and total > 0 and not at_bound and not missing
        ),
        unsupported=missing,
        wavelength=wl,
        intensity=y,
        model=np.asarray(fit["model"]),
        nuisance=nuis,
        response=np.asarray(fit["r"]),
        readings=None if prob.tied else partial_readings(lines, prob, plasma, fit["r"], n_main),
        labels=strongest_lines(
            lines, lines.intensities(t_k, ne, escape), c / peak, fit["r"], escape, ne
        ),
    )


def unsupported(
    prob: _Problem,
    basis: np.ndarray,
    fit: dict[str, Any],
    wt_pct: np.ndarray,
    elements: Sequence[str],
) -> tuple[str, ...]:
    """The elements read at :data:`SUPPORT_WT_PCT` or more whose lines the fit can do
    without: taken out of the basis (plasma, widths and escape factors kept, the other
    contents, response and baseline fitted again), the weighted squared residual rises by
    less than :data:`SUPPORT_CHI2`.

    A content is a number of atoms, so an element whose lines are few and weak for their
    atoms (At: two lines at 216 and 224 nm) can take a large share of the mass while its
    lines fit almost nothing. On the pure Fe spectrum of the Aalto library, ``--elements
    Fe,At`` read At 99.3 wt % at a cost of 1.24, under :data:`MODEL_OK_COST` (Fe alone:
    1.16); taking At's lines out raised the squared residual by -3 (the refit found a
    slightly better optimum), taking Fe's by 24,000."""
    chi2 = fit["cost"] * fit["dof"]
    out = []
    for i, e in enumerate(elements):
        if wt_pct[i] < SUPPORT_WT_PCT:
            continue
        without = prob.fit(np.delete(basis, i, axis=1))
        if without["cost"] * without["dof"] - chi2 < SUPPORT_CHI2:
            out.append(e)
    return tuple(out)


#: Lines labelled on a fit's plot, at least this share of the spectrum's span apart.
LABELS = 12
LABEL_GAP = 0.02


def _profile_tops(csc: Any, response: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The columns of a CSC matrix of profiles that reach a pixel, and the highest value of
    each (its profile times ``response``)."""
    reach = np.flatnonzero(np.diff(csc.indptr))
    if not len(reach):
        return reach, np.zeros(0)
    return reach, np.maximum.reduceat(csc.data * response[csc.indices], csc.indptr[reach])


def strongest_lines(
    lines: LineModel,
    inten: np.ndarray,
    density: np.ndarray,
    response: np.ndarray,
    escape: np.ndarray | None = None,
    ne_cm3: float = 1e17,
) -> list[tuple[float, str]]:
    """The :data:`LABELS` lines of the fit with the highest peaks that lie at least
    :data:`LABEL_GAP` of the span apart, ``(air wavelength, species)``, strongest first. A
    line's peak is its intensity (``inten``, per unit density) times its element's fitted
    density (per column of the basis), times the highest value of its profile and the
    response on the pixels it reaches, so a line is named where it, not a neighbour, makes
    the peak. Lines that saturation widens (``escape``, as :meth:`LineModel.columns`)
    count with their widened, lower peaks."""
    top = np.zeros(len(lines.centres))
    for e, a in enumerate(lines.blocks[:-1]):
        reach, tops = _profile_tops(lines.profiles_by_element[e], response)
        top[a + reach] = tops
    wide = lines._saturated(escape)
    if wide is not None:
        top[wide[0]] = 0.0
        reach, tops = _profile_tops(lines.widened_profiles(*wide, ne_cm3), response)
        top[wide[0][reach]] = tops
    height = np.maximum(density, 0.0)[lines.el] * inten * top
    gap = LABEL_GAP * float(np.ptp(lines.wl))
    placed: list[tuple[float, str]] = []
    for i in np.argsort(-height):
        if len(placed) >= LABELS or height[i] <= 0:
            break
        nm = float(lines.centres[i])
        if all(abs(nm - p) >= gap for p, _ in placed):
            element, stage = lines.elements[lines.el[i]], "I" * (lines.modelled[1][i] + 1)
            placed.append((nm, f"{element} {stage}"))
    return placed


def _content_errors(fit: dict, mass: np.ndarray, n_main: int, total: float) -> np.ndarray:
    """Standard errors (wt %) of the contents: the linear errors of the amplitudes at the
    solution (the inverse normal matrix, scaled by the cost), carried through
    ``wt_e = c_e m_e / sum c m`` (delta method). Amplitudes held at zero by their bound
    count as exact, and T, n_e, the response and the widths are held at their fitted values,
    so these are lower bounds where those trade off with the contents."""
    c, a = np.asarray(fit["c"]), np.asarray(fit["normal"])
    if total <= 0:
        return np.zeros(n_main)
    free = np.r_[c > 0, np.ones(len(a) - len(c), dtype=bool)]
    cov_f = np.linalg.pinv(a[np.ix_(free, free)]) * float(fit["cost"])
    cov = np.zeros((len(c), len(c)))
    idx = np.flatnonzero(c > 0)
    cov[np.ix_(idx, idx)] = cov_f[: len(idx), : len(idx)]
    m = mass[:n_main]
    cm = c[:n_main] * m
    jac = 100 * (np.diag(m) * total - np.outer(cm, m)) / total**2  # d wt_e / d c_k
    var = np.einsum("ek,kl,el->e", jac, cov[:n_main, :n_main], jac)
    return np.sqrt(np.maximum(var, 0.0))


#: A part of an element's lines (a stage, a segment) is read only where its profile sum
#: reaches this share of the element's whole column's maximum.
READING_MIN_SHARE = 1e-2


def partial_readings(
    lines: LineModel,
    prob: _Problem,
    plasma: tuple[float, float, np.ndarray | None],
    response: np.ndarray,
    n_main: int,
) -> PartialReadings:
    """The consistency check of a calibration-free fit: each element's content read from
    its neutral lines alone and from its ionic lines alone (their balance is Saha's at the
    fitted ``T`` and ``n_e``), and from each segment's pixels alone (each spectrometer of a
    stitched file, with its own response). Each part of every element (the nuisance species'
    too) gets an amplitude of its own in one linear fit, with the plasma, widths, escape
    factors and response held at the fit's (so that the amplitudes keep the whole fit's
    scale) and the baseline fitted again. Where the model describes the plasma, every part
    reads what the whole fit does and the split hardly lowers the cost; parts that disagree
    show which lines the composition is a compromise between. All NaN where the fit found
    none of the ``n_main`` elements."""
    t_k, ne, escape = plasma
    basis, peak = lines.basis(t_k, ne, escape)
    whole = prob.fit(basis, response=response)
    scale = lines.plasma.mass / peak  # wt per unit of amplitude, up to the total
    total = float((np.asarray(whole["c"]) * scale)[:n_main].sum())
    if not total > 0:
        nan = np.full((2 + len(prob.slices), n_main), np.nan)
        return PartialReadings(nan[:2], nan[2:], float("nan"), float("nan"))
    inten = lines.intensities(t_k, ne, escape)
    stage = lines.modelled[1]
    by_stage = [lines.columns(np.where(stage == s, inten, 0.0), escape, ne) / peak for s in (0, 1)]
    stage_wt, stage_cost = _parts_read(prob, by_stage, response, scale, total)
    if len(prob.slices) == 1:  # the one segment's reading is the whole fit's
        seg_wt = np.where(basis.max(0) >= READING_MIN_SHARE, whole["c"] * scale, np.nan)
        seg_wt, seg_cost = 100 * seg_wt[None] / total, float(whole["cost"])
    else:
        by_segment = []
        for sl in prob.slices:
            part = np.zeros_like(basis)
            part[sl] = basis[sl]
            by_segment.append(part)
        seg_wt, seg_cost = _parts_read(prob, by_segment, response, scale, total)
    return PartialReadings(stage_wt[:, :n_main], seg_wt[:, :n_main], stage_cost, seg_cost)


def _parts_read(
    prob: _Problem,
    parts: Sequence[np.ndarray],
    response: np.ndarray,
    scale: np.ndarray,
    total: float,
) -> tuple[np.ndarray, float]:
    """One fit with every column of every part (each (P, E), on the whole basis's scale) an
    amplitude of its own, the parts of less than :data:`READING_MIN_SHARE` left out: the
    readings (parts, E; wt % of ``total`` with ``scale`` the wt per unit of amplitude, NaN
    where left out) and the cost."""
    stacked = np.stack(parts)  # (K, P, E)
    kept = stacked.max(1) >= READING_MIN_SHARE  # (K, E)
    columns = stacked.transpose(1, 0, 2).reshape(stacked.shape[1], -1)[:, kept.reshape(-1)]
    fit = prob.fit(columns, response=response)
    wt = np.full(kept.shape, np.nan)
    wt[kept] = 100 * np.asarray(fit["c"]) * scale[np.nonzero(kept)[1]] / total
    return wt, float(fit["cost"])


#: A reference whose fitted content of any element differs from its stated one by more than
#: this (wt %) contradicts its composition.
CONTRADICTION_WT_PCT = 5.0
#: Points per segment at which the calibrated response is stored.
RESPONSE_POINTS = 400


def calibrate_instrument(
    spec: Spectrum,
    composition: dict[str, float],
    nuisance: Sequence[str] = (),
    frame: str = "auto",
) -> dict[str, Any]:
    """The instrument learned from a reference spectrum of known composition (wt %): the
    air/vacuum frame, each segment's instrument width and the spectral response (relative
    gains of the segments included), as a JSON-ready dict for ``fit_cflibs(instrument=)``.

    The reference is fitted with its own elements and Gaussian line profiles, whose widths
    then hold the reference's Stark widths: a response learned with Voigt profiles on one
    pure metal transferred worse to the other (the Aalto Fe and Ni spectra,
    ``benchmarks/spectral_real.py``). The fit is free first: a :class:`UserError` when the
    model does not describe the spectrum (``model_ok`` false: the lines are not those of
    the stated elements) or when a fitted content differs from the stated one by more than
    :data:`CONTRADICTION_WT_PCT`. The instrument is then learned with the contents held at
    the stated ones (for one element the two fits are the same), so that the response does
    not absorb the free fit's errors of composition; that fit, too, must be ``model_ok``."""
    els = list(composition)
    total = sum(composition.values())
    res = fit_cflibs(spec, els, nuisance, frame, stark=False)
    fitted = dict(zip(res.elements, res.wt_pct, strict=True))
    off = {e: fitted[e] - 100 * composition[e] / total for e in els}
    worst = max(off, key=lambda e: abs(off[e]))
    if not res.model_ok or abs(off[worst]) > CONTRADICTION_WT_PCT:
        _contradicts(
            spec, composition, f"fit cost {res.cost:.2f}, {worst} off by {off[worst]:+.1f} wt %"
        )
    free_cost = res.cost
    if len(els) > 1:
        res = fit_cflibs(spec, els, nuisance, frame, stark=False, composition=composition)
        if not res.model_ok:
            _contradicts(spec, composition, f"fit cost {res.cost:.2f} at that composition")
    return instrument_record(res, composition, spec.source) | {"fit_cost_free": free_cost}


def _contradicts(spec: Spectrum, composition: dict[str, float], why: str) -> NoReturn:
    raise UserError(
        f"{spec.source or 'the reference'} does not look like "
        f"{', '.join(f'{e} {v:g}' for e, v in composition.items())} wt % ({why}); check the "
        "file and --composition"
    )


def instrument_record(
    res: CFResult, composition: dict[str, float], reference: str | None
) -> dict[str, Any]:
    """The instrument of a fit to a reference spectrum (:func:`calibrate_instrument`), as
    a JSON-ready dict."""
    return {
        "kind": "eftgan-spectral-instrument",
        "reference": reference,
        "composition_wt_pct": composition,
        "wavelengths": res.frame,
        "segments": _segment_records(res),
        "fit_cost": res.cost,
        "temperature_k": res.temperature_k,
        "ne_cm3": res.ne_cm3,
    }


def _segment_records(res: CFResult) -> list[dict[str, Any]]:
    out = []
    assert res.response is not None
    for sl, w in zip(res.slices, res.fwhm_nm, strict=True):
        wl, r = res.wavelength[sl], res.response[sl]
        pick = np.linspace(0, len(wl) - 1, min(RESPONSE_POINTS, len(wl))).astype(int)
        out.append(
            {
                "lo_nm": float(wl[0]),
                "hi_nm": float(wl[-1]),
                "fwhm_nm": float(w),
                "response_wavelength_nm": [round(float(x), 4) for x in wl[pick]],
                "response": [float(x) for x in r[pick]],
            }
        )
    return out


def _instrument_segment(instrument: dict[str, Any], nm: float) -> dict[str, Any]:
    """The calibrated segment holding ``nm``, else the nearest one."""
    segs = instrument["segments"]
    return min(segs, key=lambda s: 0.0 if s["lo_nm"] <= nm <= s["hi_nm"] else min(
        abs(nm - s["lo_nm"]), abs(nm - s["hi_nm"])))  # fmt: skip


def instrument_mismatch(instrument: dict[str, Any], spec: Spectrum) -> str:
    """Why ``spec`` may not come from the spectrometer that ``instrument`` was learned on:
    a segment of it (a spectrometer, as the fit keeps it) of which no segment of the
    instrument holds nine tenths. The tenth to spare takes up dead pixels at a segment's
    end that one file keeps and another drops, and a frame or an offset; a file cut to a
    shorter range still matches. Empty where every segment is held."""
    wl, _, slices = _fit_pixels(spec)
    mine = [(float(wl[sl][0]), float(wl[sl][-1])) for sl in slices]
    theirs = [(s["lo_nm"], s["hi_nm"]) for s in instrument["segments"]]

    def held(a: float, b: float) -> bool:
        return any(min(b, d) - max(a, c) >= 0.9 * (b - a) for c, d in theirs)

    if all(held(a, b) for a, b in mine):
        return ""

    def ranges(segs: list[tuple[float, float]]) -> str:
        return ", ".join(f"{a:.0f}-{b:.0f}" for a, b in segs)

    return (
        f"{len(mine)} segment(s) {ranges(mine)} nm, the instrument's {len(theirs)} "
        f"{ranges(theirs)} nm"
    )


def require_instrument(instrument: dict[str, Any], spec: Spectrum) -> None:
    """Refuse, in one line, a spectrum that :func:`instrument_mismatch` says is not from the
    instrument's spectrometer: its response and widths would be read off other pixels."""
    why = instrument_mismatch(instrument, spec)
    if why:
        raise UserError(
            f"{spec.source or 'the spectrum'} does not match the instrument's spectrometers "
            f"({why}); calibrate on a reference from this spectrometer over this range, or "
            "leave --instrument out"
        )


def instrument_widths_on(
    instrument: dict[str, Any], wl: np.ndarray, slices: Sequence[slice]
) -> list[float]:
    """The calibrated instrument width (nm) of each segment of a spectrum's pixels, from the
    calibrated segment it falls in (else the nearest)."""
    return [
        float(_instrument_segment(instrument, float(np.mean(wl[sl])))["fwhm_nm"]) for sl in slices
    ]


def instrument_frame(instrument: dict[str, Any] | None, frame: str) -> str:
    """The air/vacuum frame to read a spectrum in: the calibrated instrument's where
    ``frame`` is ``auto`` (the same spectrometer as the reference), else ``frame``."""
    return instrument["wavelengths"] if instrument is not None and frame == "auto" else frame


def instrument_response(
    instrument: dict[str, Any], wl: np.ndarray, slices: Sequence[slice]
) -> np.ndarray:
    """The calibrated response on a spectrum's pixels, each segment from the calibrated
    segment it falls in (held constant beyond that segment's ends)."""
    r = np.ones(len(wl))
    for sl in slices:
        seg = _instrument_segment(instrument, float(np.mean(wl[sl])))
        r[sl] = np.interp(wl[sl], seg["response_wavelength_nm"], seg["response"])
    return np.maximum(r, 1e-6 * max(float(r.max()), 1e-300))


def fit_png(result: CFResult, path, title: str = ""):
    """The spectrum, the fit and the residual (below), the fit's strongest lines labelled
    with their species and wavelengths (:attr:`CFResult.labels`)."""
    from eftgan.plotting import pyplot, save_png

    plt = pyplot()
    fig, (ax, ax_r) = plt.subplots(
        2, 1, figsize=(11, 5), dpi=110, sharex=True, gridspec_kw={"height_ratios": [3, 1]}
    )
    # no line drawn across pixels the fit left out (between the segments it kept)
    wl, y, m = result.wavelength, result.intensity, result.model
    cut = [sl.start for sl in result.slices[1:]]
    wl, y, m = (np.insert(a.astype(float), cut, np.nan) for a in (wl, y, m))
    ax.plot(wl, y, lw=0.6, color="k", label="spectrum")
    ax.plot(wl, m, lw=0.6, color="tab:red", alpha=0.8, label=f"fit (cost {result.cost:.2f})")
    for nm, species in result.labels:
        i = int(np.nanargmin(np.abs(wl - nm)))
        near = slice(max(i - 3, 0), i + 4)  # the peak's top, a pixel or two off the centre
        top = float(np.nanmax(m[near]))
        ax.annotate(f"{species} {nm:.1f}", (nm, top), fontsize=6, ha="center", va="bottom")
    ax.legend(frameon=False, fontsize=8)
    ax.set_ylabel("intensity")
    ax.set_title(title, fontsize=9)
    ax_r.plot(wl, y - m, lw=0.5, color="tab:blue")
    ax_r.set_ylabel("residual")
    ax_r.set_xlabel("wavelength (nm, air)")
    fig.tight_layout()
    return save_png(fig, path)
