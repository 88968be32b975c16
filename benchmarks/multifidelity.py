"""ECNet on DFT rows alone against ECNet on DFT and CHGNet rows together (multi-fidelity).

Protocol (fixed before the run); merges ``multi_fidelity`` into benchmarks/results/oracle.json:

* DFT rows: the DFT table (../shared/datasets/fenicocrmnpd_dft) without the entries that
  ``eftgan data validate`` flags, rmsd masked on sheared cells, as in the accuracy benchmark;
  split 80/10/10 by composition with seeds 0..S-1 (the accuracy benchmark's random splits).
* oracle rows: a ``data label`` run (``--labels``, by default the shipped
  ``data/labels/hea10-chgnet-v1``), cleaned by ``eftgan data validate`` the same way, split
  80/10/10 by composition with the same seed; an oracle row whose composition is a DFT
  validation or test composition of that seed is dropped, so the choice on validation and
  the test are both made on compositions neither arm trained on.
* arms, each an ECNet with the shipped architecture and settings (300 epochs at most,
  patience 50): ``dft_only`` trains on the DFT training rows; ``dft_plus_oracle`` on the DFT
  and oracle training rows with the label source as an input (``eftgan.ecnet``), early
  stopping on the DFT and oracle validation rows together.
* choice on validation: the arm with the lower mean DFT validation MAE of Eform over seeds;
  then the DFT test rows are read, once, for both arms. Figures: per phase and target, the
  mean test MAE over seeds ± the half-width of its 95 % CI; for ``dft_plus_oracle`` also the
  MAE on the oracle test rows (predicted for the oracle, their own source), split into rows
  with only DFT elements and rows with an element DFT does not have.
* Acceptance (the issue): DFT test MAE of ``dft_plus_oracle`` no worse than ``dft_only``
  within its CI.

    python benchmarks/multifidelity.py [--labels DIR] [--seeds 3] [--epochs 300]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (
    REPO,
    SHARED,
    SHORT,
    machine,
    merge_json,
    phase_metrics,
    pooled,
    protocol_text,
)

from eftgan.dataset import (
    combine_datasets,
    label_sources,
    load_dataset,
    split_by_composition,
)
from eftgan.validate import clean, validate

DFT = SHARED / "datasets" / "fenicocrmnpd_dft"
LABELS = REPO / "data" / "labels" / "hea10-chgnet-v1"
DFT_ELEMENTS = {"Cr", "Mn", "Fe", "Co", "Ni", "Pd"}


def _splits(dft: Any, oracle: Any, seed: int) -> tuple[list[list[int]], list[list[int]]]:
    """DFT and oracle (train, val, test) indices of one seed; oracle rows of DFT validation
    and test compositions dropped."""
    d = [list(s) for s in split_by_composition(dft, (0.8, 0.1, 0.1), seed)]
    o = [list(s) for s in split_by_composition(oracle, (0.8, 0.1, 0.1), seed)]
    held_out = {dft[i].group_key for i in d[1] + d[2]}
    o = [[i for i in part if oracle[i].group_key not in held_out] for part in o]
    return d, o


def _train(ds: Any, split: tuple[list[int], ...], seed: int, epochs: int, out: Path) -> Any:
    from eftgan.ecnet import ECNetConfig
    from eftgan.model import load_model
    from eftgan.train import TrainConfig, Trainer

    cfg = ECNetConfig(elements=ds.elements, sources=label_sources(ds.subset(split[0])))
    Trainer(
        ds,
        out,
        cfg,
        TrainConfig(seed=seed, max_epochs=epochs, patience=50),
        split=split,
        progress=False,
    ).run()
    return load_model(out)


def _predict(model: Any, ds: Any, idx: list[int]) -> np.ndarray:
    from eftgan.train import dataset_graphs, predict_graphs

    return predict_graphs(model.net, dataset_graphs(ds.subset(idx), model.model_config))


def _scores(model: Any, ds: Any, idx: list[int]) -> dict[str, Any]:
    if not idx:
        return {}
    y = ds.subset(idx).targets()
    return phase_metrics(y, _predict(model, ds, idx), [ds[i].phase for i in idx])


def one_seed(dft: Any, oracle: Any, seed: int, epochs: int) -> dict[str, Any]:
    """Both arms on one split: validation and test scores, oracle test scores."""
    d, o = _splits(dft, oracle, seed)
    both = combine_datasets([dft, oracle])
    n = len(dft)
    mixed = tuple(d[k] + [n + i for i in o[k]] for k in range(3))
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for arm, data, split in (
            ("dft_only", dft, tuple(d)),
            ("dft_plus_oracle", both, mixed),
        ):
            t0 = time.perf_counter()
            model = _train(data, split, seed, epochs, Path(tmp) / arm)
            out[arm] = {
                "validation": _scores(model, dft, d[1]),
                "test": _scores(model, dft, d[2]),
                "wall_s": time.perf_counter() - t0,
            }
            if arm == "dft_plus_oracle":
                new = [i for i in o[2] if set(oracle[i].fractions) - DFT_ELEMENTS]
                old = [i for i in o[2] if i not in set(new)]
                out[arm]["oracle_test_new_elements"] = _scores(model, oracle, new)
                out[arm]["oracle_test_dft_elements"] = _scores(model, oracle, old)
                out[arm]["n_oracle_train"] = len(o[0])
    return out


def _val_eform(per_seed: list[dict[str, Any]], arm: str) -> float:
    vals = [
        np.mean([s[arm]["validation"][p]["eform"]["mae"] for p in ("fcc", "bcc")]) for s in per_seed
    ]
    return float(np.mean(vals))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--labels", type=Path, default=LABELS)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=300)
    args = ap.parse_args()
    if not DFT.is_dir() or not (args.labels / "labels.csv").is_file():
        sys.exit(f"needs {DFT} and a finished label run in {args.labels}")
    full = load_dataset(DFT)
    dft = clean(full, validate(full))
    labelled = load_dataset(args.labels)
    oracle = clean(labelled, validate(labelled))
    per_seed = []
    for s in range(args.seeds):
        per_seed.append(one_seed(dft, oracle, s, args.epochs))
        print(f"seed {s} done", flush=True)
    arms = ("dft_only", "dft_plus_oracle")
    result: dict[str, Any] = {
        "chosen_on_validation": min(arms, key=lambda a: _val_eform(per_seed, a)),
        "validation_eform_mae": {a: _val_eform(per_seed, a) for a in arms},
        "seeds": args.seeds,
        "labels": str(args.labels.relative_to(REPO) if args.labels.is_relative_to(REPO) else ""),
        "n_oracle_rows": len(oracle),
        "targets": list(SHORT),
        "protocol": protocol_text(__doc__),
        "machine": machine(),
    }
    for a in arms:
        result[a] = {"test": pooled([p[a]["test"] for p in per_seed])}
    for key in ("oracle_test_new_elements", "oracle_test_dft_elements"):
        runs = [p["dft_plus_oracle"][key] for p in per_seed if p["dft_plus_oracle"][key]]
        result["dft_plus_oracle"][key] = pooled(runs) if runs else None
    merge_json("oracle.json", ["multi_fidelity"], result)


if __name__ == "__main__":
    main()
