"""spectral.identify: peaks and the elements that explain them."""

from __future__ import annotations

import numpy as np
import pytest


def test_find_peaks_on_synthetic_lines() -> None:
    from spectral.identify import find_peaks

    wl = np.linspace(300, 400, 5001)
    rng = np.random.default_rng(0)
    y = 100 + 0.2 * (wl - 300) + rng.normal(0, 1, wl.size)
    for c in (320.0, 350.5, 377.25):
        y += 500 * np.exp(-0.5 * ((wl - c) / 0.05) ** 2)
    p = find_peaks(wl, y)
    assert len(p.wavelength) == 3
    assert np.allclose(np.sort(p.wavelength), [320.0, 350.5, 377.25], atol=0.02)
    assert p.fwhm_nm == pytest.approx(0.1177, rel=0.25)


def test_identify_ranks_the_elements_of_a_simulated_steel(steel_sim) -> None:
    from spectral.identify import identify
    from spectral.instrument import Conditions

    wt = np.array([[70.0, 18.0, 10.0, 0, 2.0, 0, 0, 0, 0, 0, 0]])
    s = steel_sim.simulate(wt, Conditions.fixed(1, 9000.0, 1e17), np.random.default_rng(1))[0]
    cands = ["Fe", "Cr", "Ni", "Mn", "Cu", "Ti", "Al", "W", "Zn"]
    ranked = [m.element for m in identify(steel_sim.instrument.wavelength_nm, s, cands)]
    assert ranked[0] == "Fe"
    assert set(ranked[:3]) == {"Fe", "Cr", "Ni"}
    assert ranked.index("Mn") < ranked.index("Zn")
