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
        ts = 800 * K_B_EV * r["s_conf_kb_per_atom"]
        assert r["g_mix_ev_per_atom"] == pytest.approx(r["emix_ev_per_atom"] - ts, abs=1e-6)
        assert r["g_ev_per_atom"] == pytest.approx(r["eform_ev_per_atom"] - ts, abs=1e-6)
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


def test_library_writes_the_same_files_as_the_cli(screener: Screener, tmp_path, capsys) -> None:
    import json

    import pandas as pd
    from eftgan_cli.main import main

    from eftgan.explore import ExploreResult, write_explore

    args = ["--elements", "Fe,Ni,Co,Cr", "--step", "0.25", "--top", "5", "--temperature", "900"]
    with pytest.raises(SystemExit) as exc:
        main(["explore", *args, "--out", str(tmp_path / "cli")])
    assert exc.value.code == 0
    printed = capsys.readouterr().out
    res = screener.explore(
        ["Fe", "Ni", "Co", "Cr"], tmp_path / "lib", step=0.25, top=5, temperature=900
    )
    cli, lib = tmp_path / "cli", tmp_path / "lib"
    names = sorted(p.name for p in lib.iterdir())
    assert names == sorted(p.name for p in cli.iterdir())
    assert {"explore.csv", "explore.parquet", "candidates.csv", "map_phase.png"} <= set(names)
    for name in ("explore.csv", "candidates.csv"):
        assert (lib / name).read_bytes() == (cli / name).read_bytes(), name
    pd.testing.assert_frame_equal(
        pd.read_parquet(lib / "explore.parquet"), pd.read_parquet(cli / "explore.parquet")
    )
    assert res.n_compositions == 35 and res.phases == ["fcc", "bcc"] and len(res.candidates) == 5
    maps = ["map_eform.png", "map_ms.png", "map_phase.png", "map_rmsd.png"]
    assert sorted(p.name for p in res.maps) == maps
    cand = pd.read_csv(res.candidates_csv)
    assert list(cand["composition"]) == [r["composition"] for r in res.candidates]
    assert cand["g_ev_per_atom"].is_monotonic_increasing and not cand["extrapolation"].any()
    assert (cand["phase"] == cand["stable_phase"]).all()
    assert (
        (lib / "ranking.txt").read_text().startswith("ranked by g = Eform - T S_conf at T = 900 K")
    )
    assert res.candidates[0]["composition"] in printed
    assert ExploreResult.from_dict(json.loads(json.dumps(res.as_dict()))) == res
    with pytest.raises(UserError, match="already exists"):
        write_explore(screener, ["Fe", "Ni"], lib)
    again = write_explore(screener, ["Fe", "Ni"], lib, step=0.5, maps=False, force=True)
    assert again.maps == [] and not (lib / "map_phase.png").exists()


def test_a_less_stable_phase_never_outranks_its_twin(screener: Screener, tmp_path) -> None:
    """g shares one reference across phases: at every composition the row of higher Eform has
    the higher g, and only the stable phase can be a candidate (g_mix, referenced per
    lattice, could rank a bcc row above its more stable fcc twin)."""
    import pandas as pd

    df = screener.screen(["Fe", "Ni", "Co", "Cr", "Mn"], step=0.1)
    fcc, bcc = (df[df["phase"] == p].reset_index(drop=True) for p in ("fcc", "bcc"))
    bcc_worse = bcc["eform_ev_per_atom"] > fcc["eform_ev_per_atom"]
    assert (bcc["g_ev_per_atom"][bcc_worse] > fcc["g_ev_per_atom"][bcc_worse]).all()
    assert (fcc["stable_phase"][bcc_worse] == "fcc").all()
    res = screener.explore(["Fe", "Ni", "Co", "Cr", "Mn"], tmp_path / "x", step=0.1, maps=False)
    cand = pd.read_csv(res.candidates_csv)
    assert len(cand) == 10 and (cand["phase"] == cand["stable_phase"]).all()
    rank = df[(df["phase"] == df["stable_phase"]) & ~df["extrapolation"]]
    assert cand["g_ev_per_atom"].iloc[0] == pytest.approx(rank["g_ev_per_atom"].min(), abs=1e-6)


def test_screening_arithmetic_equals_the_networks(screener: Screener) -> None:
    """The rearranged forward pass of a member is the generator + MLP of its weights."""
    import torch

    rng = np.random.default_rng(0)
    c = torch.from_numpy(rng.dirichlet(np.ones(6), 40).astype(np.float32))
    c[:10, 5] = 0.0
    z = torch.randn(40, screener.cfg.noise_dim)
    for m in screener.members:
        for p in (0, 1):
            ph = torch.full((40,), p)
            with torch.no_grad():
                ref = m.mlp(m.g(c, ph, z), c, ph) * m.y_std + m.y_mean
                assert torch.allclose(m.draws(c, p, z, list(range(6))), ref, atol=1e-5)
                sub = c.clone()
                sub[:, 5] = 0.0
                ref = m.mlp(m.g(sub, ph, z), sub, ph) * m.y_std + m.y_mean
                assert torch.allclose(m.draws(sub, p, z, list(range(5))), ref, atol=1e-5)
