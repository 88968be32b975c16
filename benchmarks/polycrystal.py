"""Polycrystals: the grain-growth phase-field model against the laws of curvature flow,
and the ensemble Kalman filter in twin experiments.

Protocol (fixed before the run); writes benchmarks/results/polycrystal.json:

* ``shrinking_grain_rel_err``: a circular grain of radius 40 cells on a 128 x 128 grid
  (boundary width 5 cells, sigma 0.5 J/m^2, M 1e-12 m^4/(J s), dx 1 um), 200 steps to relax
  the start, then the slope of R^2 (from the area where its parameter exceeds 1/2) against
  time over 4000 steps, against -2 M sigma; the relative error (goal 2 %);
* one large isotropic run, 1500 Voronoi grains on 512 x 512 (16 order parameters,
  recoloured every 50 steps), 16 snapshots 250 steps apart (300 after the 9th, 12th and
  15th, which take the 50 steps below as well):
  ``growth_exponent``, the exponent n of <A>(t) - <A>(t1) ~ (t - t1)^n over the snapshots
  after the third (t1 the third; the start's small grains vanish first), goal 1.0 +- 0.1;
  ``von_neumann_mullins_slope_rel_err``: after the 9th, 12th and 15th snapshots, 50 more
  steps; for each grain of at least 200 cells (a radius of 8 cells, 1.6 boundary widths)
  that survives them and whose neighbours all do (one that takes a vanished neighbour's
  area grows by more than curvature flow), dA/dt against n - 6 (n: its neighbours on the
  periodic label image), the least-squares slope against pi M sigma / 3 (goal 10 %); the
  slope is also given per area class; ``size_distribution``: R/<R> (R of a disc of the
  grain's area) at the last snapshot, Kolmogorov-Smirnov distances to Hillert's 2D form
  and to the lognormal of the same log-spread, and between the 8th and the 16th snapshots
  (steady if small);
* ``steps_per_s_cpu_512``: 512 x 512 with 1000 Voronoi grains and 16 parameters, 1000 steps
  after 5, without recolouring (goal: 1000 steps in 60 s), and with it every 100 steps;
* ``assimilation`` (``python benchmarks/polycrystal.py assimilation`` runs it alone): 5 twin
  experiments. True M sigma log-uniform in 5e-14..5e-13 m^2/s and low-angle mobility ratio
  r uniform in 0.2..0.8, drawn from seed 2028; each simulated with ``micro grains
  simulate`` defaults (256 x 256, 300 grains, random orientations, 2000 steps, 5
  snapshots, seeds 120-124); each estimated by ``micro grains assimilate`` defaults (ETKF,
  ensemble 32, every grain observed, observation error 0.25 cells along its perimeter at
  the window's start) from the snapshots, their times, the pixel size and the
  orientations. Relative errors of the posterior means
  (goals 3 % on M sigma, 10 % on r, under 10 minutes each on 2 cores), averaged, with the
  worst and the posterior standard deviations.
* ``assimilation_validation`` (``python benchmarks/polycrystal.py validation``, not part
  of the default run): the observation operators of :data:`OPERATORS` on the two
  :data:`VALIDATION_TWINS` (simulate defaults, seeds 11 and 12, none of them a test twin),
  each assimilated with the defaults otherwise. Score, fixed before the run: the mean over
  the twins of ``|r error| / 0.10 + |M sigma error| / 0.03``; the lowest becomes the
  default. Written before the run; the operators compared came from one-off diagnostics
  on the seed-11 twin (restarts of a window with the true M sigma and several r), disclosed
  here: from the simulated truth's own fields r came back to 0.2 % in the first window,
  from its label image 21 % high (11 % at r = 0.7); grains below 200 cells at the window's
  start held nearly all the misfit, and without them r came back to 1-2 % (both r). A
  hold of the restarted fields to the labels for some steps before the window (nudging)
  was tried there too and rejected: the bias went from +20 % to -25 % with the number of
  steps and depended on r.
  Written after the validation run: the rule chose every grain with the error at the
  window's start (score 0.40, against 0.57 without the small grains and 0.80 for the
  operator before); over the whole filter, leaving the small grains out widened the
  posterior of r 1.6-2 times and did not lower its error.
* ``assimilation_before`` (``python benchmarks/polycrystal.py assimilation_before``, added
  after the test twins had run): the same five test twins assimilated with the operator
  used before (every grain, the error at the window's end), so that the change is
  measured on the same twins rather than across two draws.

Chosen on validation twins only (seed 11: 128 x 128 isotropic and r = 0.3, 256 x 256 with
r = 0.4, none of them among the 5 above): the observation operator (per-grain areas), the
observation error, the prior and the relaxed tanh start from label images (a sharp start
biased M sigma by +10 % on the first validation twin, the tanh start 0.5 %). On the
256 x 256 validation twin M sigma came out 2.1 % high and r 5.5 % high, with posterior
standard deviations of 0.5 % and 2.4 %: the errors are systematic (forecasts restarted from
label images run ~0.7 % slow with the true parameters), so the posterior spread understates
them.

A second run of the twins (truths from seed 2027, seeds 110-114; every grain observed, its
error at the window's end) measured: M sigma 0.9 % off on average (worst 2.4 %), r 10.3 %
(worst 15.9 %, every estimate of r high, by 4-16 %), 345 s on average, 410 s at most. The
operator was then chosen on the validation twins above and the twins drawn afresh.

A first run of this benchmark (other twins: truths from seed 2026, seeds 100-104; and von
Neumann-Mullins over every third snapshot from the 3rd, grains of 50 cells or more)
measured: M sigma 1.6 % off on average (worst 2.9 %), r 8.1 % (worst 14 %, every estimate
of r high), 323 s per assimilation; the von Neumann-Mullins slope 22 % high. Both led to
changes, made on validation runs, and this rerun with fresh twins:

* a recoloured grain left 6 % of its field behind in its old parameter (4 cells of its
  diffuse layer moved, now 8), a residue that, in the simulated truth, stood in for the
  partner grain in the misorientation factor of low-angle boundaries (speeding them up,
  hence r estimated high); the forecasts, restarted from clean label images, lacked it;
* the second run measured the von Neumann-Mullins slope 18 % high (grains of 200 cells
  or more): grains of 4-6 sides followed the law within 14 %, grains of 7-10 sides grew
  22-28 % faster. Taking a vanished neighbour's area was suspected, such grains are now
  left out, and the phase-field part was run a third time (``python
  benchmarks/polycrystal.py phasefield``, which keeps the assimilation part of the second
  run). It measured 18.5 %: that was not the cause, which is not known (written after the
  third run);
* the von Neumann-Mullins slope depends on the stage and the grain size: 1.13-1.28 times
  pi M sigma / 3 over the first 1400 steps from the Voronoi start (junction angles not yet
  relaxed, grains of 150-400 cells), 1.06-1.09 later with larger grains (a 256 x 256 run of
  150 grains); the measurement now takes late snapshots and grains of at least 200 cells.

* ``von_neumann_mullins_large`` (``python benchmarks/polycrystal.py vnm_large`` runs it
  alone): grains large beside the boundary width. 150 Voronoi grains (seed 2) on
  1024 x 1024, 1000 steps (recoloured every 50), then 6 snapshots 20 steps apart; each
  grain's dA/dt is the least-squares slope of its area over them; grains that survive and
  keep the same neighbours over the 100 steps enter the fit of dA/dt against n - 6, whose
  slope is compared with pi M sigma / 3 (goal 10 %), with its standard error. Added after
  the third run above, on the hypothesis that the 18.5 % excess is a finite-width effect
  (grains of 200-1500 cells are 1.6-4.4 boundary widths in radius): a diagnostic run of
  the same recipe with seed 1, looked at before this part was written, gave 1.015 times
  pi M sigma / 3 with intercept 0.00 (150 grains, mean radius 9 widths). The late
  snapshots of the coarsening run above stay as they were.

Looked at while building it, and disclosed: a first version of the recolouring merged and
cut grains (found in review, with an exponent of 1.08 from that run). The fixed one matches
a run with one parameter per grain, where no merge can happen (a test). The growth exponent
was measured before on 400 grains on 256 x 256 (1.05, but 0.92-1.27 with other reference
times); this run is larger for a firmer exponent and a size distribution.

Not measured: CUDA (no device in this session).

    python benchmarks/polycrystal.py
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch
from _common import machine, merge_json, protocol_text


def shrinking_grain() -> dict[str, Any]:
    from microstructure.phasefield import GrainGrowth, PhaseField

    size, r0 = 128, 40
    yy, xx = np.mgrid[0:size, 0:size] + 0.5 - size / 2
    p = GrainGrowth(n_params=2)
    pf = PhaseField.from_labels((yy**2 + xx**2 < r0**2).astype(np.int64), p)
    pf.step(200)
    t, r2 = [], []
    for _ in range(20):
        pf.step(200)
        t.append(pf.time_s)
        r2.append(float(pf.area_of(1)[0]) / np.pi)
    slope = float(np.polyfit(t, r2, 1)[0])
    want = -2 * p.mobility_m4_js * p.sigma_j_m2
    return {
        "shrinking_grain_rel_err": abs(slope / want - 1),
        "slope_m2_per_s": slope,
        "expected_m2_per_s": want,
        "final_radius_cells": float(np.sqrt(r2[-1]) / p.dx_m),
        "dt_s": pf.dt_s,
    }


def normal_growth() -> dict[str, Any]:
    """One large isotropic run for the growth exponent, von Neumann-Mullins and the size
    distribution (see the protocol)."""
    from microstructure.phasefield import GrainGrowth, PhaseField, voronoi_labels

    size, every, p = 512, 250, GrainGrowth(n_params=16)
    pf = PhaseField.from_labels(voronoi_labels(size, 1500, seed=0), p)
    t, counts, vnm, radii = [], [], [], {}
    for k in range(16):
        pf.run(every, recolour_every=50)
        before, t0 = pf.labels()[0].numpy(), pf.time_s
        t.append(t0)
        counts.append(len(np.unique(before)))
        if k in (7, 15):
            radii[k] = np.sqrt(np.bincount(before.ravel())[np.unique(before)] / np.pi)
        if k in (8, 11, 14):  # a short interval for dA/dt, late in the run
            pf.run(50, recolour_every=50)
            vnm.append(_area_rates(before, pf.labels()[0].numpy(), pf.time_s - t0))
    area = size * size / np.array(counts, dtype=float)  # cells per grain
    t_arr = np.array(t)
    k = 2  # the third snapshot
    n = float(np.polyfit(np.log(t_arr[k + 1 :] - t_arr[k]), np.log(area[k + 1 :] - area[k]), 1)[0])
    return {
        "growth_exponent": n,
        "times_s": t,
        "grains": counts,
        "mean_area_cells": area.tolist(),
        **_von_neumann_mullins(vnm, p),
        **_size_distribution(radii[7], radii[15]),
    }


def _area_rates(before: np.ndarray, after: np.ndarray, dt: float) -> np.ndarray:
    """Rows (sides n, area cells, dA/dt cells/s) of the grains of ``before`` that survive
    to ``after`` and whose neighbours all do; sides counted on the periodic label image
    (4-neighbours)."""
    ids = np.unique(before)
    a0 = np.bincount(before.ravel(), minlength=ids.max() + 1)[ids]
    a1 = np.bincount(after.ravel(), minlength=ids.max() + 1)[ids]
    neighbours = _neighbour_sets(before)
    gone = set(ids[a1 == 0].tolist())
    sides = np.zeros(ids.max() + 1)
    beside_gone = np.zeros(ids.max() + 1, dtype=bool)
    for g, near in neighbours.items():
        sides[g] = len(near)
        beside_gone[g] = not near.isdisjoint(gone)
    keep = (a1 > 0) & ~beside_gone[ids]  # a vanished neighbour's area is not curvature flow
    return np.c_[sides[ids], a0, (a1 - a0) / dt][keep]


def _von_neumann_mullins(rows: list[np.ndarray], p: Any) -> dict[str, Any]:
    """The slope of dA/dt against n - 6 over grains of at least 200 cells, against
    pi M sigma / 3, and per area class."""
    data = np.concatenate(rows)
    big = data[data[:, 1] >= 200]
    slope, intercept = np.polyfit(big[:, 0] - 6, big[:, 2] * p.dx_m**2, 1)
    want = np.pi * p.mobility_m4_js * p.sigma_j_m2 / 3
    by_sides = {
        int(n): float(np.mean(big[big[:, 0] == n, 2]) * p.dx_m**2)
        for n in np.unique(big[:, 0])
        if (big[:, 0] == n).sum() >= 5
    }
    by_area = {}
    for lo, hi in ((50, 200), (200, 500), (500, 10**9)):
        part = data[(data[:, 1] >= lo) & (data[:, 1] < hi)]
        if len(part) > 10:
            fit = np.polyfit(part[:, 0] - 6, part[:, 2] * p.dx_m**2, 1)[0]
            by_area[f"{lo}-{hi if hi < 10**9 else 'inf'}"] = {
                "grains": len(part),
                "slope_over_expected": float(fit / want),
            }
    return {
        "von_neumann_mullins_slope_rel_err": abs(slope / want - 1),
        "von_neumann_mullins_by_area_cells": by_area,
        "von_neumann_mullins_slope_m2_per_s": float(slope),
        "von_neumann_mullins_intercept_m2_per_s": float(intercept),
        "von_neumann_mullins_expected_m2_per_s": want,
        "von_neumann_mullins_grains": len(big),
        "mean_dadt_by_sides_m2_per_s": by_sides,
    }


def large_grains_vnm(size: int = 1024, grains: int = 150, seed: int = 2) -> dict[str, Any]:
    """Von Neumann-Mullins on grains large beside the boundary width (see the protocol):
    ``size``^2 cells, ``grains`` Voronoi grains, 1000 steps, then dA/dt of each grain as
    the least-squares slope of its area over 6 snapshots 20 steps apart."""
    from microstructure.phasefield import GrainGrowth, PhaseField, voronoi_labels

    p = GrainGrowth(n_params=16)
    pf = PhaseField.from_labels(voronoi_labels(size, grains, seed=seed), p)
    pf.run(1000, recolour_every=50)
    frames, times = [pf.labels()[0].numpy()], [pf.time_s]
    for _ in range(5):
        pf.run(20, recolour_every=50)
        frames.append(pf.labels()[0].numpy())
        times.append(pf.time_s)
    ids = np.unique(frames[0])
    areas = np.array([np.bincount(f.ravel(), minlength=ids.max() + 1)[ids] for f in frames])
    rate = np.polyfit(np.array(times) - times[0], areas, 1)[0] * p.dx_m**2
    first, last = _neighbour_sets(frames[0]), _neighbour_sets(frames[-1])
    keep = [i for i, g in enumerate(ids) if areas[-1, i] > 0 and first[g] == last.get(g)]
    n = np.array([len(first[ids[i]]) for i in keep], dtype=float)
    (slope, intercept), cov = np.polyfit(n - 6, rate[keep], 1, cov=True)
    want = np.pi * p.mobility_m4_js * p.sigma_j_m2 / 3
    radius = float(np.sqrt(areas[0].mean() / np.pi))
    return {
        "slope_rel_err": float(abs(slope / want - 1)),
        "slope_over_expected": float(slope / want),
        "slope_se_over_expected": float(np.sqrt(cov[0, 0]) / want),
        "intercept_over_expected": float(intercept / want),
        "grains": len(keep),
        "mean_radius_cells": radius,
        "mean_radius_over_width": radius / p.width_cells,
        "size": size,
        "seed": seed,
    }


def _neighbour_sets(labels: np.ndarray) -> dict[int, set[int]]:
    """Each grain's neighbours on the periodic label image (4-neighbours)."""
    out: dict[int, set[int]] = {}
    for axis in (0, 1):
        other = np.roll(labels, 1, axis=axis)
        diff = labels != other
        for a, b in set(zip(labels[diff].tolist(), other[diff].tolist(), strict=True)):
            out.setdefault(a, set()).add(b)
            out.setdefault(b, set()).add(a)
    return out


