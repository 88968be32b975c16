from __future__ import annotations

import pytest

from eftgan.composition import check_elements, composition_key, parse_composition
from eftgan.errors import UnknownElementError, UserError


@pytest.mark.parametrize(
    "comp",
    ["FeNiCoCrMn", "Fe0.2Ni0.2Co0.2Cr0.2Mn0.2", {"Fe": 1, "Ni": 1, "Co": 1, "Cr": 1, "Mn": 1}],
)
def test_equiatomic_forms_agree(comp) -> None:
    f = parse_composition(comp)
    assert sum(f.values()) == pytest.approx(1.0)
    assert all(v == pytest.approx(0.2) for v in f.values())


def test_pymatgen_composition_and_integer_counts() -> None:
    from pymatgen.core import Composition

    assert parse_composition(Composition("Fe31Ni31Co31Cr36Mn31"))["Cr"] == pytest.approx(36 / 160)
    assert parse_composition("NiFe3") == pytest.approx({"Ni": 0.25, "Fe": 0.75})


@pytest.mark.parametrize("bad", ["", "Fe-Ni", {"Fe": -1, "Ni": 2}, {"Fe": 0}])
def test_bad_compositions_raise_user_errors(bad) -> None:
    with pytest.raises(UserError):
        parse_composition(bad)


def test_unknown_and_unsupported_elements() -> None:
    with pytest.raises(UnknownElementError):
        parse_composition({"Qq": 1})
    with pytest.raises(UnknownElementError, match="supports Fe, Ni"):
        check_elements({"Al": 1.0}, ("Fe", "Ni"), "composition")


def test_key_is_order_independent() -> None:
    assert composition_key(parse_composition("FeNi")) == composition_key(parse_composition("NiFe"))


def test_check_bounds_takes_a_mapping_with_any_float_spelling() -> None:
    from eftgan.composition import check_bounds

    assert check_bounds({"mn": (1e-05, 0.35)}, ["Fe", "Mn"]) == {"Mn": (1e-05, 0.35)}
    with pytest.raises(UserError, match="LOW <= HIGH"):
        check_bounds({"Mn": (0.5, 0.2)}, ["Fe", "Mn"])
