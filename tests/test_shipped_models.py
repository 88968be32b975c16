"""The shipped models give the outputs recorded in ``tests/data/shipped_predictions.json``.

The values were computed by ``benchmarks/shipped_predictions.py`` before the model code was
reorganised; here each model is loaded through the one loader, ``eftgan.load`` on the folder
``eftgan.paths.default_model_dir(kind)``, and run on the same inputs.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
STORED = json.loads((ROOT / "tests" / "data" / "shipped_predictions.json").read_text())
RTOL, ATOL = 1e-5, 1e-6


def _script() -> Any:
    spec = importlib.util.spec_from_file_location(
        "shipped_predictions", ROOT / "benchmarks" / "shipped_predictions.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SCRIPT = _script()


def _load(kind: str) -> Any:
    import eftgan
    from eftgan.paths import default_model_dir

    return eftgan.load(default_model_dir(kind))


def _close(actual: Any, expected: Any, where: str = "") -> None:
    """Numbers within RTOL/ATOL, everything else equal, recursively."""
    if isinstance(expected, dict):
        assert isinstance(actual, dict) and set(actual) == set(expected), where
        for k in expected:
            _close(actual[k], expected[k], f"{where}.{k}")
    elif isinstance(expected, list):
        assert isinstance(actual, list) and len(actual) == len(expected), where
        for i, (a, e) in enumerate(zip(actual, expected, strict=True)):
            _close(a, e, f"{where}[{i}]")
    elif isinstance(expected, float) and not isinstance(expected, bool):
        np.testing.assert_allclose(actual, expected, rtol=RTOL, atol=ATOL, err_msg=where)
    else:
        assert actual == expected, where


def test_the_stored_values_are_for_the_default_models() -> None:
    from eftgan.paths import DEFAULT_MODELS

    assert STORED["models"] == DEFAULT_MODELS


def test_ecnet_predictions_unchanged() -> None:
    _close(SCRIPT.ecnet_predictions(_load("ecnet")), STORED["ecnet"], "ecnet")


def test_eftgan_screener_predictions_unchanged() -> None:
    _close(SCRIPT.eftgan_predictions(_load("eftgan")), STORED["eftgan"], "eftgan")


def test_saca_predictions_unchanged() -> None:
    from spectral.predict import predict

    model, config = _load("saca")
    got = SCRIPT.saca_predictions(model, config, predict)
    assert got["input_sha256"] == STORED["saca"]["input_sha256"], (
        "NumPy's random stream changed: the inputs differ from the recorded ones; rerun "
        "benchmarks/shipped_predictions.py at a commit whose outputs are trusted"
    )
    _close(got, STORED["saca"], "saca")


@pytest.mark.parametrize("kind", ["ecnet", "eftgan", "saca", "dcgan"])
def test_load_dispatches_on_kind(kind: str) -> None:
    from eftgan.checkpoint import read_kind
    from eftgan.paths import default_model_dir

    assert read_kind(default_model_dir(kind)) == kind


def test_dcgan_images_unchanged() -> None:
    from microstructure.generate import generate_images

    generator, _ = _load("dcgan")
    _close(SCRIPT.dcgan_predictions(generator, generate_images), STORED["dcgan"], "dcgan")


def _shipped_files() -> list[Path]:
    """The files of data/ that the wheel ships: pyproject's package-data globs of eftgan_data
    (hidden files excepted, as setuptools' glob does)."""
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    data = ROOT / config["package-dir"]["eftgan_data"]
    files = {
        p
        for pattern in config["package-data"]["eftgan_data"]
        for p in data.glob(pattern)
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(data).parts)
    }
    return sorted(files)


def test_the_shipped_models_total_under_20_mb() -> None:
    files = _shipped_files()
    assert any(p.name == "weights.safetensors" for p in files)
    total = sum(p.stat().st_size for p in files)
    folders = {p.relative_to(ROOT).parts[2] for p in files}
    assert total < 20e6, f"data/models ships {total / 1e6:.1f} MB in {sorted(folders)}"


def test_the_shipped_oracle_labels_are_consistent() -> None:
    """data/labels/hea10-chgnet-v1: a DFT-layout table whose Eform and Emix follow from its
    own Etot and the oracle's pure-element references."""
    from eftgan.dataset import load_dataset

    folder = ROOT / "data" / "labels" / "hea10-chgnet-v1"
    ds = load_dataset(folder)
    refs = json.loads((folder / "references.json").read_text())
    prov = json.loads((folder / "provenance.json").read_text())
    assert len(ds) == prov["n_structures"] == 400 - len(prov["failed"])
    assert {e.source for e in ds} == {"chgnet"} and prov["oracle"]["oracle"] == "chgnet"
    assert len(ds.elements) == 10
    for e in ds:
        x, etot = e.fractions, e.targets["etot_ev_per_atom"]
        ground = sum(v * refs[el][refs[el]["ground"]]["energy_ev_per_atom"] for el, v in x.items())
        same = sum(v * refs[el][e.phase]["energy_ev_per_atom"] for el, v in x.items())
        assert abs(e.targets["eform_ev_per_atom"] - (etot - ground)) < 1e-6, e.name
        assert abs(e.targets["emix_ev_per_atom"] - (etot - same)) < 1e-6, e.name