def _hillert_cdf(x: np.ndarray, beta: int = 2) -> np.ndarray:
    """Hillert's size distribution (dimension ``beta``) as a CDF of R/<R>."""
    u = np.linspace(1e-6, 2 - 1e-6, 20001)
    pdf = u / (2 - u) ** (2 + beta) * np.exp(-2 * beta / (2 - u))
    pdf /= np.trapezoid(pdf, u)
    mean_u = np.trapezoid(u * pdf, u)
    cdf = np.cumsum(pdf) * (u[1] - u[0])
    return np.interp(x * mean_u, u, cdf / cdf[-1])


def _size_distribution(mid: np.ndarray, late: np.ndarray) -> dict[str, Any]:
    """R/<R> of the late snapshot beside Hillert's 2D form and the lognormal of the same
    spread (Kolmogorov-Smirnov distances), and against the middle snapshot (steady)."""
    from scipy.stats import ks_2samp, kstest, lognorm

    x, x_mid = late / late.mean(), mid / mid.mean()
    s = float(np.std(np.log(x)))
    logn = lognorm(s, scale=np.exp(-(s**2) / 2))
    hist, edges = np.histogram(x, bins=np.linspace(0, 2.5, 11), density=True)
    return {
        "size_distribution": {
            "grains_late": len(x),
            "grains_mid": len(x_mid),
            "r_over_mean_std": float(x.std()),
            "r_over_mean_max": float(x.max()),
            "ks_hillert_2d": float(kstest(x, _hillert_cdf).statistic),
            "ks_lognormal": float(kstest(x, logn.cdf).statistic),
            "lognormal_sigma": s,
            "ks_mid_vs_late": float(ks_2samp(x, x_mid).statistic),
            "ks_mid_vs_late_p": float(ks_2samp(x, x_mid).pvalue),
            "histogram_edges": edges.tolist(),
            "histogram_density": hist.tolist(),
        }
    }


