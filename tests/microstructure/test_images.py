"""microstructure.images: image folders, crops and PNG writing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from eftgan.errors import UserError
from microstructure.images import image_files, random_crops, read_folder, read_gray, write_png
from tests.cli.test_cli import assert_user_error, run


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


def test_png_round_trip_crops_and_sizes(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    img = np.round(rng.random((40, 50)) * 255) / 255
    write_png(tmp_path / "a.png", img)
    write_png(tmp_path / "b.png", np.stack([img] * 3, -1))
    (tmp_path / "synth.json").write_text("{}")  # sidecars are skipped
    assert [p.name for p in image_files(tmp_path)] == ["a.png", "b.png"]
    np.testing.assert_allclose(read_gray(tmp_path / "a.png"), img, atol=1e-6)
    assert read_gray(tmp_path / "b.png", channels=3).shape == (40, 50, 3)
    imgs = read_folder(tmp_path)
    crops = random_crops(imgs, 5, 32, rng)
    assert crops.shape == (5, 1, 32, 32) and crops.dtype == np.float32
    with pytest.raises(UserError, match="smaller than the 64-pixel crop"):
        read_folder(tmp_path, 64)


def test_evaluate_warns_of_sets_too_small_for_its_statistics(capsys, tmp_path: Path) -> None:
    """One generated image against four real ones: the figures come, with a warning that
    the Fréchet distances and the diversity are unreliable; the JSON stays strict."""
    import json

    rng = np.random.default_rng(0)
    for name, n in (("real", 4), ("fake", 1)):
        (tmp_path / name).mkdir()
        for i in range(n):
            write_png(tmp_path / name / f"{i}.png", (rng.random((64, 64)) > 0.5).astype(float))
    args = ["--real", str(tmp_path / "real"), "--fake", str(tmp_path / "fake"), "--phases", "two"]
    code, out, err = run(capsys, "micro", "evaluate", *args, "--json")
    assert code == 0 and "warning: 4 real and 1 generated images" in err
    report = json.loads(out, parse_constant=lambda c: pytest.fail(f"{c} in JSON"))
    assert report["n_fake"] == 1 and report["frechet_features"] is None
