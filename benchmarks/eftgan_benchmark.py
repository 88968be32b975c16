"""EFTGAN on composition-disjoint splits: structure-free accuracy, augmentation, speed.

Writes benchmarks/results/eftgan.json (the protocol, stored as ``protocol``, is
:data:`PROTOCOL`). Everything that is compared is measured in this run:

* ``structure_free``: on each of ``--seeds`` random 80/10/10 splits by composition, an ECNet
  is trained on the split's training part (default :class:`eftgan.train.TrainConfig`,
  validation for early stopping) and an EFTGAN (:func:`eftgan.pipeline.train_eftgan`) on its
  features of those training structures. The property MLP is fitted in the arms of
  :func:`arms` (augmentation rounds and generated draws per composition); the arm with the
  best structure-free score on the split's *validation* compositions is picked, and only the
  picked arm is read on the test part. Beside it on the same test structures: ECNet on the
  relaxed structures (its V0 is read from its input), the quadratic-composition ridge fitted on
  train + validation, and the cell volume per atom (V0 only).
* ``augmentation``: the same at ``--ablation-fraction`` of each split's training *and*
  validation compositions, the ECNet retrained on that subset (so that no left-out label
  reaches the MLP); the MLP is read on the real ECNet features of the structures. Every arm is
  scored on the subsampled validation part; the test part scores the real-only MLP and the
  augmented arm that validation picked.
* ``calibration``: :func:`eftgan.ensemble.test_report` of the shipped EFTGAN ensemble.
* ``speed``: compositions per second per phase of :meth:`Screener.iter_screen`, and the wall
  time of ``eftgan explore --elements Fe,Ni,Co,Cr,Mn`` at step 0.05 end to end (a subprocess,
  start-up included); step 0.01 comes from ``benchmarks/explore_large.py``.

    python benchmarks/eftgan_benchmark.py [--seeds 5] [--jobs 2] [--quick]
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (
    PHASES,
    RESULTS,
    SHARED,
    SHORT,
    ensemble_calibration,
    judged,
    machine,
    phase_metrics,
    pooled,
    refresh_calibration,
    subsample,
    summary,
    write_json,
)

DATA = SHARED / "datasets" / "fenicocrmnpd_dft"
GOAL_20 = -15.0  # the goal: augmentation lowers Eform MAE by >= 15 % at 20 % data
V0_NOTE = (
    "ECNet's V0 is read from its input (the relaxed cell's volume per atom is the V0 label), "
    "as is the cell_volume_per_atom row; the structure-free EFTGAN's V0, from composition "
    "alone, is the skill."
)
PROTOCOL = (
    "Splits: {seeds} random 80/10/10 splits of the compositions (split seeds 0-{last}; fcc "
    "and bcc of a composition on one side), flagged entries excluded and rmsd masked on "
    "sheared cells (eftgan.validate.clean). On each split: an ECNet trained on the training "
    "part ({epochs} epochs at most, patience {patience}, validation for early stopping), an "
    "EFTGAN ({gan_steps} GAN steps) on that ECNet's features of the training structures, and "
    "the property MLP fitted in each arm ({arms}). Design choice on validation only: the arm "
    "with the lowest structure-free validation score (MAE over the six targets and both "
    "phases, each divided by the training part's standard deviation of the target) is "
    "picked; only the picked arm is read on the test part, once, at the end; the other arms' "
    "validation scores are kept. Baselines on the same test structures: ECNet on the relaxed "
    "structures (V0 read from its input), the quadratic-composition ridge fitted on training "
    "+ validation, the cell volume per atom (V0). Figures: mean over splits, sample standard "
    "deviation and 95 % confidence interval of the mean (Student t). Augmentation ablation: "
    "{ablation} of each split's training and validation compositions (seeded, by "
    "composition), the ECNet and the EFTGAN retrained on them, the MLP read on real ECNet "
    "features; all arms scored on the subsampled validation part, the test part read for the "
    "real-only arm and the augmented arm validation picked. Calibration: the shipped EFTGAN "
    "ensemble on its own test split (one split, seed 0)."
)


def load():
    """The shared dataset with flagged entries excluded and rmsd masked on sheared cells."""
    from eftgan.dataset import load_dataset
    from eftgan.validate import clean

    return clean(load_dataset(DATA))


def arms(args: argparse.Namespace) -> dict[str, tuple[int, int]]:
    """The MLP arms compared on validation: ``name -> (augmentation rounds, generated draws
    per training composition)``; ``draws`` is the shipped recipe."""
    return {
        "real_only": (0, 0),
        "corrected": (args.rounds, 0),
        "draws": (0, args.gen_draws),
        "both": (args.rounds, args.gen_draws),
    }


def parse_args() -> argparse.Namespace:
    """The command-line settings (``--quick``: 2 splits, few epochs and steps, a smoke run)."""
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--seeds", type=int, default=5, help="splits (seeds 0..n-1)")
    ap.add_argument("--epochs", type=int, default=300)
    ap.add_argument("--patience", type=int, default=50)
    ap.add_argument("--gan-steps", type=int, default=3000)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--n-aug", type=int, default=400)
    ap.add_argument("--gen-draws", type=int, default=8)
    ap.add_argument("--n-z", type=int, default=16, help="generator draws per prediction")
    ap.add_argument("--ablation-fraction", type=float, default=0.2, help="0 skips the ablation")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--skip-explore", action="store_true")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--cache", default=None, help="folder keeping each finished job's result")
    ap.add_argument("--out", default="eftgan.json", help="file in benchmarks/results/")
    ap.add_argument(
        "--calibration-only",
        action="store_true",
        help="re-measure only the shipped ensemble's calibration block of an existing results file",
    )
    ap.add_argument(
        "--speed-only",
        action="store_true",
        help="re-measure only the speed section (on a quiet machine) and keep the rest",
    )
    args = ap.parse_args()
    if args.quick:
        args.seeds, args.epochs, args.gan_steps, args.n_aug = 2, 3, 50, 50
    return args


def speed_only(args: argparse.Namespace) -> None:
    """Re-measure the speed section of the existing results file and keep the rest."""
    report = json.loads((RESULTS / args.out).read_text())
    report["speed"] = measure_speed(args.skip_explore)
    report["speed"]["machine"] = machine()
    print(write_json(args.out, report))
    print(json.dumps(report["speed"], indent=1))


# --- one split, in a worker process -----------------------------------------------------------


def train_pair(ds: Any, tmp: Path, job: dict[str, Any]) -> tuple[Any, Any, dict[str, Any]]:
    """ECNet on the job's split, then the EFTGAN (shipped recipe) on its training features;
    the ECNet model, the Screener and the wall times."""
    from eftgan.explore import Screener
    from eftgan.model import ECNetModel
    from eftgan.pipeline import EFTGANTrainConfig, train_eftgan
    from eftgan.train import TrainConfig, Trainer

    t0 = time.perf_counter()
    tc = TrainConfig(seed=job["seed"], max_epochs=job["epochs"], patience=job["patience"])
    split = (job["train"], job["val"], job["test"])
    res = Trainer(ds, tmp / "ecnet", train_config=tc, split=split, progress=False).run()
    ecnet = ECNetModel.from_folder(tmp / "ecnet")
    t1 = time.perf_counter()
    gc = EFTGANTrainConfig(
        seed=job["seed"],
        gan_steps=job["gan_steps"],
        rounds=0,
        n_aug=job["n_aug"],
        gen_draws=job["arms"]["draws"][1],
    )
    names = [ds[i].name for i in job["train"]]
    train_eftgan(ecnet, ds, tmp / "eftgan", gc, progress=False, train_names=names)
    walls = {"ecnet_s": t1 - t0, "ecnet_epochs": res.epochs, "eftgan_s": time.perf_counter() - t1}
    return ecnet, Screener.load(tmp / "eftgan"), walls


def arm_mlps(ecnet: Any, ds: Any, sc: Any, job: dict[str, Any]) -> tuple[dict[str, Any], Any]:
    """The property MLP of every arm, fitted on the job's training features exactly as
    :func:`train_eftgan` fits its own (same scaling, seed and generator); the scaling."""
    from eftgan.augment import augmented_fit
    from eftgan.dataset import Dataset
    from eftgan.pipeline import Arrays, Scaling

    a = Arrays(ecnet, Dataset([ds[i] for i in job["train"]], ds.source, ds.data_hash))
    scl = Scaling.of(a)
    g = sc.members[0].g
    mlps = {}
    for name, (rounds, draws) in job["arms"].items():
        if (rounds, draws) == (0, job["arms"]["draws"][1]):
            mlps[name] = sc.members[0].mlp  # the folder's own MLP, the same fit
            continue
        mlps[name] = augmented_fit(
            g, scl.f, a.c, a.phase, scl.y, rounds, job["n_aug"], seed=job["seed"], gen_draws=draws
        ).eval()
    return mlps, scl


def free_predict(sc: Any, mlp: Any, entries: list[Any], n_z: int) -> np.ndarray:
    """Structure-free predictions (len(entries), targets) with ``mlp`` as the property MLP."""
    sc.members[0].mlp = mlp
    out = np.full((len(entries), len(sc.targets)), np.nan)
    for p in PHASES:
        rows = [k for k, e in enumerate(entries) if e.phase == p]
        if rows:
            df = sc.predict([entries[k].fractions for k in rows], phase=p, n_z=n_z, seed=0)
            out[rows] = df[list(sc.targets)].to_numpy()
    return out


def real_predict(ecnet: Any, scl: Any, mlp: Any, entries: list[Any]) -> np.ndarray:
    """The MLP read on the real ECNet features of ``entries``, physical units."""
    import torch

    from eftgan.dataset import Dataset
    from eftgan.pipeline import Arrays

    a = Arrays(ecnet, Dataset(entries, "", ""))
    f = ((a.f - scl.f_mean) / scl.f_std) * (a.c > 0)[:, :, None]
    with torch.no_grad():
        return (mlp(f, a.c, a.phase) * scl.y_std + scl.y_mean).numpy()


def score(p: np.ndarray, y: np.ndarray, y_std: np.ndarray) -> float:
    """Mean over targets of the MAE divided by the training standard deviation (both phases;
    a target without a label in ``y`` is left out)."""
    err = np.abs(p - y)
    ok = np.isfinite(err)
    per = [err[ok[:, j], j].mean() / y_std[j] for j in range(len(y_std)) if ok[:, j].any()]
    return float(np.mean(per))


def run_split(job: dict[str, Any]) -> dict[str, Any]:
    """Worker: train and score one split (``job["kind"]`` is ``free`` or ``ablation``)."""
    import torch

    torch.set_num_threads(job["threads"])
    ds = load()
    val, test = [ds[i] for i in job["val"]], [ds[i] for i in job["test"]]
    y_val = ds.targets()[job["val"]]
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        ecnet, sc, walls = train_pair(ds, Path(tmp), job)
        mlps, scl = arm_mlps(ecnet, ds, sc, job)
        y_std = scl.y_std.numpy()
        if job["kind"] == "free":
            val_scores = {
                k: score(free_predict(sc, m, val, job["n_z"]), y_val, y_std)
                for k, m in mlps.items()
            }
            pick = min(val_scores, key=val_scores.__getitem__)
            preds = {"eftgan": free_predict(sc, mlps[pick], test, job["n_z"])}
            rows = ecnet.predict_structures([e.structure for e in test], [e.phase for e in test])
            preds["ecnet"] = np.array([[r[t] for t in ecnet.targets] for r in rows])
        else:
            val_scores = {
                k: score(real_predict(ecnet, scl, m, val), y_val, y_std) for k, m in mlps.items()
            }
            aug = {k: v for k, v in val_scores.items() if k != "real_only"}
            pick = min(aug, key=aug.__getitem__)
            preds = {k: real_predict(ecnet, scl, mlps[k], test) for k in ("real_only", pick)}
    walls["total_s"] = time.perf_counter() - t0
    return {
        "key": job["key"],
        "val_scores": val_scores,
        "picked": pick,
        "pred": {k: v.tolist() for k, v in preds.items()},
        "walls": walls,
    }


# --- the whole run, in the main process -------------------------------------------------------

Split = tuple[list[int], list[int], list[int]]


def plan_jobs(args: argparse.Namespace, ds: Any) -> tuple[list[dict[str, Any]], dict[str, Split]]:
    """One ``free`` job per split and one ``ablation`` job per split (unless the fraction is
    0), longest first; the splits by job key."""
    from eftgan.dataset import split_by_composition

    common = {
        "epochs": args.epochs,
        "patience": args.patience,
        "gan_steps": args.gan_steps,
        "n_aug": args.n_aug,
        "n_z": args.n_z,
        "arms": arms(args),
        "threads": 1 if args.jobs > 1 else 2,
    }
    jobs: list[dict[str, Any]] = []
    splits: dict[str, Split] = {}
    for s in range(args.seeds):
        tr, va, te = split_by_composition(ds, (0.8, 0.1, 0.1), seed=s)
        splits[f"free/{s}"] = (tr, va, te)
        if args.ablation_fraction > 0:
            tr_f = subsample(ds, tr, args.ablation_fraction, 10_000 + s)
            va_f = subsample(ds, va, args.ablation_fraction, 20_000 + s)
            splits[f"ablation/{s}"] = (tr_f, va_f, te)
    for key, (tr, va, te) in splits.items():
        kind, seed = key.split("/")
        job = {"key": key, "kind": kind, "seed": int(seed), "train": tr, "val": va, "test": te}
        jobs.append({**job, **common})
    jobs.sort(key=lambda j: -len(j["train"]))
    return jobs, splits


def run_jobs(
    jobs: list[dict[str, Any]], workers: int, cache: Path | None = None
) -> dict[str, dict[str, Any]]:
    """Every job in a process pool; results by job key. With ``cache``, each finished job is
    written there (``<key>.json``, with the job's settings) and reused by a later run with the
    same settings, so that a failure after training costs no retraining."""
    out: dict[str, dict[str, Any]] = {}
    todo = []
    for job in jobs:
        path = cache / f"{job['key'].replace('/', '_')}.json" if cache else None
        saved = json.loads(path.read_text()) if path and path.is_file() else None
        if saved and saved.get("job") == json.loads(json.dumps(job)):
            out[job["key"]] = saved["result"]
        else:
            todo.append(job)
    with ProcessPoolExecutor(max_workers=workers) as pool:
        for n, (job, r) in enumerate(zip(todo, pool.map(run_split, todo), strict=True), start=1):
            out[r["key"]] = r
            if cache:
                cache.mkdir(parents=True, exist_ok=True)
                name = f"{job['key'].replace('/', '_')}.json"
                (cache / name).write_text(json.dumps({"job": job, "result": r}))
            w = r["walls"]
            print(
                f"[{n}/{len(todo)}] {r['key']}: ECNet {w['ecnet_epochs']} epochs "
                f"{w['ecnet_s']:.0f} s, EFTGAN {w['eftgan_s']:.0f} s, total {w['total_s']:.0f} s, "
                f"picked {r['picked']}",
                flush=True,
            )
    return out


def structure_free(
    args: argparse.Namespace, ds: Any, splits: dict[str, Split], results: dict[str, Any]
) -> dict[str, Any]:
    """Test scores over splits: the validation-picked EFTGAN arm from composition alone,
    ECNet on the structures, the ridge, the cell volume (V0); and the selections."""
    from eftgan.baselines import CompositionRidge

    y_all, fr = ds.targets(), [e.fractions for e in ds]
    ph = [e.phase for e in ds]
    v_cell = np.array([e.structure.volume / len(e.structure) for e in ds])
    per: dict[str, list[dict[str, Any]]] = {}
    for s in range(args.seeds):
        tr, va, te = splits[f"free/{s}"]
        r, fit = results[f"free/{s}"], list(tr) + list(va)
        ridge = CompositionRidge(ds.elements).fit(
            [fr[i] for i in fit], [ph[i] for i in fit], y_all[fit]
        )
        cell = np.full((len(te), len(SHORT)), np.nan)
        cell[:, SHORT.index("v0")] = v_cell[te]
        preds = {
            "eftgan_structure_free": np.array(r["pred"]["eftgan"]),
            "ecnet_structure_based": np.array(r["pred"]["ecnet"]),
            "ridge_quadratic_composition": ridge.predict([fr[i] for i in te], [ph[i] for i in te]),
            "cell_volume_per_atom": cell,
        }
        for name, p in preds.items():
            per.setdefault(name, []).append(phase_metrics(y_all[te], p, [ph[i] for i in te]))
    out: dict[str, Any] = {name: pooled(v) for name, v in per.items()}
    out["v0_note"] = V0_NOTE
    out["selection"] = {
        str(s): {
            "picked": results[f"free/{s}"]["picked"],
            "validation_scores": results[f"free/{s}"]["val_scores"],
        }
        for s in range(args.seeds)
    }
    out["n_test_structures_per_split"] = [len(splits[f"free/{s}"][2]) for s in range(args.seeds)]
    out.update(catalog_summary(per["eftgan_structure_free"], out["n_test_structures_per_split"]))
    return out


def catalog_summary(per_seed: list[dict[str, Any]], n_test: list[int]) -> dict[str, Any]:
    """The flat keys ``eftgan.catalog`` reads: structure-free MAE per target over both
    phases (entry-weighted within a split, then averaged over splits)."""
    flat = {}
    for t in SHORT:
        vals = []
        for m in per_seed:
            n = sum(m[p][t]["n"] for p in PHASES)
            vals.append(
                sum(m[p][t]["mae"] * m[p][t]["n"] for p in PHASES if m[p][t]["n"]) / n
                if n
                else math.nan
            )
        flat[t] = float(np.nanmean(vals))
    return {
        "eftgan_generator_mlp": flat,
        "eftgan_generator_mlp_note": "both phases pooled, mean over splits (for eftgan.catalog)",
        "n_test_structures": int(round(np.mean(n_test))),
        "gan_seeds": len(per_seed),
    }


def augmentation(
    args: argparse.Namespace, ds: Any, splits: dict[str, Split], results: dict[str, Any]
) -> dict[str, Any]:
    """The ablation at ``--ablation-fraction``: real-only against the validation-picked
    augmented arm on each split's test part, the paired relative change of Eform MAE."""
    y_all, ph = ds.targets(), [e.phase for e in ds]
    j = SHORT.index("eform")
    real, picked, change, selection = [], [], [], {}
    for s in range(args.seeds):
        r, te = results[f"ablation/{s}"], splits[f"ablation/{s}"][2]
        phases = [ph[i] for i in te]
        a = phase_metrics(y_all[te], np.array(r["pred"]["real_only"]), phases)
        b = phase_metrics(y_all[te], np.array(r["pred"][r["picked"]]), phases)
        real.append(a)
        picked.append(b)
        mae = [
            float(np.nanmean(np.abs(np.array(r["pred"][k])[:, j] - y_all[te, j])))
            for k in ("real_only", r["picked"])
        ]
        change.append(100.0 * (mae[1] / mae[0] - 1.0))
        selection[str(s)] = {
            "picked": r["picked"],
            "validation_scores": r["val_scores"],
            "n_train": len(splits[f"ablation/{s}"][0]),
            "n_validation": len(splits[f"ablation/{s}"][1]),
        }
    rel = summary(change)
    return {
        "fraction": args.ablation_fraction,
        "real_only": pooled(real),
        "augmented_picked": pooled(picked),
        "eform_relative_change_pct": rel,
        "goal": {
            "figure": "Eform MAE change, both phases, at the fraction",
            **judged(rel, GOAL_20),
        },
        "selection": selection,
        "note": "the ECNet, GAN and MLP see only the subsampled training compositions; the "
        "MLP is read on real ECNet features; the other fractions (40/60/100 %) of the earlier "
        "ablation are not run, to keep the benchmark within about 35 minutes on 2 cores",
    }


def settings(args: argparse.Namespace, results: dict[str, Any]) -> dict[str, Any]:
    """The run's settings and per-job wall times."""
    return {
        **{
            k: v
            for k, v in vars(args).items()
            if k not in ("speed_only", "calibration_only", "out", "cache")
        },
        "arms": arms(args),
        "walls_per_job": {
            k: {n: round(v, 1) for n, v in r["walls"].items()} for k, r in results.items()
        },
    }


def protocol(args: argparse.Namespace) -> str:
    """:data:`PROTOCOL` with this run's numbers."""
    return PROTOCOL.format(
        seeds=args.seeds,
        last=args.seeds - 1,
        epochs=args.epochs,
        patience=args.patience,
        gan_steps=args.gan_steps,
        arms=", ".join(f"{k}: {r} rounds, {d} draws" for k, (r, d) in arms(args).items()),
        ablation=f"{args.ablation_fraction * 100:.0f} %",
    )


def main() -> None:
    """Train and score every split, calibrate, time; write benchmarks/results/eftgan.json."""
    import torch

    args = parse_args()
    torch.set_num_threads(2)
    if args.speed_only:
        speed_only(args)
        return
    if args.calibration_only:
        refresh_calibration(args.out, "eftgan", load())
        return
    t_start = time.perf_counter()
    ds = load()
    jobs, splits = plan_jobs(args, ds)
    results = run_jobs(jobs, args.jobs, Path(args.cache) if args.cache else None)
    report: dict[str, Any] = {"protocol": protocol(args)}
    report["structure_free"] = structure_free(args, ds, splits, results)
    if args.ablation_fraction > 0:
        report["augmentation"] = augmentation(args, ds, splits, results)
    t0 = time.perf_counter()
    report["calibration"] = ensemble_calibration("eftgan", ds)
    report["calibration"]["wall_s"] = time.perf_counter() - t0
    report["speed"] = measure_speed(args.skip_explore)
    report["settings"] = settings(args, results)
    report["benchmark_wall_s"] = time.perf_counter() - t_start
    report["machine"] = machine()
    print(write_json(args.out, report))


def measure_speed(skip_explore: bool) -> dict[str, Any]:
    """Compositions per second per phase (shipped default, all members), and ``eftgan explore``
    at step 0.05 end to end; the step-0.01 figures of ``explore_large.py`` are kept."""
    import torch

    from eftgan.explore import Screener, default_n_z
    from eftgan.paths import default_model_dir

    torch.set_num_threads(2)
    sc = Screener.load()
    els = ["Fe", "Ni", "Co", "Cr", "Mn"]
    list(sc.iter_screen(els, 0.1))  # warm-up
    t0 = time.perf_counter()
    n = sum(len(df) for df in sc.iter_screen(els, 0.05, phases=("fcc",)))
    rate = n / (time.perf_counter() - t0)
    speed: dict[str, Any] = {"compositions_per_s": rate, "threads": 2}
    speed["model"], speed["members"] = default_model_dir("eftgan").name, len(sc.members)
    speed["n_z"] = default_n_z(len(sc.members), None) * len(sc.members)
    if not skip_explore:
        speed.update(explore_walls(els))
    # Step 0.01 takes over half an hour: benchmarks/explore_large.py measures it and merges its
    # figures into eftgan.json; keep them across runs of this script.
    old = RESULTS / "eftgan.json"
    prev = json.loads(old.read_text()).get("speed", {}) if old.is_file() else {}
    for k in ("explore_step001_wall_s", "explore_step001_peak_rss_mb", "explore_step001_how"):
        speed[k] = prev.get(k, "not measured")
    return speed


def explore_walls(els: list[str]) -> dict[str, Any]:
    """``eftgan explore`` at step 0.05 three times in a subprocess: the median wall time."""
    with tempfile.TemporaryDirectory() as tmp:
        walls = []
        for k in range(3):
            t0 = time.perf_counter()
            exe = str(Path(sys.executable).parent / "eftgan")
            cmd = [exe, "explore", "--elements", ",".join(els), "--out", f"{tmp}/e{k}"]
            subprocess.run(cmd, check=True, capture_output=True)
            walls.append(time.perf_counter() - t0)
    return {"explore_step005_wall_s": float(np.median(walls)), "explore_step005_wall_s_all": walls}


if __name__ == "__main__":
    main()