def speed() -> dict[str, Any]:
    from microstructure.phasefield import GrainGrowth, PhaseField, voronoi_labels

    pf = PhaseField.from_labels(voronoi_labels(512, 1000, seed=0), GrainGrowth(n_params=16))
    pf.step(5)
    t0 = time.perf_counter()
    pf.step(1000)
    plain = time.perf_counter() - t0
    t0 = time.perf_counter()
    pf.run(1000, recolour_every=100)
    recoloured = time.perf_counter() - t0
    return {
        "steps_per_s_cpu_512": 1000 / plain,
        "seconds_1000_steps_512": plain,
        "seconds_1000_steps_512_recoloured_every_100": recoloured,
        "grains_512": 1000,
        "order_parameters": 16,
        "goal_s": 60.0,
    }


#: The observation operators compared on validation twins (``python benchmarks/polycrystal.py
#: validation``): (name, smallest grain observed in boundary widths, snapshot of the error).
OPERATORS = (
    ("all grains, error at the end", 0.0, "end"),
    ("all grains, error at the start", 0.0, "start"),
    ("resolved grains, error at the start", 1.6, "start"),
)
#: The twin experiments' goals: relative errors of the posterior means, and seconds each.
TWIN_GOALS = {"mobility_energy_rel_err": 0.03, "anisotropy_rel_err": 0.10, "wall_s": 600}
#: Validation twins, none of them a test twin: (seed, M sigma in m^2/s, r).
VALIDATION_TWINS = ((11, 1e-13, 0.4), (12, 2e-13, 0.7))


