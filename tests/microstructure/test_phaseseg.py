"""Phase segmentation: the Otsu baselines, IoU, a tiny phase U-Net trained, resumed, run and
evaluated through the command line, and its bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.cli.test_cli import assert_user_error, run
from tests.conftest import killed_at


def two_phase_image(seed: int, side: int = 96) -> tuple[np.ndarray, np.ndarray]:
    """A bright matrix with large dark discs (phase 1) and small dark dots (phase 2)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:side, :side]
    labels = np.zeros((side, side), dtype=np.uint8)
    for _ in range(4):
        cy, cx = rng.uniform(10, side - 10, 2)
        labels[(yy - cy) ** 2 + (xx - cx) ** 2 < rng.uniform(8, 13) ** 2] = 1
    for _ in range(12):
        cy, cx = rng.uniform(3, side - 3, 2)
        dot = (yy - cy) ** 2 + (xx - cx) ** 2 < 2.2**2
        labels[dot & (labels == 0)] = 2
    img = np.where(labels == 0, 0.7, 0.35) + rng.normal(0, 0.04, labels.shape)
    return np.clip(img, 0, 1), labels


@pytest.fixture(scope="module")
def labelled(tmp_path_factory) -> Path:
    from PIL import Image

    from microstructure.images import write_png

    root = tmp_path_factory.mktemp("labelled")
    (root / "img").mkdir()
    (root / "lab").mkdir()
    for i in range(3):
        img, lab = two_phase_image(i)
        write_png(root / "img" / f"m{i}.png", img)
        Image.fromarray(lab).save(root / "lab" / f"m{i}_mask.png")
    return root


def test_iou_counts_each_class_over_all_images():
    from microstructure.phaseseg import iou

    truth = [np.array([[0, 1], [2, 2]]), np.array([[0, 0], [1, 1]])]
    pred = [np.array([[0, 1], [2, 0]]), np.array([[0, 0], [1, 2]])]
    # class 0: 3 shared of 4 in either; class 1: 2 of 3; class 2: 1 of 3
    assert iou(pred, truth, 3) == pytest.approx([3 / 4, 2 / 3, 1 / 3])


def test_otsu_with_the_size_split_recovers_large_and_small_particles():
    from microstructure.phaseseg import iou, otsu_phases, otsu_size_phases

    img, lab = two_phase_image(7, 128)
    scores = iou([otsu_size_phases(img, 60)], [lab], 3)
    assert min(scores) > 0.8, scores
    # three intensity classes cannot split two phases of one gray level
    assert iou([otsu_phases(img, 3)], [lab], 3)[2] < 0.5


def test_the_fused_network_gives_the_same_output():
    from microstructure.segment import UNet

    torch.manual_seed(0)
    net = UNet(8, 2, 3)
    for _ in range(3):  # batch statistics away from their initial values
        net(torch.randn(2, 1, 32, 32) * 2 + 1)
    net.eval()
    x = torch.randn(1, 1, 48, 64)
    fast = net.for_inference()
    assert not net.training
    with torch.no_grad():
        assert torch.allclose(net(x), fast(x), atol=1e-5)


def _cfg(labelled: Path, **kw):
    from microstructure.phaseseg import PhaseTrainConfig

    d = labelled
    return PhaseTrainConfig(
        images=str(d / "img"), masks=str(d / "lab"), val_images=str(d / "img"),
        val_masks=str(d / "lab"), classes=("matrix", "large", "small"), iters=40, crop=48,
        batch_size=4, width=8, depth=2, eval_every=10, **kw,
    )  # fmt: skip


