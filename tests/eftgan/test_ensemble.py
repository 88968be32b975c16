"""Deep ensembles: calibration arithmetic, member splits, and a tiny ensemble end to end."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest

from eftgan.ensemble import (
    EnsembleTrainConfig,
    calibrate,
    calibration_factor,
    member_split,
    train_ensemble,
    uncertainty_metrics,
)
from eftgan.errors import UserError


def test_calibration_factor_rescales_an_overconfident_spread() -> None:
    rng = np.random.default_rng(0)
    sigma = rng.uniform(0.01, 0.05, 20000)
    err = rng.normal(0.0, sigma)
    assert calibration_factor(err, sigma / 2) == pytest.approx(2.0, rel=0.03)
    m = uncertainty_metrics(err, sigma)
    assert m["coverage_1sigma"] == pytest.approx(0.683, abs=0.015)
    assert m["coverage_2sigma"] == pytest.approx(0.954, abs=0.01)
    assert m["spearman_abs_err_sigma"] > 0.2  # larger σ, larger errors
    flat = uncertainty_metrics(err, np.full_like(sigma, 0.03))
    assert math.isnan(flat["spearman_abs_err_sigma"])
    assert calibration_factor(np.array([np.nan]), np.array([0.0])) == 1.0
    assert uncertainty_metrics(np.array([np.nan]), np.array([1.0])) == {"n": 0}


def test_member_split_takes_whole_compositions(tiny_dft) -> None:
    from eftgan.dataset import load_dataset

    ds = load_dataset(tiny_dft)
    train = list(range(len(ds)))
    a = member_split(ds, train, 0.5, seed=1)
    assert a == member_split(ds, train, 0.5, seed=1) and a != member_split(ds, train, 0.5, 2)
    keys = {ds[i].group_key for i in a}
    assert {i for i in train if ds[i].group_key in keys} == set(a)
    assert len(keys) == round(0.5 * len({e.group_key for e in ds}))


def test_tiny_ensemble_end_to_end(tiny_dft, tmp_path) -> None:
    import eftgan
    from eftgan.dataset import load_dataset

    ds = load_dataset(tiny_dft)
    cfg = EnsembleTrainConfig(members=2, epochs=3, patience=3, gan_steps=40, gen_draws=2, n_z=4)
    report = train_ensemble(ds, tmp_path / "ens", cfg, progress=False)
    for kind in ("ecnet", "eftgan"):
        factor = report[kind]["factor"]
        assert set(factor) == {"fcc", "bcc"} and all(v > 0 for v in factor["fcc"].values())
        test = report[kind]["test"]["fcc"]["eform"]
        assert {"coverage_1sigma", "coverage_2sigma", "spearman_abs_err_sigma"} <= set(test)
        assert (tmp_path / "ens" / kind / "calibration.png").is_file()
    from eftgan.catalog import describe

    for kind in ("ecnet", "eftgan"):
        card = (tmp_path / "ens" / kind / "card.md").read_text()
        assert card.startswith(f"# {kind} ensemble") and "### Member 1:" in card
        assert "| fcc | eform |" in card and card.rstrip().splitlines()[-1].startswith("Versions")
        assert "- rebuild: `eftgan train ensemble --data DFT_DATASET --out DIR" in card
        listed = describe(tmp_path / "ens" / kind)
        assert listed.metric == "test MAE of Eform" and listed.value is not None
    on_disk = json.loads((tmp_path / "ens" / "report.json").read_text())
    assert on_disk["split"]["test"] == report["split"]["test"]
    model = eftgan.load(tmp_path / "ens" / "ecnet")
    assert len(model.members) == 2
    e = ds[0]
    row = model.predict_structures([e.structure], e.phase, [e.name])[0]
    singles = [
        eftgan.load(tmp_path / "ens" / "members" / f"ecnet-{k}").predict_structures(
            [e.structure], e.phase, [e.name]
        )[0]
        for k in range(2)
    ]
    eform = [s["eform_ev_per_atom"] for s in singles]
    assert row["eform_ev_per_atom"] == pytest.approx(np.mean(eform), abs=1e-6)
    f = report["ecnet"]["factor"][e.phase]["eform_ev_per_atom"]
    assert row["eform_std"] == pytest.approx(np.std(eform) * f, rel=1e-4, abs=1e-9)
    assert isinstance(row["extrapolation"], bool)
    screener = eftgan.load(tmp_path / "ens" / "eftgan")
    df = screener.predict("FeNiCoCr", phase="fcc")
    assert len(screener.members) == 2 and (df["rmsd_std"] >= 0).all()
    again = train_ensemble(ds, tmp_path / "ens", cfg, progress=False)  # members are reused
    for p in ("fcc", "bcc"):
        assert again["ecnet"]["factor"][p] == pytest.approx(report["ecnet"]["factor"][p])
    other = dataclasses.replace(cfg, subsample=0.5)
    with pytest.raises(UserError, match="other settings or data"):
        train_ensemble(ds, tmp_path / "ens", other, progress=False)
    # refitting a calibrated folder starts from the raw spread and keeps the card's history
    folder = tmp_path / "ens" / "ecnet"
    card = folder / "card.md"
    text = card.read_text().replace(
        "\n## Members\n", "\n## History\n\n- v1: a test\n\n## Members\n"
    )
    card.write_text(text)
    refit = calibrate(folder, "ecnet", ds, cfg.n_z)
    for p in ("fcc", "bcc"):
        assert refit["factor"][p] == pytest.approx(again["ecnet"]["factor"][p])
    assert "- v1: a test" in card.read_text() and card.read_text().count("## Members") == 1


def test_card_rebuild_line_names_every_label_source(tmp_path) -> None:
    from eftgan.ensemble import ensemble_card

    model = {
        "members": [{}, {}],
        "split": {"train": ["a"], "validation": ["b"], "test": ["c"]},
        "protocol": "p",
        "settings": {"seed": 3, "names": ["ecnet", "eftgan"]},
    }
    config = {"model": {**model, "label_sources": ["dft", "chgnet"]}, "metrics": {"test": {}}}
    card = ensemble_card(tmp_path / "ens", "ecnet", config, "members")
    assert "train ensemble --data DFT_DATASET --data CHGNET_DATASET --out DIR --seed 3" in card
    old = ensemble_card(tmp_path / "ens", "ecnet", {"model": model, "metrics": {"test": {}}}, "")
    assert "train ensemble --data DATASET --out DIR" in old
