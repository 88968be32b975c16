"""ECNet against composition-only baselines on the shared FeNiCoCrMn/Pd DFT dataset.

Writes benchmarks/results/ecnet_accuracy.json. Everything is measured in one run:

* random 80/10/10 splits by composition, ``--seeds`` seeds, per phase: MAE/RMSE of Eform, Emix,
  Ms, V0 for ECNet, a quadratic-composition ridge and a descriptor random forest (both fitted on
  train + validation, as ECNet uses validation for early stopping), and CHGNet zero-shot
  formation energies with refitted elemental references when ``--chgnet-python`` points at a
  Python with chgnet installed;
* the quaternary + quinary part of those test sets separately;
* extrapolation: train on binaries to quaternaries, test on all quinaries;
* a learning curve at 20/40/60/80 % of each training split (100 % is the random result);
* speed of ``predict_structures`` on 32- and 160-atom cells, and the default model's
  training wall time from its training record.

Flagged entries (``eftgan data validate``) are excluded throughout.

    python benchmarks/ecnet_accuracy.py [--seeds 5] [--curve-seeds 3] [--jobs 2] [--quick]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REPO, SHARED, machine, write_json

DATA = SHARED / "datasets" / "fenicocrmnpd_dft"
SHORT = ("eform", "emix", "ms", "v0")
CURVE = (0.2, 0.4, 0.6, 0.8)  # learning-curve fractions of each training split
ANCHORS = {
    "ecnet_paper_random_mae": {
        "fcc": {"eform": 0.0067, "ms": 0.071},
        "bcc": {"eform": 0.011, "ms": 0.112},
    },
    "ecnet_paper_learning_curve_0.2_mae": {"fcc": {"eform": 0.020}, "bcc": {"eform": 0.025}},
    "cluster_expansion_quaternary_quinary_rmse": {"eform": 0.008, "ms": 0.090},
}


def load(exclude_flagged: bool = True):
    """The shared dataset (without the entries validation flags) and the flagged names."""
    from eftgan.dataset import load_dataset
    from eftgan.validate import clean, flagged_names, validate

    ds = load_dataset(DATA)
    flags = validate(ds)
    flagged = sorted(flagged_names(flags))
    return (clean(ds, flags) if exclude_flagged else ds), flagged


def train_ecnet(job: dict[str, Any]) -> dict[str, Any]:
    """Worker: train one ECNet on given indices and return test predictions."""
    import torch

    torch.set_num_threads(job["threads"])
    from eftgan.ecnet import ECNetConfig
    from eftgan.train import TrainConfig, Trainer, dataset_graphs, predict_graphs

    ds, _ = load()
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        trainer = Trainer(
            ds,
            Path(tmp) / "run",
            ECNetConfig(elements=ds.elements),
            TrainConfig(seed=job["seed"], max_epochs=job["epochs"], patience=job["patience"]),
            split=(job["train"], job["val"], job["test"]),
            progress=False,
        )
        res = trainer.run()
        from eftgan.model import load_model

        model = load_model(Path(tmp) / "run")
        graphs = dataset_graphs(ds.subset(job["test"]), model.model_config)
        pred = predict_graphs(model.net, graphs)
    return {
        "key": job["key"],
        "pred": pred.tolist(),
        "epochs": res.epochs,
        "wall_s": time.perf_counter() - t0,
    }


def metrics(
    y: np.ndarray, p: np.ndarray, phases: list[str]
) -> dict[str, dict[str, dict[str, float]]]:
    """``{phase: {target: {mae, rmse, n}}}`` over entries where label and prediction exist."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    ph = np.asarray(phases)
    for phase in ("fcc", "bcc"):
        m = ph == phase
        out[phase] = {}
        for j, t in enumerate(SHORT):
            ok = m & np.isfinite(y[:, j]) & np.isfinite(p[:, j])
            err = p[ok, j] - y[ok, j]
            out[phase][t] = {
                "mae": float(np.mean(np.abs(err))) if ok.any() else math.nan,
                "rmse": float(np.sqrt(np.mean(err**2))) if ok.any() else math.nan,
                "n": int(ok.sum()),
            }
    return out