def test_phase_training_learns_and_resumes_after_a_kill(tmp_path: Path, labelled, monkeypatch):
    from safetensors.torch import load_file

    from microstructure import phaseseg

    whole = tmp_path / "whole"
    r = phaseseg.train_phase_segmenter(whole, _cfg(labelled), progress=False)
    assert r["best"]["val_iou"] > 0.5, r["history"]
    assert (whole / "loss.png").exists() and "val_iou" in (whole / "history.csv").read_text()

    loss = phaseseg._loss
    killed = tmp_path / "killed"
    monkeypatch.setattr(phaseseg, "_loss", killed_at(loss, 25))
    with pytest.raises(KeyboardInterrupt):
        phaseseg.train_phase_segmenter(killed, _cfg(labelled), progress=False)
    monkeypatch.setattr(phaseseg, "_loss", loss)
    phaseseg.train_phase_segmenter(killed, _cfg(labelled), progress=False)
    a, b = load_file(whole / "weights.safetensors"), load_file(killed / "weights.safetensors")
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_segment_phases_then_evaluate(capsys, tmp_path: Path, labelled):
    from microstructure.phaseseg import train_phase_segmenter

    model = tmp_path / "model"
    train_phase_segmenter(model, _cfg(labelled, seed=1), progress=False)
    out = tmp_path / "seg"
    images = [str(labelled / "img" / f"m{i}.png") for i in range(3)]
    code, text, err = run(
        capsys, "micro", "segment", *images, "--out", str(out), "--model", str(model),
        "--pixel-size-um", "0.1", "--quiet",
    )  # fmt: skip
    assert code == 0, err
    assert "m0.png: large" in text
    assert {"m0_phases.png", "m0_overlay.png", "phases.csv", "particles.csv"} <= {
        p.name for p in out.iterdir()
    }
    rows = (out / "phases.csv").read_text().splitlines()
    assert rows[0] == "image,phase,area_fraction" and len(rows) == 1 + 3 * 3
    fractions = [float(r.split(",")[2]) for r in rows[1:4]]
    assert sum(fractions) == pytest.approx(1.0)
    head = (out / "particles.csv").read_text().splitlines()[0]
    assert head.startswith("image,phase,particle_id,area_px,area_um2,equivalent_diameter_um")
    code, text, err = run(
        capsys, "micro", "segment", "evaluate", "--pred", str(out), "--truth",
        str(labelled / "lab"), "--json",
    )  # fmt: skip
    assert code == 0, err
    r = json.loads(text)
    assert r["images"] == 3 and r["iou_phase1"] > 0.5, r


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        ([], "needs --images DIR and --masks DIR"),
        (["--images", "IMG", "--masks", "NOWHERE"], "is not a folder"),
        (["--images", "IMG", "--masks", "EMPTY"], "has no label image"),
        (["--images", "IMG", "--masks", "LAB", "--classes", "a,b"], "values up to 2"),
        (["--images", "IMG", "--masks", "LAB", "--val-images", "IMG"], "together"),
        (["--images", "IMG", "--masks", "LAB", "--crop", "200"], "multiple of 16"),
        (["--images", "IMG", "--masks", "LAB", "--iters", "0"], "at least 1"),
        (["--images", "IMG", "--masks", "WIDE"], "values 0..255"),
        (["--images", "IMG", "--masks", "COLOUR"], "is a colour image"),
        (["--images", "IMG", "--masks", "LAB", "--n-images", "5"], "--n-images belong"),
        (["--images", "IMG", "--masks", "LAB", "--cldice", "0.5"], "--cldice belong"),
    ],
)
def test_phase_training_bad_input(capsys, tmp_path: Path, labelled, args, needle) -> None:
    from PIL import Image

    for name in ("empty", "wide", "colour"):
        (tmp_path / name).mkdir()
    for i in range(3):
        lab = np.asarray(Image.open(labelled / "lab" / f"m{i}_mask.png"))
        Image.fromarray((lab > 0).astype(np.uint8) * 255).save(tmp_path / "wide" / f"m{i}.png")
        rgb = np.stack([lab * 100, lab * 0, lab * 0], -1).astype(np.uint8)
        Image.fromarray(rgb).save(tmp_path / "colour" / f"m{i}_mask.png")
    where = {"IMG": labelled / "img", "LAB": labelled / "lab", "EMPTY": tmp_path / "empty",
             "WIDE": tmp_path / "wide", "COLOUR": tmp_path / "colour"}  # fmt: skip
    args = [str(where.get(a, a)) for a in args]
    out = tmp_path / "m"
    code, _, err = run(
        capsys, "micro", "segment", "train", "--task", "phases", "--out", str(out), *args
    )
    assert_user_error(code, err, needle)
    assert not (out / "config.json").exists()


def test_boundary_training_refuses_phase_options(capsys, tmp_path: Path, labelled) -> None:
    out = tmp_path / "m"
    args = ["micro", "segment", "train", "--out", str(out), "--images", str(labelled / "img")]
    code, _, err = run(capsys, *args)
    assert_user_error(code, err, "--images belong")
    assert not out.exists()


def test_masks_beside_images_and_palette_labels(tmp_path: Path) -> None:
    from PIL import Image

    from microstructure.images import write_png
    from microstructure.phaseseg import _read_labelled, labelled_pairs

    img, lab = two_phase_image(3)
    write_png(tmp_path / "a.png", img)
    pal = Image.fromarray(lab.astype(np.uint8), mode="P")
    pal.putpalette([0, 0, 0, 255, 0, 0, 0, 0, 255] + [0] * 759)
    pal.save(tmp_path / "a_mask.png")
    pairs = labelled_pairs(tmp_path, tmp_path)
    assert [(f.name, m.name) for f, m in pairs] == [("a.png", "a_mask.png")]
    assert np.array_equal(_read_labelled(pairs)[0][1], lab)


def test_tiles_agree_with_one_pass_for_several_classes(monkeypatch) -> None:
    from microstructure import segment
    from microstructure.segment import UNet, predict_classes

    torch.manual_seed(0)
    net = UNet(8, 2, 3).eval()
    img = two_phase_image(4, 150)[0]
    whole = predict_classes(net, img)
    monkeypatch.setattr(segment, "TILE", 64)
    monkeypatch.setattr(segment, "OVERLAP", 8)
    tiled = predict_classes(net, img)
    assert np.allclose(tiled.sum(0), 1, atol=1e-5)
    assert np.abs(tiled - whole).max() < 0.02


def test_segment_phases_refuses_two_images_of_one_name(capsys, tmp_path: Path) -> None:
    from microstructure.images import write_png

    for d in ("x", "y"):
        (tmp_path / d).mkdir()
        write_png(tmp_path / d / "a.png", two_phase_image(0)[0])
    out = tmp_path / "seg"
    args = [str(tmp_path / "x" / "a.png"), str(tmp_path / "y" / "a.png"), "--out", str(out)]
    code, _, err = run(capsys, "micro", "segment", *args, "--quiet")
    assert_user_error(code, err, "share the name a")
    assert not out.exists()
