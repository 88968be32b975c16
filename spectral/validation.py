"""Checking the simulator against measured spectra of pure elements.

:func:`compare_with_measured` finds the ``n_peaks`` strongest peaks of a measured spectrum
in a window (after removing a rolling-minimum baseline), removes the spectrometer's overall
wavelength offset (the median distance from each peak to the nearest strong simulated line),
and reports:

* ``max_offset_nm``: the largest remaining distance from a measured peak to a simulated line
  that carries at least 0.1 % of the strongest simulated line's radiance;
* ``log_ratio_rms``: the RMS of ``log10(simulated / measured)`` peak heights relative to the
  strongest peak, after removing their median (the overall sensitivity is not known), and
  ``within_factor_2``: the share of the peaks whose ratio is within a factor 2.

Simulated on the measured wavelength grid with a Gaussian instrument function of
``fwhm_nm`` and flat response (the measurement's response is not known).

:func:`peak_heights_against_measured` scores any simulated spectrum on the measured grid
(ours, or another code's such as libskit's) by the same peaks and the same height statistics,
taking the simulated maximum within ``tolerance_nm`` of each measured peak, so that two
simulators can be put side by side on one measurement.

:func:`ideal_detection_limits` gives the floor under any detector's limits of detection on
simulated spectra: the 3-sigma limit of a matched filter that knows everything about the
spectrum but the trace element (the matrix lines, temperature, density, shift and noise
level). A model that reads the composition from raw spectra does not know these, so its
limits lie above this floor; how far above is the price of not fitting the matrix. The same
detector's precision and recall at the 0.01 wt % presence threshold, on compositions drawn
as for the training data, are the ceiling the presence calls of a model can be held against.

:func:`detection_bounds` splits the gap between that ceiling and a model: the Cramér-Rao
bound on the trace element's content, per sample, when the detector knows everything
(:func:`ideal_detection_limits` again), when it does not know the rest of the composition,
when it does not know the plasma and acquisition (temperature, density, shift, tilt, overall
intensity, baseline), and when it knows neither, as a model reading raw spectra does. The
bound is local (the Fisher information at the true sample, from finite differences of the
noiseless spectrum), so it is the best any unbiased detector can do, not what a given one does.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def compare_with_measured(
    wavelength_air: np.ndarray,
    intensity: np.ndarray,
    element: str,
    window: tuple[float, float],
    temperature_k: float = 10000.0,
    ne_cm3: float = 1e17,
    fwhm_nm: float = 0.12,
    n_peaks: int = 20,
) -> dict[str, Any]:
    """The simulated pure-``element`` spectrum against a measured one in ``window`` (nm, air):
    line positions and relative peak heights of the ``n_peaks`` strongest measured peaks (see
    the module docstring), at ``temperature_k`` (K), ``ne_cm3`` (cm^-3) and an instrument
    FWHM of ``fwhm_nm``. Returns the statistics as a dictionary."""
    from spectral.instrument import Conditions, Instrument, Simulator

    m = (wavelength_air > window[0]) & (wavelength_air < window[1])
    wl, y = wavelength_air[m], intensity[m]
    yb, top = _strongest_peaks(wl, y, n_peaks)
    inst = Instrument("measured", wl, (fwhm_nm, fwhm_nm), 1e12, 0.0, 500.0, 1e9, 0.0)
    sim = Simulator((element,), inst)
    cond = Conditions.fixed(1, temperature_k, ne_cm3)
    rad = sim.line_radiance(np.array([[100.0]]), cond)[0]
    lw = sim.plasma.table.lines.wavelength[rad >= 1e-3 * rad.max()]
    nearest = np.array([lw[np.argmin(np.abs(lw - wl[p]))] - wl[p] for p in top])
    shift = float(np.median(nearest))
    shifted = Conditions.fixed(1, temperature_k, ne_cm3, shift_nm=-shift)
    s = sim.noiseless(np.array([[100.0]]), shifted)[0].numpy()
    ratio = np.log10(np.clip(s[top] / s[top].max(), 1e-9, None) / (yb[top] / yb[top].max()))
    ratio -= np.median(ratio)
    return {
        "element": element,
        "window_nm": list(window),
        "n_peaks": int(len(top)),
        "peaks_nm": [round(float(wl[p]), 3) for p in top],
        "wavelength_offset_nm": shift,
        "max_offset_nm": float(np.abs(nearest - shift).max()),
        "log_ratio_rms": float(np.sqrt(np.mean(ratio**2))),
        "within_factor_2": float(np.mean(np.abs(ratio) < np.log10(2.0))),
        "temperature_k": temperature_k,
        "ne_cm3": ne_cm3,
    }


def _strongest_peaks(wl: np.ndarray, y: np.ndarray, n_peaks: int) -> tuple[np.ndarray, np.ndarray]:
    """Baseline-corrected intensities and the indices of the ``n_peaks`` strongest peaks."""
    from scipy.signal import find_peaks

    from spectral.identify import baseline

    step = float(np.median(np.diff(wl)))
    yb = y - baseline(y, max(5, int(round(4.0 / step))))
    pk, _ = find_peaks(yb, prominence=0.02 * yb.max(), distance=3)
    return yb, pk[np.argsort(-yb[pk])[:n_peaks]]


def peak_heights_against_measured(
    wavelength: np.ndarray,
    intensity: np.ndarray,
    simulated: np.ndarray,
    window: tuple[float, float],
    n_peaks: int = 20,
    tolerance_nm: float = 0.1,
) -> dict[str, Any]:
    """Heights of a simulated spectrum (same grid) at the measured spectrum's strongest peaks.

    ``on_peak``: the share of measured peaks with a local maximum of the simulated spectrum
    within ``tolerance_nm``; ``log_ratio_rms`` and ``within_factor_2`` as in
    :func:`compare_with_measured`, with the simulated height taken as that local maximum.
    The RMS is over the peaks that have one; ``within_factor_2`` is a share of all peaks, so
    a missing line counts as a failure instead of being scored on a neighbour's flank.
    """
    m = (wavelength > window[0]) & (wavelength < window[1])
    wl, y, s = wavelength[m], intensity[m], np.asarray(simulated)[m]
    yb, top = _strongest_peaks(wl, y, n_peaks)
    step = float(np.median(np.diff(wl)))
    k = max(1, int(round(tolerance_nm / step)))
    heights, on_peak = [], []
    for p in top:
        seg = s[max(0, p - k) : p + k + 1]
        j = int(np.argmax(seg))
        inside = 0 < j < len(seg) - 1  # a maximum inside the window, not a flank at its edge
        on_peak.append(inside)
        heights.append(float(seg[j]))
    on = np.array(on_peak)
    if not on.any():
        return {
            "window_nm": list(window),
            "n_peaks": int(len(top)),
            "on_peak": 0.0,
            "log_ratio_rms": float("nan"),
            "within_factor_2": 0.0,
        }
    h = np.array(heights)[on] / max(float(s.max()), 1e-300)
    ratio = np.log10(h / (yb[top][on] / yb[top].max()))
    ratio -= np.median(ratio)
    return {
        "window_nm": list(window),
        "n_peaks": int(len(top)),
        "on_peak": float(on.mean()),
        "log_ratio_rms": float(np.sqrt(np.mean(ratio**2))),  # over the peaks with a line
        "within_factor_2": float(np.sum(np.abs(ratio) < np.log10(2.0)) / len(top)),
    }


def ideal_detection_limits(
    sim: Any, elements: tuple[str, ...], n: int = 200, seed: int = 0, probe_wt_pct: float = 0.01
) -> dict[str, dict[str, float]]:
    """Matched-filter 3-sigma limits of detection (wt %) of ``elements`` in steels.

    For ``n`` compositions and acquisition conditions drawn as for the training data, the
    noiseless spectrum with ``probe_wt_pct`` of the element (taken from the iron balance) is
    compared with the one without it, pixel by pixel against the detector's noise (shot and
    read noise, averaged over the accumulations): the signal-to-noise ratio of the optimal
    linear detector is ``sqrt(sum((difference / sigma)^2))`` and, as the signal is linear at
    these levels, the 3-sigma limit is ``3 probe / snr``. Returns the median and the 90th
    percentile over the samples, per element, and the expected ``precision`` and ``recall``
    of presence calls (above :data:`~spectral.dataset.PRESENCE_WT_PCT`) made from this
    detector's estimate, unbiased with a standard deviation of ``probe / snr``, at each
    sample's own concentration of the element.
    """
    from spectral.dataset import STEEL_ELEMENTS

    wt, cond = _steels(n, seed)
    out = {}
    for el in elements:
        j = STEEL_ELEMENTS.index(el)
        w0 = wt.copy()
        w0[:, 0] += w0[:, j]
        w0[:, j] = 0.0
        w1 = w0.copy()
        w1[:, j] += probe_wt_pct
        w1[:, 0] -= probe_wt_pct
        c0, c1 = sim.simulate(w0, cond), sim.simulate(w1, cond)
        sd = _noise_sd(sim, c0, cond)
        snr = np.sqrt((((c1 - c0) / sd) ** 2).sum(1))
        lod = 3.0 * probe_wt_pct / np.maximum(snr, 1e-12)
        out[el] = _expected_calls(wt[:, j], lod / 3.0)
    return out


def _steels(n: int, seed: int) -> tuple[np.ndarray, Any]:
    """``n`` compositions (wt %) and conditions drawn from ``seed`` as for the training data,
    on a flat dark baseline, so that the counts above it are the signal that makes shot
    noise; the same for every function here."""
    import dataclasses

    from spectral.dataset import sample_compositions
    from spectral.instrument import Conditions

    rng = np.random.default_rng(seed)
    wt = sample_compositions(n, rng)
    return wt, dataclasses.replace(Conditions.sample(n, rng), baseline_slope=np.zeros(n))


def _noise_sd(sim: Any, counts: np.ndarray, cond: Any) -> np.ndarray:
    """The detector's noise (standard deviation, counts) on noiseless ``counts``."""
    import torch

    above = np.clip(counts - sim.instrument.dark_offset, 0, None).astype(np.float32)
    return np.asarray(sim.noise_sd(torch.from_numpy(above), cond).numpy())


