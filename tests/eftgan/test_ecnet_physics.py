"""Physics of the ECNet read-out: symmetries and extensivity, on an untrained and a trained net."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from pymatgen.core import Lattice, Structure
from scipy.spatial.transform import Rotation

from eftgan.ecnet import ECNet, ECNetConfig
from eftgan.model import ECNetModel
from tests.conftest import random_alloy


@pytest.fixture(scope="module")
def model() -> ECNetModel:
    torch.manual_seed(0)
    cfg = ECNetConfig(elements=("Cr", "Fe", "Co", "Ni"), hidden=16, n_rbf=16, n_interactions=2)
    net = ECNet(cfg)
    # random output scaling so that every target is exercised away from zero
    net.target_mean.copy_(torch.tensor([-7.0, 0.1, -0.2, 1.5, 0.05, 11.0]))
    return ECNetModel(net, {"model": cfg.as_dict()})


@pytest.fixture(scope="module")
def cell() -> Structure:
    return random_alloy({"Fe": 4, "Ni": 4, "Co": 2, "Cr": 2}, "fcc", seed=7)


def predict(model: ECNetModel, s: Structure) -> np.ndarray:
    row = model.predict_structures([s], phase="fcc")[0]
    return np.array([row[t] for t in model.targets])


def test_rotation_invariance(model: ECNetModel, cell: Structure) -> None:
    rot = Rotation.random(random_state=3).as_matrix()
    rotated = Structure(Lattice(cell.lattice.matrix @ rot.T), cell.species, cell.frac_coords)
    np.testing.assert_allclose(predict(model, rotated), predict(model, cell), rtol=1e-5, atol=1e-6)


def test_translation_invariance(model: ECNetModel, cell: Structure) -> None:
    shifted = Structure(cell.lattice, cell.species, (cell.frac_coords + [0.31, 0.17, 0.77]) % 1.0)
    np.testing.assert_allclose(predict(model, shifted), predict(model, cell), rtol=1e-5, atol=1e-6)


def test_permutation_invariance(model: ECNetModel, cell: Structure) -> None:
    perm = np.random.default_rng(0).permutation(len(cell))
    permuted = Structure(cell.lattice, [cell.species[i] for i in perm], cell.frac_coords[perm])
    np.testing.assert_allclose(predict(model, permuted), predict(model, cell), rtol=1e-5, atol=1e-6)


def test_supercell_predicts_the_same_per_atom_properties(
    model: ECNetModel, cell: Structure
) -> None:
    np.testing.assert_allclose(
        predict(model, cell * (2, 2, 2)), predict(model, cell), rtol=1e-5, atol=1e-5
    )
    a = model.element_features([cell], phase="fcc")[0]
    b = model.element_features([cell * (2, 2, 2)], phase="fcc")[0]
    assert a.keys() == b.keys() == {"Fe", "Ni", "Co", "Cr"}
    for el in a:
        np.testing.assert_allclose(a[el], b[el], rtol=1e-5, atol=1e-5)


def test_batching_does_not_change_predictions(model: ECNetModel, cell: Structure) -> None:
    other = random_alloy({"Fe": 6, "Cr": 6}, "bcc", seed=1)
    together = model.predict_structures(
        [cell, other, cell], phase=["fcc", "bcc", "fcc"], batch_size=3
    )
    alone = model.predict_structures([other], phase="bcc")
    for t in model.targets:
        assert together[1][t] == pytest.approx(alone[0][t], rel=1e-5, abs=1e-6)
        assert together[0][t] == pytest.approx(together[2][t], rel=1e-6, abs=1e-7)


def test_phase_input_matters_and_is_resolved(model: ECNetModel, cell: Structure) -> None:
    fcc = model.predict_structures([cell], phase="fcc")[0]
    bcc = model.predict_structures([cell], phase="bcc")[0]
    assert fcc["eform_ev_per_atom"] != bcc["eform_ev_per_atom"]
    auto = model.predict_structures([cell])[0]
    assert auto["phase"] == "fcc" and auto["phase_source"].startswith("coordination")
    named = model.predict_structures([cell], names=["FeNiCoCr_sqsbcc"])[0]
    assert named["phase"] == "bcc" and named["phase_source"] == "file name"


def test_unknown_element_is_refused_with_the_supported_list(
    model: ECNetModel, cell: Structure
) -> None:
    from eftgan.errors import UnknownElementError

    s = cell.copy()
    s.replace(0, "Al")
    with pytest.raises(UnknownElementError, match="Al, which this model was not trained on"):
        model.predict_structures([s], phase="fcc")


def test_ase_atoms_are_accepted(model: ECNetModel, cell: Structure) -> None:
    from pymatgen.io.ase import AseAtomsAdaptor

    atoms = AseAtomsAdaptor.get_atoms(cell)
    np.testing.assert_allclose(
        [model.predict_structures([atoms], phase="fcc")[0][t] for t in model.targets],
        predict(model, cell),
        rtol=1e-6,
    )


def test_neighbour_pairs_are_pymatgens(cell: Structure) -> None:
    from eftgan.graphs import periodic_neighbors

    strained = cell.copy()
    strained.apply_strain([0.03, -0.01, 0.02])
    strained.perturb(0.05, min_distance=0.01)
    for s in (cell, strained, cell * (1, 1, 2)):
        centre, neighbour, _, dist = s.get_neighbor_list(4.5)
        ours = periodic_neighbors(s, 4.5)
        order_a = np.lexsort((dist.round(8), neighbour, centre))
        order_b = np.lexsort((ours[2].round(8), ours[1], ours[0]))
        assert np.array_equal(centre[order_a], ours[0][order_b])
        assert np.array_equal(neighbour[order_a], ours[1][order_b])
        np.testing.assert_allclose(dist[order_a], ours[2][order_b], atol=1e-10)
        assert not ((ours[0] == ours[1]) & (ours[2] < 1e-8)).any()  # no self-pair
