"""Bayesian design (``eftgan.design``) against Sobol random search and a scikit-learn GP with
expected improvement and the constant-liar batch heuristic, on standard test functions.

Protocol (fixed before the run); writes benchmarks/results/design.json and
docs/img/design_regret.png:

* functions, minimised: Styblinski-Tang in 2 and 5 dimensions on [-5, 5]^d, started from
  BOXVIA's sample points (10 and 50, ../shared/reference/boxvia_samples); Branin on
  [-5, 10] x [0, 15] and Hartmann-6 on [0, 1]^6, started from 10 scrambled Sobol points
  of the seed;
* 20 batches of 5 points after the start, 10 seeds (0-9) per method; the seed drives the
  start (Branin, Hartmann-6), the Sobol sequence, and every random choice of the methods;
* methods: ``eftgan design suggest`` defaults (qLogEI, GP per eftgan.design); Sobol points
  (scrambled, per seed); scikit-learn ``GaussianProcessRegressor`` (Matern 5/2 with one
  length scale per input plus white noise, normalised outputs, 2 optimiser restarts) with
  expected improvement maximised over 2048 Sobol candidates, a batch built by the constant
  liar (each chosen point is told the best value so far, and the GP refitted);
* simple regret: the best value observed after each batch minus the known minimum, as a
  fraction of the function's range (its maximum over 65,536 Sobol points minus the
  minimum); reported at the end (mean and standard deviation over seeds) with the
  one-sided Wilcoxon signed-rank p-value of eftgan's final regret against random's, and
  against scikit-learn's;
* speed: one ``suggest`` of a batch of 5 from 100 Hartmann-6 observations (Sobol points),
  the median of 3 runs;
* materials pool (``--pool-only`` re-measures it alone): the fcc rows of the DFT table
  (../shared/datasets/fenicocrmnpd_dft) as the oracle of Ms (mu_B/atom). The start is every
  binary and ternary, the pool every quaternary and quinary; batches of 5 pool rows are
  queried (``eftgan.alloy_design.suggest_alloys``, qLogEI over the rows not yet queried)
  until the pool's top 1 % and top 5 % by Ms have been found; the number of queries
  (whole batches, random order too) is reported with the shipped EFTGAN as the GP's
  prior (mean or feature, chosen once by 5-fold cross-validation on the start rows),
  without it (3 seeds each), and for random order (10 seeds). The shipped EFTGAN was
  trained on most rows of this table, the pool included, so its prior has seen the
  answers: the figure with the prior is optimistic.

Goals: final regret at most 1 % of the range on Styblinski-Tang 2D, Branin and Hartmann-6,
5 % on Styblinski-Tang 5D; better than random with p < 0.05 on each; a step under 5 s.

    python benchmarks/design_benchmark.py [--seeds 10] [--batches 20] [--speed-only]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from _common import machine, merge_json, protocol_text, summary

SHARED = Path(__file__).resolve().parents[1].parent / "shared/reference/boxvia_samples"
IMG = Path(__file__).resolve().parents[1] / "docs" / "img"
BATCH = 5


def functions() -> dict[str, dict[str, Any]]:
    from botorch.test_functions import Branin, Hartmann, StyblinskiTang

    return {
        "styblinski_tang_2d": {"f": StyblinskiTang(dim=2), "start": "sample_d2.csv"},
        "styblinski_tang_5d": {"f": StyblinskiTang(dim=5), "start": "sample_d5.csv"},
        "branin": {"f": Branin(), "start": None},
        "hartmann_6d": {"f": Hartmann(dim=6), "start": None},
    }


def bounds_of(f: Any) -> np.ndarray:
    return np.array(f._bounds, dtype=float)  # (d, 2)


def evaluate(f: Any, x: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return f(torch.tensor(x, dtype=torch.float64)).numpy()


def function_range(f: Any, fmin: float) -> float:
    """The scale of simple regret: ``f``'s maximum over 65,536 Sobol points minus ``fmin``."""
    return float(evaluate(f, sobol(65_536, bounds_of(f), 1)).max()) - fmin


def sobol(n: int, b: np.ndarray, seed: int) -> np.ndarray:
    import warnings

    from scipy.stats import qmc

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # n need not be a power of 2 here
        u = qmc.Sobol(len(b), scramble=True, seed=seed).random(n)
    return b[:, 0] + u * (b[:, 1] - b[:, 0])