def _twin_row(run: Any, truth: tuple[float, float], cfg: Any) -> dict[str, Any]:
    """One assimilation of the twin in ``run``, against its true ``(M sigma, r)``."""
    from microstructure.assimilate import assimilate

    me, ratio = truth
    r = assimilate(run, run / f"a-{cfg.min_radius_widths}-{cfg.error_area}", cfg, progress=False)
    est, est_r = r["mobility_energy"], r["low_angle_mobility_ratio"]
    return {
        "true_mobility_energy": me,
        "true_ratio": ratio,
        "mobility_energy_mean": est["mean"],
        "mobility_energy_std": est["std"],
        "ratio_mean": est_r["mean"],
        "ratio_std": est_r["std"],
        "mobility_energy_rel_err": abs(est["mean"] / me - 1),
        "anisotropy_rel_err": abs(est_r["mean"] / ratio - 1),
        "wall_s": r["wall_s"],
        "history": r["history"],
    }


def validation_twins() -> dict[str, Any]:
    """Each operator of :data:`OPERATORS` on the :data:`VALIDATION_TWINS`; the score, fixed
    before the run, is the mean over the twins of the relative errors over their goals,
    ``|r error| / 0.10 + |M sigma error| / 0.03``; the lowest is the default."""
    import tempfile
    from pathlib import Path

    from microstructure.assimilate import AssimilationConfig
    from microstructure.grainio import SimulationConfig, simulate

    arms: dict[str, Any] = {name: [] for name, _, _ in OPERATORS}
    with tempfile.TemporaryDirectory() as tmp:
        for seed, me, ratio in VALIDATION_TWINS:
            run = Path(tmp) / f"val{seed}"
            simulate(run, SimulationConfig(mobility_energy_m2_s=me,
                     low_angle_mobility_ratio=ratio, seed=seed), progress=False)  # fmt: skip
            for name, widths, at in OPERATORS:
                cfg = AssimilationConfig(min_radius_widths=widths, error_area=at)
                arms[name].append(_twin_row(run, (me, ratio), cfg))
                row = arms[name][-1]
                print(name, seed, {k: v for k, v in row.items() if k != "history"}, flush=True)
    out = {}
    for name, rows in arms.items():
        keys = ("anisotropy_rel_err", "mobility_energy_rel_err")
        score = [sum(r[k] / TWIN_GOALS[k] for k in keys) for r in rows]
        out[name] = {"score": float(np.mean(score)), "twins": rows}
    out["chosen"] = min(arms, key=lambda n: out[n]["score"])
    out["twins"] = [list(t) for t in VALIDATION_TWINS]
    return out


