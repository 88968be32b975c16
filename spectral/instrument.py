"""Spectrometers and the batch simulator: LTE plasma -> line profiles -> detector counts.

An :class:`Instrument` is a pixel grid (air wavelengths), a Gaussian instrument function
whose FWHM may change along the grid, a spectral response, a full-scale count and read noise.
Two presets:

* ``saca2021``: the spectra of the SACA paper (2021), 300-700 nm in 0.1 nm steps (4001
  points), 0.15 nm FWHM, 16-bit counts;
* ``hr4000``: an Ocean Optics HR4000-like one, 200-1100 nm on 3648 pixels with a slightly
  non-linear (quadratic) dispersion, FWHM rising from 0.5 nm to 0.9 nm across the range, 14-bit
  counts, a silicon-CCD-like response falling off towards both ends.

:class:`Simulator` turns compositions and plasma conditions into detector counts, for a whole
batch at once:

1. line radiances from :class:`spectral.plasma.LTEPlasma` (Saha-Boltzmann, self-absorption);
2. stick spectra on a fine wavelength grid (a third of the narrowest instrument FWHM), one per
   Stark-width class (lines are grouped by their Stark width into four classes);
3. line profiles by FFT: each class is convolved with its Voigt profile (Lorentzian Stark
   width scaled by ``n_e``, Gaussian Doppler width of ``T``), and the wavelength shift of each
   sample is a phase ramp, all in one pass;
4. the instrument function and pixel integration as one sparse matrix;
5. continuum, spectral response, a wavelength-dependent intensity drift (a linear tilt: a
   uniform scale change is removed by the min-max scaling the models use), the exposure
   (the strongest pixel at ``peak_fraction`` of full scale), dark baseline (offset and a slow
   slope), shot noise and read noise averaged over ``n_shots`` accumulated shots, and
   saturation at full scale.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from eftgan.errors import UserError
from spectral.atomic import AtomicData, load_atomic_data
from spectral.plasma import LTEPlasma, mole_fractions


@dataclass(frozen=True)
class Instrument:
    """A spectrometer: its pixel grid (air wavelengths, nm), Gaussian instrument function
    (FWHM in nm at the first and last pixel, linear in between), full-scale count, read noise
    (counts), a Gaussian spectral response (centre and width in nm) and dark offset (counts)."""

    name: str
    wavelength_nm: np.ndarray
    fwhm_nm: tuple[float, float]  # at the first and the last pixel, linear in between
    full_scale: float
    read_noise: float  # counts
    response_center_nm: float
    response_width_nm: float
    dark_offset: float  # counts

    def fwhm(self) -> np.ndarray:
        """The instrument function's FWHM (nm) at each pixel."""
        w = self.wavelength_nm
        t = (w - w[0]) / (w[-1] - w[0])
        return self.fwhm_nm[0] + t * (self.fwhm_nm[1] - self.fwhm_nm[0])

    def response(self) -> np.ndarray:
        """The relative spectral response at each pixel (1 at its centre)."""
        x = (self.wavelength_nm - self.response_center_nm) / self.response_width_nm
        return np.exp(-(x**2))

    @property
    def range_nm(self) -> tuple[float, float]:
        """The first and last pixel's wavelengths (nm)."""
        return float(self.wavelength_nm[0]), float(self.wavelength_nm[-1])


def _hr4000_grid() -> np.ndarray:
    p = np.arange(3648, dtype=np.float64)
    a2 = -8e-6
    a1 = (900.0 - a2 * 3647**2) / 3647
    return 200.0 + a1 * p + a2 * p**2


INSTRUMENTS: dict[str, Instrument] = {
    "saca2021": Instrument(
        name="saca2021",
        wavelength_nm=np.round(np.arange(3000, 7001) / 10.0, 1),
        fwhm_nm=(0.15, 0.15),
        full_scale=65535.0,
        read_noise=8.0,
        response_center_nm=520.0,
        response_width_nm=400.0,
        dark_offset=800.0,
    ),
    "hr4000": Instrument(
        name="hr4000",
        wavelength_nm=_hr4000_grid(),
        fwhm_nm=(0.5, 0.9),
        full_scale=16383.0,
        read_noise=6.0,
        response_center_nm=560.0,
        response_width_nm=330.0,
        dark_offset=300.0,
    ),
}
#: Retired preset names -> current name (model folders may record a retired one).
RENAMED_INSTRUMENTS = {"seed": "saca2021"}


def get_instrument(name: str) -> Instrument:
    """The instrument preset ``name`` (see the module docstring); a one-line
    :class:`~eftgan.errors.UserError` that names the presets for another name."""
    if name in RENAMED_INSTRUMENTS:
        raise UserError(
            f"the instrument {name!r} is now called {RENAMED_INSTRUMENTS[name]!r}; "
            f"choose one of {', '.join(INSTRUMENTS)}"
        )
    if name not in INSTRUMENTS:
        raise UserError(f"unknown instrument {name!r}; choose one of {', '.join(INSTRUMENTS)}")
    return INSTRUMENTS[name]


