"""Deep ensembles on composition-disjoint splits: accuracy and calibrated uncertainty of the
ECNet ensemble (from structures) and the EFTGAN ensemble (from compositions alone).

Writes benchmarks/results/ensemble.json. On each split seed ``s`` (0..``--seeds``-1) it runs
:func:`eftgan.ensemble.train_ensemble` with ``EnsembleTrainConfig(seed=s)`` (the recipe of the
shipped ensembles: 5 members, each on 90 % of the training compositions, spread calibrated per
phase and target on that split's validation part) and reads the split's test part once:

* MAE and RMSE of the ensemble mean and of member 0 alone, per phase and target, summarised
  over seeds (mean, sd, 95 % CI of the mean);
* the quaternary + quinary part of the test sets (RMSE);
* coverage of ±1σ and ±2σ and the Spearman correlation of |error| with σ, per seed and pooled
  over the test entries of every split;
* verdicts against the anchors of ``benchmarks/ecnet_accuracy.py``.

Members train into ``--cache`` (resumable: a finished member is reused, so a killed run goes
on where it stopped); ``--reuse-split0 DIR`` takes the members of an ensemble already trained
with the default recipe on split 0 (the shipped one, for instance).

    python benchmarks/ensemble_benchmark.py [--seeds 5] [--cache DIR] [--quick]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import PHASES, REPO, SHORT, judged, machine, summary, write_json
from ecnet_accuracy import ANCHORS, DATA, LABEL, load

KINDS = ("ecnet", "eftgan")
PROTOCOL = (
    "Splits: {seeds} random 80/10/10 splits of the compositions (split seeds 0-{last}; both "
    "phases of a composition on one side), flagged entries excluded and rmsd masked on sheared "
    "cells (eftgan.validate.clean). On each split eftgan.ensemble.train_ensemble trains "
    "{members} ECNet/EFTGAN member pairs (member k: seed s+k, a seeded {subsample:.0%} of the "
    "training compositions, early stopping on the split's validation part), then fits one "
    "spread factor per target on that validation part (eftgan.ensemble.calibration_factor). "
    "That recalibration was chosen among six (calibration_designs) by leave-one-out coverage "
    "on the validation parts of these splits, before any test part was read; the members were "
    "trained first, the test parts read once, after calibration. MAE/RMSE/coverage/Spearman "
    "are computed per split and summarised over splits (mean, sample sd, 95 % CI of the mean, "
    "Student t); 'pooled' coverage counts the test entries of all splits together. Verdicts: "
    "met if the CI's upper end is below the anchor, missed if its lower end is above, within "
    "noise otherwise. The rest of the recipe is the package default, chosen nowhere here."
)


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, default=5, help="splits (seeds 0..n-1)")
    ap.add_argument("--members", type=int, default=5)
    ap.add_argument("--cache", default=str(REPO / "benchmarks" / ".cache" / "ensemble"))
    ap.add_argument("--reuse-split0", default=None, help="an ensemble run folder of split 0")
    ap.add_argument("--quick", action="store_true", help="2 seeds, 2 members, short training")
    ap.add_argument("--out", default="ensemble.json", help="file in benchmarks/results/")
    ap.add_argument(
        "--designs-only",
        action="store_true",
        help="print the validation comparison of spread recalibrations and stop (no test read)",
    )
    return ap.parse_args()


def config(args: argparse.Namespace, seed: int) -> Any:
    """The ensemble recipe of split ``seed`` (the package defaults unless ``--quick``)."""
    from eftgan.ensemble import EnsembleTrainConfig

    if args.quick:
        return EnsembleTrainConfig(
            members=args.members, seed=seed, epochs=15, patience=5, gan_steps=200
        )
    return EnsembleTrainConfig(members=args.members, seed=seed)


def train_split(args: argparse.Namespace, ds: Any, flagged: list[str], seed: int) -> Path:
    """Train (or reuse) the ensembles of split ``seed``; their run folder."""
    from eftgan.ensemble import train_ensemble

    out = Path(args.cache) / f"split{seed}"
    if seed == 0 and args.reuse_split0 and not (out / "members").exists():
        shutil.copytree(Path(args.reuse_split0) / "members", out / "members")
    t0 = time.perf_counter()
    train_ensemble(ds, out, config(args, seed), flagged, progress=True)
    print(f"split {seed}: ensembles ready in {time.perf_counter() - t0:.0f} s", flush=True)
    return out


def test_errors(folder: Path, kind: str, ds: Any, n_z: int) -> dict[str, np.ndarray]:
    """Errors and spreads (N, T) of the ensemble mean and of member 0 on the folder's test
    split, with the entries' phases and element counts."""
    from eftgan.ensemble import test_predictions

    test, mean, std, one, _ = test_predictions(folder, kind, ds, n_z)
    y = ds.targets()[test]
    return {
        "err": mean - y,
        "std": std,
        "err_member0": one - y,
        "phase": np.array([ds[i].phase for i in test]),
        "n_elements": np.array([len(ds[i].fractions) for i in test]),
    }


