"""The StyleGAN2-lite option: modulated convolutions, fields of any size from one seed, the
minibatch standard deviation, and training, resuming and generating through the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from eftgan.errors import UserError
from microstructure.images import write_png
from tests.cli.test_cli import assert_user_error, run
from tests.conftest import dies_after

TINY = dict(nz=4, upsampling=16, w_dim=8, ngf=4, ndf=4, image_size=32)


def test_modulated_conv_equals_convolving_with_demodulated_weights():
    from microstructure.stylegan import ModulatedConv

    x, w = torch.randn(2, 3, 8, 8), torch.randn(2, 4)
    for padding in ("zeros", "reflect"):
        torch.manual_seed(0)
        conv = ModulatedConv(3, 5, 3, w_dim=4, padding=padding)
        style = conv.affine(w)
        for i in range(2):  # the textbook form: each image its own modulated, demodulated kernel
            k = conv.weight * style[i][None, :, None, None]
            k = k / k.square().sum((1, 2, 3), keepdim=True).sqrt()
            xi = x[i : i + 1] if padding == "zeros" else F.pad(x[i : i + 1], (1,) * 4, mode=padding)
            want = F.conv2d(xi, k, padding=1 if padding == "zeros" else 0)
            assert torch.allclose(conv(x, w)[i : i + 1], want, atol=1e-5)


def test_style_generator_makes_fields_of_any_multiple_of_16_from_a_seed():
    from microstructure.generate import generate_images
    from microstructure.stylegan import StyleConfig, build_style

    g, d = build_style(StyleConfig(**TINY), seed=0)
    a = generate_images(g, 2, seed=3)
    assert a.shape == (2, 32, 32) and 0.0 <= a.min() and a.max() <= 1.0
    assert np.array_equal(a, generate_images(g, 2, seed=3))
    assert not np.array_equal(a, generate_images(g, 2, seed=4))
    assert generate_images(g, 1, seed=0, size=80).shape == (1, 80, 80)
    with pytest.raises(UserError, match="multiple of 16"):
        generate_images(g, 1, size=40)
    assert d.logits(torch.zeros(4, 1, 32, 32)).shape == (4,)
    with pytest.raises(ValueError, match="power of two"):
        build_style(StyleConfig(**{**TINY, "image_size": 48}))


def test_minibatch_std_sees_a_collapsed_batch():
    from microstructure.stylegan import _minibatch_std

    same = torch.randn(1, 3, 4, 4).expand(8, 3, 4, 4)
    assert torch.allclose(_minibatch_std(same), torch.zeros(8, 1, 4, 4), atol=1e-3)
    assert (_minibatch_std(torch.randn(6, 3, 4, 4)) > 0.3).all()  # groups of 3 for 6 images


def test_style_trains_resumes_and_generates_through_the_cli(tmp_path, capsys, monkeypatch):
    from eftgan.runstate import RunState
    from microstructure.train import train_dcgan

    rng = np.random.default_rng(0)
    (tmp_path / "img").mkdir()
    for i in range(2):
        write_png(tmp_path / "img" / f"im{i}.png", rng.random((64, 64)))
    kw = dict(arch="style", size=32, iters=4, batch_size=4, nz=4, width=4, checkpoint_every=2)
    real_save = RunState.save

    monkeypatch.setattr(RunState, "save", dies_after(real_save))
    with pytest.raises(KeyboardInterrupt):
        train_dcgan([tmp_path / "img"], tmp_path / "cut", progress=False, **kw)
    monkeypatch.setattr(RunState, "save", real_save)
    r = train_dcgan([tmp_path / "img"], tmp_path / "cut", progress=False, **kw)
    ref = train_dcgan([tmp_path / "img"], tmp_path / "ref", progress=False, **kw)
    assert r["resumed_from"] == 2 and r["history"] == ref["history"]
    cut, whole = (tmp_path / p / "weights.safetensors" for p in ("cut", "ref"))
    assert cut.read_bytes() == whole.read_bytes()
    config = json.loads((tmp_path / "ref" / "config.json").read_text())
    assert config["model"]["arch"] == "style" and config["model"]["style"]["image_size"] == 32
    model = str(tmp_path / "ref")
    code, _, _ = run(capsys, "micro", "generate", "--model", model, "--n", "2", "--size", "64",
                       "--out", str(tmp_path / "gen"))  # fmt: skip
    assert code == 0 and len(list((tmp_path / "gen").glob("*.png"))) == 2


def test_crop_sizes_are_checked_per_architecture(tmp_path, capsys):
    from microstructure.train import DCGANTrainConfig

    with pytest.raises(UserError, match="power of two"):
        DCGANTrainConfig(arch="style", size=96).validate(1)
    with pytest.raises(UserError, match="64-pixel crops only"):
        DCGANTrainConfig(arch="paper", size=128).validate(1)
    assert DCGANTrainConfig(arch="style").resolved().size == 128
    code, _, err = run(capsys, "micro", "train", "--images", str(tmp_path), "--arch", "spatial",
                       "--size", "40", "--out", str(tmp_path / "m"))  # fmt: skip
    assert_user_error(code, err, "not a multiple of 16")


def test_runs_from_before_the_crop_size_setting_keep_their_fingerprint():
    from microstructure.train import DCGANTrainConfig

    old = DCGANTrainConfig(iters=8).fingerprint()
    assert not {"size", "upsampling", "padding"} & set(old)  # a saved state still resumes
    style = DCGANTrainConfig(arch="style").fingerprint()
    assert (style["size"], style["upsampling"], style["padding"]) == (128, 32, "zeros")
    assert DCGANTrainConfig(size=128).fingerprint()["size"] == 128
