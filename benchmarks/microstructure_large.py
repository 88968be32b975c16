"""microstructure, larger fields: the StyleGAN2-lite option beside the default GAN on Super1.

Protocol (fixed before the run); merges ``"real": {"super1_large": ...}`` into
benchmarks/results/microstructure.json:

* data: the Super1 micrographs as in ``benchmarks/microstructure_real.py`` (each stretched
  to its own 1st-99th percentiles; train to train on, val to compare, test read once at
  the end);
* arms, 600 iterations from random weights (seed 0) on random crops of train, collapse only
  warned:
  ``style`` (``micro train --arch style``: 128 x 128 crops, batch 16, a noise vector every
  32 pixels, zero padding: the second design, the recipe as chosen below),
  ``style_reflect`` (reflecting padding, the third), ``style_16`` (a vector every 16
  pixels, the first) and
  ``default`` (``--arch spatial``: 64 x 64 crops, batch 32), with the recipes as they are;
* choice between the style designs on val only, by the val score of
  ``benchmarks/microstructure_real.py`` (phase-fraction error / 0.03 + s2_mae / 0.02 +
  texture FD / its floor, at 128 pixels). Disclosed: the first run of this benchmark had
  only ``style_16`` (then called ``style``) and read test for it; the 32-pixel field was
  added after seeing its samples (blobs far smaller than the real precipitates); the second
  run added the 32-pixel design and read test for it; reflecting padding was added after
  seeing its samples (a frame in every image), and the third run chose zero padding by
  this criterion (its val score at 256 pixels favours reflecting); the recipe was then set
  to the choice and this run, with the same models, scores it. Each arm's model is the run
  that first trained it;
* scores (``micro evaluate --phases two``) at 128 x 128: 128 generated fields against 128
  random crops of the split, the default generating its 128-pixel fields from the same
  weights (fully convolutional); and at 256 x 256, 32 fields against 32 crops, both
  networks larger than anything they trained on. The floor is train crops against the
  same split's (two real sets);
* test: both arms at 128 and 256 pixels against test crops, once;
* speed: wall time of each arm's 600 iterations (goal of the default: 600 s).

    python benchmarks/microstructure_large.py [--iters 600]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from _common import REPO, SHARED, machine, merge_json, protocol_text, val_score
from microstructure_real import normalized, score, train_cached

SUPER1 = SHARED / "reference" / "micrographs_super1"
CACHE = REPO / "benchmarks" / ".cache" / "micro_large"
ARMS: dict[str, dict[str, Any]] = {
    "style": {"arch": "style"},
    "style_reflect": {"arch": "style", "padding": "reflect"},
    "style_16": {"arch": "style", "upsampling": 16},
    "default": {},
}
#: Fields per score at each side.
N_FIELDS = {128: 128, 256: 32}


def crops(folder: Path, side: int, seed: int) -> list[np.ndarray]:
    from microstructure.images import random_crops, read_folder

    rng = np.random.default_rng(seed)
    return list(random_crops(read_folder(folder), N_FIELDS[side], side, rng)[:, 0])


def train_arm(name: str, iters: int) -> dict[str, Any]:
    """Train one arm, or reuse its cached model trained with the same settings; with the
    warnings its training logged."""
    out = CACHE / f"iters{iters}" / name
    run = train_cached(out, {"iters": iters, **ARMS[name]})
    warnings = json.loads((out / "config.json").read_text()).get("warnings", [])
    return {"wall_s": run["wall_s"], "warnings": warnings}


def fields(name: str, iters: int, side: int) -> list[np.ndarray]:
    from microstructure.generate import generate_images, load_generator

    g, _ = load_generator(CACHE / f"iters{iters}" / name)
    return list(generate_images(g, N_FIELDS[side], seed=1, size=side))


def scores(split: str, seed: int, iters: int) -> dict[str, Any]:
    """Both arms and the floor at each side against crops of ``split``."""
    out: dict[str, Any] = {}
    for side in N_FIELDS:
        real = crops(normalized(split), side, seed)
        floor = score(real, crops(normalized("train"), side, seed + 1))
        arms = {name: score(real, fields(name, iters, side)) for name in ARMS}
        for s in arms.values():
            s["separation"] = {k: s[k] / floor[k] for k in ("frechet_features", "frechet_s2")}
            s["val_score"] = val_score(s, floor)
        out[str(side)] = {"floor": floor, **arms}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--iters", type=int, default=600)
    args = ap.parse_args()
    torch.set_num_threads(2)
    if not SUPER1.is_dir():
        raise SystemExit(f"Super1 micrographs not found at {SUPER1}")
    t0 = time.perf_counter()
    train = {name: train_arm(name, args.iters) for name in ARMS}
    val = scores("val", 21, args.iters)
    chosen = min((k for k in ARMS if k != "default"), key=lambda k: val["128"][k]["val_score"])
    test = scores("test", 23, args.iters)  # the test split, read once
    report = {
        "protocol": protocol_text(__doc__),
        "iters": args.iters,
        "val": val,
        "style_chosen_on_val": chosen,
        "test": test,
        "training": train,
        "speed": {f"{name}_iters_s": train[name]["wall_s"] for name in ARMS},
        "benchmark_wall_s": time.perf_counter() - t0,
        "machine": machine(),
    }
    print(merge_json("microstructure.json", ("real", "super1_large"), report))
    print(json.dumps({k: report[k] for k in ("val", "test", "speed")}, indent=1, default=float))


if __name__ == "__main__":
    main()