def start_points(spec: dict[str, Any], seed: int) -> tuple[np.ndarray, np.ndarray]:
    f, b = spec["f"], bounds_of(spec["f"])
    if spec["start"]:
        data = pd.read_csv(SHARED / spec["start"])
        x = data.iloc[:, :-1].to_numpy(float)
        return x, evaluate(f, x)
    x = sobol(16, b, 10_000 + seed)[:10]
    return x, evaluate(f, x)


def eftgan_batch(x: np.ndarray, y: np.ndarray, b: np.ndarray, seed: int, **options) -> np.ndarray:
    """A batch from ``eftgan.design.suggest`` with its defaults, or ``options`` (its keyword
    arguments: kernel, batch mode) for the validation arms of ``design_validation.py``."""
    from eftgan.design import Space, check_observations, suggest

    names = [f"x{i + 1}" for i in range(len(b))]
    frame = pd.DataFrame(x, columns=names).assign(y=y)
    bounds = ",".join(f"{n}={lo}:{hi}" for n, (lo, hi) in zip(names, b, strict=True))
    space = Space.from_bounds([*names, "y"], bounds)
    return (
        suggest(space, check_observations(frame, space), BATCH, seed=seed, **options)
        .frame[names]
        .to_numpy(float)
    )


def sklearn_batch(x: np.ndarray, y: np.ndarray, b: np.ndarray, seed: int) -> np.ndarray:
    """Constant liar: each chosen point joins the data with the best value so far."""
    import warnings

    from scipy.stats import norm
    from sklearn.gaussian_process import GaussianProcessRegressor
    from sklearn.gaussian_process.kernels import ConstantKernel, Matern, WhiteKernel

    u = (x - b[:, 0]) / (b[:, 1] - b[:, 0])
    yy, lie, chosen = y.copy(), y.min(), []
    cand = sobol(2048, np.array([[0.0, 1.0]] * len(b)), seed)
    for _ in range(BATCH):
        kernel = ConstantKernel() * Matern(np.ones(len(b)), nu=2.5) + WhiteKernel(1e-3)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # length scales at their bounds
            gp = GaussianProcessRegressor(
                kernel, normalize_y=True, n_restarts_optimizer=2, random_state=seed
            ).fit(u, yy)
        mu, sd = gp.predict(cand, return_std=True)
        z = (yy.min() - mu) / np.maximum(sd, 1e-12)
        ei = (yy.min() - mu) * norm.cdf(z) + sd * norm.pdf(z)
        best = cand[int(np.argmax(ei))]
        chosen.append(best)
        u, yy = np.vstack([u, best]), np.append(yy, lie)
    return b[:, 0] + np.array(chosen) * (b[:, 1] - b[:, 0])


def run(
    spec: dict[str, Any], method: str, seed: int, batches: int, options: dict | None = None
) -> list[float]:
    """Best value after the start and after each batch (``options``: eftgan's, see
    :func:`eftgan_batch`)."""
    f, b = spec["f"], bounds_of(spec["f"])
    x, y = start_points(spec, seed)
    best = [float(y.min())]
    rand = sobol(BATCH * (batches + 1), b, 20_000 + seed)
    for k in range(batches):
        if method == "eftgan":
            new = eftgan_batch(x, y, b, seed * 1000 + k, **(options or {}))
        elif method == "sklearn":
            new = sklearn_batch(x, y, b, seed * 1000 + k)
        else:
            new = rand[k * BATCH : (k + 1) * BATCH]
        x, y = np.vstack([x, new]), np.append(y, evaluate(f, new))
        best.append(float(y.min()))
    return best


