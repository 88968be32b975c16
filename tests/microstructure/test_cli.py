"""``eftgan micro``: one-line errors for bad input, and nothing written."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.test_cli import assert_user_error, run


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["synth", "--si", "30"], "outside 0-25"),
        (["synth", "--si", "7", "--size", "8"], "too small"),
        (["train", "--images", "nowhere", "--lr", "0"], "not a learning rate"),
        (["train", "--images", "nowhere", "--lr-d", "2"], "--lr-d 2 is not a learning rate"),
        (["train", "--images", "nowhere", "--condition-si", "4,x"], "not a list of numbers"),
        (["train", "--images", "nowhere", "--condition-si", "4,7"], "one --condition-si value"),
    ],
)
def test_synth_bad_input(capsys, tmp_path: Path, args, needle) -> None:
    out = tmp_path / "o"
    code, _, err = run(capsys, "micro", *args, "--out", str(out))
    assert_user_error(code, err, needle)
    assert not out.exists() and not list(tmp_path.iterdir())


def test_grains_simulate_render_assimilate(capsys, tmp_path: Path) -> None:
    import json

    run_dir, img = tmp_path / "run", tmp_path / "img"
    code, out, err = run(
        capsys, "micro", "grains", "simulate", "--size", "64", "--grains", "20", "--steps",
        "300", "--snapshots", "3", "--mobility-energy", "2e-13", "--anisotropy", "0.5",
        "--seed", "1", "--out", str(run_dir), "--quiet",
    )  # fmt: skip
    assert code == 0, err
    assert len(list(run_dir.glob("grains_*.png"))) == 3 and (run_dir / "growth.png").exists()
    assert json.loads((run_dir / "run.json").read_text())["config"]["mobility_energy_m2_s"] == 2e-13
    code, _, err = run(capsys, "micro", "grains", "render", str(run_dir), "--out", str(img))
    assert code == 0, err
    assert len(list(img.glob("*_boundaries.png"))) == 3
    code, out, err = run(
        capsys, "micro", "grains", "assimilate", str(run_dir), "--ensemble", "6", "--json",
        "--quiet",
    )  # fmt: skip
    assert code == 0, err
    r = json.loads(out)
    assert set(r["mobility_energy"]) == {"mean", "std", "unit"}
    assert r["low_angle_mobility_ratio"]["std"] > 0 and r["ensemble"] == 6


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["simulate", "--snapshots", "1"], "at least 2"),
        (["simulate", "--size", "32", "--grains", "500"], "--grains must be"),
        (["simulate", "--dt", "100"], "largest stable step"),
        (["simulate", "--device", "tpu"], "unknown device"),
        (["simulate", "--sigma", "0"], "--sigma must be positive"),
        (["simulate", "--anisotropy", "-1"], "must be >= 0"),
    ],
)
def test_grains_bad_input(capsys, tmp_path: Path, args, needle) -> None:
    out = tmp_path / "o"
    code, _, err = run(capsys, "micro", "grains", *args, "--out", str(out), "--quiet")
    assert_user_error(code, err, needle)
    assert not out.exists()


def test_grains_simulate_warns_where_low_angle_boundaries_outrun_high_angle_ones(
    capsys, tmp_path: Path
) -> None:
    args = ["micro", "grains", "simulate", "--size", "32", "--grains", "8", "--steps", "20"]
    args += ["--snapshots", "2", "--quiet"]
    code, _, err = run(capsys, *args, "--anisotropy", "3", "--out", str(tmp_path / "a"))
    assert code == 0 and "--anisotropy 3 makes low-angle boundaries more mobile" in err
    code, _, err = run(capsys, *args, "--anisotropy", "0.5", "--out", str(tmp_path / "b"))
    assert code == 0 and "warning" not in err


def test_grains_assimilate_needs_two_snapshots(capsys, tmp_path: Path) -> None:
    code, _, err = run(capsys, "micro", "grains", "assimilate", str(tmp_path), "--quiet")
    assert_user_error(code, err, "observations.json")


@pytest.mark.parametrize("error", ["0", "-1"])
def test_grains_assimilate_needs_a_positive_observation_error(capsys, tmp_path, error) -> None:
    args = ["micro", "grains", "assimilate", str(tmp_path), "--obs-error", error, "--quiet"]
    code, _, err = run(capsys, *args)
    assert_user_error(code, err, "--obs-error")


def test_generate_warns_outside_the_trained_si_contents(capsys, tmp_path: Path) -> None:
    """The shipped conditional model was trained at Al-4, 7 and 10Si: between them it
    interpolates quietly, beyond them it says that the images are extrapolated."""
    for si, warned in (("8.5", False), ("20", True)):
        out = tmp_path / f"si{si}"
        code, _, err = run(capsys, "micro", "generate", "--n", "1", "--si", si, "--out", str(out))
        assert code == 0 and len(list(out.glob("*.png"))) == 1
        assert ("outside the contents the model was trained on (4-10 wt %)" in err) == warned
