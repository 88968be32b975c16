from __future__ import annotations

import json
import math

import numpy as np
import pytest

from eftgan import elements
from eftgan.errors import UnknownElementError, UserError


def test_descriptors_of_iron_match_the_periodic_table() -> None:
    fe = elements.element("fe")
    assert fe.symbol == "Fe" and fe.Z == 26 and fe.group == 8 and fe.period == 4
    assert fe.valence_electrons == 8
    assert fe.atomic_mass_u == pytest.approx(55.845, abs=1e-3)
    assert fe.ionization_energies_ev[0] == pytest.approx(7.9025, abs=0.01)
    assert fe.ionization_energies_ev[1] == pytest.approx(16.2, abs=0.1)
    assert fe.electronegativity_pauling == pytest.approx(1.83, abs=0.01)
    assert fe.metallic_radius_angstrom == pytest.approx(1.277, abs=0.05)


@pytest.mark.parametrize(
    ("sym", "valence"), [("Si", 4), ("Al", 3), ("Ce", 4), ("Eu", 9), ("Pd", 10), ("Mo", 6)]
)
def test_valence_electrons(sym: str, valence: int) -> None:
    assert elements.element(sym).valence_electrons == valence


def test_unknown_element_is_a_clear_error() -> None:
    with pytest.raises(UnknownElementError, match="unknown element 'Xx'"):
        elements.element("Xx")


def test_descriptor_vector_order_and_standardisation() -> None:
    m = elements.descriptor_matrix(["Fe", "Ni", "Co"])
    assert m.shape == (3, len(elements.DESCRIPTOR_NAMES))
    assert list(m[:, 0]) == [26, 28, 27]
    s = elements.descriptor_matrix(["Fe", "Ni", "Co", "Cr"], standardize=True)
    assert np.isfinite(s).all()
    assert np.allclose(s.mean(axis=0), 0.0, atol=1e-9)


def test_descriptors_round_trip_through_json() -> None:
    d = elements.element("La")
    assert elements.ElementDescriptors.from_dict(json.loads(json.dumps(d.as_dict()))) == d


def test_embedding_table_round_trips_and_answers_lookups(tmp_path) -> None:
    rng = np.random.default_rng(0)
    t = elements.EmbeddingTable(
        "test-table", "0.1", ("Fe", "Ni"), rng.normal(size=(2, 5)), {"k": 1}
    )
    back = elements.EmbeddingTable.from_dict(json.loads(json.dumps(t.as_dict())))
    assert back.elements == t.elements and np.array_equal(back.vectors, t.vectors)
    t.save(tmp_path / "t.json")
    loaded = elements.EmbeddingTable.load(tmp_path / "t.json")
    assert np.array_equal(loaded.vector("Ni"), t.vectors[1]) and loaded.meta == {"k": 1}
    assert "Fe" in loaded and "Co" not in loaded
    with pytest.raises(UnknownElementError, match="it has Fe, Ni"):
        loaded.vector("Co")


def test_embedding_table_rejects_bad_shapes_and_versions() -> None:
    with pytest.raises(UserError, match="one row per element"):
        elements.EmbeddingTable("x", "1", ("Fe", "Ni"), np.zeros((3, 2)))
    d = elements.EmbeddingTable("x", "1", ("Fe",), np.zeros((1, 2))).as_dict()
    d["format_version"] = 99
    with pytest.raises(UserError, match="format 99"):
        elements.EmbeddingTable.from_dict(d)


def test_shipped_default_model_exports_its_embedding_table() -> None:
    from eftgan.paths import DEFAULT_MODEL_NAME, default_model_dir

    table = elements.EmbeddingTable.load(default_model_dir() / "embeddings.json")
    assert table.name == DEFAULT_MODEL_NAME
    assert set(table.elements) == {"Fe", "Ni", "Co", "Cr", "Mn", "Pd"}
    assert table.vectors.shape[0] == 6 and math.isfinite(float(table.vectors.sum()))


def test_the_removed_table_registry_names_its_replacement() -> None:
    with pytest.raises(UserError, match=r"EmbeddingTable\.load"):
        elements.get_table("ecnet-fenicocrmnpd-v1")
    with pytest.raises(AttributeError):
        elements.no_such_name  # noqa: B018
