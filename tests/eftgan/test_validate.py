from __future__ import annotations

import csv
import math
import shutil
from pathlib import Path

import numpy as np
from pymatgen.core import Lattice, Structure

from eftgan.dataset import load_dataset
from eftgan.validate import (
    TARGET_CHECKS,
    Flag,
    clean,
    flagged_names,
    masked_labels,
    validate,
)


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


def _shear_poscar(folder: Path, name: str, shear: float) -> None:
    """Shear the first cell vector along the second by ``shear`` lattice constants (same volume)."""
    path = folder / "POSCARS" / name
    s = Structure.from_str(path.read_text(), fmt="poscar")
    m = s.lattice.matrix.copy()
    m[0] += shear * m[1] / np.linalg.norm(m[1]) * s.lattice.c  # c = a for these cells
    Structure(Lattice(m), s.species, s.frac_coords).to(filename=str(path), fmt="poscar")


def test_a_sheared_cell_masks_only_its_rmsd(tiny_dft: Path, tmp_path: Path) -> None:
    d = tmp_path / "sheared"
    shutil.copytree(tiny_dft, d)
    _shear_poscar(d, "FeNi_sqsbcc", 0.2)
    ds = load_dataset(d)
    flags = validate(ds)
    assert [(f.structure, f.check) for f in flags] == [("FeNi_sqsbcc", "distortion")]
    assert "sheared 0.20 a away from its starting bcc lattice" in flags[0].reason
    assert flagged_names(flags) == set()
    assert masked_labels(flags) == {"rmsd_angstrom": ["FeNi_sqsbcc"]}
    cleaned = clean(ds)
    assert cleaned.names == ds.names
    assert (cleaned.source, cleaned.data_hash) == (ds.source, ds.data_hash)
    before = {e.name: e for e in ds}["FeNi_sqsbcc"]
    after = {e.name: e for e in cleaned}["FeNi_sqsbcc"]
    assert math.isnan(after.targets["rmsd_angstrom"])
    assert before.targets["rmsd_angstrom"] == 0.05  # the input is not modified
    assert {k: v for k, v in after.targets.items() if k != "rmsd_angstrom"} == {
        k: v for k, v in before.targets.items() if k != "rmsd_angstrom"
    }


def test_clean_drops_entry_level_flags_and_masks_target_level_ones(tiny_dft: Path) -> None:
    ds = load_dataset(tiny_dft)
    a, b = ds.names[:2]
    flags = [Flag(a, "volume", "x"), Flag(a, "distortion", "y"), Flag(b, "distortion", "z")]
    assert set(TARGET_CHECKS) == {"distortion"}
    assert flagged_names(flags) == {a}
    assert masked_labels(flags) == {"rmsd_angstrom": [b]}
    cleaned = clean(ds, flags)
    assert len(cleaned) == len(ds) - 1 and a not in cleaned.names
    assert math.isnan(cleaned[0].targets["rmsd_angstrom"])
    assert all(e.targets["rmsd_angstrom"] == 0.05 for e in cleaned.entries[1:])


def test_shared_dataset_masks_the_rmsd_of_transformed_cells(shared_dft: Path) -> None:
    ds = load_dataset(shared_dft)
    flags = validate(ds)
    distortion = {f.structure: f.reason for f in flags if f.check == "distortion"}
    assert 100 < len(distortion) < 140
    assert "sheared 0.24 a away from its starting fcc lattice" in distortion["NiFe3_sqsfcc"]
    assert "rmsd (0.40 Å)" in distortion["NiFe3_sqsfcc"]
    assert len(flagged_names(flags)) == 69  # the distortion check removes no entry
    cleaned = clean(ds, flags)
    assert len(cleaned) == len(ds) - 69
    masked = masked_labels(flags)["rmsd_angstrom"]
    assert 40 < len(masked) < 80
    by = {e.name: e for e in ds}
    kept = {e.name: e for e in cleaned}
    name = masked[0]
    assert {f.check for f in flags if f.structure == name} == {"distortion"}
    assert math.isnan(kept[name].targets["rmsd_angstrom"])
    assert math.isfinite(by[name].targets["rmsd_angstrom"])
    for k in ("etot_ev_per_atom", "eform_ev_per_atom", "emix_ev_per_atom", "ms_mub_per_atom"):
        assert kept[name].targets[k] == by[name].targets[k]
    assert sum(math.isnan(e.targets["rmsd_angstrom"]) for e in cleaned) == len(masked)