#: Spread recalibrations compared on validation data (leave-one-out within each split's
#: validation part): the factor is the RMS of the standardised errors |z|, their 68.27th
#: percentile, or the geometric mean of that percentile and half the 95.45th ("two
#: quantiles", a compromise for heavy tails), fitted per phase and target or per target over
#: both phases.
DESIGNS = {
    "rms_per_phase_target": ("rms", True),
    "rms_per_target": ("rms", False),
    "quantile_per_phase_target": ("quantile", True),
    "quantile_per_target": ("quantile", False),
    "two_quantiles_per_phase_target": ("two_quantiles", True),
    "two_quantiles_per_target": ("two_quantiles", False),
}


def validation_spreads(folder: Path, kind: str, ds: Any, n_z: int) -> dict[str, np.ndarray]:
    """Errors and *uncalibrated* spreads (N, T) of an ensemble on its validation split."""
    from eftgan.checkpoint import load as load_model
    from eftgan.checkpoint import read_model_folder
    from eftgan.ensemble import entry_indices, predict_entries

    m = read_model_folder(folder, kind)[0]["model"]
    val = entry_indices(ds, m["split"]["validation"])
    mean, std, targets = predict_entries(load_model(folder), ds, val, n_z)
    phase = np.array([ds[i].phase for i in val])
    factor = m["calibration"]["factor"]
    raw = std / np.array([[factor[p][t] for t in targets] for p in phase])
    return {"err": mean - ds.targets()[val], "std": raw, "phase": phase}


def _factor(z: np.ndarray, how: str) -> float:
    """The spread factor of standardised errors ``z`` under recalibration ``how``."""
    from eftgan.ensemble import calibration_factor

    z = np.abs(z[np.isfinite(z)])
    if not len(z):
        return 1.0
    if how == "rms":
        return float(np.sqrt(np.mean(z**2)))
    if how == "quantile":
        return float(np.quantile(z, 0.6827))
    return calibration_factor(z, np.ones_like(z))  # two quantiles: the package's


def loo_coverage(v: dict[str, np.ndarray], how: str, per_phase: bool) -> np.ndarray:
    """Per entry and target: |z| of each validation entry under the factor fitted on the
    others (of its phase when ``per_phase``); NaN where there is no label or spread."""
    z = v["err"] / np.where(v["std"] > 0, v["std"], np.nan)
    out = np.full(z.shape, np.nan)
    for i in range(len(z)):
        others = np.arange(len(z)) != i
        if per_phase:
            others &= v["phase"] == v["phase"][i]
        for j in range(z.shape[1]):
            out[i, j] = abs(z[i, j]) / _factor(z[others, j], how)
    return out


BANDS = {"coverage_1sigma": (0.60, 0.76), "coverage_2sigma": (0.90, 0.98)}


