"""microstructure.generate: the shipped generator, its outputs, and the image writer."""

from __future__ import annotations

import itertools
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
    assert config["model"]["arch"] == "spatial"
    x = generate_images(g, 4, 7.0, seed=0)
    assert x.shape == (4, 64, 64) and x.dtype == np.float32
    assert 0 <= x.min() and x.max() <= 1
    # stored when sngan-alsi-conditional-v1 was shipped
    np.testing.assert_allclose(x.mean((1, 2)), [0.760603, 0.732917, 0.792268, 0.739706], atol=2e-5)
    np.testing.assert_allclose(x[:, 10, 20], [0.830695, 0.783501, 0.803231, 0.567617], atol=2e-5)
    y = generate_images(g, 2, 9.0, seed=5)
    np.testing.assert_allclose(y.mean((1, 2)), [0.680666, 0.755827], atol=2e-5)
    assert np.array_equal(generate_images(g, 4, 7.0, seed=0), x)


def test_shipped_generator_draws_more_eutectic_silicon_for_more_si() -> None:
    """The dark (Si) phase of the shipped model's images grows with the Si content asked
    for, at its training contents and between them, as the lever rule has it (about
    0.012 of the area per wt % in the synthetic training images: 0.029 at Al-4Si, 0.103 at
    Al-10Si, below the gray level 0.55 that splits their phases)."""
    g, _ = load_generator()
    dark = [float((generate_images(g, 32, si, seed=3) < 0.55).mean()) for si in (4, 5.5, 8.5, 10)]
    assert all(a < b for a, b in itertools.pairwise(dark)), dark
    assert 0.04 < dark[-1] - dark[0] < 0.12, dark


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
    cfg["model"][cfg["model"]["arch"]]["ngf"] = 8
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