def _expected_calls(content: np.ndarray, sd: np.ndarray) -> dict[str, float]:
    """Median and 90th percentile of the 3-sigma limits ``3 sd`` (wt %), the expected mean
    absolute error ``sqrt(2 / pi) sd`` of an unbiased estimate with standard deviation ``sd``,
    and the expected precision and recall of presence calls made from it at each sample's
    ``content``: P(c + sd N(0, 1) > threshold) for each sample."""
    from scipy.stats import norm

    from spectral.dataset import PRESENCE_WT_PCT

    p_call = norm.sf((PRESENCE_WT_PCT - content) / np.maximum(sd, 1e-12))
    present = content > PRESENCE_WT_PCT
    tp = float(p_call[present].sum())
    return {
        "median": float(np.median(3.0 * sd)),
        "p90": float(np.quantile(3.0 * sd, 0.9)),
        "precision": tp / max(float(p_call.sum()), 1e-12),
        "recall": tp / max(float(present.sum()), 1.0),
        "mae": float(np.sqrt(2.0 / np.pi) * np.mean(sd)),
    }


#: Plasma and acquisition settings a detector may have to estimate, with their step for the
#: finite differences (absolute; ``ne_cm3`` relative).
CONDITION_STEPS = {
    "temperature_k": 20.0,
    "ne_cm3": 0.02,
    "shift_nm": 0.005,
    "drift": 0.005,
    "peak_fraction": 0.005,
    "baseline_slope": 0.005,
}
#: What the detector does not know, per scenario of :func:`detection_bounds`.
BOUND_SCENARIOS = {
    "all_known": (),
    "composition_unknown": ("composition",),
    "conditions_unknown": ("conditions",),
    "all_unknown": ("composition", "conditions"),
}


