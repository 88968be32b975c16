"""The grain-growth phase-field model: the shrinking circular grain against R^2 = R0^2 - 2 M
sigma t, the grain colouring and the stability limit."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from eftgan.errors import UserError


def test_a_circular_grain_shrinks_as_curvature_flow_says():
    from microstructure.phasefield import GrainGrowth, PhaseField

    size, r0 = 128, 40
    yy, xx = np.mgrid[0:size, 0:size] + 0.5 - size / 2
    grain = (yy**2 + xx**2 < r0**2).astype(np.int64)
    p = GrainGrowth(n_params=2)
    pf = PhaseField.from_labels(grain, p)
    pf.step(200)  # the start settles (its discrete profile, the disc's curvature)
    t, r2 = [], []
    for _ in range(20):
        pf.step(200)
        t.append(pf.time_s)
        r2.append(float(pf.area_of(1)[0]) / np.pi)
    slope = np.polyfit(t, r2, 1)[0]
    want = -2 * p.mobility_m4_js * p.sigma_j_m2
    assert abs(slope / want - 1) < 0.02, slope / want
    assert np.sqrt(r2[-1]) > 15 * p.dx_m  # still well resolved at the end


def test_an_ensemble_runs_each_member_at_its_own_mobility():
    from microstructure.phasefield import GrainGrowth, PhaseField

    size = 64
    yy, xx = np.mgrid[0:size, 0:size] + 0.5 - size / 2
    grain = np.stack([(yy**2 + xx**2 < 20**2).astype(np.int64)] * 2)
    pf = PhaseField.from_labels(
        grain, GrainGrowth(n_params=2), mobility_scale=torch.tensor([1.0, 2.0])
    )
    a0 = pf.area_of(1)
    pf.step(400)
    lost = a0 - pf.area_of(1)
    assert 1.7 < float(lost[1] / lost[0]) < 2.3


def test_grains_that_touch_never_share_an_order_parameter():
    from microstructure.phasefield import colour_grains, voronoi_labels

    lab = voronoi_labels(96, 60, seed=1)
    assert set(np.unique(lab)) == set(range(60))
    colour = colour_grains(lab, 8)[lab]
    for shift in ((0, 1), (1, 0)):  # periodic neighbours included
        other_lab = np.roll(lab, shift, axis=(0, 1))
        other_col = np.roll(colour, shift, axis=(0, 1))
        touching = lab != other_lab
        assert (colour[touching] != other_col[touching]).all()
    with pytest.raises(UserError, match="cannot colour"):
        colour_grains(lab, 2)


def test_an_unstable_time_step_is_refused_with_the_largest_stable_one():
    from microstructure.phasefield import GrainGrowth, PhaseField, voronoi_labels

    p = GrainGrowth()
    with pytest.raises(UserError, match=f"largest stable step is {p.stable_dt_s():.3g} s"):
        PhaseField.from_labels(voronoi_labels(32, 5), p, dt_s=2 * p.stable_dt_s())


def test_grains_of_one_parameter_that_come_close_are_moved_apart():
    from microstructure.phasefield import grain_map, recolouring

    grains = np.zeros((64, 64), dtype=np.int64)  # grain 0 around three small ones
    grains[10:20, 10:20], grains[10:20, 24:34], grains[22:30, 24:34] = 1, 2, 3
    eta = np.zeros((4, 64, 64), dtype=np.float32)
    # grains 1 and 2 share parameter 1, 4 cells apart; grain 3 (parameter 2) is near both
    for g, c in enumerate((0, 1, 1, 2)):
        eta[c][grains == g] = 1.0
    found, colour = grain_map(eta)
    assert len(colour) == 4 and sorted(colour.tolist()) == [0, 1, 1, 2]
    moves = recolouring(found, colour, 4, cells=12)
    assert len(moves) == 1
    g, new = moves[0]
    assert colour[g] == 1 and new == 3  # the one parameter no grain near it uses


def test_grains_are_connected_across_the_periodic_edges():
    from microstructure.phasefield import grain_map

    eta = np.zeros((2, 32, 32), dtype=np.float32)
    eta[0] = 1.0
    eta[0][:, 4:28], eta[1][:, 4:28] = 0.0, 1.0  # parameter 0 in one band across the edge
    _, colour = grain_map(eta)
    assert sorted(colour.tolist()) == [0, 1]


def test_recolouring_moves_grains_apart_without_merging_or_wiping_any():
    from microstructure.phasefield import (
        RECOLOUR_CELLS,
        GrainGrowth,
        PhaseField,
        _neighbourhoods,
        grain_map,
        voronoi_labels,
    )

    shared = PhaseField.from_labels(voronoi_labels(96, 60, seed=1), GrainGrowth(n_params=16))
    shared.step(50)
    before = len(grain_map(shared.eta[0].numpy())[1])
    assert shared.recolour() >= 10  # many grains at once
    eta = shared.eta[0].numpy()
    grains, colour = grain_map(eta)
    assert len(colour) == before  # nothing merged, nothing cut off
    assert (eta.sum(0) > 0.3).all()  # no field wiped out
    near = _neighbourhoods(grains, len(colour), RECOLOUR_CELLS)
    clashes = sum(colour[g] == colour[h] for g in range(len(colour)) for h in near[g])
    assert clashes <= 4  # only grains left without a free parameter


def test_the_stable_step_is_stable_and_a_larger_one_is_not():
    from microstructure.phasefield import GrainGrowth, PhaseField

    p = GrainGrowth(n_params=2, width_cells=4)
    flat = np.zeros((32, 32), dtype=np.int64)
    flat[:, 16:] = 1
    for factor, grows in ((0.95, False), (1.3, True)):
        pf = PhaseField.from_labels(flat, p, dt_s=factor * p.stable_dt_s()) if not grows else None
        if grows:
            pf = PhaseField.from_labels(flat, p)
            pf.dt_s = factor * p.stable_dt_s()  # past the check, to see it fail
        checker = torch.from_numpy(1e-4 * (-1.0) ** np.add.outer(np.arange(32), np.arange(32)))
        pf.eta = pf.eta + checker.to(pf.eta)
        pf.step(300)
        blown = not torch.isfinite(pf.eta).all() or float(pf.eta.abs().max()) > 1.05
        assert blown == grows, factor


def test_recoloured_growth_matches_one_parameter_per_grain():
    from microstructure.phasefield import GrainGrowth, PhaseField, grain_map, voronoi_labels

    lab = voronoi_labels(96, 60, seed=1)
    eta = torch.zeros(1, 60, 96, 96)
    eta[0].scatter_(0, torch.from_numpy(lab)[None], 1.0)
    own = PhaseField(GrainGrowth(n_params=60), eta)  # no two grains share: none can merge
    shared = PhaseField.from_labels(lab, GrainGrowth(n_params=16))
    plain = PhaseField.from_labels(lab, GrainGrowth(n_params=16))
    shared.run(400, recolour_every=50)
    own.step(400)
    plain.step(400)  # grains of one parameter a few cells apart merge
    count = [len(grain_map(pf.eta[0].numpy())[1]) for pf in (shared, own, plain)]
    assert abs(count[0] - count[1]) <= 1 and count[2] < count[1] - 5, count


def test_the_misorientation_factor_follows_read_shockley_and_humphreys():
    from microstructure.phasefield import boundary_factor, misorientation_deg

    d = misorientation_deg(torch.tensor([0.0, 10.0, 80.0]), torch.tensor([40.0, 2.5, 5.0]))
    assert torch.allclose(d, torch.tensor([40.0, 7.5, 15.0]))  # four-fold symmetry
    f = boundary_factor(torch.tensor([30.0, 7.5, 0.1]), 0.2)
    x = 0.5
    half = x * (1 - np.log(x)) * (0.2 + 0.8 * (1 - np.exp(-5 * x**4)))
    assert abs(float(f[0]) - 1) < 1e-6 and abs(float(f[1]) - half) < 1e-5
    assert abs(float(f[2]) - 0.2 * 0.1 * 1.0) < 2e-3  # energy floor x low-angle mobility


def test_a_low_angle_grain_shrinks_at_its_boundary_factor():
    from microstructure.phasefield import GrainGrowth, PhaseField, boundary_factor

    size, r0 = 96, 30
    yy, xx = np.mgrid[0:size, 0:size] + 0.5 - size / 2
    grain = (yy**2 + xx**2 < r0**2).astype(np.int64)
    rates = []
    for misorientation in (False, True):
        p = GrainGrowth(n_params=2, misorientation=misorientation, low_angle_mobility_ratio=0.4)
        pf = PhaseField.from_labels(grain, p, orientations_deg=np.array([0.0, 9.0]))
        pf.step(100)
        a0, t0 = float(pf.area_of(1)[0]), pf.time_s
        pf.step(1500)
        rates.append((a0 - float(pf.area_of(1)[0])) / (pf.time_s - t0))
    want = float(boundary_factor(torch.tensor(9.0), 0.4))
    assert abs(rates[1] / rates[0] / want - 1) < 0.03, (rates[1] / rates[0], want)


def test_grains_keep_their_ids_through_growth_and_recolouring():
    from microstructure.phasefield import GrainGrowth, PhaseField, voronoi_labels

    lab = voronoi_labels(96, 60, seed=1)
    shared = PhaseField.from_labels(lab, GrainGrowth(n_params=16))
    eta = torch.zeros(1, 60, 96, 96)
    eta[0].scatter_(0, torch.from_numpy(lab)[None], 1.0)
    own = PhaseField(GrainGrowth(n_params=60), eta)  # parameter = grain id
    shared.run(300, recolour_every=50)
    own.step(300)
    now = shared.labels()[0].numpy()
    assert 30 < len(np.unique(now)) < 60
    assert (now == own.eta[0].argmax(0).numpy()).mean() > 0.97


def test_a_start_from_labels_has_the_relaxed_boundary_profile():
    from microstructure.phasefield import GrainGrowth, PhaseField

    flat = np.zeros((8, 64), dtype=np.int64)
    flat[:, 32:] = 1
    pf = PhaseField.from_labels(flat, GrainGrowth(n_params=2))
    start = pf.eta.clone()
    pf.step(2000)
    assert float((pf.eta - start).abs().max()) < 0.02