def regret_curves(name: str, spec: dict[str, Any], seeds: int, batches: int) -> dict[str, Any]:
    from scipy.stats import wilcoxon

    f = spec["f"]
    fmin = float(f.optimal_value)
    span = function_range(f, fmin)
    curves, walls = {}, {}
    for method in ("eftgan", "random", "sklearn"):
        t0 = time.perf_counter()
        curves[method] = np.array(
            [[(v - fmin) / span for v in run(spec, method, s, batches)] for s in range(seeds)]
        )
        walls[method] = time.perf_counter() - t0
        print(name, method, f"{walls[method]:.0f} s", curves[method][:, -1].mean())
    final = {m: c[:, -1] for m, c in curves.items()}

    def p_less(a: np.ndarray, other: np.ndarray) -> float:
        if np.allclose(a, other):
            return 1.0
        return float(wilcoxon(a, other, alternative="less").pvalue)

    return {
        "regret_final_mean": float(final["eftgan"].mean()),
        "regret_final_std": float(final["eftgan"].std(ddof=1)),
        "random_regret_final_mean": float(final["random"].mean()),
        "random_regret_final_std": float(final["random"].std(ddof=1)),
        "sklearn_regret_final_mean": float(final["sklearn"].mean()),
        "sklearn_regret_final_std": float(final["sklearn"].std(ddof=1)),
        "p_value": p_less(final["eftgan"], final["random"]),
        "p_value_vs_sklearn": p_less(final["eftgan"], final["sklearn"]),
        "regret_final": {m: summary(list(v)) for m, v in final.items()},
        "curves_mean": {m: c.mean(0).tolist() for m, c in curves.items()},
        "wall_s": walls,
        "minimum": fmin,
        "range": span,
    }


POOL_ELEMENTS = ["Fe", "Ni", "Co", "Cr", "Mn", "Pd"]
DFT = Path(__file__).resolve().parents[1].parent / "shared/datasets/fenicocrmnpd_dft"


def pool_rows() -> tuple[pd.DataFrame, pd.DataFrame]:
    """The fcc start rows (binaries, ternaries) and pool rows (4-5 elements) with Ms."""
    from eftgan.dataset import composition_from_name

    table = pd.read_csv(DFT / "labels.csv")
    table = table[table["phase"] == "fcc"]
    comps = table["structure"].map(composition_from_name)
    frame = pd.DataFrame(
        [{e: c.get(e, 0.0) for e in POOL_ELEMENTS} for c in comps], index=table.index
    )
    frame["ms"] = table["Ms (mub/atom)"]
    k = (frame[POOL_ELEMENTS] > 1e-9).sum(axis=1)
    return frame[k <= 3].reset_index(drop=True), frame[k >= 4].reset_index(drop=True)


