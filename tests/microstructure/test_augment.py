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