def calibration_designs(vals: dict[str, list[dict]]) -> dict[str, Any]:
    """Leave-one-out coverage of ±1σ/±2σ on the validation parts, per design, kind and
    target; the design with the most (kind, target) cells inside both goal bands, ties
    broken by the mean distance to the nominal 0.6827 and 0.9545. The package's
    :func:`eftgan.ensemble.calibration_factor` is the design this picked."""
    out: dict[str, Any] = {}
    for name, (how, per_phase) in DESIGNS.items():
        row: dict[str, Any] = {}
        for kind, vs in vals.items():
            z = np.concatenate([loo_coverage(v, how, per_phase) for v in vs])
            ok = np.isfinite(z)
            row[kind] = {
                t: {
                    "coverage_1sigma": float(np.mean(z[ok[:, j], j] <= 1)),
                    "coverage_2sigma": float(np.mean(z[ok[:, j], j] <= 2)),
                    "n": int(ok[:, j].sum()),
                }
                for j, t in enumerate(SHORT)
                if ok[:, j].any()
            }
        cells = [m for kind in vals for m in row[kind].values()]
        row["in_both_bands"] = sum(
            all(lo <= m[k] <= hi for k, (lo, hi) in BANDS.items()) for m in cells
        )
        row["cells"] = len(cells)
        row["distance"] = float(
            np.mean(
                [
                    abs(m["coverage_1sigma"] - 0.6827) + abs(m["coverage_2sigma"] - 0.9545)
                    for m in cells
                ]
            )
        )
        out[name] = row
    best = max(DESIGNS, key=lambda k: (out[k]["in_both_bands"], -out[k]["distance"]))
    return {
        "designs": out,
        "chosen": best,
        "how": (
            "each validation entry's |error|/spread under the factor fitted on the other "
            "validation entries of its split (and phase, for the per-phase designs), pooled "
            "over splits; chosen: the most (kind, target) cells with both coverages in the goal "
            "bands 0.60-0.76 and 0.90-0.98, then the smallest mean |cov1 - 0.6827| + "
            "|cov2 - 0.9545|"
        ),
    }


def split_metrics(e: dict[str, np.ndarray]) -> dict[str, Any]:
    """Per phase and target: the test metrics of one split (plus quaternary + quinary RMSE)."""
    from eftgan.ensemble import uncertainty_metrics

    out: dict[str, Any] = {}
    for p in PHASES:
        m = e["phase"] == p
        hi = m & (e["n_elements"] >= 4)
        out[p] = {}
        for j, t in enumerate(SHORT):
            row = uncertainty_metrics(e["err"][m, j], e["std"][m, j])
            row["mae_member0"] = float(np.nanmean(np.abs(e["err_member0"][m, j])))
            hi_err = e["err"][hi, j][np.isfinite(e["err"][hi, j])]
            row["rmse_quaternary_quinary"] = (
                float(np.sqrt(np.mean(hi_err**2))) if len(hi_err) else None
            )
            out[p][t] = row
    return out


def summarise(per_split: list[dict[str, Any]], pooled_err: list[dict]) -> dict[str, Any]:
    """Every per-split metric summarised over splits; coverage also pooled over entries."""
    from eftgan.ensemble import uncertainty_metrics

    keys = (
        "mae",
        "rmse",
        "mae_member0",
        "rmse_quaternary_quinary",
        "coverage_1sigma",
        "coverage_2sigma",
        "spearman_abs_err_sigma",
    )
    out: dict[str, Any] = {}
    for p in PHASES:
        out[p] = {}
        for j, t in enumerate(SHORT):
            row = {k: summary([s[p][t].get(k) for s in per_split]) for k in keys}
            err = np.concatenate([e["err"][e["phase"] == p, j] for e in pooled_err])
            std = np.concatenate([e["std"][e["phase"] == p, j] for e in pooled_err])
            row["pooled"] = uncertainty_metrics(err, std)
            out[p][t] = row
    return out


