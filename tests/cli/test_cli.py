"""The command line: output a person reads, and one-line errors with exit code 2."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import shutil
import zipfile
from pathlib import Path

import pytest
from eftgan_cli.main import main
from eftgan_cli.predict_cmd import COLUMNS

from eftgan.paths import DEFAULT_MODELS

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((REPO / "data" / "examples").glob("*.vasp")) + sorted(
    (REPO / "data" / "examples").glob("*.cif")
)


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(list(args))
    out, err = capsys.readouterr()
    return int(exc.value.code or 0), out, err


def assert_user_error(code: int, err: str, *needles: str) -> None:
    assert code == 2
    assert "Traceback" not in err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    for n in needles:
        assert n in lines[0]


def test_help_lists_the_commands(capsys) -> None:
    code, out, _ = run(capsys, "--help")
    assert code == 0
    for cmd in ("data", "train", "predict"):
        assert cmd in out


def test_predict_with_the_shipped_model_table_and_csv(capsys) -> None:
    code, out, _ = run(capsys, "predict", *map(str, EXAMPLES))
    assert code == 0
    header = out.splitlines()[0].split()
    assert header == COLUMNS
    code, out, _ = run(capsys, "predict", *map(str, EXAMPLES), "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [r["structure"] for r in rows] == [p.name for p in EXAMPLES]
    by = {r["structure"]: r for r in rows}
    assert by["FeNiCoCrMn_sqsfcc.vasp"]["phase_source"] == "file name"
    assert by["Fe3Cr_random_bcc.cif"]["phase"] == "bcc"
    assert by["Fe3Cr_random_bcc.cif"]["phase_source"].startswith("coordination")
    assert by["CoCrNi_random.vasp"]["phase"] == "fcc"
    for r in rows:
        assert 9.0 < float(r["v0_a3_per_atom"]) < 14.0
        assert -0.5 < float(r["eform_ev_per_atom"]) < 0.5
    code, out2, _ = run(capsys, "predict", str(EXAMPLES[0]), "--phase", "bcc", "--format", "csv")
    assert next(iter(csv.DictReader(io.StringIO(out2))))["phase_source"] == "given"


def test_predict_picks_the_shipped_model_that_knows_the_elements(capsys, tmp_path: Path) -> None:
    text = (REPO / "data" / "examples" / "FeNiCoCrMn_sqsfcc.vasp").read_text().replace("Mn", "Al")
    (tmp_path / "POSCAR").write_text(text)
    code, out, err = run(capsys, "predict", str(tmp_path / "POSCAR"), "--format", "csv")
    assert code == 0 and "model ecnet-hea10-dft-chgnet-v1" in err
    assert -1.0 < float(next(iter(csv.DictReader(io.StringIO(out))))["eform_ev_per_atom"]) < 0.5
    code, _, err = run(capsys, "predict", str(EXAMPLES[0]))
    assert code == 0 and "model" not in err


def test_unknown_element_is_one_line_exit_2(capsys, tmp_path: Path) -> None:
    text = (REPO / "data" / "examples" / "FeNiCoCrMn_sqsfcc.vasp").read_text().replace("Mn", "Au")
    (tmp_path / "POSCAR").write_text(text)
    code, _, err = run(capsys, "predict", str(tmp_path / "POSCAR"))
    assert_user_error(code, err, "no shipped model covers Au", "eftgan data label")
    model = REPO / "data" / "models" / "ecnet-fenicocrmnpd-v2"
    code, _, err = run(capsys, "predict", str(tmp_path / "POSCAR"), "--model", str(model))
    assert_user_error(code, err, "Au", "supports")


def test_malformed_and_missing_files(capsys, tmp_path: Path) -> None:
    (tmp_path / "bad.vasp").write_text("hello\nworld\n")
    code, _, err = run(capsys, "predict", str(tmp_path / "bad.vasp"))
    assert_user_error(code, err, "bad.vasp")
    code, _, err = run(capsys, "predict", str(tmp_path / "nope.cif"))
    assert_user_error(code, err, "does not exist")
    code, _, err = run(capsys, "predict", str(tmp_path))
    assert_user_error(code, err, "is a folder")
    code, _, err = run(capsys, "data", "validate", str(tmp_path))
    assert_user_error(code, err, "holds no structures")


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    from eftgan.errors import UserError

    with pytest.raises(UserError):
        main(["--debug", "predict", str(tmp_path / "nope.cif")])
    with pytest.raises(UserError):  # where a user adds it: last
        main(["predict", str(tmp_path / "nope.cif"), "--debug"])


def test_usage_errors_stay_one_line_with_debug(capsys) -> None:
    code, _, err = run(capsys, "--debug", "predict", str(EXAMPLES[0]), "--phase", "hcp")
    assert_user_error(code, err, "--phase")


def test_usage_errors_are_one_line(capsys) -> None:
    code, _, err = run(capsys, "predict", str(EXAMPLES[0]), "--phase", "hcp")
    assert_user_error(code, err, "--phase")


def test_tampered_model_is_refused(capsys, tmp_path: Path) -> None:
    from eftgan.paths import default_model_dir

    bad = tmp_path / "model"
    shutil.copytree(default_model_dir(), bad)
    blob = bytearray((bad / "weights.safetensors").read_bytes())
    blob[-1] ^= 0xFF
    (bad / "weights.safetensors").write_bytes(bytes(blob))
    code, _, err = run(capsys, "predict", str(EXAMPLES[0]), "--model", str(bad))
    assert_user_error(code, err, "modified or damaged")


def test_validate_json_lists_structure_and_reason(capsys, tiny_dft: Path, tmp_path: Path) -> None:
    d = tmp_path / "d"
    shutil.copytree(tiny_dft, d)
    p = d / "POSCARS" / "FeNi_sqsbcc"
    p.write_text(p.read_text().replace("Fe  Ni", "Fe  Co").replace("Fe Ni", "Fe Co"))
    code, out, _ = run(capsys, "data", "validate", str(d), "--json")
    assert code == 0
    items = json.loads(out)
    assert any(
        i["structure"] == "FeNi_sqsbcc" and "differ from the name" in i["reason"] for i in items
    )
    assert all({"structure", "reason"} <= set(i) for i in items)
    code, out, _ = run(capsys, "data", "validate", str(d))
    assert "FeNi_sqsbcc" in out and "1 of 28 entries flagged" in out


@pytest.mark.slow
def test_train_cli_writes_a_model_and_refuses_to_overwrite(
    capsys, tiny_dft: Path, tmp_path: Path
) -> None:
    out = tmp_path / "m"
    args = ["train", "ecnet", "--data", str(tiny_dft), "--out", str(out), "--seed", "2"]
    args += ["--epochs", "3", "--hidden", "8", "--quiet"]
    code, stdout, _ = run(capsys, *args)
    assert code == 0 and "model written to" in stdout
    assert (out / "config.json").is_file()
    code, _, err = run(capsys, *args)
    assert_user_error(code, err, "already holds a trained model", "--force")
    code, stdout, _ = run(capsys, *args, "--force")
    assert code == 0
    code, out2, _ = run(capsys, "predict", str(EXAMPLES[0]), "--model", str(out), "--format", "csv")
    assert code == 0 and "CoCrNi_random.vasp" in out2


def _zip_with_hea_data(path: Path) -> str:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("ECNet-03774ad/README.md", "repo")
        zf.writestr("ECNet-03774ad/HEA_Data/Binary_POSCAR_Files/POSCAR_FeNi_sqsfcc", "poscar")
        zf.writestr("ECNet-03774ad/HEA_Data/Binary.xlsx", "xlsx")
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_fetch_verifies_the_checksum_and_extracts_atomically(
    capsys, tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.setenv("EFTGAN_HOME", str(tmp_path / "home"))
    archive = tmp_path / "src.zip"
    digest = _zip_with_hea_data(archive)
    url = archive.as_uri()
    code, _, err = run(capsys, "data", "fetch", "--url", url, "--sha256", "0" * 64)
    assert_user_error(code, err, "checksum mismatch")
    target = tmp_path / "home" / "datasets" / "ecnet-hea"
    assert not (target / "HEA_Data").exists()
    assert not [p for p in target.iterdir() if p.name.startswith(".")], (
        "temporary files left behind"
    )
    code, _, _ = run(capsys, "data", "fetch", "--url", url, "--sha256", digest)
    assert code == 0
    assert (
        target / "HEA_Data" / "Binary_POSCAR_Files" / "POSCAR_FeNi_sqsfcc"
    ).read_text() == "poscar"
    code, _, err = run(capsys, "data", "fetch", "--url", url)
    assert_user_error(code, err, "already exists", "--force")
    # trust on first use: without a pinned checksum the first one is recorded and enforced
    code, _, _ = run(capsys, "data", "fetch", "--url", url, "--force")
    assert (target / "SHA256").read_text().strip() == digest
    _zip_with_hea_data(archive)
    with zipfile.ZipFile(archive, "a") as zf:
        zf.writestr("ECNet-03774ad/HEA_Data/extra.txt", "changed")
    code, _, err = run(capsys, "data", "fetch", "--url", url, "--force")
    assert_user_error(code, err, "checksum mismatch")


def test_explore_writes_tables_and_maps(capsys, tmp_path: Path) -> None:
    import pandas as pd

    out = tmp_path / "ex"
    code, stdout, _ = run(
        capsys, "explore", "--elements", "Fe,Ni,Co,Cr", "--step", "0.125", "--out", str(out)
    )
    assert code == 0 and "ranked by g = Eform - T S_conf at T = 1000 K" in stdout
    csv_df = pd.read_csv(out / "explore.csv")
    pq_df = pd.read_parquet(out / "explore.parquet")
    assert len(csv_df) == len(pq_df) == 2 * 165
    columns = ["x_Fe", "x_Cr", "phase", "eform_std", "ms_std", "a_angstrom"]
    columns += ["delta_e_bcc_fcc_ev_per_atom", "stable_phase", "g_ev_per_atom"]
    columns += ["g_mix_ev_per_atom", "extrapolation"]
    assert set(columns) <= set(csv_df.columns)
    candidates = pd.read_csv(out / "candidates.csv")
    assert len(candidates) == 10 and candidates["composition"].iloc[0] in stdout
    for png in ("map_eform.png", "map_ms.png", "map_phase.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    record = json.loads((out / "run.json").read_text())
    assert record["model"] == DEFAULT_MODELS["eftgan"] and record["label_source"] == "dft"
    assert record["elements"] == ["Fe", "Ni", "Co", "Cr"] and record["seed"] == 0
    code, _, err = run(capsys, "explore", "--elements", "Fe,Ni,Co", "--out", str(out))
    assert_user_error(code, err, "already exists", "--force")
    code, stdout, _ = run(
        capsys, "explore", "--elements", "Fe,Ni", "--no-csv", "--no-maps", "--out", str(out / "p")
    )
    assert code == 0 and not (out / "p" / "explore.csv").exists()
    assert len(pd.read_parquet(out / "p" / "explore.parquet")) == 2 * 21


def test_explore_picks_the_shipped_model_that_knows_the_elements(capsys, tmp_path: Path) -> None:
    import pandas as pd

    out = tmp_path / "alcocrfeni"
    args = ["--elements", "Al,Co,Cr,Fe,Ni", "--step", "0.25", "--out", str(out)]
    code, stdout, _ = run(capsys, "explore", *args)
    assert code == 0 and "eftgan-hea10-dft-chgnet-v1" in stdout
    record = json.loads((out / "run.json").read_text())
    assert record["model"] == "eftgan-hea10-dft-chgnet-v1"
    assert record["label_source"] == "dft+chgnet"
    df = pd.read_parquet(out / "explore.parquet")
    pure_al = df[(df["x_Al"] == 1.0) & (df["phase"] == "fcc")]
    equiatomic_mix = df[(df["x_Al"] == 0.25) & (df["x_Ni"] == 0.25) & (df["x_Fe"] == 0.25)]
    assert pure_al["extrapolation"].all(), "no labelled alloy lies near pure Al"
    assert not equiatomic_mix["extrapolation"].all()
    assert (out / "map_eform.png").exists()


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--elements", "Fe,Ni,Fe"], "given twice"),
        (["--elements", "Fe,Au"], "no shipped model covers Au"),
        (["--elements", "Fe,Ni", "--step", "0.3"], "does not divide 1"),
        (
            ["--elements", "Fe,Ni", "--step", "0.5", "--bounds", "Fe:0.2-0.3"],
            "leave no composition",
        ),
        (["--elements", "Fe,Ni", "--phases", "hcp"], "hcp"),
        (["--elements", "Fe,Ni", "--n-z", "0"], "--n-z"),
    ],
)
def test_explore_bad_input(capsys, tmp_path: Path, args: list[str], needle: str) -> None:
    out = tmp_path / "ex"
    code, _, err = run(capsys, "explore", *args, "--out", str(out))
    assert_user_error(code, err, needle)
    assert not out.exists()
    assert not list(tmp_path.iterdir()), "nothing may be left half-written"


def test_explore_binary_draws_curves(capsys, tmp_path: Path) -> None:
    out = tmp_path / "bin"
    args = ["--elements", "Ni,Fe", "--step", "0.1", "--phases", "fcc", "--out", str(out)]
    code, stdout, _ = run(capsys, "explore", *args)
    assert code == 0 and "11 compositions x 1 phases" in stdout
    assert (out / "map_phase.png").is_file() and (out / "map_eform.png").is_file()


def test_train_eftgan_refuses_an_ensemble_ecnet(capsys, tiny_dft: Path, tmp_path: Path) -> None:
    from eftgan.paths import default_model_dir

    args = ["--data", str(tiny_dft), "--out", str(tmp_path / "g")]
    code, _, err = run(capsys, "train", "eftgan", *args, "--ecnet", str(default_model_dir()))
    assert_user_error(code, err, "ensemble", "train ensemble")
    assert not (tmp_path / "g").exists()


def test_printed_json_is_strict(capsys) -> None:
    """What ``--json`` prints parses anywhere: a statistic that is not a number is null."""
    import numpy as np
    from eftgan_cli.main import echo_json

    echo_json({"frechet": float("nan"), "rows": [1.5, float("inf")], "n": np.int64(3),
               "sd": np.float32("nan"), "r": np.array([0.5, np.nan])})  # fmt: skip
    out = capsys.readouterr().out
    assert json.loads(out, parse_constant=lambda c: pytest.fail(f"{c} in JSON")) == {
        "frechet": None,
        "rows": [1.5, None],
        "n": 3,
        "sd": None,
        "r": [0.5, None],
    }


def test_model_options_take_a_shipped_models_name(capsys) -> None:
    """``--model NAME``, as ``eftgan models`` lists it, is that shipped model's folder."""
    from eftgan.paths import default_model_dir

    name = default_model_dir().name
    code, by_name, _ = run(capsys, "predict", str(EXAMPLES[0]), "--model", name)
    assert code == 0
    code, by_path, _ = run(capsys, "predict", str(EXAMPLES[0]), "--model", str(default_model_dir()))
    assert by_name == by_path
    code, _, err = run(capsys, "predict", str(EXAMPLES[0]), "--model", "no-such-model")
    assert_user_error(code, err, "no-such-model does not exist")


def test_an_interrupted_command_says_how_a_run_goes_on(capsys, monkeypatch) -> None:
    """Ctrl-C (click's Abort): exit 1 and one line that says a training run resumes."""
    import eftgan_cli.main as cli_main

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli_main.cli, "invoke", interrupted)
    code, _, err = run(capsys, "models")
    assert code == 1 and err.strip().startswith("aborted; a training run goes on from its last")
