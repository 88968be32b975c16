"""The classical CF-LIBS diagnostics: Boltzmann and Saha-Boltzmann plots, and the electron
density from the Stark width of H-alpha.

**Boltzmann plot.** In an optically thin LTE plasma the integrated intensity of a line of one
species is ``I = (hc / 4 pi lambda) A_ki g_k (n_s / U_s) exp(-E_k / kT)``, so
``ln(I lambda / (g_k A_ki))`` falls on a straight line in the upper level's energy ``E_k``
with slope ``-1 / kT``. Each species (element and ionisation stage) with at least
:data:`MIN_LINES` usable lines spanning :data:`MIN_SPAN_EV` gives its own temperature; they
agree where the plasma is one LTE zone and the lines are thin.

**Saha-Boltzmann plot.** The ion's points move onto the neutral's line when shifted by the
Saha balance: ``E* = E_k + chi - dchi`` and ``y* = y - ln(4.83e15 T^1.5 / n_e)`` (``n_e``
in cm^-3, ``T`` in K; Debye lowering ``dchi``); the joint slope spans ``chi`` plus both
species' ranges, so its temperature is the better determined, iterated from the Boltzmann
one.

**Usable lines** are those of the given elements that the plasma (at 10,000 K and
10^17 cm^-3) makes at least :data:`MIN_RELATIVE` of their species' strongest, with no line of
any given element within :data:`ISOLATION_FWHM` instrument widths above
:data:`BLEND_SHARE` of their strength, and whose measured area exceeds :data:`MIN_SNR` times
its noise. Areas are sums over +-1.5 widths above a straight baseline through the spectrum at
+-2.5 widths, each with the width and pixel step of its own segment.

**Electron density.** H-alpha (656.28 nm) is the classical probe: its Stark width
(Lorentzian part of the measured width, ``w_L = w - w_G^2 / w`` with ``w_G`` the instrument
width) gives ``n_e = 10^17 (w_L / 1.098 nm)^(1 / 0.67965)`` cm^-3 (Gigosos, Gonzalez & Cardenoso,
Spectrochim. Acta B 58, 1489 (2003), at about 10^4 K).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from eftgan.errors import UserError
from spectral.atomic import K_B_EV
from spectral.io import Spectrum

MIN_LINES = 4
MIN_SPAN_EV = 1.0
MIN_RELATIVE = 0.01
ISOLATION_FWHM = 1.5
BLEND_SHARE = 0.2
MIN_SNR = 10.0
H_ALPHA_NM = 656.28
#: A temperature is called reliable where its straight line explains at least this share
#: of its points' variance and its standard error is at most this share of it.
RELIABLE_R2 = 0.5
RELIABLE_SD_SHARE = 0.25


@dataclass
class SpeciesFit:
    """One Boltzmann plot: the species, its points and the temperature of their slope."""

    element: str
    stage: int
    temperature_k: float
    sd_temperature_k: float
    r2: float
    wavelength_nm: list[float] = field(default_factory=list)
    energy_ev: list[float] = field(default_factory=list)
    y: list[float] = field(default_factory=list)


def line_areas(
    wl: np.ndarray, y: np.ndarray, centres: np.ndarray, fwhm: np.ndarray, noise: float
) -> tuple[np.ndarray, np.ndarray]:
    """Areas (intensity x nm) of lines at ``centres`` (each with its instrument width
    ``fwhm``) above a straight local baseline, and their noise (from the pixel noise)."""
    areas, errs = np.full(len(centres), np.nan), np.full(len(centres), np.nan)
    for i, (c, w) in enumerate(zip(centres, fwhm, strict=True)):
        inner = (wl >= c - 1.5 * w) & (wl <= c + 1.5 * w)
        left = (wl >= c - 2.5 * w) & (wl < c - 1.5 * w)
        right = (wl > c + 1.5 * w) & (wl <= c + 2.5 * w)
        if inner.sum() < 3 or not left.any() or not right.any():
            continue
        step = float(np.median(np.diff(wl[inner])))
        xl, xr = wl[left].mean(), wl[right].mean()
        yl, yr = np.median(y[left]), np.median(y[right])
        base = yl + (yr - yl) * (wl[inner] - xl) / max(xr - xl, 1e-12)
        areas[i] = float((y[inner] - base).sum() * step)
        errs[i] = float(noise * np.sqrt(inner.sum()) * step)
    return areas, errs


def usable_lines(lines: Any, strength: np.ndarray, fwhm: float) -> np.ndarray:
    """Indices of the isolated, strong-enough lines (see the module docstring)."""
    keys = np.char.add(lines.element.astype(str), lines.stage.astype(str))
    top = {k: strength[keys == k].max() for k in set(keys.tolist())}
    rel = strength / np.array([top[k] for k in keys])
    order = np.argsort(lines.wavelength)
    wl, s = lines.wavelength[order], strength[order]
    keep = []
    for j, i in enumerate(order):
        if rel[i] < MIN_RELATIVE:
            continue
        lo = np.searchsorted(wl, wl[j] - ISOLATION_FWHM * fwhm)
        hi = np.searchsorted(wl, wl[j] + ISOLATION_FWHM * fwhm)
        others = np.r_[s[lo:j], s[j + 1 : hi]]
        if not (others > BLEND_SHARE * s[j]).any():
            keep.append(i)
    return np.array(sorted(keep), dtype=int)


def boltzmann_fit(element: str, stage: int, e_ev: np.ndarray, y: np.ndarray) -> SpeciesFit:
    """Slope of ``y`` against ``E_k`` by least squares, as a temperature with its error."""
    a = np.vstack([e_ev, np.ones_like(e_ev)]).T
    coef = np.linalg.lstsq(a, y, rcond=None)[0]
    slope = float(coef[0])
    resid = y - a @ coef
    dof = max(len(y) - 2, 1)
    s2 = float(resid @ resid) / dof
    sd_slope = float(np.sqrt(s2 / max(((e_ev - e_ev.mean()) ** 2).sum(), 1e-300)))
    r2 = 1.0 - float(resid @ resid) / max(float(((y - y.mean()) ** 2).sum()), 1e-300)
    t = -1.0 / (K_B_EV * slope) if slope < 0 else float("nan")
    sd_t = abs(t) * sd_slope / abs(slope) if slope < 0 else float("nan")
    return SpeciesFit(element, stage, t, sd_t, r2)


def halpha_density(wl: np.ndarray, y: np.ndarray, fwhm_inst: float) -> float | None:
    """n_e (cm^-3) from H-alpha's Stark width, or None where no H-alpha peak stands out.

    The line is fitted with a Lorentzian on a straight baseline over +-4 of its widths (the
    Stark wings reach far: a baseline read off the window's floor would sit on them and
    narrow the line)."""
    import warnings

    from scipy.optimize import OptimizeWarning, curve_fit
    from scipy.signal import peak_widths

    from spectral.identify import pixel_noise

    near = np.flatnonzero(np.abs(wl - H_ALPHA_NM) < 3.0)
    if len(near) < 10:
        return None
    seg = y[near] - np.percentile(y[near], 10)
    i = int(np.argmax(seg))
    if abs(wl[near][i] - H_ALPHA_NM) > 0.3 or seg[i] < 10 * max(pixel_noise(y[near]), 1e-300):
        return None
    step = float(np.median(np.diff(wl[near])))
    w0 = max(float(peak_widths(seg, [i], rel_height=0.5)[0][0] * step), 2 * step)
    x0 = float(wl[near][i])
    win = np.abs(wl - x0) < max(4 * w0, 1.0)

    def lorentz(x, a, centre, w, c0, c1):
        return a / (1 + ((x - centre) / (w / 2)) ** 2) + c0 + c1 * (x - x0)

    try:
        with warnings.catch_warnings():  # no covariance: not wanted, only the width
            warnings.simplefilter("ignore", OptimizeWarning)
            p, _ = curve_fit(
                lorentz, wl[win], y[win], p0=(seg[i], x0, w0, float(y[win].min()), 0.0)
            )
    except (RuntimeError, ValueError):
        return None
    w = abs(float(p[2]))
    w_l = w - fwhm_inst**2 / w
    if not np.isfinite(w_l) or w_l <= 0:
        return None
    return float(1e17 * (w_l / 1.098) ** (1 / 0.67965))


def diagnose(
    spec: Spectrum, elements: Sequence[str], frame: str = "auto", ne_cm3: float | None = None
) -> dict[str, Any]:
    """Boltzmann fits per species, Saha-Boltzmann temperatures per element and n_e (from
    H-alpha, else ``ne_cm3``, else 10^17 cm^-3 and said so)."""
    from spectral.cflibs import LineModel, instrument_widths, no_lines
    from spectral.identify import pixel_noise
    from spectral.measured import calibrate_spectrum, segments

    spec, axis = calibrate_spectrum(spec, frame, candidates=list(elements))
    wl, y = spec.wavelength, np.asarray(spec.intensity, dtype=float)
    slices = [sl for sl in segments(wl) if np.ptp(y[sl]) > 0]
    if not slices:
        raise UserError(f"{spec.source or 'the spectrum'} has no stretch of evenly spaced pixels")
    widths = instrument_widths(wl, y, slices)
    seg_of = np.zeros(len(wl), dtype=int)
    for k, sl in enumerate(slices):
        seg_of[sl] = k

    def width_at(nm: np.ndarray) -> np.ndarray:
        px = np.clip(np.searchsorted(wl, nm), 0, len(wl) - 1)
        return np.asarray(widths)[seg_of[px]]

    fwhm = float(np.median(widths))
    ne_h = halpha_density(wl, y, float(width_at(np.array([H_ALPHA_NM]))[0]))
    ne = ne_h or ne_cm3 or 1e17
    model = LineModel(wl, slices, widths, elements)
    if not model.present.any():
        raise no_lines(spec.source, elements, wl)
    lines = model.plasma.table.lines
    strength = np.exp(model.log_intensity(10000.0, 1e17))
    idx = usable_lines(lines, strength, fwhm)
    noise = float(np.median([pixel_noise(y[sl]) for sl in slices]))
    centres = lines.wavelength[idx]
    areas, errs = line_areas(wl, y, centres, width_at(centres), noise)
    ok = np.isfinite(areas) & (areas > MIN_SNR * errs)
    idx, areas = idx[ok], areas[ok]
    species = _species_fits(lines, idx, areas)
    return {
        "file": spec.source,
        "wavelengths": axis.frame,
        "instrument_fwhm_nm": widths,
        "ne_cm3": ne,
        "ne_source": "H-alpha Stark width" if ne_h else ("given" if ne_cm3 else "assumed"),
        "species": [_species_record(s) for s in species],
        "no_plot": [
            f"{e} {'I' * k}"
            for e in elements
            for k in (1, 2)
            if not any(s.element == e and s.stage == k for s in species)
        ],
        "saha_boltzmann": _saha_boltzmann(model, species, ne),
    }


def _species_record(s: SpeciesFit) -> dict[str, Any]:
    """A Boltzmann plot for the report (strict JSON): where its points do not fall with
    energy there is no temperature (``null``). A rising plot is what self-absorption of
    the strong low-lying lines gives, as in a pure metal's plasma."""
    rec = {**asdict(s), "reliable": reliable(s.temperature_k, s.sd_temperature_k, s.r2)}
    if not np.isfinite(s.temperature_k):
        rec.update(temperature_k=None, sd_temperature_k=None)
    return rec


