from __future__ import annotations

import pytest
from pymatgen.core import Lattice, Structure

from eftgan.lattice import classify_phase, lattice_order_parameter


def test_ideal_fcc_and_bcc_are_the_ends_of_the_order_parameter() -> None:
    fcc = Structure.from_spacegroup("Fm-3m", Lattice.cubic(3.6), ["Ni"], [[0, 0, 0]])
    bcc = Structure.from_spacegroup("Im-3m", Lattice.cubic(2.87), ["Fe"], [[0, 0, 0]])
    assert lattice_order_parameter(fcc) == pytest.approx(0.0, abs=1e-6)
    assert lattice_order_parameter(bcc) == pytest.approx(1.0, abs=1e-6)
    assert classify_phase(fcc.get_primitive_structure())[0] == "fcc"
    assert classify_phase(bcc * (2, 1, 1))[0] == "bcc"