def current_instrument_name(name: str) -> str:
    """The current name of an instrument preset recorded under ``name`` (a renamed preset's
    new name; any other name as it is), for reading model folders and settings."""
    return RENAMED_INSTRUMENTS.get(name, name)


@dataclass
class Conditions:
    """Per-sample plasma and acquisition settings, arrays of shape (B,)."""

    temperature_k: np.ndarray
    ne_cm3: np.ndarray
    shift_nm: np.ndarray
    drift: np.ndarray  # relative intensity tilt at the window edges
    peak_fraction: np.ndarray
    n_shots: np.ndarray
    baseline_slope: np.ndarray  # counts across the window, relative to dark_offset

    @classmethod
    def fixed(
        cls, n: int, temperature_k: float = 9000.0, ne_cm3: float = 1e17, **kw: float
    ) -> Conditions:
        """``n`` samples of one plasma (``temperature_k`` in K, ``ne_cm3`` in cm^-3); the
        other fields default to no shift, drift or baseline slope, the strongest pixel at 70 %
        of full scale and 20 accumulated shots, and can be given by name in ``kw``."""
        base = {
            "shift_nm": 0.0,
            "drift": 0.0,
            "peak_fraction": 0.7,
            "n_shots": 20.0,
            "baseline_slope": 0.0,
        }
        base.update(kw)
        full = {k: np.full(n, float(v)) for k, v in base.items()}
        return cls(np.full(n, temperature_k), np.full(n, ne_cm3), **full)

    @classmethod
    def sample(
        cls,
        n: int,
        rng: np.random.Generator,
        temperature_k: tuple[float, float] = (7000.0, 12000.0),
        ne_cm3: tuple[float, float] = (5e16, 3e17),
        shift_nm: float = 0.05,
        drift: float = 0.05,
    ) -> Conditions:
        """Random conditions: uniform T, log-uniform n_e, shifts and drifts within +-limits."""
        return cls(
            rng.uniform(*temperature_k, n),
            np.exp(rng.uniform(np.log(ne_cm3[0]), np.log(ne_cm3[1]), n)),
            rng.uniform(-shift_nm, shift_nm, n),
            rng.uniform(-drift, drift, n),
            rng.uniform(0.3, 0.9, n),
            rng.integers(10, 51, n).astype(np.float64),
            rng.uniform(-0.2, 0.2, n),
        )

    def subset(self, idx: slice | np.ndarray) -> Conditions:
        """The samples ``idx`` selects."""
        return Conditions(**{k: getattr(self, k)[idx] for k in self.__dataclass_fields__})