def verdicts(report: dict[str, Any]) -> list[dict[str, Any]]:
    """The anchors of ecnet_accuracy.py against each ensemble's mean and 95 % CI."""
    out = []
    for kind in KINDS:
        r = report[kind]
        for source in ("ecnet_paper_random_mae", "issue_goal_random_mae"):
            for p, per in ANCHORS[source].items():
                for t, a in per.items():
                    fig = f"{kind} ensemble: {LABEL[t]} MAE {p}, random splits"
                    out.append(
                        {"anchor_source": source, "figure": fig, **judged(r[p][t]["mae"], a)}
                    )
        for source in (
            "cluster_expansion_quaternary_quinary_rmse",
            "issue_goal_quaternary_quinary_rmse",
        ):
            for p in PHASES:
                for t, a in ANCHORS[source].items():
                    s = r[p][t]["rmse_quaternary_quinary"]
                    fig = f"{kind} ensemble: {LABEL[t]} RMSE {p}, quaternary + quinary"
                    out.append({"anchor_source": source, "figure": fig, **judged(s, a)})
    return out


def runs(args: argparse.Namespace) -> list[tuple[Any, Path]]:
    """``(recipe, ensemble folder)`` of each kind and split, in split order."""
    out = []
    for seed in range(args.seeds):
        cfg = config(args, seed)
        out += [(cfg, Path(args.cache) / f"split{seed}" / name) for name in cfg.names]
    return out


def member_walls(args: argparse.Namespace) -> float:
    """Training wall time of every ECNet member in the cache, summed (s), as each member's
    ``training.json`` recorded it when it was trained (this run may have reused them)."""
    paths = Path(args.cache).glob("split*/members/ecnet-*/training.json")
    return float(sum(json.loads(p.read_text()).get("wall_s", 0.0) for p in paths))


def main() -> None:
    """Train every split's ensembles; compare spread recalibrations on validation; read each
    test part once; write the JSON."""
    args = parse_args()
    if args.quick:
        args.seeds, args.members = min(args.seeds, 2), min(args.members, 2)
    if not (DATA / "labels.csv").is_file():
        sys.exit(f"shared dataset not found at {DATA}")
    t_start = time.perf_counter()
    ds, flagged = load()
    walls = {}
    for seed in range(args.seeds):
        t0 = time.perf_counter()
        train_split(args, ds, flagged, seed)
        walls[seed] = round(time.perf_counter() - t0, 1)
    kinds = KINDS * args.seeds
    vals: dict[str, list] = {k: [] for k in KINDS}
    for kind, (cfg, folder) in zip(kinds, runs(args), strict=True):
        vals[kind].append(validation_spreads(folder, kind, ds, cfg.n_z))
    designs = calibration_designs(vals)
    if args.designs_only:
        print(json.dumps(designs, indent=1))
        return
    errors: dict[str, list] = {k: [] for k in KINDS}
    for kind, (cfg, folder) in zip(kinds, runs(args), strict=True):
        errors[kind].append(test_errors(folder, kind, ds, cfg.n_z))
    recipe = config(args, 0)
    report: dict[str, Any] = {
        "protocol": PROTOCOL.format(
            seeds=args.seeds, last=args.seeds - 1, members=args.members, subsample=recipe.subsample
        )
    }
    for kind in KINDS:
        report[kind] = summarise([split_metrics(e) for e in errors[kind]], errors[kind])
    report["calibration_designs"] = designs
    report["anchors"] = ANCHORS
    report["verdicts"] = verdicts(report)
    report["settings"] = {
        **recipe.as_dict(),
        "seeds": args.seeds,
        "quick": args.quick,
        "wall_s_per_split": walls,
        "reused_split0": args.reuse_split0 is not None,
        "ecnet_members_training_wall_s": member_walls(args),
    }
    report["benchmark_wall_s"] = time.perf_counter() - t_start
    report["machine"] = machine()
    print(f"wrote {write_json(args.out, report)}")


if __name__ == "__main__":
    main()