#: The test twins: their true parameters come from this seed, their simulations from the
#: seeds after ``FIRST_TWIN_SEED`` (fresh twins for each rerun of the filter: see the protocol).
TRUTH_SEED, FIRST_TWIN_SEED = 2028, 120


def twin_experiments(n: int = 5, error_area: str = "start") -> dict[str, Any]:
    """Twin experiments: simulate with drawn parameters, estimate them back from the
    snapshots alone (see the protocol); ``error_area`` ``end`` runs the observation
    operator before the validation twins chose the default."""
    import tempfile
    from pathlib import Path

    from microstructure.assimilate import AssimilationConfig
    from microstructure.grainio import SimulationConfig, simulate

    rng = np.random.default_rng(TRUTH_SEED)
    truths = [
        (float(10 ** rng.uniform(-13.3, -12.3)), float(rng.uniform(0.2, 0.8))) for _ in range(n)
    ]
    seeds = [FIRST_TWIN_SEED + i for i in range(n)]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, (me, ratio) in enumerate(truths):
            cfg = SimulationConfig(
                mobility_energy_m2_s=me, low_angle_mobility_ratio=ratio, seed=seeds[i]
            )
            run = Path(tmp) / f"twin{i}"
            simulate(run, cfg, progress=False)
            filt = AssimilationConfig(ensemble=32, seed=i, error_area=error_area)
            rows.append(_twin_row(run, (me, ratio), filt))
            print(i, {k: v for k, v in rows[-1].items() if k != "history"}, flush=True)
    pick = lambda k: [row[k] for row in rows]  # noqa: E731
    return {
        "mobility_energy_rel_err": float(np.mean(pick("mobility_energy_rel_err"))),
        "mobility_energy_rel_err_max": float(np.max(pick("mobility_energy_rel_err"))),
        "anisotropy_rel_err": float(np.mean(pick("anisotropy_rel_err"))),
        "anisotropy_rel_err_max": float(np.max(pick("anisotropy_rel_err"))),
        "ensemble": 32,
        "wall_s": float(np.mean(pick("wall_s"))),
        "wall_s_max": float(np.max(pick("wall_s"))),
        "seeds": seeds,
        "truth_seed": TRUTH_SEED,
        "twins": rows,
        "goals": TWIN_GOALS,
    }


