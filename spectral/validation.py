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
        return {"window_nm": list(window), "n_peaks": int(len(top)), "on_peak": 0.0,
                "log_ratio_rms": float("nan"), "within_factor_2": 0.0}  # fmt: skip
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
    import dataclasses

    import torch
    from scipy.stats import norm

    from spectral.dataset import PRESENCE_WT_PCT, STEEL_ELEMENTS, sample_compositions
    from spectral.instrument import Conditions

    rng = np.random.default_rng(seed)
    wt = sample_compositions(n, rng)
    # a flat dark baseline, so that the counts above it are the signal that makes shot noise
    cond = dataclasses.replace(Conditions.sample(n, rng), baseline_slope=np.zeros(n))
    dark = sim.instrument.dark_offset
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
        sd = sim.noise_sd(torch.from_numpy(np.clip(c0 - dark, 0, None)), cond).numpy()
        snr = np.sqrt((((c1 - c0) / sd) ** 2).sum(1))
        lod = 3.0 * probe_wt_pct / np.maximum(snr, 1e-12)
        # expected calls: P(c + (lod / 3) * N(0, 1) > threshold) for each sample
        p_call = norm.sf((PRESENCE_WT_PCT - wt[:, j]) / (lod / 3.0))
        present = wt[:, j] > PRESENCE_WT_PCT
        tp = float(p_call[present].sum())
        out[el] = {
            "median": float(np.median(lod)),
            "p90": float(np.quantile(lod, 0.9)),
            "precision": tp / max(float(p_call.sum()), 1e-12),
            "recall": tp / max(float(present.sum()), 1.0),
        }
    return out
