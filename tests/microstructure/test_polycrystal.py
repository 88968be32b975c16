"""Rendered polycrystal micrographs: exact masks, boundaries that show, looks that vary."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from eftgan.errors import UserError


def test_the_mask_marks_every_boundary_two_pixels_wide():
    from microstructure.polycrystal import boundary_mask

    lab = np.zeros((16, 16), dtype=np.int64)
    lab[:, 8:] = 1
    mask = boundary_mask(lab)
    assert mask[:, 7:9].all() and mask.sum() == 32


def test_optical_grooves_are_dark_and_looks_vary():
    from microstructure.phasefield import voronoi_labels
    from microstructure.polycrystal import boundary_mask, draw_look, render

    lab = voronoi_labels(128, 40, seed=2)
    rng = np.random.default_rng(0)
    means = []
    for _ in range(4):
        look = draw_look(rng, "optical")
        look.broken_fraction = look.faint_fraction = 0.0
        img, mask = render(lab, look, rng)
        assert img.shape == lab.shape and 0 <= img.min() and img.max() <= 1
        assert (mask == boundary_mask(lab)).all()
        assert img[mask].mean() < img[~mask].mean() - 0.05
        means.append(img.mean())
    assert np.ptp(means) > 0.02  # not one look


def test_broken_boundaries_lose_contrast_where_the_mask_keeps_them():
    from microstructure.phasefield import voronoi_labels
    from microstructure.polycrystal import draw_look, render

    lab = voronoi_labels(128, 40, seed=2)
    look = draw_look(np.random.default_rng(1), "optical")
    look.noise, look.inclusions_per_mpx, look.scratches, look.illumination = 0.0, 0.0, 0, 0.0
    look.faint_fraction = 0.0
    contrast = []
    for broken in (0.0, 1.0):
        look.broken_fraction, look.gap_fraction = broken, 0.6
        img, mask = render(lab, look, np.random.default_rng(5))
        contrast.append(img[~mask].mean() - img[mask].mean())
    assert contrast[1] < 0.75 * contrast[0]


def test_a_folder_renders_with_masks_and_labels(tmp_path: Path):
    from microstructure.grainio import read_labels, write_labels
    from microstructure.phasefield import voronoi_labels
    from microstructure.polycrystal import render_folder

    src = tmp_path / "run"
    src.mkdir()
    write_labels(src / "grains_000100.png", voronoi_labels(64, 10, seed=0))
    looks = render_folder(src, tmp_path / "img", style="sem", seed=1)
    assert len(looks) == 1 and looks[0]["style"] == "sem"
    names = sorted(p.name for p in (tmp_path / "img").iterdir())
    assert names == [
        "grains_000100.png",
        "grains_000100_boundaries.png",
        "grains_000100_grains.png",
        "render.json",
    ]
    assert (
        read_labels(tmp_path / "img" / "grains_000100_grains.png")
        == read_labels(src / "grains_000100.png")
    ).all()
    with pytest.raises(UserError, match="already exists"):
        render_folder(src, tmp_path / "img")
    with pytest.raises(UserError, match="not one of"):
        render_folder(src, tmp_path / "other", style="xray")
