from __future__ import annotations

import csv
import shutil
from pathlib import Path

from eftgan.dataset import load_dataset
from eftgan.validate import flagged_names, validate


def _edit_row(folder: Path, name: str, column: str, value: float) -> None:
    path = folder / "labels.csv"
    rows = list(csv.DictReader(path.open()))
    for r in rows:
        if r["structure"] == name:
            r[column] = str(value)
    with path.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)


def test_clean_synthetic_dataset_has_no_flags(tiny_dft: Path) -> None:
    assert validate(load_dataset(tiny_dft)) == []


def test_planted_defects_are_each_caught_with_a_reason(tiny_dft: Path, tmp_path: Path) -> None:
    d = tmp_path / "planted"
    shutil.copytree(tiny_dft, d)
    # 1. species: the FeNi3 file holds Co instead of Ni
    p = d / "POSCARS" / "FeNi3_sqsfcc"
    p.write_text(p.read_text().replace("Fe  Ni", "Fe  Co").replace("Fe Ni", "Fe Co"))
    # 2. formation energy 0.1 eV/atom off its references
    ds0 = {e.name: e for e in load_dataset(tiny_dft)}
    _edit_row(
        d, "FeCo_sqsbcc", "Eform (eV/atom)", ds0["FeCo_sqsbcc"].targets["eform_ev_per_atom"] + 0.1
    )
    # 3. V0 that is not the cell's volume per atom
    _edit_row(d, "NiCo_sqsfcc", "V0 (A3/atom)", 12.5)
    # 4. a per-cell moment that disagrees with the per-atom one
    _edit_row(d, "FeCr_sqsfcc", "mb (mub/cell)", 40.0)
    # 5. an fcc structure labelled bcc
    shutil.copy(d / "POSCARS" / "CoCr_sqsfcc", d / "POSCARS" / "CoCr_sqsbcc")
    _edit_row(d, "CoCr_sqsbcc", "V0 (A3/atom)", ds0["CoCr_sqsfcc"].targets["v0_a3_per_atom"])

    flags = validate(load_dataset(d))
    by_check = {(f.structure, f.check) for f in flags}
    assert ("FeNi3_sqsfcc", "species") in by_check
    assert ("FeCo_sqsbcc", "formation-energy") in by_check
    assert ("NiCo_sqsfcc", "volume") in by_check
    assert ("FeCr_sqsfcc", "moment") in by_check
    assert ("CoCr_sqsbcc", "lattice") in by_check
    reasons = {f.structure: f.reason for f in flags}
    assert "differ from the name" in reasons["FeNi3_sqsfcc"]
    assert flagged_names(flags) <= {
        "FeNi3_sqsfcc",
        "FeCo_sqsbcc",
        "NiCo_sqsfcc",
        "FeCr_sqsfcc",
        "CoCr_sqsbcc",
    }


def test_shared_dataset_flags_its_known_defects(shared_dft: Path) -> None:
    flags = validate(load_dataset(shared_dft))
    checks = {(f.structure, f.check) for f in flags}
    for expected in [
        ("NiCoPd_sqsfcc", "species"),
        ("FeCrMn_sqsbcc", "species"),
        ("Fe24Ni24Co24Cr24Mn64_sqsfcc", "species"),
        ("FeCrPd_sqsbcc", "formation-energy"),
        ("Co3Cr_sqsbcc", "volume"),
        ("FeNi2Cr_sqsbcc", "mixing-energy"),
        ("FeNiPd_sqsbcc", "moment"),
        ("Ni3Fe_sqsbcc", "lattice"),
    ]:
        assert expected in checks
    assert 40 < len(flagged_names(flags)) < 100
