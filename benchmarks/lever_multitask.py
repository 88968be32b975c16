"""A multi-task lever for ECNet, measured on validation only: does weighting the formation
energy more in the loss lower its validation error?

On split seed 0 (80/10/10 by composition, the shipped ensembles' split), ECNet trains on the
training part with the default recipe and with each weighting of :data:`WEIGHTINGS`
(``TrainConfig.target_weights``, which weights the early-stopping loss alike), from
``--seeds`` seeds each, two runs at a time on one thread each. The test part is not given to
the trainer, so nothing here reads it. Writes ``benchmarks/results/lever_multitask.json``:
per weighting, the validation MAE of Eform and Ms per phase over seeds.

    python benchmarks/lever_multitask.py [--seeds 3]
"""

from __future__ import annotations

import argparse
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine, protocol_text, summary, write_json
from ecnet_accuracy import load

#: Target weights in TARGETS order (etot, eform, emix, ms, rmsd, v0).
WEIGHTINGS = {"equal": (), "eform x3": (1.0, 3.0, 1.0, 1.0, 1.0, 1.0)}


def run(job: dict[str, Any]) -> dict[str, Any]:
    """Worker: one ECNet on the training part; its validation metrics (no test part)."""
    import tempfile

    import torch

    torch.set_num_threads(1)
    from eftgan.dataset import split_by_composition
    from eftgan.train import TrainConfig, Trainer

    ds, flagged = load()
    train, val, _ = split_by_composition(ds, (0.8, 0.1, 0.1), 0)
    tc = TrainConfig(seed=job["seed"], target_weights=job["weights"])
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        res = Trainer(
            ds,
            Path(tmp) / "m",
            train_config=tc,
            split=(train, val, []),
            excluded=flagged,
            progress=False,
        ).run()
    v = res.metrics["validation"]
    return {
        **job,
        "wall_s": time.perf_counter() - t0,
        "epochs": res.epochs,
        "val": {p: {t: v[p][t]["mae"] for t in ("eform", "ms")} for p in ("fcc", "bcc")},
    }


def main() -> None:
    """Train every weighting and seed, summarise the validation MAEs, write the JSON."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, default=3)
    args = ap.parse_args()
    jobs = [
        {"weighting": k, "weights": w, "seed": s}
        for k, w in WEIGHTINGS.items()
        for s in range(args.seeds)
    ]
    t0 = time.perf_counter()
    with ProcessPoolExecutor(2) as pool:
        results = list(pool.map(run, jobs))
    out: dict[str, Any] = {}
    for k in WEIGHTINGS:
        rs = [r for r in results if r["weighting"] == k]
        out[k] = {
            p: {t: summary([r["val"][p][t] for r in rs]) for t in ("eform", "ms")}
            for p in ("fcc", "bcc")
        }
        out[k]["weights"] = list(WEIGHTINGS[k]) or "equal"
        out[k]["epochs"] = [r["epochs"] for r in rs]
    report = {
        "protocol": protocol_text(__doc__),
        "validation_mae": out,
        "runs": results,
        "benchmark_wall_s": time.perf_counter() - t0,
        "machine": machine(),
    }
    print(write_json("lever_multitask.json", report))


if __name__ == "__main__":
    main()
