from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure

from eftgan.lattice import cell_strain, classify_phase, lattice_order_parameter, local_distortion


def test_ideal_fcc_and_bcc_are_the_ends_of_the_order_parameter() -> None:
    fcc = Structure.from_spacegroup("Fm-3m", Lattice.cubic(3.6), ["Ni"], [[0, 0, 0]])
    bcc = Structure.from_spacegroup("Im-3m", Lattice.cubic(2.87), ["Fe"], [[0, 0, 0]])
    assert lattice_order_parameter(fcc) == pytest.approx(0.0, abs=1e-6)
    assert lattice_order_parameter(bcc) == pytest.approx(1.0, abs=1e-6)
    assert classify_phase(fcc.get_primitive_structure())[0] == "fcc"
    assert classify_phase(bcc * (2, 1, 1))[0] == "bcc"


def _fcc_sqs_like() -> Structure:
    """A 32-atom fcc supercell with non-orthogonal half-integer cell vectors (a = 3.6 Å)."""
    prim = Structure.from_spacegroup("Fm-3m", Lattice.cubic(3.6), ["Ni"], [[0, 0, 0]])
    return prim.get_primitive_structure() * ((2, 2, 0), (-2, 2, 0), (1, 1, 4))


def _bcc_supercell() -> Structure:
    return Structure.from_spacegroup("Im-3m", Lattice.cubic(2.87), ["Fe"], [[0, 0, 0]]) * (3, 2, 2)


def _displaced(s: Structure, amplitude: float, seed: int) -> tuple[Structure, float]:
    """``s`` with a zero-mean random displacement field (Å) and the field's rms."""
    u = np.random.default_rng(seed).normal(0, amplitude, (len(s), 3))
    u -= u.mean(axis=0)
    out = Structure(s.lattice, s.species, s.cart_coords + u, coords_are_cartesian=True)
    return out, float(np.sqrt((u**2).sum(axis=1).mean()))


def test_ideal_supercells_have_no_strain_and_no_distortion() -> None:
    for s, phase in [(_fcc_sqs_like(), "fcc"), (_bcc_supercell(), "bcc")]:
        assert cell_strain(s, phase) == pytest.approx(0.0, abs=1e-9)
        assert local_distortion(s, phase) == pytest.approx(0.0, abs=1e-9)
        s.scale_lattice(s.volume * 1.07)  # a volume change is neither
        assert cell_strain(s, phase) == pytest.approx(0.0, abs=1e-9)
        assert local_distortion(s, phase) == pytest.approx(0.0, abs=1e-9)


def test_a_known_displacement_field_gives_its_rms() -> None:
    for s, phase in [(_fcc_sqs_like(), "fcc"), (_bcc_supercell(), "bcc")]:
        moved, rms = _displaced(s, 0.06, seed=3)
        assert local_distortion(moved, phase) == pytest.approx(rms, rel=1e-9)
        moved.translate_sites(range(len(moved)), [0.37, -0.21, 0.9])  # a rigid translation
        assert local_distortion(moved, phase) == pytest.approx(rms, rel=1e-9)


def test_a_sheared_cell_gives_its_strain_and_no_distortion() -> None:
    s = _bcc_supercell()
    a = 2.87
    m = s.lattice.matrix.copy()
    m[0] += [0.0, 0.12 * a, 0.0]  # simple shear: same volume, so a is unchanged
    sheared = Structure(Lattice(m), s.species, s.frac_coords)
    assert cell_strain(sheared, "bcc") == pytest.approx(0.12, abs=1e-9)
    assert local_distortion(sheared, "bcc") == pytest.approx(0.0, abs=1e-9)


def test_undefined_cases_are_nan() -> None:
    s = _bcc_supercell()
    assert math.isnan(cell_strain(s, None))
    assert math.isnan(local_distortion(s, "hcp"))


def test_recomputed_distortion_matches_the_shared_labels(shared_dft: Path) -> None:
    from eftgan.dataset import load_dataset

    errors = []
    for e in load_dataset(shared_dft):
        label = e.targets.get("rmsd_angstrom", math.nan)
        if math.isfinite(label) and cell_strain(e.structure, e.phase) < 0.05:
            errors.append(abs(local_distortion(e.structure, e.phase) - label))
    assert len(errors) > 150
    assert float(np.median(errors)) < 0.005
