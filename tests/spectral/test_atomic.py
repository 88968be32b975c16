"""Atomic data: NIST lines and levels, partition functions, air and vacuum wavelengths."""

from __future__ import annotations

import numpy as np
import pytest

from spectral.atomic import air_to_vacuum, partition_function, vacuum_to_air


def test_air_vacuum_round_trip_and_known_line() -> None:
    # Fe I 404.5813 nm in air is 404.6954 nm in vacuum (NIST ASD)
    assert vacuum_to_air(404.6954) == pytest.approx(404.5813, abs=2e-4)
    lam = np.linspace(200, 1100, 50)
    assert np.allclose(air_to_vacuum(vacuum_to_air(lam)), lam, atol=1e-9)
    assert vacuum_to_air(150.0) == 150.0  # NIST keeps vacuum below 200 nm


def test_partition_function_limits() -> None:
    g, e = np.array([2.0, 4.0, 6.0]), np.array([0.0, 1.0, 2.0])
    assert partition_function(g, e, 10.0)[()] == pytest.approx(2.0)  # ground only when cold
    assert partition_function(g, e, 1e9)[()] == pytest.approx(12.0, rel=1e-4)


def test_nist_lines_and_levels(nist) -> None:
    lines = nist.in_window(404.4, 404.7)
    fe = (lines.element == "Fe") & (lines.stage == 1) & ~lines.aki_estimated
    i = np.argmin(np.abs(lines.wavelength[fe] - 404.581))
    assert lines.wavelength[fe][i] == pytest.approx(404.581, abs=0.002)
    assert lines.aki[fe][i] == pytest.approx(8.62e7, rel=0.05)  # NIST: 8.62e+07 s^-1
    assert lines.ek[fe][i] == pytest.approx(4.549, abs=0.01)
    # Fe I partition function at 10000 K: about 60 (tabulated values 55-65)
    assert 45 < float(nist.partition_function("Fe", 1, np.array(10000.0))) < 75
    assert nist.ionization_ev["Fe"] == pytest.approx(7.902, abs=0.01)


def test_rare_earth_gaps_are_filled_and_flagged(nist) -> None:
    w = nist.in_window(300, 700)
    for el, st in (("Sm", 2), ("Pr", 1), ("Eu", 2)):
        sp = (w.element == el) & (w.stage == st)
        assert sp.sum() > 5, f"{el} {'I' * st} has no usable lines"
        assert w.aki_estimated[sp].mean() > 0.5
        assert 0.0 < nist.estimate_scatter[(el, st)] < 1.0  # decades
