"""Structure-free screening with the shipped EFTGAN model, and composition grids."""

from __future__ import annotations

import math

import numpy as np
import pytest

from eftgan.composition import parse_bounds, simplex_grid
from eftgan.errors import UnknownElementError, UserError
from eftgan.explore import K_B_EV, Screener


@pytest.fixture(scope="module")
def screener() -> Screener:
    return Screener.load()


def test_grid_counts_bounds_and_errors() -> None:
    assert sum(len(b) for b in simplex_grid(["Fe", "Ni", "Co", "Cr", "Mn"], 0.05)) == 10626
    blocks = list(simplex_grid(["Fe", "Ni", "Co"], 0.1, chunk=7))
    allc = np.concatenate(blocks)
    assert len(allc) == 66 and max(len(b) for b in blocks) <= 7
    assert np.allclose(allc.sum(1), 1.0)
    assert len({tuple(np.round(r, 6)) for r in allc}) == 66
    b = parse_bounds("Mn:0-0.35, Fe:0.2-0.4".replace(" ", ""), ["Fe", "Ni", "Mn"])
    sub = np.concatenate(list(simplex_grid(["Fe", "Ni", "Mn"], 0.05, b)))
    assert (sub[:, 2] <= 0.35 + 1e-9).all() and (sub[:, 0] >= 0.2 - 1e-9).all()
    with pytest.raises(UserError, match="does not divide 1"):
        list(simplex_grid(["Fe", "Ni"], 0.03))
    with pytest.raises(UserError, match="not among the elements"):
        parse_bounds("Pd:0-0.1", ["Fe", "Ni"])
    with pytest.raises(UserError, match="cannot read bound"):
        parse_bounds("Fe0-0.1", ["Fe", "Ni"])


def test_predict_named_compositions(screener: Screener) -> None:
    from pymatgen.core import Composition

    df = screener.predict(
        ["FeNiCoCrMn", {"Fe": 0.3, "Ni": 0.7}, Composition("CoCrNi")], temperature=800
    )
    assert len(df) == 6 and set(df["phase"]) == {"fcc", "bcc"}
    cantor = df[df["composition"] == "FeNiCoCrMn"]
    assert cantor["s_conf_kb_per_atom"].iloc[0] == pytest.approx(math.log(5), rel=1e-6)
    for _, r in df.iterrows():
        k = 4.0 if r["phase"] == "fcc" else 2.0
        assert r["a_angstrom"] == pytest.approx((k * r["v0_a3_per_atom"]) ** (1 / 3), rel=1e-5)
        assert r["g_mix_ev_per_atom"] == pytest.approx(
            r["emix_ev_per_atom"] - 800 * K_B_EV * r["s_conf_kb_per_atom"], abs=1e-6
        )
        assert 9.0 < r["v0_a3_per_atom"] < 14.0 and r["eform_std"] >= 0
    # the bcc-fcc difference is a property of the composition: equal on both rows
    assert cantor["delta_e_bcc_fcc_ev_per_atom"].nunique() == 1
    fcc, bcc = cantor.sort_values("phase", ascending=False)["eform_ev_per_atom"]
    assert cantor["delta_e_bcc_fcc_ev_per_atom"].iloc[0] == pytest.approx(bcc - fcc, abs=1e-6)


def test_unknown_element_names_the_supported_ones(screener: Screener) -> None:
    with pytest.raises(UnknownElementError, match="supports Cr, Mn, Fe, Co, Ni, Pd"):
        screener.predict("FeNiAl")


def test_screen_marks_pure_elements_as_extrapolation(screener: Screener) -> None:
    df = screener.screen(["Fe", "Ni", "Co"], step=0.25, phases=("fcc",))
    assert len(df) == 15
    pure = df[(df[["x_Fe", "x_Ni", "x_Co"]] == 1.0).any(axis=1)]
    assert len(pure) == 3 and pure["extrapolation"].all()
    eq = df[(df["x_Fe"] == 0.5) & (df["x_Ni"] == 0.5)]
    assert not eq["extrapolation"].iloc[0]
    with pytest.raises(UserError, match="given twice"):
        screener.screen(["Fe", "Fe", "Ni"])
    with pytest.raises(UserError, match="leave no composition"):
        screener.screen(["Fe", "Ni"], step=0.5, bounds={"Fe": (0.2, 0.3)})


def test_results_are_reproducible(screener: Screener) -> None:
    a = screener.predict("FeNiCoCrPd", phase="fcc", seed=3)
    b = screener.predict("FeNiCoCrPd", phase="fcc", seed=3)
    assert a.equals(b)
