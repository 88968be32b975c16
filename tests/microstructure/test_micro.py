"""Al-Si micrographs: lever rule, rendering, statistics, augmentation, DCGANs and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from eftgan.errors import UserError
from microstructure.dcgan import COND_DIM, DCGANConfig, build, condition_vector
from microstructure.metrics import (
    compare_sets,
    frechet_distance,
    lineal_path,
    otsu_threshold,
    two_point,
)
from microstructure.synth import LABEL_SI, lever_rule, synthesize
from tests.cli.test_cli import assert_user_error, run


def test_lever_rule() -> None:
    assert lever_rule(0.0).si_total == 0.0
    f7 = lever_rule(7.0)
    assert f7.primary_si == 0.0 and 0.45 < f7.primary_al < 0.55  # mass 0.511, Al denser
    eut = lever_rule(12.6)
    assert eut.primary_al == pytest.approx(0.0, abs=1e-9) and eut.eutectic == pytest.approx(1.0)
    assert 0.12 < eut.si_total < 0.13  # 11.1 wt % Si in the eutectic, as area
    f18 = lever_rule(18.0)
    assert f18.primary_al == 0.0 and f18.primary_si > 0.05
    assert f7.si_total < eut.si_total < f18.si_total
    with pytest.raises(UserError, match="outside 0-25"):
        lever_rule(26.0)


def test_synthetic_micrograph_matches_its_phase_fractions() -> None:
    img, labels = synthesize(7.0, 192, seed=3)
    assert img.shape == labels.shape == (192, 192)
    assert 0 <= img.min() and img.max() <= 1
    assert (labels == LABEL_SI).mean() == pytest.approx(lever_rule(7.0).si_total, abs=0.01)
    assert img[labels == LABEL_SI].mean() < img[labels != LABEL_SI].mean() - 0.3


def test_faster_cooling_gives_a_finer_structure() -> None:
    def corr_length(rate: float) -> float:
        _, lab = synthesize(7.0, 256, cooling_rate_k_s=rate, seed=1)
        s2 = two_point(lab == 0, 64)  # primary alpha-Al cells
        f = s2[0]
        return float(np.argmax(s2 - f * f < 0.5 * (f - f * f)))

    assert corr_length(100.0) < corr_length(1.0)


def test_statistics_known_values() -> None:
    rng = np.random.default_rng(0)
    mask = rng.random((128, 128)) < 0.3
    s2 = two_point(mask)
    assert s2[0] == pytest.approx(mask.mean())
    assert s2[10:].mean() == pytest.approx(mask.mean() ** 2, abs=0.01)
    assert np.allclose(lineal_path(np.ones((32, 32), bool)), 1.0)
    stripes = np.zeros((32, 32), bool)
    stripes[:, :16] = True  # rows: runs of 16; columns: full or empty
    lp = lineal_path(stripes, 8)
    assert lp[0] == pytest.approx(0.5) and lp[-1] < lp[0]
    img = np.where(mask, 0.2, 0.8) + rng.normal(0, 0.02, mask.shape)
    assert 0.3 < otsu_threshold(img) < 0.7
    a = rng.normal(size=(200, 3))
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)
    assert frechet_distance(a, a + 1.0) == pytest.approx(3.0, rel=0.05)


def test_compare_sets_tells_7_from_12_si() -> None:
    a = [synthesize(7.0, 128, seed=i)[0] for i in range(4)]
    b = [synthesize(7.0, 128, seed=10 + i)[0] for i in range(4)]
    c = [synthesize(12.0, 128, seed=i)[0] for i in range(4)]
    same, other = compare_sets(a, b), compare_sets(a, c)
    assert same["phase_fraction_error"] < 0.01 < other["phase_fraction_error"]
    assert same["s2_mae"] < other["s2_mae"]
    assert set(same) >= {"phase_fraction_real", "phase_fraction_fake", "s2_mae",
                         "lineal_path_mae", "frechet_s2"}  # fmt: skip


def test_augmentation_is_reproducible_and_changes_images() -> None:
    from microstructure.augment import augment_batch

    x = torch.from_numpy(synthesize(7.0, 64, seed=0)[0][None, None].astype(np.float32))
    x = x.repeat(3, 1, 1, 1)
    y1, y2 = augment_batch(x, 5), augment_batch(x, 5)
    assert torch.equal(y1, y2) and y1.shape == x.shape
    assert (y1 - x).abs().mean() > 0.01


def test_seed_dcgan_shapes_and_conditioning() -> None:
    g, d = build(DCGANConfig())
    z = torch.randn(2, 1000)
    x = g(z)
    assert x.shape == (2, 1, 64, 64) and x.abs().max() <= 1
    assert d(x).shape == (2,) and ((d(x) > 0) & (d(x) < 1)).all()
    # training reads D before its sigmoid: the same probabilities, no float32 saturation
    assert torch.allclose(torch.sigmoid(d.logits(x)), d(x))
    c = torch.from_numpy(condition_vector([7.0, 9.0]))
    assert c.shape == (2, COND_DIM) and not torch.equal(c[0], c[1])
    gc, dc = build(DCGANConfig(nz=16, cond_dim=COND_DIM, ngf=8, ndf=8))
    assert gc(torch.randn(2, 16), c).shape == (2, 1, 64, 64)
    assert dc(gc(torch.randn(2, 16), c), c).shape == (2,)


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["synth", "--si", "30"], "outside 0-25"),
        (["synth", "--si", "7", "--size", "8"], "too small"),
        (["train", "--images", "nowhere", "--lr", "0"], "not a learning rate"),
    ],
)
def test_synth_bad_input(capsys, tmp_path: Path, args, needle) -> None:
    out = tmp_path / "o"
    code, _, err = run(capsys, "micro", *args, "--out", str(out))
    assert_user_error(code, err, needle)
    assert not out.exists() and not list(tmp_path.iterdir())


def test_image_folder_errors(capsys, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    code, _, err = run(capsys, "micro", "evaluate", "--real", str(empty), "--fake", str(empty))
    assert_user_error(code, err, "holds no images")
    stray = tmp_path / "stray"
    stray.mkdir()
    (stray / "notes.docx").write_bytes(b"x")
    code, _, err = run(capsys, "micro", "evaluate", "--real", str(stray), "--fake", str(stray))
    assert_user_error(code, err, "is not an image")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "a.png").write_bytes(b"not a png")
    code, _, err = run(capsys, "micro", "evaluate", "--real", str(broken), "--fake", str(broken))
    assert_user_error(code, err, "cannot read image")


@pytest.mark.slow
def test_synth_augment_train_resume_generate(capsys, tmp_path: Path, monkeypatch) -> None:
    import microstructure.train as mt

    for si in (4, 10):
        code, _, _ = run(capsys, "micro", "synth", "--si", str(si), "--n", "3", "--size",
                           "96", "--out", str(tmp_path / f"s{si}"))  # fmt: skip
        assert code == 0
    assert json.loads((tmp_path / "s4" / "synth.json").read_text())["si_wt_pct"] == 4
    assert len(list((tmp_path / "s4" / "phase").glob("*.png"))) == 3
    code, _, _ = run(capsys, "micro", "augment", str(tmp_path / "s4"), "--factor", "2",
                     "--out", str(tmp_path / "aug"))  # fmt: skip
    assert code == 0 and len(list((tmp_path / "aug").glob("*.png"))) == 6
    small = tmp_path / "small"
    small.mkdir()
    from microstructure.images import write_png

    write_png(small / "x.png", np.zeros((32, 32)))
    args = ["micro", "train", "--iters", "8", "--width", "8", "--nz", "16", "--batch-size",
            "8", "--quiet"]  # fmt: skip
    code, _, err = run(capsys, *args, "--images", str(small), "--out", str(tmp_path / "m0"))
    assert_user_error(code, err, "smaller than the 64-pixel crop")
    folders = ["--images", str(tmp_path / "s4"), "--images", str(tmp_path / "s10")]
    full = tmp_path / "full"
    assert run(capsys, *args, *folders, "--condition-si", "auto", "--out", str(full))[0] == 0

    from eftgan.runstate import RunState

    real_save = RunState.save

    def save_then_die(self, *a, **k):
        real_save(self, *a, **k)
        raise KeyboardInterrupt

    monkeypatch.setattr(RunState, "save", save_then_die)
    kw = dict(si_wt_pct=[4.0, 10.0], iters=8, batch_size=8, nz=16, width=8, checkpoint_every=4)
    data = [tmp_path / "s4", tmp_path / "s10"]
    cut = tmp_path / "cut"
    with pytest.raises(KeyboardInterrupt):
        mt.train_dcgan(data, cut, progress=False, **kw)
    assert (cut / "state.safetensors").is_file() and not (cut / "config.json").exists()
    monkeypatch.setattr(RunState, "save", real_save)
    r = mt.train_dcgan(data, cut, progress=False, **kw)
    assert r["resumed_from"] == 4 and not (cut / "state.safetensors").exists()
    a = mt.train_dcgan(data, tmp_path / "ref", progress=False, **kw)
    assert r["history"] == a["history"]
    ref = (tmp_path / "ref" / "weights.safetensors").read_bytes()
    assert (cut / "weights.safetensors").read_bytes() == ref
    for png in ("loss.png", "samples.png"):
        assert (full / png).read_bytes()[:4] == b"\x89PNG"
    gen = tmp_path / "gen"
    code, _, _ = run(capsys, "micro", "generate", "--model", str(full), "--n", "5", "--si",
                     "7", "--out", str(gen))  # fmt: skip
    assert code == 0 and len(list(gen.glob("*.png"))) == 5
    code, _, err = run(capsys, "micro", "generate", "--model", str(full), "--si", "40",
                       "--out", str(tmp_path / "g2"))  # fmt: skip
    assert_user_error(code, err, "outside 0-25")
