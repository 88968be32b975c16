"""The per-phase extrapolation flag."""

from __future__ import annotations

import numpy as np
import pytest

from eftgan.reach import PhaseReach, nn_distance_threshold, reach_by_phase, tv_distances

# slots: Fe, Ni, Co
FCC = [[0.5, 0.5, 0.0], [0.0, 0.5, 0.5], [0.5, 0.0, 0.5], [0.25, 0.5, 0.25], [0.5, 0.25, 0.25]]
BCC = [[0.75, 0.25, 0.0], [0.75, 0.0, 0.25], [0.5, 0.25, 0.25], [0.5, 0.5, 0.0]]


def test_distances_are_total_variation() -> None:
    d = tv_distances(np.array([[1.0, 0.0, 0.0], [0.5, 0.5, 0.0]]), np.array([[0.0, 1.0, 0.0]]))
    assert d == pytest.approx([1.0, 0.5])
    assert np.isinf(tv_distances(np.ones((2, 3)) / 3, np.zeros((0, 3)))).all()


def test_threshold_ignores_duplicates() -> None:
    c = np.array(FCC)
    assert nn_distance_threshold(np.concatenate([c, c])) == nn_distance_threshold(c) > 0


def test_bcc_nico_is_extrapolation_though_its_fcc_twin_was_trained() -> None:
    comps = np.array(FCC + BCC)
    reach = reach_by_phase(comps, ["fcc"] * len(FCC) + ["bcc"] * len(BCC), ("fcc", "bcc"))
    nico = np.array([[0.0, 0.5, 0.5]])
    assert not reach["fcc"].extrapolates(nico)[0]
    # the nearest bcc training composition is 0.5 away, beyond bcc's threshold of 0.25
    assert reach["bcc"].distance(nico)[0] == pytest.approx(0.5)
    assert reach["bcc"].threshold == pytest.approx(0.25)
    assert reach["bcc"].extrapolates(nico)[0]
    # a phase-agnostic reach (phases unknown) would have called it in reach
    assert not reach_by_phase(comps, [None] * len(comps), ("fcc", "bcc"))["bcc"].extrapolates(nico)[
        0
    ]


def test_component_range_is_per_phase() -> None:
    r = PhaseReach.of(np.array(FCC))
    assert r.n_components == (2, 3)
    assert r.extrapolates(np.array([[1.0, 0.0, 0.0]]))[0]  # pure element: outside 2-3


def test_a_full_threshold_away_is_extrapolation() -> None:
    r = PhaseReach.of(np.array(BCC))
    assert r.threshold == pytest.approx(0.25)
    at = np.array([[0.5, 0.0, 0.5]])  # 0.25 from Fe0.75Co0.25 and from Fe0.5Ni0.25Co0.25
    assert r.distance(at)[0] == pytest.approx(0.25) and r.extrapolates(at)[0]
    near = np.array([[0.7, 0.2, 0.1]])
    assert r.distance(near)[0] < 0.25 and not r.extrapolates(near)[0]


def test_shipped_model_flags_bcc_nico_but_not_fcc() -> None:
    from eftgan import Screener

    s = Screener.load()
    df = s.predict("Ni0.5Co0.5", n_z=1)
    flags = dict(zip(df["phase"], df["extrapolation"], strict=True))
    assert flags == {"fcc": False, "bcc": True}
