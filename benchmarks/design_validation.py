"""Choose the Bayesian design's GP kernel and batch optimisation on validation functions,
none of which is a test function of ``design_benchmark.py``.

Protocol (fixed before the run); writes ``validation`` in benchmarks/results/design.json:

* validation functions, minimised, each started from 10 scrambled Sobol points of the
  seed: six-hump camel (2D), Hartmann-3, Shekel-10 (4D) and Levy (5D), BoTorch's
  definitions and bounds;
* seeds 100-103 (the test functions use 0-9), 20 batches of 5 points, as in the test;
* arms, every other setting at ``eftgan.design``'s: the kernel, RBF (BoTorch's default)
  or Matérn 5/2, both under the dimension-scaled log-normal length-scale prior; the batch
  optimised jointly or sequentially (greedy);
* score of an arm: the mean over the four functions of log10 of its final simple regret
  (as a fraction of the range, as in the test) averaged over the seeds; the lowest score
  is chosen as the default, the current default (RBF, joint) where no arm is lower.

The test functions are run afterwards, once, with the chosen default
(``design_benchmark.py``).

    python benchmarks/design_validation.py [--seeds 4] [--batches 20] [--workers 2]
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np
import torch
from _common import machine, merge_json, protocol_text, summary
from design_benchmark import evaluate, function_range, run

ARMS = {
    "rbf_joint": {"kernel": "rbf", "batch_mode": "joint"},
    "matern_joint": {"kernel": "matern", "batch_mode": "joint"},
    "rbf_sequential": {"kernel": "rbf", "batch_mode": "sequential"},
    "matern_sequential": {"kernel": "matern", "batch_mode": "sequential"},
}
FIRST_SEED = 100


def validation_functions() -> dict[str, dict[str, Any]]:
    from botorch.test_functions import Hartmann, Levy, Shekel, SixHumpCamel

    return {
        "six_hump_camel": {"f": SixHumpCamel(), "start": None},
        "hartmann_3d": {"f": Hartmann(dim=3), "start": None},
        "shekel_4d": {"f": Shekel(m=10), "start": None},
        "levy_5d": {"f": Levy(dim=5), "start": None},
    }


def arm_regrets(spec: dict[str, Any], options: dict, seeds: int, batches: int) -> np.ndarray:
    """Final simple regret / range per seed."""
    f = spec["f"]
    fmin = float(evaluate(f, f.optimizers.numpy()).min())  # optimal_value is rounded
    span = function_range(f, fmin)
    seeds_used = range(FIRST_SEED, FIRST_SEED + seeds)
    return np.array([(run(spec, "eftgan", s, batches, options)[-1] - fmin) / span
                     for s in seeds_used])  # fmt: skip


def _job(job: tuple[str, str, int, int]) -> tuple[str, str, list[float], float]:
    """One arm on one function (a worker of the pool: one torch thread each)."""
    arm, name, seeds, batches = job
    torch.set_num_threads(1)
    t0 = time.perf_counter()
    r = arm_regrets(validation_functions()[name], ARMS[arm], seeds, batches)
    print(arm, name, f"{r.mean():.2e}", flush=True)
    return arm, name, r.tolist(), time.perf_counter() - t0


def main() -> None:
    from multiprocessing import get_context

    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=4)
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    jobs = [(a, n, args.seeds, args.batches) for a in ARMS for n in validation_functions()]
    with get_context("spawn").Pool(args.workers) as pool:
        done = pool.map(_job, jobs, chunksize=1)
    out: dict[str, Any] = {"protocol": protocol_text(__doc__), "machine": machine(),
                           "settings": vars(args), "arms": {}}  # fmt: skip
    for arm, options in ARMS.items():
        mine = [d for d in done if d[0] == arm]
        rows = {name: summary(r) for _, name, r, _ in mine}
        score = float(np.mean([np.log10(max(v["mean"], 1e-12)) for v in rows.values()]))
        out["arms"][arm] = {"options": options, "functions": rows, "score": score,
                            "cpu_s": sum(d[3] for d in mine)}  # fmt: skip
    best = min(out["arms"], key=lambda a: out["arms"][a]["score"])
    if out["arms"][best]["score"] >= out["arms"]["rbf_joint"]["score"]:
        best = "rbf_joint"
    out["chosen"] = best
    print(best, merge_json("design.json", ["validation"], out))


if __name__ == "__main__":
    main()
