"""eftgan.model: a model folder loads offline and predicts; damaged or foreign ones are refused."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from safetensors.torch import load_file

from eftgan.checkpoint import read_model_folder
from eftgan.errors import CheckpointError
from eftgan.model import load_model


def test_model_loads_offline_and_predicts(tiny_model: Path, tiny_dft: Path) -> None:
    from eftgan.dataset import load_dataset

    model = load_model(tiny_model)
    ds = load_dataset(tiny_dft)
    rows = model.predict_structures([e.structure for e in ds], names=ds.names)
    assert len(rows) == len(ds)
    v0 = np.array([r["v0_a3_per_atom"] for r in rows])
    assert np.isfinite(v0).all() and (v0 > 5).all() and (v0 < 20).all()
    assert all(r["phase_source"] == "file name" for r in rows)
    feats = model.element_features([ds[0].structure], phase="fcc")[0]
    assert set(feats) == {"Fe", "Ni"}


def test_tampered_weights_are_refused(tiny_model: Path, tmp_path: Path) -> None:
    import shutil

    bad = tmp_path / "bad"
    shutil.copytree(tiny_model, bad)
    w = load_file(bad / "weights.safetensors")
    w["embedding.weight"] += 1.0
    from safetensors.torch import save_file

    save_file(w, bad / "weights.safetensors")
    with pytest.raises(CheckpointError, match="modified or damaged"):
        load_model(bad)


def test_other_format_version_is_refused(tiny_model: Path, tmp_path: Path) -> None:
    import shutil

    old = tmp_path / "old"
    shutil.copytree(tiny_model, old)
    cfg = json.loads((old / "config.json").read_text())
    cfg["format_version"] = 0
    (old / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(CheckpointError, match="model format 0"):
        read_model_folder(old, "ecnet")
    with pytest.raises(CheckpointError, match="does not exist"):
        load_model(tmp_path / "missing")
