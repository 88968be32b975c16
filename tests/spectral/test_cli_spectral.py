"""``eftgan spectral``: files a person reads, and one-line errors with exit code 2."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
import torch

from tests.cli.test_cli import assert_user_error, run


def test_simulate_writes_csv_and_png(capsys, tmp_path: Path, nist) -> None:
    out = tmp_path / "s.csv"
    code, stdout, _ = run(
        capsys,
        "spectral",
        "simulate",
        "--composition",
        "Fe68Cr18Ni10Mo2Mn2",
        "--wt",
        "--out",
        str(out),
    )
    assert code == 0 and "4001 points" in stdout
    rows = list(csv.reader(out.open()))
    assert rows[0] == ["wavelength_nm", "counts"] and len(rows) == 4002
    assert out.with_suffix(".png").read_bytes()[:4] == b"\x89PNG"
    code, _, err = run(capsys, "spectral", "simulate", "--composition", "Fe", "--out", str(out))
    assert_user_error(code, err, "already exists", "--force")


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--composition", "Fe68Cr18Ni10Mo2Mn3", "--wt"], "add up to 101"),
        (["--composition", "Fe70Xx30"], "Xx"),
        (["--composition", "Fe", "--instrument", "hr2000"], "unknown instrument"),
        (["--composition", "Fe", "--instrument", "seed"], "now called 'saca2021'"),
        (["--composition", "Fe", "--temperature", "100"], "outside"),
        (["--composition", "Fe", "--shift", "-20"], "--shift -20 nm is beyond +-1 nm"),
    ],
)
def test_simulate_bad_input(capsys, tmp_path: Path, args: list[str], needle: str) -> None:
    code, _, err = run(capsys, "spectral", "simulate", *args, "--out", str(tmp_path / "x.csv"))
    assert_user_error(code, err, needle)
    assert not (tmp_path / "x.csv").exists()


def test_identify_csv_on_a_simulated_file(capsys, tmp_path: Path, nist) -> None:
    out = tmp_path / "ni.csv"
    assert run(capsys, "spectral", "simulate", "--composition", "Ni", "--out", str(out))[0] == 0
    code, stdout, _ = run(
        capsys, "spectral", "identify", str(out), "--elements", "Fe,Ni,Cr,Cu,Ti", "--format", "csv"
    )
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(stdout)))
    assert list(rows[0]) == ["element", "score", "matched_lines"]
    assert rows[0]["element"] == "Ni" and float(rows[0]["score"]) > float(rows[1]["score"])


@pytest.mark.parametrize(
    ("text", "needle"),
    [("", "empty"), ("300,1\n301,-1\n", "negative"), ("300,1\n299,2\n301,2\n", "increasing")],
)
def test_identify_and_analyze_reject_bad_files(capsys, tmp_path, text, needle) -> None:
    f = tmp_path / "bad.csv"
    f.write_text(text)
    for cmd in ("analyze", "identify"):
        code, _, err = run(capsys, "spectral", cmd, str(f))
        assert_user_error(code, err, needle)


def test_analyze_refuses_a_file_that_misses_the_model_grid(capsys, tmp_path, nist) -> None:
    f = tmp_path / "short.csv"
    f.write_text("\n".join(f"{400 + 0.1 * i:.1f},{10 + i % 7}" for i in range(1000)))
    code, _, err = run(capsys, "spectral", "analyze", str(f))
    assert_user_error(code, err, "covers 400.0-499.9 nm", "300.0-700.0")


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--jitter", "0.7"], "--jitter"),
        (["--lr", "0"], "--lr"),
        (["--ema", "1"], "--ema"),
        (["--epochs", "0"], "--epochs"),
        (["--max-minutes", "0"], "--max-minutes"),
        (["--n-spectra", "-5"], "--n-spectra"),
        (["--variant", "seed"], "now called 'paper'"),
        (["--instrument", "seed"], "now called 'saca2021'"),
        (["--init-from", "no/such/model"], "does not exist; pass --init-from"),
        pytest.param(
            ["--device", "cuda"],
            "no CUDA GPU",
            marks=pytest.mark.skipif(
                torch.cuda.is_available(), reason="this machine has a CUDA GPU"
            ),
        ),
    ],
)
def test_train_bad_options(capsys, tmp_path: Path, args: list[str], needle: str) -> None:
    code, _, err = run(
        capsys, "spectral", "train", "--out", str(tmp_path / "m"), "--n-spectra", "200", *args
    )
    assert_user_error(code, err, needle)
    assert not (tmp_path / "m" / "config.json").exists()


def test_calibrate_refuses_a_composition_that_is_not_100_wt_pct(capsys, tmp_path: Path) -> None:
    """calibrate takes wt % only: its fix is to correct them (it has no --wt to drop)."""
    f = tmp_path / "ref.csv"
    f.write_text("300,1\n301,2\n")
    args = ["spectral", "calibrate", str(f), "--composition", "Fe50Ni20"]
    code, _, err = run(capsys, *args, "--out", str(tmp_path / "i.json"))
    assert_user_error(code, err, "add up to 70, not 100; fix them")
    assert "--wt" not in err


def test_a_spectrum_of_a_few_pixels_is_refused(capsys, tmp_path: Path) -> None:
    f = tmp_path / "three.csv"
    f.write_text("300,5\n301,6\n302,4\n")
    for cmd in (["identify"], ["analyze", "--method", "cflibs", "--elements", "Fe"]):
        code, _, err = run(capsys, "spectral", *cmd, str(f))
        assert_user_error(code, err, "three.csv holds 3 pixels; reading its lines needs at least")


def test_simulate_keeps_its_csv_apart_from_its_png(capsys, tmp_path: Path) -> None:
    out = tmp_path / "x.png"
    code, _, err = run(capsys, "spectral", "simulate", "--composition", "Fe", "--out", str(out))
    assert_user_error(code, err, "names the CSV (its PNG goes beside it)")
    assert not out.exists()


def test_analyze_says_when_a_file_is_not_a_steel(capsys, tmp_path: Path, nist) -> None:
    """SACA reads any spectrum as a steel; ``analyze`` warns where the elements it reads
    explain little of the lines (a brass), or where its lines do not allow the composition
    read (pure Ni, which SACA reads as a stainless steel), and not for a steel."""
    files = {"steel": "Fe68Cr18Ni10Mo2Mn2", "brass": "Cu65Zn35", "nickel": "Ni"}
    for name, comp in files.items():
        out = str(tmp_path / f"{name}.csv")
        args = ["--composition", comp, "--wt", "--out", out]
        code, _, _ = run(capsys, "spectral", "simulate", *args)
        assert code == 0
    args = [*(str(tmp_path / f"{name}.csv") for name in files), "--wavelengths", "air"]
    code, out, err = run(capsys, "spectral", "analyze", *args, "--format", "csv")
    assert code == 0
    rows = {Path(r["file"]).stem: r for r in csv.DictReader(io.StringIO(out))}
    assert float(rows["steel"]["lines_explained"]) > 0.5 > float(rows["brass"]["lines_explained"])
    assert (
        float(rows["steel"]["reading_cost_ratio"])
        < 1.35
        < float(rows["nickel"]["reading_cost_ratio"])
    ), "SACA misreads pure Ni; the ratio says so"
    assert [rows[n]["reading_ok"] for n in files] == ["True", "False", "False"]
    warned = [ln for ln in err.splitlines() if ln.startswith("warning:")]
    assert len(warned) == 2 and all("--elements auto" in ln for ln in warned), err
    assert "brass.csv" in warned[0] and "does not look like a steel" in warned[0]
    assert "nickel.csv" in warned[1] and "times worse at the composition read" in warned[1]
