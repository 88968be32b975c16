"""The LTE simulator: physics that must hold whatever the numbers."""

from __future__ import annotations

import numpy as np
import pytest

from spectral.instrument import Conditions, Simulator, get_instrument

STEEL = np.array([[68.0, 18.0, 10.0, 2.0, 2.0, 0, 0, 0, 0, 0, 0]])


def test_saha_balance_shifts_to_ions_when_hotter(steel_sim) -> None:
    p = steel_sim.plasma
    x = np.ones((2, len(p.elements))) / len(p.elements)
    n, _ = p.species_densities(x, np.array([7000.0, 12000.0]), np.array([1e17, 1e17]))
    ion_frac = n[:, :, 1] / n.sum(-1)
    assert (ion_frac[1] > ion_frac[0]).all()
    # charge neutrality: singly charged ions carry all the electrons
    assert n[:, :, 1].sum(1) == pytest.approx([1e17, 1e17], rel=1e-9)


def test_line_intensity_grows_with_concentration_and_saturates(steel_sim) -> None:
    cr = steel_sim.elements.index("Cr")
    wts = np.array([[99.0 - c, c, 0, 0, 0, 0, 0, 0, 0, 0, 1.0] for c in (0.5, 5.0, 20.0)])
    cond = Conditions.fixed(3, 9000.0, 1e17)
    rad = steel_sim.line_radiance(wts, cond)
    tb = steel_sim.plasma.table
    cr_lines = tb.el_index == cr
    strongest = np.argmax(np.where(cr_lines, rad[2], 0))
    thin = Simulator(
        steel_sim.elements, steel_sim.instrument, steel_sim.atomic, self_absorption=False
    )
    rad_thin = thin.line_radiance(wts, cond)
    j = np.flatnonzero(
        np.isclose(thin.plasma.table.lines.wavelength, tb.lines.wavelength[strongest])
        & (thin.plasma.table.el_index == cr)
    )[0]
    assert rad[0, strongest] < rad[1, strongest] < rad[2, strongest]
    # self-absorption: the strongest Cr line grows less than linearly, the thin one linearly
    assert rad[2, strongest] / rad[0, strongest] < 0.8 * (rad_thin[2, j] / rad_thin[0, j])


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


def test_fast_escape_factor_matches_the_curve_of_growth() -> None:
    import torch

    from spectral.plasma import LTEPlasma, escape_factor_fast

    tau = torch.logspace(-7, 8, 5000, dtype=torch.float64)
    for share in (0.0, 0.3, 1.0):
        a = torch.full_like(tau, share)
        exact = LTEPlasma.escape_factor(tau, a)
        fast = escape_factor_fast(tau.float(), a.float()).double()
        assert float(((fast - exact) / exact).abs().max()) < 3e-4
    # the limits: thin lines are untouched; a thick Lorentzian line keeps growing as sqrt(tau)
    thin = float(escape_factor_fast(torch.tensor([1e-7]), torch.tensor([1.0])))
    assert thin == pytest.approx(1.0)
    big = torch.tensor([1e6], dtype=torch.float64)
    lor = float(escape_factor_fast(big, torch.tensor([1.0], dtype=torch.float64)))
    assert lor == pytest.approx(2 / np.sqrt(np.pi * 1e6), rel=1e-3)


