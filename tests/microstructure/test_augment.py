"""microstructure.augment: reproducible augmentation of batches and folders."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from eftgan.errors import UserError
from microstructure.augment import augment_batch, augment_folder
from microstructure.images import write_png
from microstructure.synth import synthesize


def test_augmentation_is_reproducible_and_changes_images() -> None:
    x = torch.from_numpy(synthesize(7.0, 64, seed=0)[0][None, None].astype(np.float32))
    x = x.repeat(3, 1, 1, 1)
    y1, y2 = augment_batch(x, 5), augment_batch(x, 5)
    assert torch.equal(y1, y2) and y1.shape == x.shape
    assert (y1 - x).abs().mean() > 0.01


def test_augment_folder(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    write_png(src / "a.png", synthesize(7.0, 48, seed=0)[0])
    (src / "synth.json").write_text(json.dumps({"si_wt_pct": 7.0}))
    assert augment_folder(src, tmp_path / "aug", factor=2) == 2
    assert sorted(p.name for p in (tmp_path / "aug").iterdir()) == [
        "a_aug0000.png",
        "a_aug0001.png",
        "synth.json",
    ]
    with pytest.raises(UserError, match="at least 1"):
        augment_folder(src, tmp_path / "none", factor=0)
    assert not (tmp_path / "none").exists()


def test_label_warp_keeps_labels_exact_and_stretches_grains() -> None:
    """Nearest-neighbour resampling: every warped pixel holds a label of the input (a
    bilinear warp would blend two grains' ids into a third); with a stretch of up to 2
    the grains' aspect ratios spread beyond those of the equiaxed input."""
    from skimage.measure import label, regionprops

    from microstructure.augment import label_warp

    yy, xx = np.mgrid[:128, :128]
    grains = (yy // 16) * 8 + xx // 16  # square grains of 16 pixels
    x = torch.from_numpy(grains[None, None].astype(np.float32)).repeat(8, 1, 1, 1)
    torch.manual_seed(0)
    y = label_warp(stretch=2.0)(x)
    assert torch.equal(y, y.round())
    assert set(y.unique().tolist()) <= set(x.unique().tolist())

    def elongations(img: np.ndarray) -> list[float]:
        props = regionprops(label(img, background=-1, connectivity=1))
        return [p.axis_major_length / p.axis_minor_length for p in props if p.area > 100]

    assert max(elongations(grains)) < 1.1
    assert np.median([e for im in y[:, 0].numpy() for e in elongations(im)]) > 1.3
