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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, SHARED, machine, write_json

DATA = SHARED / "datasets" / "fenicocrmnpd_dft"
SHORT = ("eform", "emix", "ms", "v0")


def mae(p: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """MAE of each target (NaN labels skipped), physical units."""
    return {t: float(np.nanmean(np.abs(p[:, j] - y[:, j]))) for j, t in enumerate(SHORT)}


def parse_args() -> argparse.Namespace:
    """The command-line settings."""
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
    return ap.parse_args()


def speed_only(skip_explore: bool) -> None:
    """Re-measure the speed section of the existing results file and keep the rest."""
    report = json.loads((RESULTS / "eftgan.json").read_text())
    report["speed"] = measure_speed(skip_explore)
    report["machine"] = machine()
    print(write_json("eftgan.json", report))
    print(json.dumps(report["speed"], indent=1))


@dataclass
class Features:
    """ECNet features of the shipped model's training and test structures, standardised with
    the training set's per-channel mean and deviation (over present element slots)."""

    ds: Any
    ecnet: Any
    split: dict[str, list[str]]
    by: dict[str, Any]
    train: Any
    test: Any
    test_entries: list[Any]
    f_train: torch.Tensor
    f_test: torch.Tensor
    keys: np.ndarray

    @classmethod
    def read(cls) -> Features:
        """Load the dataset (flagged entries excluded) and the shipped ECNet; extract."""
        from eftgan.dataset import Dataset, load_dataset
        from eftgan.model import load_model
        from eftgan.pipeline import Arrays, ecnet_split
        from eftgan.validate import clean

        ds = clean(load_dataset(DATA))
        ecnet = load_model()
        split = ecnet_split(ecnet)
        by = {e.name: e for e in ds}
        train = Arrays(ecnet, Dataset([by[n] for n in split["train"]], ds.source, ds.data_hash))
        test_entries = [by[n] for n in split["test"]]
        test = Arrays(ecnet, Dataset(test_entries, ds.source, ds.data_hash))
        keys = np.array([by[n].group_key for n in train.names])
        present = train.c > 0
        fmean = (train.f * present[:, :, None]).sum((0, 1)) / present.sum()
        fstd = (((train.f - fmean) ** 2) * present[:, :, None]).sum((0, 1)) / present.sum()
        fstd = fstd.sqrt()
        f_train = ((train.f - fmean) / fstd) * (train.c > 0)[:, :, None]
        f_test = ((test.f - fmean) / fstd) * (test.c > 0)[:, :, None]
        return cls(ds, ecnet, split, by, train, test, test_entries, f_train, f_test, keys)


def augmentation_seed(
    args: argparse.Namespace, x: Features, frac: float, s: int
) -> tuple[dict, dict, dict, dict]:
    """Test MAEs of the four arms (real only, corrected, gen_draws, both) for one seed, with
    the GAN and MLP trained on ``frac`` of the training compositions."""
    from eftgan.augment import augmented_fit
    from eftgan.infogan import Discriminator, GANConfig, Generator, train_gan

    rng = np.random.default_rng(1000 + s)
    uk = sorted(set(x.keys))
    keep = set(rng.permutation(uk)[: max(3, round(frac * len(uk)))])
    idx = torch.tensor([i for i, k in enumerate(x.keys) if k in keep])
    f, c, ph, y = x.f_train[idx], x.train.c[idx], x.train.phase[idx], x.train.y[idx]
    ymean = torch.nanmean(y, 0)
    ystd = torch.from_numpy(np.nanstd(y.numpy(), 0)).clamp(min=1e-8)
    ys = (y - ymean) / ystd
    cfg = GANConfig(elements=x.ecnet.elements, feature_dim=f.shape[2])
    torch.manual_seed(s)
    g, d = Generator(cfg), Discriminator(cfg)
    train_gan(g, d, f, c, ph, steps=args.gan_steps, seed=s)
    g.eval()
    scores = []
    for rounds, draws in (
        (0, 0),
        (args.rounds, 0),
        (0, args.gen_draws),
        (args.rounds, args.gen_draws),
    ):
        m = augmented_fit(g, f, c, ph, ys, rounds=rounds, n_aug=args.n_aug, seed=s, gen_draws=draws)
        with torch.no_grad():
            p = (m(x.f_test, x.test.c, x.test.phase) * ystd + ymean).numpy()
        scores.append(mae(p, x.test.y.numpy()))
    return scores[0], scores[1], scores[2], scores[3]


def augmentation_entry(arms: dict[str, list[dict[str, float]]]) -> dict[str, Any]:
    """Means and spreads over seeds of each arm's Eform MAE, relative to real-only, and every
    target's mean MAE per arm."""
    r = [x["eform"] for x in arms["real_only"]]
    a = [x["eform"] for x in arms["corrected"]]
    entry: dict[str, Any] = {
        "real_only_mae": float(np.mean(r)),
        "augmented_mae": float(np.mean(a)),
        "real_only_mae_std": float(np.std(r)),
        "augmented_mae_std": float(np.std(a)),
        "relative_change_pct": 100.0 * (np.mean(a) / np.mean(r) - 1.0),
    }
    for name in ("gen_draws", "both"):
        e = [x["eform"] for x in arms[name]]
        entry[f"{name}_mae"] = float(np.mean(e))
        entry[f"{name}_mae_std"] = float(np.std(e))
        entry[f"{name}_relative_change_pct"] = 100.0 * (np.mean(e) / np.mean(r) - 1.0)
    for name in ("real_only", "corrected", "gen_draws", "both"):
        entry[f"all_targets_{name}"] = {
            t: float(np.mean([x[t] for x in arms[name]])) for t in SHORT
        }
    return entry


def augmentation(args: argparse.Namespace, x: Features) -> dict[str, Any]:
    """The augmentation ablation at 20/40/60/100 % of the training compositions."""
    out: dict[str, Any] = {}
    for frac in (0.2, 0.4, 0.6, 1.0):
        arms: dict[str, list[dict[str, float]]] = {
            "real_only": [],
            "corrected": [],
            "gen_draws": [],
            "both": [],
        }
        for s in range(args.seeds):
            for name, score in zip(arms, augmentation_seed(args, x, frac, s), strict=True):
                arms[name].append(score)
            print(
                f"augmentation {frac} seed {s}: real {arms['real_only'][-1]['eform']:.4f} "
                f"corrected {arms['corrected'][-1]['eform']:.4f} "
                f"draws {arms['gen_draws'][-1]['eform']:.4f} "
                f"both {arms['both'][-1]['eform']:.4f}",
                flush=True,
            )
        out[str(frac)] = augmentation_entry(arms)
    return out


def structure_free(args: argparse.Namespace, x: Features) -> dict[str, Any]:
    """Freshly trained full EFTGAN models (``--gan-seeds`` seeds) from composition alone,
    beside the structure-based ECNet and the composition-only ridge, on the test split."""
    from eftgan.baselines import CompositionRidge
    from eftgan.explore import Screener
    from eftgan.pipeline import EFTGANTrainConfig, train_eftgan

    y_test, entries = x.test.y.numpy(), x.test_entries
    free = []
    for s in range(args.gan_seeds):
        with tempfile.TemporaryDirectory() as tmp:
            config = EFTGANTrainConfig(seed=s, gen_draws=args.gen_draws)
            train_eftgan(x.ecnet, x.ds, Path(tmp) / "m", config, progress=False)
            sc = Screener.load(Path(tmp) / "m")
            rows = [sc.predict([e.fractions], phase=e.phase) for e in entries]
            free.append(mae(np.stack([r[list(sc.targets)].to_numpy()[0] for r in rows]), y_test))
    predicted = x.ecnet.predict_structures(
        [e.structure for e in entries], phase=[e.phase for e in entries]
    )
    p_ec = np.array([[r[t] for t in x.ecnet.targets] for r in predicted])
    fit = [x.by[n] for n in x.split["train"] + x.split["validation"]]
    ridge = CompositionRidge(x.ecnet.elements).fit(
        [e.fractions for e in fit],
        [e.phase for e in fit],
        np.array([e.target_vector() for e in fit]),
    )
    p_r = ridge.predict([e.fractions for e in entries], [e.phase for e in entries])
    return {
        "eftgan_generator_mlp": {t: float(np.mean([f[t] for f in free])) for t in SHORT},
        "eftgan_generator_mlp_std": {t: float(np.std([f[t] for f in free])) for t in SHORT},
        "ecnet_structure_based": mae(p_ec, y_test),
        "ridge_quadratic_composition": mae(p_r, y_test),
        "n_test_structures": len(entries),
        "gan_seeds": args.gan_seeds,
    }


def main() -> None:
    """Run the three sections and write benchmarks/results/eftgan.json."""
    args = parse_args()
    torch.set_num_threads(2)
    t_start = time.perf_counter()
    if args.speed_only:
        speed_only(args.skip_explore)
        return
    x = Features.read()
    report: dict[str, Any] = {"augmentation": augmentation(args, x)}
    report["structure_free"] = structure_free(args, x)
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
