"""spectral.plasma: LTE physics that must hold whatever the numbers (Saha balance,
self-absorption, the curve of growth, the float32 radiances against the textbook formulas)."""

from __future__ import annotations

import numpy as np
import pytest

from spectral.instrument import Conditions, Simulator


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


def test_escape_factors_are_the_thick_over_the_thin_radiance(steel_sim) -> None:
    """``escape_factors_t`` (what the CF-LIBS fit darkens its lines by) is the factor that
    self-absorption multiplies each line's optically thin radiance by."""
    p = steel_sim.plasma
    x = np.full((2, len(p.elements)), 1.0 / len(p.elements))
    args = (x, np.array([8000.0, 12000.0]), np.array([5e16, 3e17]))
    thick = p.line_radiance_t(*args, self_absorption=True).double().numpy()
    thin = p.line_radiance_t(*args, self_absorption=False).double().numpy()
    escape = p.escape_factors_t(*args).double().numpy()
    ok = thin > 1e-30
    np.testing.assert_allclose(escape[ok] * thin[ok], thick[ok], rtol=1e-5)
    assert escape.min() < 0.5 and escape.max() <= 1.0  # some lines are thick, none gains


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


def test_saturation_broadening_is_the_half_width_of_the_emergent_line() -> None:
    """A slab's Lorentzian line of centre depth tau_0 leaves it as 1 - exp(-tau_0 L(x)):
    its half width, measured on a fine grid, is what the escape factor alone gives back."""
    import torch

    from spectral.plasma import LTEPlasma, saturation_broadening

    x = np.linspace(0.0, 400.0, 400_001)  # in half widths of the thin line
    for tau in (0.05, 1.0, 10.0, 300.0, 3000.0):
        emergent = -np.expm1(-tau / (1 + x**2))
        half = x[emergent >= emergent[0] / 2][-1]
        t = torch.tensor([tau], dtype=torch.float64)
        escape = LTEPlasma.escape_factor(t, torch.ones_like(t)).numpy()
        assert float(saturation_broadening(escape)[0]) == pytest.approx(half, rel=0.01), tau
    assert float(saturation_broadening(np.array([1.0]))[0]) == pytest.approx(1.0, abs=1e-3)