def queries_to_top(found: list[float], thresholds: dict[str, float]) -> dict[str, int | None]:
    """Queries until the best found reaches each threshold, counted in whole batches of
    :data:`BATCH` (a batch is queried at once); None: never."""
    best = np.maximum.accumulate(found)
    return {k: -(-(int(np.argmax(best >= t)) + 1) // BATCH) * BATCH if (best >= t).any()
            else None for k, t in thresholds.items()}  # fmt: skip


def pool_run(start, pool, prior_s, prior_p, mode, seed) -> list[float]:
    from eftgan.alloy_design import suggest_alloys

    obs, left = start.copy(), pool.copy()
    p_obs = prior_s.copy() if prior_s is not None else None
    p_left = prior_p.copy() if prior_p is not None else None
    found: list[float] = []
    while len(left):
        r = suggest_alloys(POOL_ELEMENTS, obs, "ms", left, "maximize", BATCH, p_obs, p_left,
                           seed, mode)  # fmt: skip
        keys = left[POOL_ELEMENTS].round(6).apply(tuple, axis=1)
        picked = r.frame[POOL_ELEMENTS].round(6).apply(tuple, axis=1)
        rows = np.flatnonzero(keys.isin(set(picked)))[: len(picked)]
        found += list(left["ms"].to_numpy()[rows])
        obs = pd.concat([obs, left.iloc[rows]], ignore_index=True)
        if p_obs is not None:
            p_obs, p_left = np.append(p_obs, p_left[rows]), np.delete(p_left, rows)
        left = left.drop(left.index[rows]).reset_index(drop=True)
        if max(found) >= pool["ms"].max():
            break
    return found


def pool_benchmark(seeds: int = 3, random_seeds: int = 10) -> dict[str, Any]:
    from eftgan.alloy_design import cross_validate, eftgan_prior

    start, pool = pool_rows()
    values = np.sort(pool["ms"].to_numpy())[::-1]
    n1, n5 = max(1, int(np.ceil(0.01 * len(pool)))), int(np.ceil(0.05 * len(pool)))
    thresholds = {"top_1pct": float(values[n1 - 1]), "top_5pct": float(values[n5 - 1])}
    prior_s = eftgan_prior(start, POOL_ELEMENTS, "ms_mub_per_atom", "fcc")
    prior_p = eftgan_prior(pool, POOL_ELEMENTS, "ms_mub_per_atom", "fcc")
    cv = cross_validate(start[POOL_ELEMENTS].to_numpy(float), start["ms"].to_numpy(), prior_s)
    mode = min(("mean", "feature"), key=cv.__getitem__)
    runs: dict[str, list[dict[str, int | None]]] = {"with_prior": [], "without_prior": []}
    for seed in range(seeds):
        f = pool_run(start, pool, prior_s, prior_p, mode, seed)
        runs["with_prior"].append(queries_to_top(f, thresholds))
        f = pool_run(start, pool, None, None, None, seed)
        runs["without_prior"].append(queries_to_top(f, thresholds))
        print("pool seed", seed, runs["with_prior"][-1], runs["without_prior"][-1])
    runs["random"] = [
        queries_to_top(list(pool["ms"].to_numpy()[np.random.default_rng(s).permutation(len(pool))]),
                       thresholds)
        for s in range(random_seeds)
    ]  # fmt: skip
    out: dict[str, Any] = {
        "pool_size": len(pool), "start_size": len(start), "thresholds_ms": thresholds,
        "prior_mode": mode, "cv_mae_start": cv,
        "prior_mae_pool": float(np.abs(prior_p - pool["ms"].to_numpy()).mean()),
    }  # fmt: skip
    for method, rows in runs.items():
        for key in thresholds:
            v = [r[key] for r in rows]
            out[f"{method}_queries_{key}"] = summary([np.nan if x is None else x for x in v])
    return out


def speed() -> dict[str, float]:
    from botorch.test_functions import Hartmann

    f = Hartmann(dim=6)
    x = sobol(100, bounds_of(f), 7)
    y = evaluate(f, x)
    times = []
    for k in range(3):
        t0 = time.perf_counter()
        eftgan_batch(x, y, bounds_of(f), k)
        times.append(time.perf_counter() - t0)
    return {"suggest_s_100obs_6d": float(np.median(times)), "runs_s": times}


def plot(results: dict[str, Any]) -> None:
    from eftgan.plotting import pyplot, save_png

    plt = pyplot()
    fig, axes = plt.subplots(1, len(results), figsize=(3.2 * len(results), 3))
    for ax, (name, r) in zip(np.atleast_1d(axes), results.items(), strict=True):
        for method, curve in r["curves_mean"].items():
            ax.semilogy(np.arange(len(curve)) * BATCH, np.maximum(curve, 1e-6), label=method)
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("points after the start")
        ax.set_ylabel("simple regret / range (mean)")
    np.atleast_1d(axes)[0].legend(fontsize=8)
    fig.tight_layout()
    save_png(fig, IMG / "design_regret.png", dpi=80)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--only", default="", help="comma-separated function names")
    parser.add_argument("--speed-only", action="store_true", help="re-measure the speed only")
    parser.add_argument("--pool-only", action="store_true", help="re-measure the pool only")
    args = parser.parse_args()
    torch.set_num_threads(2)
    if args.speed_only or args.pool_only:
        merge_json("design.json", ["machine"], machine())
        if args.speed_only:
            print(merge_json("design.json", ["speed"], speed()))
        if args.pool_only:
            print(merge_json("design.json", ["pool"], pool_benchmark()))
        return
    merge_json("design.json", ["protocol"], protocol_text(__doc__))
    merge_json("design.json", ["machine"], machine())
    merge_json("design.json", ["settings"], {"seeds": args.seeds, "batches": args.batches})
    results = {}
    for name, spec in functions().items():
        if args.only and name not in args.only.split(","):
            continue
        results[name] = regret_curves(name, spec, args.seeds, args.batches)
        merge_json("design.json", ["functions", name], results[name])
    print(merge_json("design.json", ["speed"], speed()))
    if DFT.is_dir():
        print(merge_json("design.json", ["pool"], pool_benchmark()))
    if len(results) == len(functions()):
        plot(results)


if __name__ == "__main__":
    main()
