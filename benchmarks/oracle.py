"""The CHGNet oracle of ``eftgan data label`` against DFT, on Al_x CoCrFeNi, and its speed.

Protocol (fixed before the run); writes benchmarks/results/oracle.json:

* ``oracle_vs_dft``: every entry of the DFT table (../shared/datasets/fenicocrmnpd_dft) that
  ``eftgan data validate`` does not flag, relaxed by the oracle from its DFT-relaxed cell
  (positions and cell, FIRE, fmax 0.05 eV/Å, at most 500 steps: tighter than ``data label``'s
  defaults, since these cells start near a minimum) and labelled as ``data label`` labels
  (references: the oracle's own relaxed pure elements). Per phase and target: the MAE
  against DFT, and ``mae_refit``, the MAE after a linear refit of the elemental references
  (``dft - oracle ~ sum_e x_e d_e``, one ``d_e`` per element, fitted by least squares on four
  fifths of the compositions and scored on the held-out fifth, 5 folds grouped by composition,
  so no composition is scored by a fit that saw it). Ms is compared as it comes: the oracle
  gives the mean moment magnitude, DFT the net moment. The entries are relaxed in a seeded
  random order; a run stopped by ``--budget-min`` reports the longest complete prefix of that
  order (a uniform subsample, ``complete`` false) and the next run continues it.
* ``alcocrfeni``: Al_x CoCrFeNi for x in 0, 0.25, ..., 2 (except 1.75). Predicted by the
  shipped EFTGAN that ``eftgan explore --elements Al,Co,Cr,Fe,Ni`` picks (E(bcc) - E(fcc)
  per atom, lattice constants from the predicted volume, moments), and, under ``oracle``, the
  oracle's own labels: each x on the smallest supercell of at least 16 sites that holds it,
  fcc and bcc SQS, 3 SQS seeds each, labelled by ``data label``'s own code (mean and standard
  deviation over the seeds).
* ``label_speed``: ``data label`` on Al,Co,Cr,Fe,Ni (8 structures, 16 sites, the size of the
  shipped labels): structures per hour in-process (2 torch threads), and the wall-time
  speed-up of a local Dask cluster of 2 workers against 1 worker (1 thread each) on the same
  8 structures; beside it, the throughput of the run that made the shipped labels
  (``data/labels/hea10-chgnet-v1/provenance.json``, 400 structures of 16-20 sites).

Nothing here is tuned: Al_x CoCrFeNi and the speed use the command's defaults.

    python benchmarks/oracle.py [--part vs_dft|alcocrfeni|speed]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REPO, SHARED, machine, merge_json, protocol_text

from eftgan.dataset import load_dataset
from eftgan.files import atomic_write_json
from eftgan.label import LabelJob, job_seed, run_labels
from eftgan.oracle import label_values, load_oracle, reference_energies
from eftgan.sqs import smallest_size

CACHE = REPO / "benchmarks" / ".cache" / "oracle"
DFT = SHARED / "datasets" / "fenicocrmnpd_dft"
OUT = "oracle.json"
COLUMNS = {
    "etot": "Etot (eV/atom)",
    "eform": "Eform (eV/atom)",
    "emix": "Emix (eV/atom)",
    "ms": "Ms (mub/atom)",
    "rmsd": "rmsd (\\AA)",
    "v0": "V0 (A3/atom)",
}
KEYS = {
    "etot": "etot_ev_per_atom",
    "eform": "eform_ev_per_atom",
    "emix": "emix_ev_per_atom",
    "ms": "ms_mub_per_atom",
    "rmsd": "rmsd_angstrom",
    "v0": "v0_a3_per_atom",
}
#: seconds of new relaxations per run of the vs_dft part (None: all); ``--budget-min``
BUDGET_S: float | None = None
X_SERIES = (0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0)
SQS_SEEDS = 3
#: at least this many sites per SQS (the shipped labels' size); 16-22 for the series
SERIES_SITES = 16
SPEED_SITES = 16


def oracle_labels_of_dft(ds: Any, budget_s: float | None) -> list[dict[str, float] | None]:
    """The oracle's labels of the entries, relaxed from their DFT cells (cached per entry),
    computed in a seeded random order until ``budget_s`` seconds are spent (None: all).
    Entries beyond the longest fully computed prefix of that order are None, so a partial
    run reports a uniform random subsample."""
    from tqdm import tqdm

    oracle = load_oracle(fmax=0.05, steps=500)
    cache = CACHE / f"vs_dft-fmax{oracle.fmax}-steps{oracle.steps}-{oracle.model.replace(' ', '')}"
    cache.mkdir(parents=True, exist_ok=True)
    refs_path = cache / "references.json"
    if not refs_path.is_file():
        atomic_write_json(refs_path, reference_energies(oracle, ds.elements))
    refs = json.loads(refs_path.read_text())
    order = np.random.default_rng(0).permutation(len(ds))
    out: list[dict[str, float] | None] = [None] * len(ds)
    t0 = time.perf_counter()
    for i in tqdm(order, desc="oracle on DFT cells", unit="structure"):
        e, path = ds[int(i)], cache / f"{ds[int(i)].name}.json"
        if not path.is_file():
            if budget_s is not None and time.perf_counter() - t0 > budget_s:
                break
            relaxed = oracle.relax(e.structure)
            values = label_values(relaxed, e.fractions, e.phase, refs)
            atomic_write_json(path, values | {"seconds": relaxed.seconds})
        out[int(i)] = json.loads(path.read_text())
    return out


def refit_mae(x: np.ndarray, dft: np.ndarray, orc: np.ndarray, groups: list[str]) -> float:
    """Held-out MAE after ``dft - oracle ~ x @ d`` fitted on the other folds (5, by group)."""
    from sklearn.model_selection import GroupKFold

    pred = np.full(len(dft), np.nan)
    for tr, te in GroupKFold(n_splits=5).split(x, groups=groups):
        d, *_ = np.linalg.lstsq(x[tr], dft[tr] - orc[tr], rcond=None)
        pred[te] = orc[te] + x[te] @ d
    return float(np.mean(np.abs(pred - dft)))


def vs_dft() -> dict[str, Any]:
    """Per phase and target: MAE of the oracle against DFT, before and after the refit."""
    from eftgan.validate import flagged_names, validate

    full = load_dataset(DFT)
    clean = full.without(flagged_names(validate(full)))
    got = oracle_labels_of_dft(clean, BUDGET_S)
    ds = clean.subset([i for i, lab in enumerate(got) if lab is not None])
    labels = [lab for lab in got if lab is not None]
    els = ds.elements
    result: dict[str, Any] = {}
    for phase in ("fcc", "bcc"):
        idx = [i for i, e in enumerate(ds) if e.phase == phase]
        x = np.array([[ds[i].fractions.get(el, 0.0) for el in els] for i in idx])
        groups = [ds[i].group_key for i in idx]
        per: dict[str, Any] = {}
        for short, col in COLUMNS.items():
            dft = np.array([ds[i].targets[KEYS[short]] for i in idx])
            orc = np.array([labels[i][col] for i in idx])
            ok = np.isfinite(dft) & np.isfinite(orc)
            per[short] = {
                "mae": float(np.mean(np.abs(dft[ok] - orc[ok]))),
                "mae_refit": refit_mae(
                    x[ok], dft[ok], orc[ok], [g for g, k in zip(groups, ok, strict=True) if k]
                ),
                "n": int(ok.sum()),
            }
        result[phase] = per
    secs = [lab["seconds"] for lab in labels]
    result["n_entries"] = len(ds)
    result["n_unflagged"] = len(clean)
    result["complete"] = len(ds) == len(clean)
    result["n_flagged_excluded"] = len(full) - len(clean)
    result["seconds_per_relaxation_median"] = float(np.median(secs))
    return result


def series_jobs() -> list[LabelJob]:
    jobs = []
    for xal in X_SERIES:
        frac = {"Al": xal, "Co": 1.0, "Cr": 1.0, "Fe": 1.0, "Ni": 1.0}
        total = sum(frac.values())
        frac = {e: v / total for e, v in frac.items() if v > 0}
        n = smallest_size(frac, SERIES_SITES)
        counts = {e: round(v * n) for e, v in frac.items()}
        for phase in ("fcc", "bcc"):
            for s in range(SQS_SEEDS):
                name = "".join(f"{e}{c}" for e, c in counts.items()) + f"_seed{s}_sqs{phase}"
                jobs.append(LabelJob(name, frac, phase, n, job_seed(s, name)))
    return jobs


def alcocrfeni() -> list[dict[str, Any]]:
    """Al_x CoCrFeNi per x: the shipped model's predictions, and the oracle's labels."""
    from eftgan.explore import Screener

    screener = Screener.load_for(["Al", "Co", "Cr", "Fe", "Ni"])
    formulas = [f"Al{x:g}CoCrFeNi" if x else "CoCrFeNi" for x in X_SERIES]
    df = screener.predict(formulas, phase=("fcc", "bcc"))
    out = []
    for x, f, oracle in zip(X_SERIES, formulas, oracle_series(), strict=True):
        row = {p: df[(df["composition"] == f) & (df["phase"] == p)].iloc[0] for p in ("fcc", "bcc")}
        out.append(
            {
                "x": x,
                "de_bcc_fcc": float(
                    row["bcc"]["etot_ev_per_atom"] - row["fcc"]["etot_ev_per_atom"]
                ),
                "de_bcc_fcc_std": float(np.hypot(row["bcc"]["eform_std"], row["fcc"]["eform_std"])),
                "a_fcc": float(row["fcc"]["a_angstrom"]),
                "a_bcc": float(row["bcc"]["a_angstrom"]),
                "ms_fcc": float(row["fcc"]["ms_mub_per_atom"]),
                "ms_bcc": float(row["bcc"]["ms_mub_per_atom"]),
                "extrapolation": bool(row["fcc"]["extrapolation"] or row["bcc"]["extrapolation"]),
                "model": screener.metadata()["model"],
                "oracle": oracle,
            }
        )
    return out


def oracle_series() -> list[dict[str, Any]]:
    """Al_x CoCrFeNi: oracle energies, lattice constants and moments per x."""
    import csv

    folder = CACHE / "alcocrfeni"
    jobs = series_jobs()
    if not (folder / "labels.csv").is_file():
        run_labels(folder, jobs)
    with open(folder / "labels.csv") as f:
        rows = {r["structure"]: r for r in csv.DictReader(f)}
    out = []
    for xal in X_SERIES:
        mine = [j for j in jobs if abs(j.fractions.get("Al", 0.0) * (4 + xal) - xal) < 1e-9]
        val = {p: [rows[j.name] for j in mine if j.phase == p] for p in ("fcc", "bcc")}
        e = {p: np.array([float(r["Etot (eV/atom)"]) for r in val[p]]) for p in val}
        v0 = {p: np.array([float(r["V0 (A3/atom)"]) for r in val[p]]) for p in val}
        ms = {p: np.array([float(r["Ms (mub/atom)"]) for r in val[p]]) for p in val}
        de = e["bcc"].mean() - e["fcc"].mean()
        de_sd = float(np.sqrt(e["bcc"].var(ddof=1) / SQS_SEEDS + e["fcc"].var(ddof=1) / SQS_SEEDS))
        out.append(
            {
                "x": xal,
                "n_atoms": mine[0].n_sites,
                "de_bcc_fcc": float(de),
                "de_bcc_fcc_sd": de_sd,
                "a_fcc": float(np.mean((4 * v0["fcc"]) ** (1 / 3))),
                "a_bcc": float(np.mean((2 * v0["bcc"]) ** (1 / 3))),
                "ms_fcc": float(ms["fcc"].mean()),
                "ms_bcc": float(ms["bcc"].mean()),
                "eform_fcc": float(np.mean([float(r["Eform (eV/atom)"]) for r in val["fcc"]])),
                "eform_bcc": float(np.mean([float(r["Eform (eV/atom)"]) for r in val["bcc"]])),
            }
        )
    return out


def _timed_run(folder: Path, jobs: list[LabelJob], scheduler: str | None) -> float:
    import shutil

    shutil.rmtree(folder, ignore_errors=True)
    t0 = time.perf_counter()
    run_labels(folder, jobs, scheduler=scheduler, progress=False)
    return time.perf_counter() - t0


def label_speed() -> dict[str, Any]:
    """Structures per hour in-process, and the Dask speed-up of 2 workers over 1."""
    from distributed import LocalCluster

    from eftgan.label import plan_jobs

    jobs = plan_jobs(["Al", "Co", "Cr", "Fe", "Ni"], ["fcc", "bcc"], 8, SPEED_SITES, seed=0)
    folder = CACHE / "speed"
    load_oracle()  # the model's load time is paid once per process, not per structure
    _timed_run(folder / "warm", jobs[:1], None)  # references and the SQS supercells cached
    local = _timed_run(folder / "local", jobs, None)
    walls = {}
    for workers in (1, 2):
        with LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster:
            _timed_run(folder / f"warm{workers}", jobs[:workers], cluster.scheduler_address)
            walls[workers] = _timed_run(folder / f"dask{workers}", jobs, cluster.scheduler_address)
    prov_path = REPO / "data" / "labels" / "hea10-chgnet-v1" / "provenance.json"
    shipped = json.loads(prov_path.read_text()) if prov_path.is_file() else {}
    return {
        "shipped_labels_seconds_per_structure_mean": shipped.get("seconds_per_structure_mean"),
        "shipped_labels_structures_per_hour": 3600.0 / shipped["seconds_per_structure_mean"]
        if shipped
        else None,
        "structures": len(jobs),
        "n_atoms": SPEED_SITES,
        "structures_per_hour": len(jobs) / local * 3600.0,
        "seconds_local": local,
        "seconds_dask_1_worker": walls[1],
        "seconds_dask_2_workers": walls[2],
        "dask_speedup_2_workers": walls[1] / walls[2],
    }


PARTS = {"vs_dft": ("oracle_vs_dft", vs_dft), "alcocrfeni": ("alcocrfeni", alcocrfeni)}
PARTS["speed"] = ("label_speed", label_speed)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--part", choices=sorted(PARTS), action="append")
    ap.add_argument(
        "--budget-min", type=float, default=None, help="stop new vs_dft relaxations after this"
    )
    args = ap.parse_args()
    global BUDGET_S
    BUDGET_S = args.budget_min * 60 if args.budget_min else None
    if not DFT.is_dir():
        sys.exit(f"{DFT} is absent: this benchmark needs ../shared")
    for part in args.part or ["vs_dft", "alcocrfeni", "speed"]:
        key, fn = PARTS[part]
        merge_json(OUT, [key], fn())
        print(f"{part}: done", flush=True)
    merge_json(OUT, ["protocol"], protocol_text(__doc__))
    merge_json(OUT, ["machine"], machine())
    merge_json(OUT, ["oracle"], load_oracle().settings)
    merge_json(OUT, ["oracle_vs_dft_settings"], load_oracle(fmax=0.05, steps=500).settings)


if __name__ == "__main__":
    main()
