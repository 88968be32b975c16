"""spectral.predict: the shipped SACA model loads and reads spectra as it always has."""

from __future__ import annotations

import json
import shutil
import sys

import numpy as np
import pytest

from spectral.predict import load_saca, predict, predict_logits, uncalibrated

#: Outputs of the shipped compact SACA on three reproducible spectra, stored when it shipped.
SHIPPED_WT = np.array(
    [
        [89.3435, 7.8034, 0.0, 2.8127, 0.0302, 0.0041, 0.0, 0.0, 0.0, 0.0012, 0.0049],
        [91.4064, 7.3138, 0.0, 0.4841, 0.7334, 0.0336, 0.0, 0.0, 0.0021, 0.0264, 0.0002],
        [85.4837, 11.2503, 0.0, 2.8269, 0.3232, 0.0365, 0.005, 0.0, 0.0039, 0.0221, 0.0483],
    ]
)
SHIPPED_LOGIT = np.array(
    [
        [60.126, 61.189, -16.658, 12.862, -1.853, -4.489, -26.004, -19.805, -5.437, -2.66, -0.052],
        [47.24, 47.871, -5.716, 5.621, 6.556, 2.324, -10.293, -26.84, -2.424, 3.543, -8.189],
        [38.349, 39.532, -19.255, 9.191, 3.502, 0.75, -2.225, -8.424, -1.778, 2.032, 4.891],
    ]
)


def _spectra() -> np.ndarray:
    rng = np.random.default_rng(0)
    return (rng.random((8, 4001)).astype(np.float32) ** 6 * 60000)[:3]


def test_shipped_model_gives_its_stored_outputs() -> None:
    model, config = load_saca()
    assert config["kind"] == "saca" and config["model"]["instrument"] == "saca2021"
    wt, logit = predict_logits(model, _spectra())
    assert np.allclose(wt, SHIPPED_WT, atol=2e-3)
    assert np.allclose(logit, SHIPPED_LOGIT, atol=2e-2)
    wt2, prob = predict(model, _spectra(), batch=2)
    assert np.allclose(wt2, wt, atol=1e-5) and np.array_equal(prob > 0.5, logit > 0)
    # without its calibration the network reads another composition, still summing to 100
    raw, _ = predict(uncalibrated(model), _spectra())
    assert not np.allclose(raw, wt) and np.allclose(raw.sum(1), 100.0, atol=1e-3)


def test_eftgan_load_dispatches_to_load_saca() -> None:
    import eftgan
    from eftgan.paths import default_model_dir

    model, config = eftgan.load(default_model_dir("saca"))
    assert config["model"]["instrument"] == "saca2021"
    assert np.allclose(predict_logits(model, _spectra())[0], SHIPPED_WT, atol=2e-3)


def test_a_folder_with_the_old_instrument_name_loads(tmp_path) -> None:
    from eftgan.paths import default_model_dir

    folder = tmp_path / "old"
    shutil.copytree(default_model_dir("saca"), folder)
    cfg = json.loads((folder / "config.json").read_text())
    cfg["model"]["instrument"] = "seed"
    (folder / "config.json").write_text(json.dumps(cfg))
    _, config = load_saca(folder)
    assert config["model"]["instrument"] == "saca2021"


def test_inference_imports_no_training_code() -> None:
    import subprocess

    code = (
        "import sys, spectral.analyze, spectral.predict, spectral.calibration; "
        "bad = [m for m in sys.modules if m.startswith('torch_geometric') "
        "or m in ('eftgan.train', 'spectral.train')]; print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_missing_folder_is_a_one_line_error(tmp_path) -> None:
    from eftgan.errors import CheckpointError

    with pytest.raises(CheckpointError, match="does not exist"):
        load_saca(tmp_path / "nothing")
