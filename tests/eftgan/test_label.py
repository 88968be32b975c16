"""``eftgan data label``: oracle labels in the DFT table's layout, resumable, on Dask too."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import numpy as np
import pytest
from eftgan_cli.main import main

from eftgan.dataset import load_dataset
from eftgan.errors import UserError
from tests.conftest import killed_at

chgnet = pytest.importorskip("chgnet", reason="the oracle extra (chgnet) is not installed")

import eftgan.label as label_mod  # noqa: E402
from eftgan.label import plan_jobs, run_labels  # noqa: E402

# Tiny cells (4 sites) and few steps keep each relaxation well under a second.
TINY = {"fmax": 0.05, "steps": 30}


def _jobs():
    return plan_jobs(["Fe", "Ni"], ["fcc", "bcc"], 4, 4, seed=3)


def _rows(folder: Path) -> list[dict[str, str]]:
    with open(folder / "labels.csv") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def labelled(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("labels") / "run"
    run_labels(out, _jobs(), progress=False, **TINY)
    return out


def test_labels_read_as_a_dft_table(labelled: Path) -> None:
    ds = load_dataset(labelled)
    assert len(ds) == 4
    assert {e.phase for e in ds} == {"fcc", "bcc"}
    refs = json.loads((labelled / "references.json").read_text())
    for entry, row in zip(ds, _rows(labelled), strict=True):
        assert row["source"] == "chgnet"
        x = entry.fractions
        etot = entry.targets["etot_ev_per_atom"]
        ground = sum(x[e] * refs[e][refs[e]["ground"]]["energy_ev_per_atom"] for e in x)
        same = sum(x[e] * refs[e][entry.phase]["energy_ev_per_atom"] for e in x)
        assert entry.targets["eform_ev_per_atom"] == pytest.approx(etot - ground, abs=1e-6)
        assert entry.targets["emix_ev_per_atom"] == pytest.approx(etot - same, abs=1e-6)
        assert entry.targets["v0_a3_per_atom"] == pytest.approx(
            entry.structure.volume / len(entry.structure)
        )
        assert 0.0 < entry.targets["ms_mub_per_atom"] < 3.0  # Fe-Ni is ferromagnetic
    prov = json.loads((labelled / "provenance.json").read_text())
    assert prov["oracle"]["oracle"] == "chgnet" and prov["oracle"]["max_steps"] == 30
    assert prov["n_structures"] == 4 and prov["seconds_per_structure_median"] > 0


def test_a_killed_run_resumes_to_the_same_labels(
    labelled: Path, tmp_path: Path, monkeypatch
) -> None:
    out = tmp_path / "run"
    real = label_mod.label_one
    monkeypatch.setattr(label_mod, "label_one", killed_at(real, 3))
    with pytest.raises(KeyboardInterrupt):
        run_labels(out, _jobs(), progress=False, **TINY)
    assert len(list((out / "done").glob("*.json"))) == 2
    assert not (out / "labels.csv").exists()
    monkeypatch.setattr(label_mod, "label_one", real)
    run_labels(out, _jobs(), progress=False, **TINY)
    prov = json.loads((out / "provenance.json").read_text())
    assert prov["this_run"]["structures"] == 2
    drop = {"seconds"}
    strip = [{k: v for k, v in r.items() if k not in drop} for r in _rows(out)]
    assert strip == [{k: v for k, v in r.items() if k not in drop} for r in _rows(labelled)]
    with pytest.raises(UserError, match="already holds finished labels"):
        run_labels(out, _jobs(), progress=False, **TINY)
    with pytest.raises(UserError, match="other settings"):
        (out / "labels.csv").unlink()
        run_labels(out, _jobs(), progress=False, fmax=0.1, steps=30)


def test_dask_workers_give_the_local_labels(labelled: Path, tmp_path: Path) -> None:
    pytest.importorskip("distributed", reason="the dist extra is not installed")
    from distributed import LocalCluster

    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        run_labels(
            tmp_path / "run", _jobs(), scheduler=cluster.scheduler_address, progress=False, **TINY
        )
    remote, local = _rows(tmp_path / "run"), _rows(labelled)
    assert [r["structure"] for r in remote] == [r["structure"] for r in local]
    for a, b in zip(remote, local, strict=True):
        assert float(a["Etot (eV/atom)"]) == pytest.approx(float(b["Etot (eV/atom)"]), abs=1e-4)


def test_a_killed_worker_s_structure_is_retried(labelled: Path, tmp_path: Path) -> None:
    pytest.importorskip("distributed", reason="the dist extra is not installed")
    from distributed import Client, LocalCluster, WorkerPlugin

    class KillsItsWorkerOnce(WorkerPlugin):
        """Kills its worker process as the first label starts there (defined here, so that
        Dask ships it by value)."""

        name = "kills-its-worker-once"

        def __init__(self, marker: str) -> None:
            self.marker = marker

        def transition(self, key, start, finish, **kwargs) -> None:
            import os

            if finish == "executing" and str(key).startswith("label-"):
                if not os.path.exists(self.marker):
                    Path(self.marker).write_text(str(key))
                    os._exit(1)

    marker = tmp_path / "killed"
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        client.register_plugin(KillsItsWorkerOnce(str(marker)))
        run_labels(
            tmp_path / "run", _jobs(), scheduler=cluster.scheduler_address, progress=False, **TINY
        )
    killed = marker.read_text().rsplit("-", 1)[-1]
    rows = {r["structure"]: r for r in _rows(tmp_path / "run")}
    assert killed in rows, "the structure whose worker died was labelled on a retry"
    assert sorted(rows) == sorted(r["structure"] for r in _rows(labelled))


def test_missing_oracle_extra_names_the_install(monkeypatch) -> None:
    from eftgan import oracle

    monkeypatch.setitem(sys.modules, "chgnet.model", None)
    monkeypatch.setattr(oracle, "_LOADED", {})
    with pytest.raises(UserError, match=r"pip install 'eftgan\[oracle\]'"):
        oracle.load_oracle("chgnet")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--elements", "Fe,Am"], "outside what the chgnet oracle covers"),
        (["--elements", "Fe,Xx"], "unknown element"),
        (["--elements", "Fe,Ni", "--compositions", "Fe0.3Ni0.7"], "sizes that would work: 10"),
        (["--elements", "Fe,Ni", "--phases", "hcp"], "choose among fcc, bcc"),
        (["--elements", "Fe,Ni", "--compositions", "FeCo"], "Co"),
        (["--elements", "Fe,Ni,Fe"], "given twice"),
        (["--elements", "Fe,Ni", "--compositions", "FeNi,Fe0.5Ni0.5"], "given twice"),
        (["--elements", "Fe,Ni", "--phases", "fcc,fcc"], "each once"),
        (["--elements", "Fe,Ni", "--compositions", "FeNi", "--size", "256"], "smaller --size"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args, message, tmp_path: Path, capsys) -> None:
    size = [] if "--size" in args else ["--size", "32"]
    with pytest.raises(SystemExit) as exc:
        main(["data", "label", *args, *size, "--out", str(tmp_path / "o")])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err and not (tmp_path / "o").exists()


def test_cli_labels_given_compositions(tmp_path: Path, capsys) -> None:
    out = tmp_path / "series"
    args = ["data", "label", "--elements", "Fe,Ni", "--compositions", "Fe3Ni,FeNi"]
    with pytest.raises(SystemExit) as exc:
        main([*args, "--phases", "fcc", "--size", "4", "--max-steps", "30", "--out", str(out)])
    assert exc.value.code in (0, None)
    assert "2 labelled" in capsys.readouterr().out
    assert [r["structure"] for r in _rows(out)] == ["Fe3Ni1_sqsfcc", "Fe2Ni2_sqsfcc"]


def test_force_never_deletes_a_folder_that_is_not_a_run(tmp_path: Path) -> None:
    precious = tmp_path / "thesis"
    precious.mkdir()
    (precious / "chapter1.tex").write_text("...")
    with pytest.raises(UserError, match="not a labelling run"):
        run_labels(precious, _jobs(), progress=False, force=True, **TINY)
    assert (precious / "chapter1.tex").is_file()


def test_a_relaxation_that_leaves_physics_has_no_label(tmp_path: Path, monkeypatch) -> None:
    from eftgan import oracle

    monkeypatch.setattr(oracle, "VOLUME_BOUNDS", (0.9999, 1.0001))  # any volume change fails
    out = tmp_path / "run"
    jobs = plan_jobs(["Fe", "Ni"], ["bcc"], 1, 4, seed=5, compositions=[{"Fe": 0.75, "Ni": 0.25}])
    prov = run_labels(out, jobs, progress=False, **TINY)
    assert prov["n_structures"] == 0
    assert "volume went to" in prov["failed"]["Fe3Ni1_sqsbcc"]
    assert _rows(out) == [] and not (out / "POSCARS" / "Fe3Ni1_sqsbcc").exists()


def test_a_left_handed_cell_relaxes_as_its_right_handed_twin() -> None:
    from pymatgen.core import Lattice, Structure

    from eftgan.oracle import load_oracle
    from eftgan.sqs import ideal_supercell

    right = ideal_supercell("fcc", 4, 3.62)
    right.replace_species({"X0+": "Fe"})
    right.replace(0, "Ni")
    right.replace(1, "Ni")
    swap = [1, 0, 2]
    left = Structure(Lattice(right.lattice.matrix[swap]), right.species, right.frac_coords[:, swap])
    assert np.linalg.det(left.lattice.matrix) < 0
    oracle = load_oracle(**TINY)
    a, b = oracle.relax(right), oracle.relax(left)
    assert not a.failed and not b.failed
    assert b.energy_per_atom == pytest.approx(a.energy_per_atom, abs=2e-3)
    assert b.structure.volume == pytest.approx(a.structure.volume, rel=2e-3)
