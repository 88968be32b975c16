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
    from scipy.signal import find_peaks

    from spectral.identify import baseline
    from spectral.instrument import Conditions, Instrument, Simulator

    m = (wavelength_air > window[0]) & (wavelength_air < window[1])
    wl, y = wavelength_air[m], intensity[m]
    step = float(np.median(np.diff(wl)))
    yb = y - baseline(y, max(5, int(round(4.0 / step))))
    pk, _ = find_peaks(yb, prominence=0.02 * yb.max(), distance=3)
    top = pk[np.argsort(-yb[pk])[:n_peaks]]
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