def pooled(per_seed: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean over seeds of MAE and RMSE, with the standard deviation over seeds."""
    out: dict[str, Any] = {}
    for phase in ("fcc", "bcc"):
        out[phase] = {}
        for t in SHORT:
            maes = [s[phase][t]["mae"] for s in per_seed if s[phase][t]["n"]]
            rmses = [s[phase][t]["rmse"] for s in per_seed if s[phase][t]["n"]]
            if not maes:
                continue
            out[phase][t] = {
                "mae": float(np.mean(maes)),
                "rmse": float(np.mean(rmses)),
                "mae_std": float(np.std(maes)),
                "rmse_std": float(np.std(rmses)),
                "n_per_seed": int(np.mean([s[phase][t]["n"] for s in per_seed])),
                "seeds": len(maes),
            }
    return out


def subsample_train(ds, train: list[int], frac: float, seed: int) -> list[int]:
    """A seeded fraction of a training split's compositions (both phases of each kept)."""
    keys = sorted({ds[i].group_key for i in train})
    rng = np.random.default_rng(10_000 + seed)
    keep = set(rng.permutation(keys)[: max(2, int(round(frac * len(keys))))].tolist())
    return [i for i in train if ds[i].group_key in keep]


def run_chgnet(python: str, structures: list[Any], *flags: str) -> Any:
    """Run benchmarks/chgnet_energies.py in another interpreter; its last JSON line, or None."""
    script = REPO / "benchmarks" / "chgnet_energies.py"
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for i, s in enumerate(structures):
            p = Path(tmp) / f"{i}.json"
            p.write_text(json.dumps(s.as_dict()))
            paths.append(str(p))
        listing = Path(tmp) / "list.txt"
        listing.write_text("\n".join(paths))
        cmd = [python, str(script), str(listing), *flags]
        r = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if r.returncode != 0:
            print("CHGNet failed:", r.stderr[-500:], file=sys.stderr)
            return None
        return json.loads(r.stdout.strip().splitlines()[-1])


def parse_args() -> argparse.Namespace:
    """The command-line settings (``--quick`` shrinks seeds and epochs to a smoke run)."""
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--curve-seeds", type=int, default=3)
    ap.add_argument("--extrapolation-seeds", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=300)
    ap.add_argument("--patience", type=int, default=50)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument(
        "--chgnet-python", default=None, help="Python interpreter with chgnet installed"
    )
    ap.add_argument("--quick", action="store_true", help="2 seeds, 20 epochs: a smoke run")
    ap.add_argument(
        "--speed-only",
        action="store_true",
        help="re-measure only the speed section of an existing results file",
    )
    args = ap.parse_args()
    if args.quick:
        args.seeds, args.curve_seeds, args.extrapolation_seeds, args.epochs = 2, 1, 1, 20
    return args


def speed_only(chgnet_python: str | None) -> None:
    """Re-measure the speed section of the existing results file and keep the rest."""
    path = REPO / "benchmarks" / "results" / "ecnet_accuracy.json"
    report = json.loads(path.read_text())
    report["speed"] = speed(chgnet_python)
    report["speed"]["measured_separately_from_accuracy"] = True
    report["speed"]["machine"] = machine()
    print(report["speed"])
    write_json("ecnet_accuracy.json", report)


@dataclass
class Bench:
    """The dataset (flagged entries excluded) and the per-entry arrays every score uses."""

    ds: Any
    flagged: list[str]
    y_all: np.ndarray
    phases: list[str]
    fr: list[dict[str, float]]
    ncomp: list[int]

    @classmethod
    def read(cls) -> Bench:
        """Load the shared dataset."""
        from eftgan.composition import n_components

        ds, flagged = load()
        fr = [e.name_fractions or e.fractions for e in ds]
        ncomp = [n_components(f) for f in fr]
        return cls(ds, flagged, ds.targets(), [e.phase for e in ds], fr, ncomp)

    def high_order(self, i: int) -> bool:
        """Quaternary or quinary entry."""
        return self.ncomp[i] >= 4


Splits = dict[tuple[str, int], tuple[list[int], list[int], list[int]]]


def plan_jobs(args: argparse.Namespace, b: Bench) -> tuple[list[dict[str, Any]], Splits]:
    """One training job per split: random seeds, quinary extrapolation, learning curve."""
    from eftgan.dataset import split_by_composition

    ds = b.ds

    def job(key: str, seed: int, tr: list[int], va: list[int], te: list[int]) -> dict[str, Any]:
        return {
            "key": key,
            "seed": seed,
            "train": tr,
            "val": va,
            "test": te,
            "epochs": args.epochs,
            "patience": args.patience,
            "threads": 1 if args.jobs > 1 else 2,
        }

    jobs, splits = [], {}
    for s in range(args.seeds):
        tr, va, te = split_by_composition(ds, (0.8, 0.1, 0.1), seed=s)
        splits[("random", s)] = (tr, va, te)
        jobs.append(job(f"random/{s}", s, tr, va, te))
    low = [i for i in range(len(ds)) if b.ncomp[i] < 5]
    quin = [i for i in range(len(ds)) if b.ncomp[i] == 5]
    for s in range(args.extrapolation_seeds):
        tr_l, va_l, _ = split_by_composition(ds.subset(low), (0.9, 0.1, 0.0), seed=s)
        tr, va = [low[i] for i in tr_l], [low[i] for i in va_l]
        splits[("quinary", s)] = (tr, va, quin)
        jobs.append(job(f"quinary/{s}", s, tr, va, quin))
    for frac in CURVE:
        for s in range(args.curve_seeds):
            tr, va, te = splits[("random", s)]
            tr_f = subsample_train(ds, tr, frac, s)
            splits[(f"curve{frac}", s)] = (tr_f, va, te)
            jobs.append(job(f"curve{frac}/{s}", s, tr_f, va, te))
    # longest jobs first so that the pool ends together
    jobs.sort(key=lambda j: -sum(len(ds[i].structure) for i in j["train"]))
    return jobs, splits


def run_jobs(jobs: list[dict[str, Any]], workers: int) -> dict[str, dict[str, Any]]:
    """Train every job in a process pool; results by job key."""
    results: dict[str, dict[str, Any]] = {}
    with ProcessPoolExecutor(max_workers=workers) as pool:
        for n, r in enumerate(pool.map(train_ecnet, jobs), start=1):
            results[r["key"]] = r
            print(
                f"[{n}/{len(jobs)}] {r['key']}: {r['epochs']} epochs, {r['wall_s']:.0f} s",
                flush=True,
            )
    return results


def ecnet_scores(
    b: Bench, splits: Splits, results: dict, prefix: str, n_seeds: int, subset=None
) -> list[dict[str, Any]]:
    """ECNet's test metrics of each seed of one split family (optionally a subset of entries)."""
    out = []
    for s in range(n_seeds):
        _, _, te = splits[(prefix, s)]
        p = np.array(results[f"{prefix}/{s}"]["pred"])
        idx = list(te)
        if subset is not None:
            keep = [k for k, i in enumerate(idx) if subset(i)]
            p, idx = p[keep], [idx[k] for k in keep]
        out.append(metrics(b.y_all[idx], p, [b.phases[i] for i in idx]))
    return out


def baseline_scores(
    b: Bench, splits: Splits, prefix: str, n_seeds: int, subset=None
) -> dict[str, list[dict[str, Any]]]:
    """Ridge and random-forest test metrics of each seed, fitted on train + validation."""
    from eftgan.baselines import CompositionRidge, DescriptorForest

    out: dict[str, list[dict[str, Any]]] = {
        "ridge_quadratic_composition": [],
        "descriptor_random_forest": [],
    }
    for s in range(n_seeds):
        tr, va, te = splits[(prefix, s)]
        fit = list(tr) + list(va)
        idx = [i for i in te if subset is None or subset(i)]
        for name, model in (
            ("ridge_quadratic_composition", CompositionRidge(b.ds.elements)),
            ("descriptor_random_forest", DescriptorForest(b.ds.elements, seed=s)),
        ):
            model.fit([b.fr[i] for i in fit], [b.phases[i] for i in fit], b.y_all[fit])
            p = model.predict([b.fr[i] for i in idx], [b.phases[i] for i in idx])
            out[name].append(metrics(b.y_all[idx], p, [b.phases[i] for i in idx]))
    return out


def ecnet_report(args: argparse.Namespace, b: Bench, splits: Splits, results: dict) -> dict:
    """ECNet's pooled scores: random, quaternary + quinary, extrapolation, learning curve."""
    report: dict[str, Any] = {
        "random": pooled(ecnet_scores(b, splits, results, "random", args.seeds)),
        "quaternary_quinary": pooled(
            ecnet_scores(b, splits, results, "random", args.seeds, b.high_order)
        ),
        "quinary_extrapolation": pooled(
            ecnet_scores(b, splits, results, "quinary", args.extrapolation_seeds)
        ),
        "learning_curve": {
            str(frac): pooled(ecnet_scores(b, splits, results, f"curve{frac}", args.curve_seeds))
            for frac in CURVE
        },
    }
    report["learning_curve"]["1.0"] = report["random"]
    return report


def baselines_report(args: argparse.Namespace, b: Bench, splits: Splits) -> dict[str, Any]:
    """The baselines' pooled scores on the same splits as ECNet."""
    base_random = baseline_scores(b, splits, "random", args.seeds)
    base_hi = baseline_scores(b, splits, "random", args.seeds, b.high_order)
    base_quin = baseline_scores(b, splits, "quinary", args.extrapolation_seeds)
    base_curve = {str(f): baseline_scores(b, splits, f"curve{f}", args.curve_seeds) for f in CURVE}
    return {
        "baselines": {name: pooled(v) for name, v in base_random.items()},
        "baselines_quaternary_quinary": {name: pooled(v) for name, v in base_hi.items()},
        "baselines_quinary_extrapolation": {name: pooled(v) for name, v in base_quin.items()},
        "baselines_learning_curve": {
            f: {name: pooled(v) for name, v in per.items()} for f, per in base_curve.items()
        },
    }


def chgnet_report(args: argparse.Namespace, b: Bench, splits: Splits) -> Any:
    """CHGNet zero-shot formation energies with elemental references refitted on each
    training split, or a note when no CHGNet interpreter is given."""
    if not args.chgnet_python:
        return "not run: pass --chgnet-python"
    ds, els = b.ds, b.ds.elements
    out = run_chgnet(args.chgnet_python, [ds[i].structure for i in range(len(ds))])
    if out is None:
        return None
    e_chg = np.array(out)
    per_seed = []
    for s in range(args.seeds):
        tr, va, te = splits[("random", s)]
        fit = list(tr) + list(va)
        # refit elemental references: Eform_DFT ~ E_CHGNet - sum_i c_i mu_i
        x = np.array([[b.fr[i].get(e, 0.0) for e in els] for i in range(len(ds))])
        mu, *_ = np.linalg.lstsq(x[fit], e_chg[fit] - b.y_all[fit, 0], rcond=None)
        p = np.full((len(te), 4), np.nan)
        p[:, 0] = e_chg[te] - x[te] @ mu
        per_seed.append(metrics(b.y_all[te], p, [b.phases[i] for i in te]))
    return pooled(per_seed)


def settings(args: argparse.Namespace, b: Bench, results: dict) -> dict[str, Any]:
    """The run's settings as recorded in the results file."""
    return {
        "seeds": args.seeds,
        "curve_seeds": args.curve_seeds,
        "extrapolation_seeds": args.extrapolation_seeds,
        "max_epochs": args.epochs,
        "patience": args.patience,
        "split": "random 80/10/10 by composition (fcc and bcc of a composition on one side)",
        "entries_used": len(b.ds),
        "flagged_excluded": len(b.flagged),
        "training_wall_s_per_job": {k: round(v["wall_s"], 1) for k, v in results.items()},
        "parallel_jobs": args.jobs,
    }


def main() -> None:
    """Train every split, score ECNet and the baselines, measure speed, write the JSON."""
    args = parse_args()
    if args.speed_only:
        speed_only(args.chgnet_python)
        return
    if not (DATA / "labels.csv").is_file():
        sys.exit(f"shared dataset not found at {DATA}")
    t_start = time.perf_counter()
    b = Bench.read()
    jobs, splits = plan_jobs(args, b)
    results = run_jobs(jobs, args.jobs)
    report = ecnet_report(args, b, splits, results)
    report.update(baselines_report(args, b, splits))
    chgnet = chgnet_report(args, b, splits)
    if chgnet is not None:
        report["baselines"]["chgnet_zero_shot_refit_references"] = chgnet
    report["speed"] = speed(args.chgnet_python)
    report["anchors"] = ANCHORS
    report["settings"] = settings(args, b, results)
    report["benchmark_wall_s"] = time.perf_counter() - t_start
    report["machine"] = machine()
    path = write_json("ecnet_accuracy.json", report)
    print(f"wrote {path}")


def speed(chgnet_python: str | None = None) -> dict[str, Any]:
    """Structures per second of predict_structures (default model, 2 threads, batch 32).

    Each figure is the median of five passes over 64 random cells (all passes are kept).
    CHGNet runs the same cells in its own interpreter with batch 8 (batch 32 of 160-atom cells
    ran out of memory here).
    """
    import torch

    torch.set_num_threads(2)
    from pymatgen.core import Lattice, Structure

    from eftgan.model import load_model
    from eftgan.paths import default_model_dir

    model = load_model()
    rng = np.random.default_rng(0)
    out: dict[str, Any] = {"threads": 2, "batch_size": 32}
    for n_atoms, reps in ((32, (2, 2, 2)), (160, (5, 4, 2))):
        base = Structure.from_spacegroup("Fm-3m", Lattice.cubic(3.57), ["Ni"], [[0, 0, 0]])
        if n_atoms == 160:
            base = Structure.from_spacegroup("Im-3m", Lattice.cubic(2.86), ["Fe"], [[0, 0, 0]])
        cells = []
        for _ in range(64):
            s = base * reps
            for k in range(len(s)):
                s.replace(k, str(rng.choice(["Fe", "Ni", "Co", "Cr", "Mn"])))
            cells.append(s)
        model.predict_structures(cells[:4], phase="fcc")  # warm-up
        rates = []
        for _ in range(5):
            t0 = time.perf_counter()
            model.predict_structures(cells, phase="fcc")
            rates.append(len(cells) / (time.perf_counter() - t0))
        out[f"structures_per_s_{n_atoms}_atoms"] = float(np.median(rates))
        out[f"structures_per_s_{n_atoms}_atoms_all_passes"] = [round(r, 1) for r in rates]
        if chgnet_python:
            t = run_chgnet(chgnet_python, cells, "--time")
            if t is not None:
                out[f"chgnet_structures_per_s_{n_atoms}_atoms"] = t["n"] / t["seconds"]
    rec = default_model_dir() / "training.json"
    if rec.is_file():
        r = json.loads(rec.read_text())
        out["default_model_training_wall_s"] = r["wall_s"]
        out["default_model_epochs"] = r["epochs"]
    return out


if __name__ == "__main__":
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    main()
