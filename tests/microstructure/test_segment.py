"""Grain segmentation: ASTM E112 both ways, the watershed, the scores, a tiny U-Net run end
to end through the command line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.cli.test_cli import assert_user_error, run
from tests.conftest import killed_at


@pytest.fixture(scope="module")
def grain_map():
    from microstructure.phasefield import GrainGrowth, PhaseField, voronoi_labels

    pf = PhaseField.from_labels(voronoi_labels(256, 150, seed=4), GrainGrowth())
    pf.run(300, recolour_every=50)
    return pf.labels()[0].numpy()


def test_astm_planimetric_and_intercept_agree_on_equiaxed_grains(grain_map):
    from microstructure.grainsize import astm_intercept, astm_planimetric

    for pixel_um in (0.5, 2.0):
        gp, gi = astm_planimetric(grain_map, pixel_um), astm_intercept(grain_map, pixel_um)
        assert abs(gp - gi) < 0.25, (gp, gi)


def test_a_known_grain_size_gives_its_astm_number():
    from microstructure.grainsize import astm_intercept, astm_planimetric

    # squares of 64 um cut by the field's edge: 49 whole, 32 at the edge counted half
    labels = np.add.outer((np.arange(512) + 32) // 64 * 9, (np.arange(512) + 32) // 64)
    want = 3.321928 * np.log10((49 + 32 / 2) / 0.512**2) - 2.954
    assert abs(astm_planimetric(labels, 1.0) - want) < 1e-9
    # lines cross one boundary every 64 um: l = 511 / 8 um per line
    want = -6.643856 * np.log10(511 / 8 * 1e-3) - 3.288
    assert abs(astm_intercept(labels, 1.0) - want) < 1e-9


def test_the_watershed_recovers_grains_from_a_clean_boundary_map(grain_map):
    from microstructure.polycrystal import boundary_mask
    from microstructure.segment import grains_from_probability
    from microstructure.segscore import score

    prob = boundary_mask(grain_map).astype(float)
    gaps = np.zeros_like(prob, dtype=bool)
    gaps[::40, :] = True  # thin gaps cut across every boundary
    prob[np.repeat(gaps, 2, 0)[: prob.shape[0]]] = 0.0
    s = score(grains_from_probability(prob), grain_map)
    assert s["boundary_f"] > 0.93 and s["ari"] > 0.9, s


def test_markers_on_block_maxima_recover_the_grains_of_an_odd_sized_map(grain_map):
    from microstructure.polycrystal import boundary_mask
    from microstructure.segment import grains_from_probability
    from microstructure.segscore import score

    cut = grain_map[:251, :249]  # odd sides: the block grid pads them
    labels = grains_from_probability(boundary_mask(cut).astype(float), block=2)
    assert labels.shape == cut.shape
    assert score(labels, cut)["ari"] > 0.95
    assert abs(int(labels.max()) - len(np.unique(cut))) < 0.25 * len(np.unique(cut))


def test_banded_h_maxima_equal_the_whole_map_search(grain_map):
    from scipy.ndimage import distance_transform_edt
    from skimage.morphology import h_maxima

    from microstructure.polycrystal import boundary_mask
    from microstructure.segment import banded_h_maxima

    boundaries = boundary_mask(grain_map)
    boundaries[::37, :] = False  # gaps: necks join grains across bands
    dist = distance_transform_edt(~boundaries).astype(np.float32)
    for h_px in (0.5, 1.0):
        whole = h_maxima(dist, h_px).astype(bool) & (dist > 0)
        for bands in (2, 3, 5):
            assert (banded_h_maxima(dist, h_px, bands) == whole).all(), (h_px, bands)
    flat = np.array([[1.0] * 8, [0.0] * 8, [1.0] * 8])  # each band one flat component
    assert (banded_h_maxima(flat, 1.0, 2) == (h_maxima(flat, 1.0) > 0) & (flat > 0)).all()


def test_cldice_penalises_a_gap_and_not_a_thickening_of_as_many_pixels():
    import torch

    from microstructure.segment import cldice_loss

    truth = torch.zeros(1, 1, 64, 64)
    truth[..., 31:33, :] = 1  # two boundaries two pixels wide, crossing
    truth[..., :, 20:22] = 1
    broken, thickened = truth.clone(), truth.clone()
    broken[..., 31:33, 40:44] = 0  # a 4-pixel gap
    thickened[..., 30:34, 44:48] = 1  # as many pixels wrong, no gap
    assert float(cldice_loss(truth, truth)) == 0.0
    gap = float(cldice_loss(broken, truth))
    assert gap > 0.01 and float(cldice_loss(thickened, truth)) < 0.1 * gap


def test_grains_all_below_the_size_become_one_grain(grain_map):
    from microstructure.polycrystal import boundary_mask
    from microstructure.segment import grains_from_probability

    prob = boundary_mask(grain_map).astype(float)
    assert grains_from_probability(prob, min_grain_px=10**6).max() == 1
    assert grains_from_probability(prob).max() > 100


def test_boundary_scores_count_a_shift_within_the_tolerance():
    from microstructure.segscore import boundary_prf

    truth = np.zeros((32, 32), dtype=bool)
    truth[:, 10] = True
    assert boundary_prf(np.roll(truth, 2, 1), truth)["boundary_f"] == 1.0
    assert boundary_prf(np.roll(truth, 3, 1), truth)["boundary_f"] == 0.0


def test_segment_train_then_images_then_evaluate(capsys, tmp_path: Path, grain_map):
    from microstructure.grainio import write_labels
    from microstructure.images import write_png
    from microstructure.polycrystal import draw_look, render
    from microstructure.segment import SegmentTrainConfig, train_segmenter

    model = tmp_path / "model"
    cfg = SegmentTrainConfig(
        n_images=16, crop=64, batch_size=4, n_maps=2, map_size=64, width=4, cldice=0.5
    )
    train_segmenter(model, cfg, progress=False)
    assert (model / "loss.png").exists() and not (model / "maps.npz").exists()
    assert "plus 0.5 times clDice" in (model / "card.md").read_text()
    rng = np.random.default_rng(0)
    img, _ = render(grain_map, draw_look(rng), rng)
    imgs, truth = tmp_path / "imgs", tmp_path / "truth"
    imgs.mkdir()
    truth.mkdir()
    write_png(imgs / "a.png", img)
    write_labels(truth / "a_grains.png", grain_map)
    out = tmp_path / "seg"
    code, text, err = run(
        capsys, "micro", "segment", str(imgs / "a.png"), "--out", str(out), "--model",
        str(model), "--pixel-size-um", "0.5", "--quiet",
    )  # fmt: skip
    assert code == 0, err
    assert {p.name for p in out.iterdir()} == {
        "a_boundaries.png", "a_grains.png", "a_overlay.png", "grains.csv", "summary.csv",
    }  # fmt: skip
    head = (out / "summary.csv").read_text().splitlines()[0]
    assert head == "image,n_grains,mean_area_um2,astm_g_planimetric,astm_g_intercept"
    code, text, err = run(
        capsys, "micro", "segment", "evaluate", "--pred", str(out), "--truth", str(truth),
        "--json",
    )  # fmt: skip
    assert code == 0, err
    r = json.loads(text)
    assert r["images"] == 1 and 0 <= r["boundary_f"] <= 1 and "vi_merge" in r


@pytest.mark.parametrize(
    ("extra", "needle", "side"),
    [
        (["--pixel-size-um", "0"], "must be positive", 64),
        (["--model", "nowhere"], "does not exist", 64),
        ([], "needs at least 32 pixels", 16),
        ([], "is empty", 0),
    ],
)
def test_segment_bad_input(capsys, tmp_path: Path, extra, needle, side) -> None:
    from microstructure.images import write_png

    img = np.random.default_rng(0).random((side, side)) if side else np.full((64, 64), 0.5)
    write_png(tmp_path / "a.png", img)
    out = tmp_path / "seg"
    args = [str(tmp_path / "a.png"), "--out", str(out), "--quiet", *extra]
    code, _, err = run(capsys, "micro", "segment", *args)
    assert_user_error(code, err, needle)
    assert not out.exists()


def test_segment_train_refuses_a_crop_larger_than_the_maps(capsys, tmp_path: Path) -> None:
    out = tmp_path / "m"
    code, _, err = run(capsys, "micro", "segment", "train", "--out", str(out), "--crop", "512")
    assert_user_error(code, err, "--crop 512")
    assert not out.exists()


def test_a_killed_segment_training_resumes_to_the_same_network(tmp_path: Path, monkeypatch):
    from safetensors.numpy import load_file

    from microstructure import segment

    cfg = segment.SegmentTrainConfig(
        n_images=240, crop=32, batch_size=4, n_maps=2, map_size=64, width=4, depth=2
    )
    whole = segment.train_segmenter(tmp_path / "whole", cfg, progress=False)
    real = segment._batch
    monkeypatch.setattr(segment, "_batch", killed_at(real, segment.SAVE_EVERY + 6))
    with pytest.raises(KeyboardInterrupt):
        segment.train_segmenter(tmp_path / "killed", cfg, progress=False)
    counted = killed_at(real, None)
    monkeypatch.setattr(segment, "_batch", counted)
    resumed = segment.train_segmenter(tmp_path / "killed", cfg, progress=False)
    assert counted.calls == cfg.iters - segment.SAVE_EVERY, "resumed from the last state"
    assert [h["iter"] for h in resumed["history"]] == [h["iter"] for h in whole["history"]]
    a = load_file(tmp_path / "whole" / "weights.safetensors")
    b = load_file(tmp_path / "killed" / "weights.safetensors")
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_allclose(a[k], b[k], rtol=1e-5, atol=1e-6, err_msg=k)