@dataclass
class Simulator:
    """Batch LIBS/OES spectra of ``elements`` on ``instrument`` (see the module docstring)."""

    elements: Sequence[str]
    instrument: Instrument = field(default_factory=lambda: INSTRUMENTS["saca2021"])
    atomic: AtomicData | None = None
    self_absorption: bool = True
    length_m: float = 1e-3
    n_width_classes: int = 4
    min_relative_line: float = 1e-4

    def __post_init__(self) -> None:
        self.elements = tuple(self.elements)
        inst = self.instrument
        atomic = self.atomic or load_atomic_data(self.elements)
        self.atomic = atomic
        lo, hi = inst.range_nm
        fw = inst.fwhm()
        margin = 4.0 * float(fw.max()) + 0.5
        self.plasma = LTEPlasma(atomic, self.elements, (lo - margin, hi + margin), self.length_m)
        self._prune()
        self.step = float(fw.min()) / 3.0
        f0 = lo - margin
        n_fine = int(np.ceil((hi + margin - f0) / self.step)) + 1
        self.fine = f0 + self.step * np.arange(n_fine)
        self.n_fft = int(2 ** np.ceil(np.log2(n_fine + int(margin / self.step))))
        self._classes = self._width_classes(f0, n_fine)
        self._pix = self._pixel_matrix(fw, f0, n_fine)
        self._freq = torch.fft.rfftfreq(self.n_fft, d=self.step).to(torch.float32)
        self._freq2 = self._freq**2
        self._response = torch.from_numpy(inst.response().astype(np.float32))
        wl = inst.wavelength_nm
        self._tilt = torch.from_numpy(
            ((wl - wl.mean()) / (0.5 * (wl[-1] - wl[0]))).astype(np.float32)
        )

    def _width_classes(self, f0: float, n_fine: int) -> list[tuple[Any, ...]]:
        """Group the lines into Stark-width classes (reordering the plasma's line table so
        that each class is a slice of it); per class the slice, the stick matrix (linear
        interpolation between fine bins: lower bin and both weights), and the class's typical
        Stark width and Doppler coefficient."""
        tb = self.plasma.table
        pos = (tb.lines.wavelength - f0) / self.step
        i0 = np.clip(np.floor(pos).astype(np.int64), 0, n_fine - 2)
        w1 = np.clip(pos - i0, 0.0, 1.0)
        logw = np.log(tb.stark_ref_nm)
        edges = np.quantile(logw, np.linspace(0, 1, self.n_width_classes + 1))
        cls = np.clip(np.searchsorted(edges, logw, side="right") - 1, 0, self.n_width_classes - 1)
        order = np.argsort(cls, kind="stable")
        tb = tb.select(order)
        self.plasma.table = tb
        cls, i0, w1, logw = cls[order], i0[order], w1[order], logw[order]
        classes = []
        for k in range(self.n_width_classes):
            idx = np.flatnonzero(cls == k)
            if idx.size == 0:
                continue
            classes.append(
                (
                    slice(int(idx[0]), int(idx[-1]) + 1),
                    torch.from_numpy(i0[idx]),
                    torch.from_numpy((1.0 - w1[idx]).astype(np.float32) / self.step),
                    torch.from_numpy(w1[idx].astype(np.float32) / self.step),
                    float(np.exp(logw[idx].mean())),
                    float(tb.doppler_coef[idx].mean()),
                )
            )
        return classes

    def _pixel_matrix(self, fw: np.ndarray, f0: float, n_fine: int) -> torch.Tensor:
        """The instrument function and pixel integration as one sparse (P, F) matrix from the
        fine grid to the pixels."""
        wl = self.instrument.wavelength_nm
        disp = np.gradient(wl)
        sig = fw / 2.3548
        half = int(np.ceil(4 * sig.max() / self.step)) + 1
        centre = np.rint((wl - f0) / self.step).astype(np.int64)
        cols = centre[:, None] + np.arange(-half, half + 1)[None, :]
        x = self.fine[np.clip(cols, 0, n_fine - 1)] - wl[:, None]
        g = np.exp(-0.5 * (x / sig[:, None]) ** 2)
        g = g / g.sum(1, keepdims=True) * disp[:, None]  # integral over the pixel: sum * step
        ok = (cols >= 0) & (cols < n_fine) & (g > 1e-7 * g.max())
        rows_l = np.broadcast_to(np.arange(len(wl))[:, None], cols.shape)[ok]
        cols_l, vals_l = cols[ok], g[ok]
        coo = torch.sparse_coo_tensor(
            torch.from_numpy(np.stack([rows_l, cols_l])),
            torch.from_numpy(vals_l.astype(np.float32)),
            (len(wl), n_fine),
            check_invariants=True,
        ).coalesce()
        with warnings.catch_warnings():  # "sparse CSR support is in beta"
            warnings.simplefilter("ignore", UserWarning)
            return coo.to_sparse_csr()

    def _prune(self) -> None:
        """Drop lines below ``min_relative_line`` of their element's strongest in the window."""
        p = self.plasma
        e = len(self.elements)
        best = np.zeros(p.n_lines)
        for t in (7000.0, 10000.0, 14000.0):
            for ne in (5e16, 3e17):
                rad = p.line_radiance(
                    np.eye(e), np.full(e, t), np.full(e, ne), self_absorption=False
                )
                own = rad[p.table.el_index, np.arange(p.n_lines)]
                top = np.zeros(e)
                np.maximum.at(top, p.table.el_index, own)
                best = np.maximum(best, own / top[p.table.el_index])
        keep = best >= self.min_relative_line
        p.table = p.table.select(keep)

    # -- composition handling ---------------------------------------------------------------
    def _fractions(self, wt_pct: np.ndarray) -> np.ndarray:
        wt = np.asarray(wt_pct, dtype=np.float64)
        if wt.ndim == 1:
            wt = wt[None, :]
        if wt.shape[1] != len(self.elements):
            raise UserError(f"compositions need {len(self.elements)} columns ({self.elements})")
        return mole_fractions(wt / wt.sum(1, keepdims=True), self.plasma.mass)

    # -- simulation -------------------------------------------------------------------------
    def line_radiance(self, wt_pct: np.ndarray, cond: Conditions) -> np.ndarray:
        """Integrated radiance of each line (W m^-2 sr^-1), (B, L); lines in ``plasma.table``."""
        return self.plasma.line_radiance(
            self._fractions(wt_pct), cond.temperature_k, cond.ne_cm3, self.self_absorption
        )

    def noiseless(self, wt_pct: np.ndarray, cond: Conditions) -> torch.Tensor:
        """Radiance on the pixels (lines + continuum, with shift, no detector): (B, P)."""
        rad = self.plasma.line_radiance_t(
            self._fractions(wt_pct), cond.temperature_k, cond.ne_cm3, self.self_absorption
        )
        b = rad.shape[0]
        n_fine = len(self.fine)
        nu = self._freq
        f32 = np.float32
        t = cond.temperature_k.astype(f32)
        ne = cond.ne_cm3.astype(f32) / f32(1e17)
        spec_f = None
        for sl, i0, w0, w1, stark, dop in self._classes:
            r = rad[:, sl]
            stick = torch.zeros(b, n_fine)
            stick.index_add_(1, i0, r * w0)
            stick.index_add_(1, i0 + 1, r * w1)
            # Voigt profile: exp(-2 pi gamma nu - 2 (pi sigma nu)^2), gamma the Lorentzian HWHM
            gamma = torch.from_numpy(0.5 * stark * ne)
            sigma2 = torch.from_numpy((dop / 2.3548) ** 2 * t)
            kern = torch.outer((-2 * np.pi) * gamma, nu)
            kern.addcmul_((-2 * np.pi**2) * sigma2[:, None], self._freq2[None, :]).exp_()
            part = torch.fft.rfft(stick, n=self.n_fft).mul_(kern)
            spec_f = part if spec_f is None else spec_f.add_(part)
        assert spec_f is not None
        # the wavelength shift of each sample: one phase ramp for all classes
        ang = torch.outer(torch.from_numpy(cond.shift_nm.astype(f32)), (-2 * np.pi) * nu)
        spec_f.mul_(torch.polar(torch.ones_like(ang), ang))
        fine = torch.fft.irfft(spec_f, n=self.n_fft)[:, :n_fine]
        pix = (self._pix @ fine.t()).t()
        cont = self.plasma.continuum(self.instrument.wavelength_nm, cond.temperature_k, cond.ne_cm3)
        disp = np.gradient(self.instrument.wavelength_nm)
        return pix + torch.from_numpy((cont * disp).astype(np.float32))

    def simulate(
        self, wt_pct: np.ndarray, cond: Conditions, rng: np.random.Generator | None = None
    ) -> np.ndarray:
        """Detector counts (B, P) for compositions in wt % (B, E), with noise if ``rng``."""
        if rng is not None:
            return self.acquire(wt_pct, cond, rng)[0]
        counts, base = self.expected_counts(wt_pct, cond)
        return (counts + base).clamp(0, self.instrument.full_scale).numpy()

    def acquire(
        self, wt_pct: np.ndarray, cond: Conditions, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Noisy detector counts (B, P), as :meth:`simulate` gives them, with the noiseless
        counts (baseline included) and the noise's standard deviation they came from."""
        counts, base = self.expected_counts(wt_pct, cond)
        noise = torch.from_numpy(rng.standard_normal(counts.shape, dtype=np.float32))
        sd = self.noise_sd(counts, cond)
        noisy = (counts + sd * noise + base).clamp(0, self.instrument.full_scale)
        return noisy.numpy(), (counts + base).numpy(), sd.numpy()

    def detected(self, wt_pct: np.ndarray, cond: Conditions) -> torch.Tensor:
        """The radiance on the pixels as the detector sees it, through its spectral response
        and the sample's intensity tilt (``cond.drift``), in arbitrary units: (B, P).
        :meth:`expected_counts` scales it to counts."""
        sig = self.noiseless(wt_pct, cond) * self._response[None, :]
        sig = sig * (1.0 + torch.from_numpy(cond.drift.astype(np.float32))[:, None] * self._tilt)
        return sig.clamp(min=0)

    @property
    def tilt(self) -> torch.Tensor:
        """The pixels' place along the window, -1 to 1 (the shape of drifts and baselines)."""
        return self._tilt

    def expected_counts(
        self, wt_pct: np.ndarray, cond: Conditions
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The noiseless detector counts (B, P) above the dark offset, and the baseline (dark
        offset with its slope) they sit on; :meth:`simulate` adds noise and clips."""
        inst = self.instrument
        sig = self.detected(wt_pct, cond)
        peak = sig.amax(1, keepdim=True).clamp(min=1e-30)
        frac = torch.from_numpy(cond.peak_fraction.astype(np.float32))[:, None]
        counts = sig / peak * frac * (inst.full_scale - 2 * inst.dark_offset)
        base = inst.dark_offset * (
            1.0 + torch.from_numpy(cond.baseline_slope.astype(np.float32))[:, None] * self._tilt
        )
        return counts, base

    def noise_sd(self, counts: torch.Tensor, cond: Conditions) -> torch.Tensor:
        """Standard deviation of the averaged counts (B, P) above the dark offset: shot noise
        and read noise of one exposure, averaged over ``cond.n_shots`` accumulations."""
        shots = torch.from_numpy(cond.n_shots.astype(np.float32))[:, None]
        return torch.sqrt(counts + self.instrument.read_noise**2) / torch.sqrt(shots)
