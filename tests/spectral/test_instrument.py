"""spectral.instrument: the presets; the simulator's peaks, shifts, noise and detector limits."""

from __future__ import annotations

import numpy as np
import pytest

from spectral.instrument import Conditions, get_instrument

STEEL = np.array([[68.0, 18.0, 10.0, 2.0, 2.0, 0, 0, 0, 0, 0, 0]])


def test_spectrum_peaks_sit_on_strong_lines_and_shift(steel_sim) -> None:
    cond = Conditions.fixed(1, 9000.0, 1e17)
    wl = steel_sim.instrument.wavelength_nm
    s0 = steel_sim.noiseless(STEEL, cond)[0].numpy()
    s1 = steel_sim.noiseless(STEEL, Conditions.fixed(1, 9000.0, 1e17, shift_nm=0.3))[0].numpy()
    k = int(np.argmax(s0))
    assert wl[int(np.argmax(s1))] == pytest.approx(wl[k] + 0.3, abs=0.11)
    rad = steel_sim.line_radiance(STEEL, cond)[0]
    lw = steel_sim.plasma.table.lines.wavelength[rad > 1e-3 * rad.max()]
    assert np.min(np.abs(lw - wl[k])) < 0.1


def test_noise_and_detector_limits(steel_sim) -> None:
    cond = Conditions.fixed(2, 9000.0, 1e17)
    a = steel_sim.simulate(np.repeat(STEEL, 2, 0), cond, np.random.default_rng(0))
    b = steel_sim.simulate(np.repeat(STEEL, 2, 0), cond, np.random.default_rng(0))
    assert np.array_equal(a, b)
    assert not np.array_equal(a[0], a[1])  # two noise draws
    full = steel_sim.instrument.full_scale
    assert a.min() >= 0 and a.max() <= full
    clean = steel_sim.simulate(STEEL, Conditions.fixed(1, 9000.0, 1e17))
    assert clean.max() == pytest.approx(0.7 * (full - 2 * 800.0) + 800.0, rel=1e-3)


def test_hr4000_preset_grid() -> None:
    inst = get_instrument("hr4000")
    assert len(inst.wavelength_nm) == 3648
    assert inst.wavelength_nm[0] == pytest.approx(200.0)
    assert inst.wavelength_nm[-1] == pytest.approx(1100.0)
    assert np.all(np.diff(inst.wavelength_nm) > 0)
    assert inst.fwhm()[0] == pytest.approx(0.5) and inst.fwhm()[-1] == pytest.approx(0.9)
