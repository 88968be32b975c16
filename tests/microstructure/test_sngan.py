"""The default GAN (fully convolutional G, spectrally normalised D), its training recipe and
checks, the texture features, the particle shapes and the new input checks."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from eftgan.errors import UserError
from microstructure.images import write_png
from tests.cli.test_cli import assert_user_error, run


def test_spatial_generator_makes_any_multiple_of_16():
    from microstructure.generate import generate_images
    from microstructure.sngan import SpatialConfig, build_spatial

    g, d = build_spatial(SpatialConfig(nz=8, ngf=4, ndf=4), seed=0)
    assert generate_images(g, 2, seed=0).shape == (2, 64, 64)
    big = generate_images(g, 1, seed=0, size=128)
    assert big.shape == (1, 128, 128) and 0.0 <= big.min() and big.max() <= 1.0
    with pytest.raises(UserError, match="multiple of 16"):
        generate_images(g, 1, size=100)
    assert d.logits(torch.zeros(3, 1, 64, 64)).shape == (3,)


def test_pixel_noise_adds_detail_below_the_field_and_nothing_at_zero_strength():
    from microstructure.generate import generate_images
    from microstructure.sngan import SpatialConfig, build_spatial

    plain, _ = build_spatial(SpatialConfig(nz=8, ngf=4), seed=0)
    noisy, _ = build_spatial(SpatialConfig(nz=8, ngf=4, pixel_noise=True), seed=0)
    field, pixels = noisy.noise(2, torch.Generator().manual_seed(1), size=128)
    assert field.shape == (2, 8, 8, 8) and pixels.shape == (2, 1, 128, 128)
    plain.eval(), noisy.eval()
    assert torch.equal(plain(field), noisy((field, pixels)))  # strengths start at zero
    for s in noisy.noise_strength:
        torch.nn.init.constant_(s, 0.5)
    other = noisy((field, torch.randn(2, 1, 128, 128)))
    assert not torch.allclose(noisy((field, pixels)), other)  # same field, new detail
    a = generate_images(noisy, 2, seed=3, size=96)
    assert a.shape == (2, 96, 96) and np.array_equal(a, generate_images(noisy, 2, seed=3, size=96))
    from microstructure.train import DCGANTrainConfig

    assert "pixel_noise" not in DCGANTrainConfig().fingerprint()  # older runs still resume
    assert DCGANTrainConfig(pixel_noise=True).model_config().pixel_noise
    with pytest.raises(UserError, match="--arch spatial only"):
        DCGANTrainConfig(arch="style", pixel_noise=True).validate(1)


def test_paper_generator_refuses_other_sizes():
    from microstructure.dcgan import DCGANConfig, build
    from microstructure.generate import generate_images

    g, _ = build(DCGANConfig(nz=8, ngf=4, ndf=4))
    with pytest.raises(UserError, match="64-pixel images only"):
        generate_images(g, 1, size=128)


def test_spectral_norm_holds_each_layer_near_one():
    from microstructure.sngan import SpatialConfig, build_spatial

    _, d = build_spatial(SpatialConfig(ndf=8), seed=0)
    for _ in range(30):  # power iterations run in training mode
        d.logits(torch.randn(4, 1, 64, 64))
    convs = [m for m in d.modules() if isinstance(m, torch.nn.Conv2d)]
    for conv in convs:
        sigma = torch.linalg.matrix_norm(conv.weight.detach().flatten(1), ord=2)
        assert 0.9 < float(sigma) < 1.1
    _, plain = build_spatial(SpatialConfig(ndf=8, spectral_norm=False), seed=0)
    assert not any("parametrizations" in k for k in plain.state_dict())


def test_diff_augment_shifts_and_cuts_alike_for_one_generator():
    from microstructure.train import diff_augment

    x = torch.rand(64, 1, 64, 64) + 0.1  # no pixel is 0 before the augmentation
    a = diff_augment(x, torch.Generator().manual_seed(3))
    b = diff_augment(x, torch.Generator().manual_seed(3))
    assert torch.equal(a, b) and a.shape == x.shape
    zero = (a == 0).flatten(1).float().mean(1)
    # a 31 x 31 cut (23 % of the crop, less where clipped at an edge) plus the shift's fill
    assert (zero > 0.03).all() and (zero < 0.6).all() and 0.15 < float(zero.mean()) < 0.4
    kept = a != 0  # every kept pixel is a pixel of the image, moved
    assert set(np.round(a[kept].numpy(), 6)) <= set(np.round(x.numpy().ravel(), 6))


def test_gray_level_distance_is_the_histograms_gap_and_pulls_a_batch_onto_the_real_one():
    from microstructure.train import DCGANTrainConfig, gray_level_distance

    g = torch.Generator().manual_seed(0)
    real = torch.where(torch.rand(8, 1, 16, 16, generator=g) < 0.1, -0.5, 0.6)  # 10 % dark
    shuffled = real.flatten()[torch.randperm(real.numel(), generator=g)].reshape(real.shape)
    assert float(gray_level_distance(shuffled, real)) == 0.0  # where the pixels sit: no matter
    assert float(gray_level_distance(real + 0.2, real)) == pytest.approx(0.2)
    # a batch with 30 % of its pixels dark, moved by the term's gradient, loses the excess
    fake = torch.where(torch.rand(8, 1, 16, 16, generator=g) < 0.3, -0.5, 0.6).requires_grad_()
    opt = torch.optim.SGD([fake], lr=200.0)
    for _ in range(50):
        opt.zero_grad()
        gray_level_distance(fake, real).backward()
        opt.step()
    dark = float((fake.detach() < 0.05).float().mean())
    assert 0.08 < dark < 0.12
    assert "histogram" not in DCGANTrainConfig().fingerprint()  # older runs still resume
    assert DCGANTrainConfig(histogram=10.0).fingerprint()["histogram"] == 10.0
    with pytest.raises(UserError, match="negative"):
        DCGANTrainConfig(histogram=-1.0).validate(1)


def test_texture_features_separate_textures_and_score_diversity():
    from microstructure.features import diversity_ratio, feature_frechet, texture_features

    rng = np.random.default_rng(0)
    fine = [rng.random((64, 64)) for _ in range(40)]
    fine2 = [rng.random((64, 64)) for _ in range(40)]
    coarse = [np.kron(rng.random((8, 8)), np.ones((8, 8))) for _ in range(40)]
    f, f2, c = (texture_features(s) for s in (fine, fine2, coarse))
    assert f.shape == (40, 2 * (32 + 64 + 96 + 128))
    assert feature_frechet(f, f2) < 0.1 * feature_frechet(f, c)
    assert 0.8 < diversity_ratio(f2, f) < 1.25
    assert diversity_ratio(texture_features([fine[0]] * 10), f) == pytest.approx(0.0, abs=1e-6)


def test_particle_shapes_tell_needles_from_discs():
    from microstructure.metrics import particle_shapes, shape_distances

    yy, xx = np.mgrid[:64, :64]
    disc = (yy - 20) ** 2 + (xx - 20) ** 2 <= 36
    needle = np.zeros((64, 64), bool)
    needle[40:42, 10:50] = True
    area, aspect = particle_shapes(disc | needle)
    by_area = dict(zip(area.astype(int), aspect, strict=True))
    assert by_area[80] == pytest.approx(20.0, rel=0.1)  # 40 x 2 pixels
    assert by_area[int(disc.sum())] == pytest.approx(1.0, abs=0.05)
    d = shape_distances([disc], [needle])
    assert d["aspect_ratio_w1"] > 15 and shape_distances([disc], [disc])["aspect_ratio_w1"] == 0


def _folder(path: Path, n: int, size: int = 128, colour: bool = False) -> Path:
    path.mkdir(parents=True)
    rng = np.random.default_rng(len(str(path)))
    for i in range(n):
        img = rng.random((size, size, 3) if colour else (size, size))
        write_png(path / f"im{i}.png", img)
    return path


def test_collapse_warns_then_stops_and_keeps_the_last_good_state(tmp_path, monkeypatch):
    import microstructure.features as features
    import microstructure.train as train

    data = [_folder(tmp_path / "img", 4)]
    ratios = iter([0.9, 0.4, 0.1, 0.9])
    monkeypatch.setattr(features, "diversity_ratio", lambda *a: next(ratios))
    monkeypatch.setattr(train, "WATCH_FROM", 0)
    kw = dict(iters=12, batch_size=4, nz=8, width=4, checkpoint_every=4)
    with pytest.raises(train.TrainingCollapsed, match="collapsed at iteration 12"):
        train.train_dcgan(data, tmp_path / "m", progress=False, **kw)
    assert not (tmp_path / "m" / "config.json").exists()
    resumed = train.train_dcgan(data, tmp_path / "m", progress=False, **kw)  # ratio 0.9
    assert resumed["resumed_from"] == 8  # the last good state was kept
    ratios = iter([0.9, 0.4, 0.1])
    r = train.train_dcgan(data, tmp_path / "w", progress=False, stop_on_collapse=False, **kw)
    warned = json.loads((tmp_path / "w" / "config.json").read_text())["warnings"]
    assert [w.split(":")[0] for w in warned] == ["iteration 8", "iteration 12"]
    assert [it for it, _ in r["history"]["diversity"]] == [4, 8, 12]


def test_bad_training_folders_give_one_line(tmp_path, capsys):
    gray = _folder(tmp_path / "gray", 2)
    _folder(tmp_path / "colour", 1, colour=True)
    (tmp_path / "colour" / "im_gray.png").write_bytes((gray / "im0.png").read_bytes())
    args = ["micro", "train", "--iters", "2", "--width", "4", "--nz", "8", "--quiet"]
    code, _, err = run(
        capsys, *args, "--images", str(tmp_path / "colour"), "--out", str(tmp_path / "x1")
    )
    assert_user_error(code, err, "mix gray and colour (1 of 2 in colour")
    code, _, err = run(capsys, *args, "--images", str(gray), "--out", str(tmp_path / "x"))
    assert_user_error(code, err, "make only 8 non-overlapping 64-pixel crops, fewer than a batch")
    out = tmp_path / "ok"
    code, _, _ = run(capsys, *args, "--batch-size", "4", "--images", str(gray), "--out", str(out))
    assert code == 0
    assert json.loads((out / "config.json").read_text())["model"]["arch"] == "spatial"


def test_normalize_and_evaluate_cli(tmp_path, capsys):
    src = tmp_path / "src"
    src.mkdir()
    rng = np.random.default_rng(0)
    for i in range(6):  # the texture Fréchet distance needs more than four images a side
        write_png(src / f"a{i}.png", 0.4 + 0.1 * rng.random((64, 64)))
    out = tmp_path / "norm"
    assert run(capsys, "micro", "normalize", str(src), "--out", str(out))[0] == 0
    from microstructure.images import read_folder

    imgs = read_folder(out)
    assert all(np.percentile(a, 1) < 0.02 and np.percentile(a, 99) > 0.98 for a in imgs)
    code, _, err = run(capsys, "micro", "normalize", str(src), "--out", str(out))
    assert code == 2 and "--force" in err
    binned = tmp_path / "bin2"
    assert run(capsys, "micro", "normalize", str(src), "--out", str(binned), "--bin", "2")[0] == 0
    assert read_folder(binned)[0].shape == (32, 32)
    code, _, err = run(capsys, "micro", "normalize", str(src), "--out", str(tmp_path / "b"),
                       "--bin", "8")  # fmt: skip
    assert_user_error(code, err, "binned 8 x 8 it would be under 16 pixels a side")
    assert not (tmp_path / "b").exists()
    code, _, err = run(capsys, "micro", "normalize", str(src / "a0.png"), "--out", str(src) + "x")
    assert_user_error(code, err, "a0.png is a file; give the folder that holds the images")
    code, out_json, _ = run(
        capsys, "micro", "evaluate", "--real", str(out), "--fake", str(src), "--phases",
        "two", "--json",
    )  # fmt: skip
    r = json.loads(out_json)
    for key in ("frechet_features", "diversity_ratio", "particle_area_w1", "aspect_ratio_w1"):
        assert np.isfinite(r[key]), key


def test_recipes_fill_what_is_not_given():
    from microstructure.train import DCGANTrainConfig

    paper = DCGANTrainConfig(arch="paper", lr=2e-4).resolved()
    assert (paper.lr, paper.lr_d, paper.loss, paper.nz) == (2e-4, 2e-4, "bce", 1000)
    spatial = DCGANTrainConfig(lr=2e-4).resolved()
    assert (spatial.lr, spatial.lr_d, spatial.loss, spatial.ema) == (2e-4, 4e-4, "hinge", 0.99)
    with pytest.raises(UserError, match="unknown --arch"):
        DCGANTrainConfig(arch="stylegan3").resolved()


def test_compare_sets_takes_real_images_larger_than_the_generated():
    from microstructure.metrics import compare_sets

    rng = np.random.default_rng(1)
    real = [rng.random((128, 128)) for _ in range(4)]  # 16 tiles of 64 pixels
    fake = [rng.random((64, 64)) for _ in range(8)]
    r = compare_sets(real, fake, classes=2)
    assert np.isfinite(r["frechet_features"]) and 0.7 < r["diversity_ratio"] < 1.3