def detection_bounds(
    sim: Any, elements: tuple[str, ...], n: int = 200, seed: int = 0
) -> dict[str, dict[str, dict[str, float]]]:
    """Cramér-Rao limits of detection and expected presence calls of ``elements`` in steels,
    for each scenario of :data:`BOUND_SCENARIOS` (see the module docstring).

    Samples are drawn as in :func:`ideal_detection_limits` (same ``seed``, same samples). The
    parameters are the contents of every element but the iron balance (wt %) and the
    conditions of :data:`CONDITION_STEPS`; the Jacobian of the noiseless spectrum comes from
    central differences (forward, from zero, for an element at zero), the Fisher matrix is
    ``J^T diag(1 / sigma^2) J`` with the detector's noise, and the standard deviation of an
    element's estimate is ``sqrt((F^-1)_jj)`` over the parameters not known (``1 / sqrt(F_jj)``
    when all else is known). Returns ``{scenario: {element: {"median", "p90", "precision",
    "recall", "mae"}}}`` as :func:`ideal_detection_limits` does.
    """
    import dataclasses

    from spectral.dataset import STEEL_ELEMENTS

    wt, cond = _steels(n, seed)
    sd = _noise_sd(sim, sim.simulate(wt, cond), cond)
    names = [*STEEL_ELEMENTS[1:], *CONDITION_STEPS]
    # the Jacobian in noise units, (n, P, parameters), filled a column at a time
    jac = np.empty((n, sd.shape[1], len(names)))
    sd64 = sd.astype(np.float64)
    for j in range(1, len(STEEL_ELEMENTS)):
        h = np.where(wt[:, j] > 0.5, 0.05, 0.005)  # majors central, traces forward from 0
        lo = np.maximum(wt[:, j] - h, 0.0)
        up, down = wt.copy(), wt.copy()
        up[:, j], down[:, j] = wt[:, j] + h, lo
        up[:, 0] -= h
        down[:, 0] += wt[:, j] - lo
        diff = sim.simulate(up, cond).astype(np.float64) - sim.simulate(down, cond)
        jac[:, :, j - 1] = diff / (wt[:, j] + h - lo)[:, None] / sd64
    for key, dh in CONDITION_STEPS.items():
        v = getattr(cond, key)
        step = v * dh if key == "ne_cm3" else np.full(n, dh)
        hi = dataclasses.replace(cond, **{key: v + step})
        lo_cond = dataclasses.replace(cond, **{key: v - step})
        diff = sim.simulate(wt, hi).astype(np.float64) - sim.simulate(wt, lo_cond)
        jac[:, :, names.index(key)] = diff / (2 * step)[:, None] / sd64
    fisher = np.einsum("npi,npj->nij", jac, jac)
    n_comp = len(STEEL_ELEMENTS) - 1
    groups = {"composition": list(range(n_comp)), "conditions": list(range(n_comp, len(names)))}
    out: dict[str, dict[str, dict[str, float]]] = {}
    for scenario, unknown in BOUND_SCENARIOS.items():
        out[scenario] = {}
        for el in elements:
            j = names.index(el)
            idx = sorted({j} | {i for g in unknown for i in groups[g]})
            sub = fisher[:, idx][:, :, idx]
            var = np.linalg.inv(sub)[:, idx.index(j), idx.index(j)]
            out[scenario][el] = _expected_calls(
                wt[:, STEEL_ELEMENTS.index(el)], np.sqrt(np.maximum(var, 0.0))
            )
    return out
