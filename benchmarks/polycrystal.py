"""Polycrystals: the grain-growth phase-field model against the laws of curvature flow.

Protocol (fixed before the run); writes benchmarks/results/polycrystal.json:

* ``shrinking_grain_rel_err``: a circular grain of radius 40 cells on a 128 x 128 grid
  (boundary width 5 cells, sigma 0.5 J/m^2, M 1e-12 m^4/(J s), dx 1 um), 200 steps to relax
  the sharp start, then the slope of R^2 (from the area where its parameter exceeds 1/2)
  against time over 4000 steps, against -2 M sigma; the relative error (goal 2 %);
* ``growth_exponent``: normal growth from a periodic Voronoi start of 400 grains on
  256 x 256 (16 order parameters, recoloured every 50 steps), 16 snapshots 250 steps apart;
  the exponent n of <A>(t) - <A>(t1) ~ (t - t1)^n over the snapshots after the third
  (t1 the third; the start's small grains vanish first), goal 1.0 +- 0.1; grain counts and
  mean areas per snapshot are kept;
* ``steps_per_s_cpu_512``: 512 x 512 with 1000 Voronoi grains and 16 parameters, 1000 steps
  after 5, without recolouring (goal: 1000 steps in 60 s), and with it every 100 steps.

Looked at while building it, and disclosed: a first version of the recolouring merged and
cut grains (found in review, with an exponent of 1.08 from that run). The fixed one matches
a run with one parameter per grain, where no merge can happen (44 grains of 60 after 400
steps on 96 x 96 in both; 30 without recolouring; a test).

Not measured yet: the von Neumann-Mullins slope, the steady size distribution beside the
Hillert and lognormal forms, CUDA, and the assimilation.

    python benchmarks/polycrystal.py
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch
from _common import machine, protocol_text, write_json


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
    from microstructure.phasefield import GrainGrowth, PhaseField, grain_map, voronoi_labels

    size = 256
    pf = PhaseField.from_labels(voronoi_labels(size, 400, seed=0), GrainGrowth(n_params=16))
    t, counts = [], []
    for _ in range(16):
        pf.run(250, recolour_every=50)
        t.append(pf.time_s)
        counts.append(len(grain_map(pf.eta[0].numpy())[1]))
    area = size * size / np.array(counts, dtype=float)  # cells per grain
    t_arr = np.array(t)
    k = 2  # the third snapshot
    n = float(np.polyfit(np.log(t_arr[k + 1 :] - t_arr[k]), np.log(area[k + 1 :] - area[k]), 1)[0])
    return {
        "growth_exponent": n,
        "times_s": t,
        "grains": counts,
        "mean_area_cells": area.tolist(),
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


def main() -> None:
    torch.set_num_threads(2)
    t0 = time.perf_counter()
    report = {
        "protocol": protocol_text(__doc__),
        "phasefield": {**shrinking_grain(), **normal_growth(), **speed()},
        "benchmark_wall_s": 0.0,
        "machine": machine(),
    }
    report["benchmark_wall_s"] = time.perf_counter() - t0
    print(write_json("polycrystal.json", report))
    pf = report["phasefield"]
    print({k: pf[k] for k in ("shrinking_grain_rel_err", "growth_exponent", "steps_per_s_cpu_512")})


if __name__ == "__main__":
    main()
