"""spectral: where the shipped compact SACA's errors sit, and whether its presence calls can
be made better from its own outputs.

Writes benchmarks/results/spectral_errors.json. In one run, on ``--n-test`` held-out
simulated spectra (seed 12345, as ``spectral_benchmark.py``):

* ``mo``: Mo MAE and mean error (bias) by Mo content band, MAE by quarter of plasma
  temperature, the correlation of the absolute error with temperature and log density, and
  the median relative error above 0.5 wt %;
* ``presence``: rare-earth precision/recall of three ways to call presence, each with its
  threshold tuned on the model's validation split (``balanced_presence_bias``): the presence
  head (the shipped calls), the wt % output alone, and the sum of the two in units of their
  spreads.

    python benchmarks/spectral_errors.py [--n-test 2000] [--model DIR]
"""

from __future__ import annotations

import argparse
import itertools
from pathlib import Path
from typing import Any

import numpy as np
from _common import machine, write_json

from spectral.calibration import balanced_presence_bias
from spectral.dataset import PRESENCE_WT_PCT, STEEL_ELEMENTS, simulate_set
from spectral.predict import load_saca, predict_logits
from spectral.train import split_indices

MO_BANDS = ((0.0, 0.01), (0.01, 0.5), (0.5, 2.0), (2.0, 4.0), (4.0, 8.0))
RARE_EARTHS = ("La", "Ce", "Nd", "Pr", "Sm", "Eu")


def _pr(called: np.ndarray, present: np.ndarray) -> dict[str, float]:
    tp = float((called & present).sum())
    return {
        "precision": tp / max(float(called.sum()), 1.0),
        "recall": tp / max(float(present.sum()), 1.0),
    }


def mo_errors(wt: np.ndarray, test: Any) -> dict[str, Any]:
    """Mo MAE and bias by content band, MAE by quarter of plasma temperature, the correlation
    of the absolute error with temperature and log density, the median relative error above
    0.5 wt %."""
    j = STEEL_ELEMENTS.index("Mo")
    err, mo, t = wt[:, j] - test.wt_pct[:, j], test.wt_pct[:, j], test.temperature_k
    bands = {}
    for lo, hi in MO_BANDS:
        s = (mo >= lo) & (mo < hi)
        bands[f"{lo}-{hi}"] = {
            "n": int(s.sum()),
            "mae": float(np.abs(err[s]).mean()),
            "bias": float(err[s].mean()),
        }
    q = np.quantile(t, [0, 0.25, 0.5, 0.75, 1])
    by_t = {
        f"{a:.0f}-{b:.0f}": float(np.abs(err[(t >= a) & (t <= b)]).mean())
        for a, b in itertools.pairwise(q)
    }
    big = mo > 0.5
    return {
        "mae": float(np.abs(err).mean()),
        "by_content_wt_pct": bands,
        "mae_by_temperature_k": by_t,
        "corr_abs_error_temperature": float(np.corrcoef(np.abs(err), t)[0, 1]),
        "corr_abs_error_log_ne": float(np.corrcoef(np.abs(err), np.log(test.ne_cm3))[0, 1]),
        "median_relative_error_above_0.5": float(np.median(np.abs(err[big]) / mo[big])),
    }


def presence_calls(
    model: Any, cfg: dict[str, Any], wt: np.ndarray, logit: np.ndarray, y: np.ndarray
) -> dict[str, Any]:
    """Rare-earth precision/recall of the presence head, of the wt % output alone and of the
    sum of the two in units of their spreads, each threshold tuned on the validation split of
    the model's own training set."""
    data_cfg = cfg.get("data") or {"n_spectra": 20000, "seed": 0}
    train_set = simulate_set(int(data_cfg["n_spectra"]), int(data_cfg["seed"]))
    _, va, _ = split_indices(len(train_set.spectra), int(data_cfg["seed"]))
    wv, lv = predict_logits(model, train_set.spectra[va])
    yv = train_set.wt_pct[va]
    presence = {}
    for el in RARE_EARTHS:
        k = STEEL_ELEMENTS.index(el)
        pv, pt = yv[:, k] > PRESENCE_WT_PCT, y[:, k] > PRESENCE_WT_PCT
        both_v = lv[:, k] / lv[:, k].std() + (wv[:, k] - PRESENCE_WT_PCT) / wv[:, k].std()
        both_t = logit[:, k] / lv[:, k].std() + (wt[:, k] - PRESENCE_WT_PCT) / wv[:, k].std()
        presence[el] = {
            "head": _pr(logit[:, k] > 0, pt),
            "wt_pct": _pr(wt[:, k] + balanced_presence_bias(wv[:, k], pv) > 0, pt),
            "sum": _pr(both_t + balanced_presence_bias(both_v, pv) > 0, pt),
        }
    return presence


def main() -> None:
    """Measure and write ``benchmarks/results/spectral_errors.json``."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n-test", type=int, default=2000)
    ap.add_argument("--model", type=Path, default=None, help="compact SACA (default: shipped)")
    args = ap.parse_args()
    model, cfg = load_saca(args.model)
    test = simulate_set(args.n_test, 12345)
    wt, logit = predict_logits(model, test.spectra)
    mo_out = mo_errors(wt, test)
    presence = presence_calls(model, cfg, wt, logit, test.wt_pct)
    path = write_json(
        "spectral_errors.json",
        {
            "model": str(args.model) if args.model else "shipped default",
            "n_test": args.n_test,
            "test_seed": 12345,
            "mo": mo_out,
            "presence": presence,
            "machine": machine(),
        },
    )
    print(f"wrote {path}")
    for band, m in mo_out["by_content_wt_pct"].items():
        print(f"Mo {band} wt %: n {m['n']}, MAE {m['mae']:.4f}, bias {m['bias']:+.4f}")
    for el, p in presence.items():
        print(el, "  ".join(f"{w} {v['precision']:.3f}/{v['recall']:.3f}" for w, v in p.items()))


if __name__ == "__main__":
    main()