def _species_fits(lines: Any, idx: np.ndarray, areas: np.ndarray) -> list[SpeciesFit]:
    out = []
    for el, st in sorted({(lines.element[i], int(lines.stage[i])) for i in idx}):
        sel = idx[(lines.element[idx] == el) & (lines.stage[idx] == st)]
        a = areas[(lines.element[idx] == el) & (lines.stage[idx] == st)]
        e_k = lines.ek[sel]
        if len(sel) < MIN_LINES or np.ptp(e_k) < MIN_SPAN_EV:
            continue
        yv = np.log(a * lines.wavelength[sel] / (lines.gk[sel] * lines.aki[sel]))
        fit = boltzmann_fit(str(el), st, e_k, yv)
        fit.wavelength_nm = [round(float(x), 3) for x in lines.wavelength[sel]]
        fit.energy_ev, fit.y = [float(x) for x in e_k], [float(x) for x in yv]
        out.append(fit)
    return out


def _saha_boltzmann(model: Any, species: list[SpeciesFit], ne: float) -> dict[str, Any]:
    """Per element with both I and II plots: the joint temperature (five iterations)."""
    from spectral.plasma import SAHA_CM3, debye_lowering_ev

    out: dict[str, Any] = {}
    by_el: dict[str, dict[int, SpeciesFit]] = {}
    for s in species:
        by_el.setdefault(s.element, {})[s.stage] = s
    for el, st in by_el.items():
        if 1 not in st or 2 not in st or not np.isfinite(st[1].temperature_k):
            continue
        chi = float(model.plasma.chi[model.elements.index(el)])
        t = st[1].temperature_k
        fit = None
        for _ in range(5):
            dchi = debye_lowering_ev(ne, t)
            e = np.r_[st[1].energy_ev, np.asarray(st[2].energy_ev) + chi - dchi]
            yv = np.r_[st[1].y, np.asarray(st[2].y) - np.log(SAHA_CM3 * t**1.5 / ne)]
            fit = boltzmann_fit(el, 0, e, yv)
            if not np.isfinite(fit.temperature_k):
                fit = None  # no falling joint line: no Saha-Boltzmann temperature
                break
            t = fit.temperature_k
        if fit is not None:
            out[el] = {
                "temperature_k": t,
                "sd_temperature_k": fit.sd_temperature_k,
                "r2": fit.r2,
                "reliable": reliable(t, fit.sd_temperature_k, fit.r2),
                # the points of the joint plot (the ion's shifted by the Saha balance)
                "energy_ev": [float(x) for x in e],
                "y": [float(x) for x in yv],
                "stage": [1] * len(st[1].y) + [2] * len(st[2].y),
            }
    return out


