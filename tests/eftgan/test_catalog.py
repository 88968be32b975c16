"""The catalogue of shipped models reads every figure from the models' own files."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest

import eftgan.catalog as catalog
from eftgan.catalog import describe, model_elements, shipped_model_for, shipped_models
from eftgan.errors import UserError
from eftgan.paths import DEFAULT_MODELS, default_model_dir


def test_every_default_model_is_listed_with_a_figure() -> None:
    found = shipped_models()
    defaults = {m.kind: m.name for m in found if m.default}
    assert defaults == DEFAULT_MODELS
    assert [m.kind for m in found if m.default] == list(DEFAULT_MODELS)
    for m in found:
        assert m.folder.is_dir() and m.size_mb > 0
        assert m.training_data and "?" not in m.training_data, m
        assert m.metric and m.unit is not None and m.source, m
        assert m.value is not None and math.isfinite(m.value) and m.value > 0, m
    json.dumps([m.as_dict() for m in found])


@pytest.mark.parametrize("kind", ["ecnet", "eftgan"])
def test_ensemble_figure_is_the_test_mae_of_eform_over_both_phases(kind: str) -> None:
    m = describe(default_model_dir(kind))
    test = json.loads((m.folder / "config.json").read_text())["metrics"]["test"]
    rows = [test[p]["eform"] for p in ("fcc", "bcc")]
    expected = sum(r["mae"] * r["n"] for r in rows) / sum(r["n"] for r in rows)
    assert m.metric == "test MAE of Eform" and m.unit == "eV/atom"
    assert m.value == pytest.approx(expected, rel=1e-12)
    assert m.source.startswith("config.json: metrics.test")
    assert m.training_data.startswith("ensemble of 5")


def test_saca_figure_is_the_calibrated_test_mae_of_cr() -> None:
    m = describe(default_model_dir("saca"))
    config = json.loads((m.folder / "config.json").read_text())
    assert (m.metric, m.unit) == ("test MAE of Cr", "wt %")
    assert m.value == config["metrics"]["Cr"]["mae"]
    assert "after calibration" in m.source


def test_size_is_the_folder_on_disk() -> None:
    m = describe(default_model_dir("dcgan"))
    total = sum(p.stat().st_size for p in m.folder.rglob("*") if p.is_file())
    assert m.size_mb == pytest.approx(total / 1e6, abs=0.01)


def test_an_installed_package_shows_what_the_folders_record(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(catalog, "_benchmark", lambda name: {})
    eftgan_model = describe(default_model_dir("eftgan"))
    assert eftgan_model.metric == "test MAE of Eform"
    assert eftgan_model.source.startswith("config.json")
    dcgan = describe(default_model_dir("dcgan"))
    assert dcgan.metric == "final discriminator loss"
    assert dcgan.source.startswith("history.csv")


def test_benchmark_figures_in_a_source_checkout() -> None:
    m = describe(default_model_dir("dcgan"))
    assert m.source.startswith("benchmarks/results/microstructure")
    # the shipped model's own run (its seed), not the mean over the seeds
    results = Path(__file__).resolve().parents[2] / "benchmarks" / "results" / "microstructure.json"
    seed = json.loads((m.folder / "config.json").read_text())["seed"]
    row = json.loads(results.read_text())["conditional_by_arch"]["spatial"]["seeds"][str(seed)]
    assert m.value == row["si_7"]["phase_fraction_error"]


def test_unknown_or_bare_folders_are_listed_without_a_figure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "unet-grains-v1").mkdir()
    (tmp_path / "unet-grains-v1" / "config.json").write_text('{"kind": "unet"}')
    (tmp_path / "ecnet-x-v1").mkdir()
    (tmp_path / "ecnet-x-v1" / "config.json").write_text('{"kind": "ecnet"}')
    (tmp_path / "not-a-model").mkdir()
    shutil.copytree(default_model_dir("saca"), tmp_path / "saca-copy-v1")
    monkeypatch.setattr(catalog, "shipped_models_dir", lambda: tmp_path)
    found = shipped_models()
    assert [m.name for m in found] == ["ecnet-x-v1", "saca-copy-v1", "unet-grains-v1"]
    assert [m.metric is None for m in found] == [True, False, True]
    assert not any(m.default for m in found)


@pytest.mark.parametrize("kind", ["ecnet", "eftgan"])
def test_the_default_is_chosen_where_it_knows_the_elements(kind: str) -> None:
    default = default_model_dir(kind)
    assert shipped_model_for(kind, ["Fe", "Ni"]) == default
    wider = shipped_model_for(kind, ["Al", "Ni"])
    assert wider != default and {"Al", "Ni"} <= set(model_elements(wider) or ())
    assert len(model_elements(wider) or ()) > len(model_elements(default) or ())
    with pytest.raises(UserError, match="no shipped model covers Au"):
        shipped_model_for(kind, ["Fe", "Au"])
    assert model_elements(default_model_dir("saca")) is None
