"""EFTGAN: augmentation ablation, structure-free accuracy and screening speed.

Writes benchmarks/results/eftgan.json. All scores are Eform/Emix/Ms/V0 MAE on the test split of
the shipped ECNet (``data/models/ecnet-fenicocrmnpd-v1/training.json``): 29 real structures
whose compositions no stage (ECNet, GAN, MLP) ever saw.

* ``augmentation``: property MLP on real features only vs. real + augmented samples, trained on
  20/40/60/100 % of the ECNet training compositions, ``--seeds`` seeds (subsample, GAN and MLP
  seeds). Three augmented arms: ``corrected``, the issue's augmentation (``--rounds`` rounds
  of ``--n-aug`` transferring-corrected samples of new compositions; its MAE is the
  ``augmented_mae`` key), ``gen_draws`` (``--gen-draws`` generated samples of each training
  composition with its real labels, what the shipped model uses for its structure-free path)
  and ``both``. The GAN is
  trained on the same subset. Features come from the shipped ECNet, which itself was trained on
  all of the training split: the subsets limit what the GAN and MLP see, not the ECNet.
* ``structure_free``: generator + MLP from composition alone (``--gan-seeds`` GAN seeds), beside
  the structure-based ECNet on the real relaxed structures and the composition-only ridge.
* ``speed``: compositions per second per phase of :meth:`Screener.iter_screen`, and the wall
  time of ``eftgan explore --elements Fe,Ni,Co,Cr,Mn`` at step 0.05 end to end (a subprocess,
  start-up included).

    python benchmarks/eftgan_benchmark.py [--seeds 5] [--gan-steps 1500]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, SHARED, machine, write_json

DATA = SHARED / "datasets" / "fenicocrmnpd_dft"
SHORT = ("eform", "emix", "ms", "v0")


def mae(p: np.ndarray, y: np.ndarray) -> dict[str, float]:
    return {t: float(np.nanmean(np.abs(p[:, j] - y[:, j]))) for j, t in enumerate(SHORT)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--gan-seeds", type=int, default=3)
    ap.add_argument("--gan-steps", type=int, default=1500)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--n-aug", type=int, default=400)
    ap.add_argument("--gen-draws", type=int, default=8)
    ap.add_argument("--skip-explore", action="store_true")
    ap.add_argument(
        "--speed-only",
        action="store_true",
        help="re-measure only the speed section (on a quiet machine) and keep the rest",
    )
    args = ap.parse_args()
    torch.set_num_threads(2)

    from eftgan.augment import augmented_fit
    from eftgan.baselines import CompositionRidge
    from eftgan.dataset import Dataset, load_dataset
    from eftgan.explore import Screener
    from eftgan.infogan import Discriminator, GANConfig, Generator, train_gan
    from eftgan.model import load_model
    from eftgan.pipeline import Arrays, ecnet_split, train_eftgan
    from eftgan.validate import flagged_names, validate

    t_start = time.perf_counter()
    if args.speed_only:
        report = json.loads((RESULTS / "eftgan.json").read_text())
        report["speed"] = measure_speed(args.skip_explore)
        report["machine"] = machine()
        print(write_json("eftgan.json", report))
        print(json.dumps(report["speed"], indent=1))
        return
    ds = load_dataset(DATA)
    ds = ds.without(flagged_names(validate(ds)))
    ecnet = load_model()
    split = ecnet_split(ecnet)
    by = {e.name: e for e in ds}
    train = Arrays(ecnet, Dataset([by[n] for n in split["train"]], ds.source, ds.data_hash))
    test_entries = [by[n] for n in split["test"]]
    test = Arrays(ecnet, Dataset(test_entries, ds.source, ds.data_hash))
    y_test = test.y.numpy()
    keys = np.array([by[n].group_key for n in train.names])

    present = train.c > 0
    fmean = (train.f * present[:, :, None]).sum((0, 1)) / present.sum()
    fstd = ((((train.f - fmean) ** 2) * present[:, :, None]).sum((0, 1)) / present.sum()).sqrt()

    def standardise(a: Arrays) -> torch.Tensor:
        return ((a.f - fmean) / fstd) * (a.c > 0)[:, :, None]

    f_train, f_test = standardise(train), standardise(test)
    report: dict[str, Any] = {"augmentation": {}}
    for frac in (0.2, 0.4, 0.6, 1.0):
        real_only, corrected, drawn, both = [], [], [], []
        for s in range(args.seeds):
            rng = np.random.default_rng(1000 + s)
            uk = sorted(set(keys))
            keep = set(rng.permutation(uk)[: max(3, round(frac * len(uk)))])
            idx = torch.tensor([i for i, k in enumerate(keys) if k in keep])
            f, c, ph, y = f_train[idx], train.c[idx], train.phase[idx], train.y[idx]
            ymean, ystd = (
                torch.nanmean(y, 0),
                torch.from_numpy(np.nanstd(y.numpy(), 0)).clamp(min=1e-8),
            )
            ys = (y - ymean) / ystd
            cfg = GANConfig(elements=ecnet.elements, feature_dim=f.shape[2])
            torch.manual_seed(s)
            g, d = Generator(cfg), Discriminator(cfg)
            train_gan(g, d, f, c, ph, steps=args.gan_steps, seed=s)
            g.eval()
            arms = (
                (0, 0, real_only),
                (args.rounds, 0, corrected),
                (0, args.gen_draws, drawn),
                (args.rounds, args.gen_draws, both),
            )
            for rounds, draws, bucket in arms:
                m = augmented_fit(
                    g, f, c, ph, ys, rounds=rounds, n_aug=args.n_aug, seed=s, gen_draws=draws
                )
                with torch.no_grad():
                    p = (m(f_test, test.c, test.phase) * ystd + ymean).numpy()
                bucket.append(mae(p, y_test))
            print(f"augmentation {frac} seed {s}: real {real_only[-1]['eform']:.4f} "
                  f"corrected {corrected[-1]['eform']:.4f} draws {drawn[-1]['eform']:.4f} "
                  f"both {both[-1]['eform']:.4f}", flush=True)  # fmt: skip
        r = [x["eform"] for x in real_only]
        a = [x["eform"] for x in corrected]
        entry: dict[str, Any] = {
            "real_only_mae": float(np.mean(r)),
            "augmented_mae": float(np.mean(a)),
            "real_only_mae_std": float(np.std(r)),
            "augmented_mae_std": float(np.std(a)),
            "relative_change_pct": 100.0 * (np.mean(a) / np.mean(r) - 1.0),
        }
        for name, bucket in (("gen_draws", drawn), ("both", both)):
            e = [x["eform"] for x in bucket]
            entry[f"{name}_mae"] = float(np.mean(e))
            entry[f"{name}_mae_std"] = float(np.std(e))
            entry[f"{name}_relative_change_pct"] = 100.0 * (np.mean(e) / np.mean(r) - 1.0)
        for name, bucket in (("real_only", real_only), ("corrected", corrected),
                             ("gen_draws", drawn), ("both", both)):  # fmt: skip
            entry[f"all_targets_{name}"] = {
                t: float(np.mean([x[t] for x in bucket])) for t in SHORT
            }
        report["augmentation"][str(frac)] = entry

    # structure-free path with freshly trained full models (several GAN seeds)
    free = []
    for s in range(args.gan_seeds):
        with tempfile.TemporaryDirectory() as tmp:
            train_eftgan(
                ecnet, ds, Path(tmp) / "m", seed=s, progress=False, gen_draws=args.gen_draws
            )
            sc = Screener.load(Path(tmp) / "m")
            p = np.stack(
                [
                    sc.predict([e.fractions], phase=e.phase)[list(sc.targets)].to_numpy()[0]
                    for e in test_entries
                ]
            )
            free.append(mae(p, y_test))
    p_ec = np.array(
        [[r[t] for t in ecnet.targets] for r in ecnet.predict_structures(
            [e.structure for e in test_entries], phase=[e.phase for e in test_entries])]
    )  # fmt: skip
    fit = [by[n] for n in split["train"] + split["validation"]]
    ridge = CompositionRidge(ecnet.elements).fit(
        [e.fractions for e in fit],
        [e.phase for e in fit],
        np.array([e.target_vector() for e in fit]),
    )
    p_r = ridge.predict([e.fractions for e in test_entries], [e.phase for e in test_entries])
    report["structure_free"] = {
        "eftgan_generator_mlp": {t: float(np.mean([x[t] for x in free])) for t in SHORT},
        "eftgan_generator_mlp_std": {t: float(np.std([x[t] for x in free])) for t in SHORT},
        "ecnet_structure_based": mae(p_ec, y_test),
        "ridge_quadratic_composition": mae(p_r, y_test),
        "n_test_structures": len(test_entries),
        "gan_seeds": args.gan_seeds,
    }

    report["speed"] = measure_speed(args.skip_explore)
    report["settings"] = vars(args)
    report["benchmark_wall_s"] = time.perf_counter() - t_start
    report["machine"] = machine()
    print(write_json("eftgan.json", report))
    print(json.dumps({k: report[k] for k in ("augmentation", "structure_free", "speed")}, indent=1))


def measure_speed(skip_explore: bool) -> dict[str, Any]:
    """Compositions per second per phase, and ``eftgan explore`` at step 0.05 end to end."""
    from eftgan.explore import Screener

    sc = Screener.load()
    els = ["Fe", "Ni", "Co", "Cr", "Mn"]
    list(sc.iter_screen(els, 0.1))  # warm-up
    t0 = time.perf_counter()
    n = sum(len(df) for df in sc.iter_screen(els, 0.05, phases=("fcc",)))
    rate = n / (time.perf_counter() - t0)
    speed: dict[str, Any] = {"compositions_per_s": rate, "n_z": 16, "threads": 2}
    if not skip_explore:
        with tempfile.TemporaryDirectory() as tmp:
            walls = []
            for k in range(3):
                t0 = time.perf_counter()
                exe = str(Path(sys.executable).parent / "eftgan")
                cmd = [exe, "explore", "--elements", ",".join(els), "--out", f"{tmp}/e{k}"]
                subprocess.run(cmd, check=True, capture_output=True)
                walls.append(time.perf_counter() - t0)
        speed["explore_step005_wall_s"] = float(np.median(walls))
        speed["explore_step005_wall_s_all"] = walls
    # Step 0.01 takes over half an hour: benchmarks/explore_large.py measures it and merges its
    # figures into eftgan.json; keep them across runs of this script.
    old = RESULTS / "eftgan.json"
    prev = json.loads(old.read_text()).get("speed", {}) if old.is_file() else {}
    for k in ("explore_step001_wall_s", "explore_step001_peak_rss_mb", "explore_step001_how"):
        speed[k] = prev.get(k, "not measured")
    return speed


if __name__ == "__main__":
    main()
