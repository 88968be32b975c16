"""The shared plotting helpers."""

from __future__ import annotations

from pathlib import Path

import pytest


def test_loss_curves_png_writes_one_png_and_no_temp_file(tmp_path: Path) -> None:
    from eftgan.plotting import loss_curves_png

    y = [1.0 / (i + 1) for i in range(200)]
    out = loss_curves_png(
        tmp_path / "loss.png",
        {"d": (None, y), "g": (range(1, 201), y)},
        "step",
        log=True,
        smooth_points=20,
    )
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in tmp_path.iterdir()] == ["loss.png"]
    with pytest.raises(ValueError):  # x and y that do not match are the caller's bug
        loss_curves_png(tmp_path / "bad.png", {"d": ([1, 2], [1.0, 2.0, 3.0])}, "epoch")
