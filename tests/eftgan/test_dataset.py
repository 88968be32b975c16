from __future__ import annotations

import math
import shutil
from pathlib import Path

import numpy as np
import pytest

from eftgan.dataset import (
    TARGETS,
    load_dataset,
    phase_from_name,
    read_extxyz,
    split_by_composition,
)
from eftgan.errors import UserError


def test_reads_the_dft_table_format(tiny_dft: Path) -> None:
    ds = load_dataset(tiny_dft)
    assert len(ds) == 28
    e = ds[0]
    assert e.name == "FeNi_sqsfcc" and e.phase == "fcc"
    assert set(e.targets) == set(TARGETS)
    assert e.targets["v0_a3_per_atom"] == pytest.approx(
        e.structure.volume / len(e.structure), rel=1e-6
    )
    assert e.name_fractions == pytest.approx({"Fe": 0.5, "Ni": 0.5})
    assert len(ds.data_hash) == 64
    assert ds.elements == ("Cr", "Fe", "Co", "Ni")


def test_data_hash_changes_with_the_bytes(tiny_dft: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(tiny_dft, copy)
    text = (copy / "labels.csv").read_text().replace("0.05", "0.06", 1)
    (copy / "labels.csv").write_text(text)
    assert load_dataset(copy).data_hash != load_dataset(tiny_dft).data_hash


def test_missing_columns_are_named(tiny_dft: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(tiny_dft, copy)
    lines = (copy / "labels.csv").read_text().splitlines()
    lines[0] = lines[0].replace("Eform (eV/atom)", "Ef")
    (copy / "labels.csv").write_text("\n".join(lines))
    with pytest.raises(UserError, match=r"lacks the column\(s\) 'Eform \(eV/atom\)'"):
        load_dataset(copy)


def test_malformed_poscar_and_missing_file(tiny_dft: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(tiny_dft, copy)
    (copy / "POSCARS" / "FeNi_sqsfcc").write_text("not a poscar\n1.0\nfoo\n")
    with pytest.raises(UserError, match=r"cannot read structure file .*FeNi_sqsfcc"):
        load_dataset(copy)
    (copy / "POSCARS" / "FeNi_sqsfcc").unlink()
    with pytest.raises(UserError, match="does not exist"):
        load_dataset(copy)


def test_empty_folder_and_missing_path(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="holds no structures"):
        load_dataset(tmp_path)
    with pytest.raises(UserError, match="does not exist"):
        load_dataset(tmp_path / "nope")


def test_extxyz_with_energies_round_trips(tiny_dft: Path, tmp_path: Path) -> None:
    from ase.calculators.singlepoint import SinglePointCalculator
    from ase.io import write
    from pymatgen.io.ase import AseAtomsAdaptor

    ds = load_dataset(tiny_dft)
    frames = []
    for e in list(ds)[:4]:
        atoms = AseAtomsAdaptor.get_atoms(e.structure)
        atoms.info.update({"structure": e.name, "phase": e.phase, **e.targets})
        atoms.calc = SinglePointCalculator(atoms, energy=e.targets["etot_ev_per_atom"] * len(atoms))
        frames.append(atoms)
    write(tmp_path / "d.extxyz", frames, format="extxyz")
    back = read_extxyz(tmp_path / "d.extxyz")
    assert back.names == ds.names[:4]
    for a, b in zip(back, list(ds)[:4], strict=True):
        assert a.phase == b.phase
        assert a.targets["eform_ev_per_atom"] == pytest.approx(b.targets["eform_ev_per_atom"])
        assert a.targets["etot_ev_per_atom"] == pytest.approx(b.targets["etot_ev_per_atom"])


def test_splits_are_seeded_and_keep_both_phases_together(tiny_dft: Path) -> None:
    ds = load_dataset(tiny_dft)
    a = split_by_composition(ds, (0.6, 0.2, 0.2), seed=3)
    assert a == split_by_composition(ds, (0.6, 0.2, 0.2), seed=3)
    assert a != split_by_composition(ds, (0.6, 0.2, 0.2), seed=4)
    assert sorted(i for part in a for i in part) == list(range(len(ds)))
    side = {}
    for k, idx in enumerate(a):
        for i in idx:
            key = ds[i].group_key
            assert side.setdefault(key, k) == k, "fcc and bcc of one composition split apart"


def test_phase_from_name() -> None:
    assert phase_from_name("FeNi_sqsbcc") == "bcc"
    assert phase_from_name("x/FeNi_sqsfcc.vasp") == "fcc"
    assert phase_from_name("FeNi.cif") is None


def test_shared_dataset_reads_completely(shared_dft: Path) -> None:
    ds = load_dataset(shared_dft)
    assert len(ds) == 354
    y = ds.targets()
    assert np.isfinite(y).all()
    assert {e.phase for e in ds} == {"fcc", "bcc"}
    assert not math.isnan(ds[0].targets["rmsd_angstrom"])


def test_read_structure_frames_names_each_extxyz_frame_and_refuses_hanging_headers(
    tmp_path: Path,
) -> None:
    from ase import Atoms
    from ase.io import write

    from eftgan.dataset import read_structure_frames

    frames = [Atoms("Fe2", positions=[[0, 0, 0], [1.4, 1.4, 1.4]], cell=[2.8] * 3, pbc=True)]
    frames.append(frames[0].copy())
    frames[1].info["structure"] = "second"
    write(tmp_path / "two.extxyz", frames)
    assert [n for n, _ in read_structure_frames(tmp_path / "two.extxyz")] == [
        "two.extxyz:0",
        "second",
    ]
    (tmp_path / "bad.xyz").write_text('1\nProperties=species:S:99999999 pbc="T T T"\nFe 0 0 0\n')
    with pytest.raises(UserError, match="Properties column") as err:
        read_structure_frames(tmp_path / "bad.xyz")
    assert "\n" not in str(err.value)
