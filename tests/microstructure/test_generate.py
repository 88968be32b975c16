"""microstructure.generate: the shipped generator, its outputs, and the image writer."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from eftgan.errors import CheckpointError, UserError
from eftgan.paths import default_model_dir
from microstructure.generate import generate_images, load_generator, write_images


def test_shipped_generator_gives_its_stored_outputs() -> None:
    g, config = load_generator()  # the default: the shipped conditional model
    assert config["kind"] == "dcgan" and config["model"]["si_wt_pct"] == [4.0, 7.0, 10.0]
    x = generate_images(g, 4, 7.0, seed=0)
    assert x.shape == (4, 64, 64) and x.dtype == np.float32
    assert 0 <= x.min() and x.max() <= 1
    # stored when generation moved out of the training module; the weights are unchanged
    np.testing.assert_allclose(x.mean((1, 2)), [0.771617, 0.730497, 0.759144, 0.799991], atol=2e-5)
    np.testing.assert_allclose(x[:, 10, 20], [0.824001, 0.660985, 0.670341, 0.812581], atol=2e-5)
    y = generate_images(g, 2, 9.0, seed=5)
    np.testing.assert_allclose(y.mean((1, 2)), [0.765332, 0.720846], atol=2e-5)
    assert np.array_equal(generate_images(g, 4, 7.0, seed=0), x)


def test_generate_checks_the_si_content() -> None:
    g, _ = load_generator(default_model_dir("dcgan"))
    with pytest.raises(UserError, match="conditional: give the Si content"):
        generate_images(g, 1)
    with pytest.raises(UserError, match="outside 0-25"):
        generate_images(g, 1, 40.0)


def test_load_generator_refuses_other_folders(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="does not exist"):
        load_generator(tmp_path / "nowhere")
    bad = tmp_path / "bad"
    shutil.copytree(default_model_dir("dcgan"), bad)
    cfg = json.loads((bad / "config.json").read_text())
    cfg["model"]["dcgan"]["ngf"] = 16
    (bad / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(CheckpointError, match="weights do not fit the architecture"):
        load_generator(bad)


def test_write_images(tmp_path: Path) -> None:
    out = tmp_path / "gen"
    write_images(out, np.zeros((3, 8, 8)))
    assert sorted(p.name for p in out.iterdir()) == [f"gen_{i:04d}.png" for i in range(3)]
    with pytest.raises(UserError, match="already exists"):
        write_images(out, np.zeros((1, 8, 8)))
    write_images(out, np.ones((1, 8, 8, 3)), force=True)
    assert [p.name for p in out.iterdir()] == ["gen_0000.png"]