PARTS = ("all", "phasefield", "vnm_large", "validation", "assimilation", "assimilation_before")


def main() -> None:
    """``python benchmarks/polycrystal.py [PART]``, PART one of :data:`PARTS`: everything
    but the validation twins (the default), the phase-field part, the large-grain von
    Neumann-Mullins run, the validation twins of the observation operator, the test twins,
    or the test twins again with the operator used before the validation (a comparison);
    each part replaces its own keys and keeps the rest of the results file."""
    import sys

    part = sys.argv[1] if len(sys.argv) > 1 else "all"
    if part not in PARTS:
        raise SystemExit(f"usage: python benchmarks/polycrystal.py [{'|'.join(PARTS)}]")
    torch.set_num_threads(2)
    t0 = time.perf_counter()
    merge_json("polycrystal.json", ["protocol"], protocol_text(__doc__))
    merge_json("polycrystal.json", ["machine"], machine())
    if part == "validation":
        val = {**validation_twins(), "wall_s": time.perf_counter() - t0}
        print(merge_json("polycrystal.json", ["assimilation_validation"], val))
        print({k: v["score"] for k, v in val.items() if isinstance(v, dict) and "score" in v})
    if part == "vnm_large":
        vnm = {**large_grains_vnm(), "wall_s": time.perf_counter() - t0}
        print(merge_json("polycrystal.json", ["phasefield", "von_neumann_mullins_large"], vnm))
    if part in ("all", "phasefield"):
        pf = {**shrinking_grain(), **normal_growth(), **speed()}
        pf["von_neumann_mullins_large"] = large_grains_vnm()
        pf["wall_s"] = time.perf_counter() - t0
        print(merge_json("polycrystal.json", ["phasefield"], pf))
        keys = ("shrinking_grain_rel_err", "von_neumann_mullins_slope_rel_err", "growth_exponent")
        print({k: pf[k] for k in (*keys, "steps_per_s_cpu_512")})
    if part == "assimilation_before":
        da = twin_experiments(error_area="end")
        print(merge_json("polycrystal.json", ["assimilation_before"], da))
        print({k: da[k] for k in ("mobility_energy_rel_err", "anisotropy_rel_err")})
    if part in ("all", "assimilation"):
        t1 = time.perf_counter()
        da = {**twin_experiments(), "benchmark_wall_s": time.perf_counter() - t1}
        print(merge_json("polycrystal.json", ["assimilation"], da))
        print({k: da[k] for k in ("mobility_energy_rel_err", "anisotropy_rel_err", "wall_s")})


if __name__ == "__main__":
    main()