def test_float32_radiances_match_the_textbook_formulas_in_float64(steel_sim) -> None:
    """The simulator's in-place float32 path against the module docstring's formulas, written
    out plainly in float64 with the exact (Bessel) curve of growth."""
    import torch

    from spectral.atomic import HC_EV_NM, K_B_EV
    from spectral.plasma import C, H, LTEPlasma

    p = steel_sim.plasma
    wt = np.array(
        [
            [68.0, 18.0, 10.0, 2.0, 2.0, 0.3, 0.01, 0, 0.2, 0.05, 0.02],
            [80.0, 12.0, 0.0, 6.0, 1.5, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1],
            [100.0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        ]
    )
    t = np.array([7000.0, 10000.0, 12000.0])
    ne = np.array([5e16, 1e17, 3e17])
    x = steel_sim._fractions(wt)
    fast = p.line_radiance_t(x, t, ne, self_absorption=True).double().numpy()

    tb, ln = p.table, p.table.lines
    n, u = p.species_densities(x, t, ne)
    pop = (n / u).reshape(len(t), -1)[:, tb.el_index * 2 + ln.stage - 1]
    kt = K_B_EV * t[:, None]
    lam = ln.wavelength * 1e-9
    rad = H * C / (4 * np.pi * lam) * ln.aki * ln.gk * 1e6 * pop * np.exp(-ln.ek / kt)
    rad *= p.length_m
    f_l = tb.stark_ref_nm * ne[:, None] / 1e17
    f_g = tb.doppler_coef * np.sqrt(t[:, None])
    f_v = 0.5346 * f_l + np.sqrt(0.2166 * f_l**2 + f_g**2)
    a = f_l / f_v
    tau = (
        lam**4
        / (8 * np.pi * C)
        * ln.aki
        * ln.gk
        * 1e6
        * pop
        * np.exp(-ln.ei / kt)
        * (1 - np.exp(-HC_EV_NM / ln.wavelength / kt))
        * p.length_m
        * 1e9
        * (0.6366 * a + 0.9394 * (1 - a))
        / f_v
    )
    assert tau.max() > 10  # some lines are thick here, so the curve of growth matters
    esc = LTEPlasma.escape_factor(torch.from_numpy(tau), torch.from_numpy(a)).numpy()
    ref = rad * esc
    on = ref > 0  # lines of the elements a sample has
    assert on.mean() > 0.5 and np.all(fast[~on] == 0)
    assert np.abs(fast[on] / ref[on] - 1).max() < 1e-3


def test_ideal_detection_limits_are_linear_and_follow_the_noise(steel_sim) -> None:
    import copy
    import dataclasses

    from spectral.validation import ideal_detection_limits

    a = ideal_detection_limits(steel_sim, ("Eu", "Ce"), n=6, seed=1)
    b = ideal_detection_limits(steel_sim, ("Eu", "Ce"), n=6, seed=1, probe_wt_pct=0.02)
    for el in ("Eu", "Ce"):
        assert 0 < a[el]["median"] <= a[el]["p90"] < 0.1
        # trace lines are optically thin: the limit does not depend on the probe level
        assert b[el]["median"] == pytest.approx(a[el]["median"], rel=0.05)
    # with these line data europium shows at about a fifth of cerium's level
    assert a["Eu"]["median"] < a["Ce"]["median"]
    # the noise model: four times the read noise gives a noisier floor and a higher limit
    noisy = copy.copy(steel_sim)
    inst = steel_sim.instrument
    noisy.instrument = dataclasses.replace(inst, read_noise=4 * inst.read_noise)
    c = ideal_detection_limits(noisy, ("Eu",), n=6, seed=1)
    assert c["Eu"]["median"] > 1.2 * a["Eu"]["median"]
    # presence calls from the ideal estimate: every sample above the threshold is found less
    # often through more noise
    for m in (a["Eu"], a["Ce"], c["Eu"]):
        assert 0.0 < m["precision"] <= 1.0 and 0.0 < m["recall"] <= 1.0
    assert c["Eu"]["recall"] <= a["Eu"]["recall"]


def test_detection_bounds_grow_with_what_the_detector_does_not_know(steel_sim) -> None:
    from spectral.validation import detection_bounds, ideal_detection_limits

    els = ("Cr", "Mo", "Ce", "Eu")
    b = detection_bounds(steel_sim, els, n=6, seed=1)
    ideal = ideal_detection_limits(steel_sim, ("Ce", "Eu"), n=6, seed=1)
    for el in ("Ce", "Eu"):  # knowing everything, the bound is the matched filter's limit
        assert b["all_known"][el]["median"] == pytest.approx(ideal[el]["median"], rel=0.1)
    for el in els:
        # less knowledge, less information: (F^-1)_jj >= 1 / F_jj, and more so for more unknowns
        known = b["all_known"][el]
        for part in ("composition_unknown", "conditions_unknown"):
            assert b[part][el]["median"] >= known["median"] * (1 - 1e-9)
            assert b["all_unknown"][el]["median"] >= b[part][el]["median"] * (1 - 1e-9)
        assert b["all_unknown"][el]["recall"] <= known["recall"] + 1e-12
        assert 0 < known["mae"] < b["all_unknown"][el]["mae"]
    # chromium's own lines also carry the temperature and intensity: not knowing them costs it
    assert b["conditions_unknown"]["Cr"]["median"] > 1.05 * b["all_known"]["Cr"]["median"]