def reliable(t_k: float, sd_k: float, r2: float) -> bool:
    """Whether a plot's temperature can be taken as measured: see :data:`RELIABLE_R2` and
    :data:`RELIABLE_SD_SHARE`."""
    return bool(np.isfinite(t_k) and r2 >= RELIABLE_R2 and sd_k <= RELIABLE_SD_SHARE * t_k)


def temperature_text(plot: dict[str, Any]) -> str:
    """A plot's temperature as the table and the PNG show it."""
    t, sd = plot["temperature_k"], plot["sd_temperature_k"]
    if t is None:
        return "none (the points rise with energy)"
    return f"{t:.0f} ± {sd:.0f} K" + ("" if plot["reliable"] else " (unreliable)")


def plots(report: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """A :func:`diagnose` report's plots with their names: each species' Boltzmann plot
    (``Ca I``), then each element's Saha-Boltzmann plot (``Ca I+II (Saha-Boltzmann)``)."""
    out = [(f"{s['element']} {'I' * s['stage']}", s) for s in report["species"]]
    return out + [(f"{el} I+II (Saha-Boltzmann)", v) for el, v in report["saha_boltzmann"].items()]


def boltzmann_png(report: dict[str, Any], path: Path) -> Path:
    """One panel per species (its points and the fitted line, the temperature in the title),
    then one Saha-Boltzmann panel per element with both (neutral and shifted ionic points,
    the joint line); a temperature that is not :func:`reliable` is marked so."""
    from eftgan.plotting import pyplot, save_png

    plt = pyplot()
    panels: list[tuple[str, Any]] = plots(report) or [("", None)]
    cols = min(3, len(panels))
    rows = (len(panels) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 3 * rows), dpi=110, squeeze=False)
    for ax, (name, s) in zip(axes.ravel(), panels, strict=False):
        if s is None:
            ax.text(0.5, 0.5, "no species with enough usable lines", ha="center")
            continue
        e, yv = np.asarray(s["energy_ev"]), np.asarray(s["y"])
        stage = np.asarray(s.get("stage", [1] * len(e)))
        for k, colour in ((1, "tab:blue"), (2, "tab:orange")):
            ax.plot(e[stage == k], yv[stage == k], "o", ms=3, color=colour)
        c = np.polyfit(e, yv, 1)
        ax.plot(e, np.polyval(c, e), "-", lw=1, color="k")
        ax.set_title(f"{name}: {temperature_text(s)}, r2 {s['r2']:.2f}", fontsize=8)
        ax.set_xlabel(
            "upper level energy (eV; ions + chi)" if "Saha" in name else "upper level energy (eV)"
        )
        ax.set_ylabel(r"ln(I$\lambda$ / gA)")
    for ax in axes.ravel()[len(panels) :]:
        ax.axis("off")
    fig.tight_layout()
    return save_png(fig, path)
