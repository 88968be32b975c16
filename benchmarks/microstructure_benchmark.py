"""microstructure: the paper's DCGAN, the conditional one and two baselines, judged by numbers.

Writes benchmarks/results/microstructure.json. In one run:

* data: synthetic micrographs (``eftgan micro synth`` physics), 256 x 256 pixels, cooling rate
  10 K/s; Al-7Si for the paper's DCGAN (``--n-train`` training images, seeds 0..; held-out
  images from other seeds), Al-4Si, Al-7Si and Al-10Si for the conditional model, and held-out
  Al-8.5Si images, a content the conditional model never saw;
* models: ``dcgan`` (the paper's architecture, 64 x 64, one channel, nz 1000) trained on Al-7Si;
  ``conditional`` trained on the three contents, at half the paper's width and nz 100 by
  default (``--cond-width``, ``--cond-nz``): a quarter of the compute per iteration, and
  small enough (about 7 MB with its discriminator) to ship as the default model; ``crops``
  (random crops of the training images: the ceiling) and ``grf`` (a Gaussian random field
  thresholded to the training phase fraction and rendered with the same gray levels: the
  floor);
* scores: ``eftgan micro evaluate`` statistics of ``--n-eval`` generated 64 x 64 images against
  as many random crops of the held-out images;
* speed: training iterations per second at batch 64 and generated images per second for the
  paper's architecture, with nz 1000 and with nz 100;
* ``--only-conditional --cond-arch ARCH --seeds 0 1 2``: that architecture's conditional
  model alone, trained once per seed on the same images, scored at Al-7Si and at the unseen
  Al-8.5Si (``conditional_by_arch``): the mean over the seeds, and each seed's scores, since
  one training run says little about the next (two runs of the same settings gave 0.020
  and 0.011 at Al-8.5Si).

    python benchmarks/microstructure_benchmark.py [--iters 600] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine, write_json

#: Si contents (wt %) of the conditional model's training folders.
SI_TRAIN = (4.0, 7.0, 10.0)


def synth_folder(folder: Path, si: float, n: int, seed0: int) -> list[np.ndarray]:
    """Write ``n`` synthetic 256-pixel Al-``si``Si micrographs (seeds ``seed0``..) and a
    ``synth.json`` into ``folder``; return the images."""
    from microstructure.images import write_png
    from microstructure.synth import synthesize

    folder.mkdir(parents=True, exist_ok=True)
    imgs = []
    for i in range(n):
        img, _ = synthesize(si, 256, 10.0, seed=seed0 + i)
        write_png(folder / f"img_{i:03d}.png", img)
        imgs.append(img)
    (folder / "synth.json").write_text(json.dumps({"si_wt_pct": si}))
    return imgs


def grf_images(n: int, fraction: float, rng: np.random.Generator) -> list[np.ndarray]:
    """The floor: ``n`` 64-pixel Gaussian random fields thresholded to the Si area ``fraction``
    and rendered with two gray levels and noise."""
    from microstructure.synth import gaussian_field, threshold_to_fraction

    out = []
    for _ in range(n):
        si = threshold_to_fraction(gaussian_field((64, 64), 2.0, rng), fraction)
        img = np.where(si, 0.3, 0.8) + rng.normal(0, 0.02, si.shape)
        out.append(np.clip(img, 0, 1))
    return out


def speed(nz: int, width: int = 64) -> dict[str, float]:
    """Training iterations per second (batch 64, gray 64 x 64) and generated images per second
    of the architecture with noise size ``nz``; medians of 15 timings after one warm-up."""
    from torch import nn

    from microstructure.dcgan import DCGANConfig, build

    g, d = build(DCGANConfig(nz=nz, ngf=width, ndf=width))
    opt_g = torch.optim.Adam(g.parameters(), lr=5e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(d.parameters(), lr=5e-4, betas=(0.5, 0.999))
    bce = nn.BCEWithLogitsLoss()
    real = torch.rand(64, 1, 64, 64) * 2 - 1

    def step() -> None:
        fake = g(torch.randn(64, nz))
        pr, pf = d.logits(real), d.logits(fake.detach())
        ld = bce(pr, torch.ones_like(pr)) + bce(pf, torch.zeros_like(pf))
        opt_d.zero_grad()
        ld.backward()
        opt_d.step()
        d.requires_grad_(False)  # as in microstructure.train
        pg = d.logits(fake)
        lg = bce(pg, torch.ones_like(pg))
        opt_g.zero_grad()
        lg.backward()
        opt_g.step()
        d.requires_grad_(True)

    def timed(fn: Any) -> float:
        t0 = time.perf_counter()
        fn()
        return time.perf_counter() - t0

    step()
    it_s = 1 / float(np.median([timed(step) for _ in range(15)]))
    g.eval()
    with torch.no_grad():
        g(torch.randn(64, nz))
        gen_s = 64 / float(np.median([timed(lambda: g(torch.randn(64, nz))) for _ in range(15)]))
    return {"train_iters_per_s": it_s, "generate_per_s": gen_s}


def parse_args() -> argparse.Namespace:
    """The command-line settings (see the module docstring)."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--iters", type=int, default=600)
    ap.add_argument("--n-train", type=int, default=40)
    ap.add_argument("--n-eval", type=int, default=256)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--seeds", type=int, nargs="+", default=None,
        help="with --only-conditional: train once per seed (default: --seed alone)",
    )  # fmt: skip
    ap.add_argument("--keep", type=Path, default=None, help="copy the trained models here")
    ap.add_argument("--cond-width", type=int, default=32, help="paper conditional: base width")
    ap.add_argument("--cond-nz", type=int, default=100, help="paper conditional: noise size")
    ap.add_argument(
        "--cond-arch",
        choices=("paper", "spatial"),
        default="paper",
        help="architecture of the conditional model (paper: the shipped model's)",
    )
    ap.add_argument(
        "--only-conditional", action="store_true",
        help="train and score only the conditional model of --cond-arch, merged into the "
        "results as conditional_by_arch.<arch>",
    )  # fmt: skip
    ap.add_argument("--lr", type=float, default=5e-4, help="learning rate of the paper's DCGAN")
    ap.add_argument(
        "--reuse-conditional",
        type=Path,
        default=None,
        help="evaluate this conditional model (kept by an earlier run with the same "
        "settings) instead of training it again",
    )
    return ap.parse_args()


def make_data(root: Path, args: argparse.Namespace, rng: np.random.Generator) -> dict[str, Any]:
    """Training folders of Al-4Si, -7Si and -10Si under ``root``, and ``--n-eval`` random
    64-pixel crops of held-out Al-7Si and Al-8.5Si images."""
    from microstructure.images import random_crops

    train = {si: synth_folder(root / f"train_{si:g}", si, args.n_train, 0) for si in SI_TRAIN}
    held7 = synth_folder(root / "held_7", 7.0, args.n_train // 2, 10_000)
    held85 = synth_folder(root / "held_8.5", 8.5, args.n_train // 2, 20_000)
    real7 = list(random_crops(held7, args.n_eval, 64, rng)[:, 0])
    real85 = list(random_crops(held85, args.n_eval, 64, rng)[:, 0])
    return {"train": train, "real7": real7, "real85": real85}


def train_models(root: Path, args: argparse.Namespace) -> dict[str, float]:
    """Train the paper's DCGAN on Al-7Si into ``root/dcgan`` and the conditional one on the
    three contents into ``root/cond`` (or copy ``--reuse-conditional``); wall seconds of each."""
    from microstructure.train import train_dcgan

    t0 = time.perf_counter()
    train_dcgan(
        [root / "train_7"], root / "dcgan", arch="paper", iters=args.iters, lr=args.lr,
        lr_d=args.lr, seed=args.seed, stop_on_collapse=False,
    )  # fmt: skip
    t_dcgan = time.perf_counter() - t0
    if args.reuse_conditional is not None:
        shutil.copytree(args.reuse_conditional, root / "cond")
        kept = json.loads((root / "cond" / "config.json").read_text())
        if kept["iters"] != args.iters or kept["seed"] != args.seed:
            raise SystemExit("--reuse-conditional: trained with other --iters or --seed")
        return {"dcgan": t_dcgan, "conditional": float(kept["wall_s"])}
    return {"dcgan": t_dcgan, "conditional": train_conditional(root, args)}


def train_conditional(root: Path, args: argparse.Namespace) -> float:
    """Train the conditional model of ``--cond-arch`` on the three contents into
    ``root/cond``; its wall seconds."""
    from microstructure.train import train_dcgan

    sizes = {"nz": args.cond_nz, "width": args.cond_width} if args.cond_arch == "paper" else {}
    t0 = time.perf_counter()
    train_dcgan(
        [root / f"train_{s:g}" for s in SI_TRAIN],
        root / "cond",
        arch=args.cond_arch,
        si_wt_pct=list(SI_TRAIN),
        iters=args.iters,
        seed=args.seed,
        stop_on_collapse=False,
        **sizes,
    )
    return time.perf_counter() - t0


def score_models(
    root: Path, args: argparse.Namespace, data: dict[str, Any], rng: np.random.Generator
) -> dict[str, Any]:
    """``compare_sets`` of each model's ``--n-eval`` images (and of the two baselines) against
    the held-out Al-7Si crops, and of the conditional model at the unseen Al-8.5Si."""
    from microstructure.generate import generate_images, load_generator
    from microstructure.images import random_crops
    from microstructure.metrics import compare_sets, segment

    g, _ = load_generator(root / "dcgan")
    gc, _ = load_generator(root / "cond")
    fake = list(generate_images(g, args.n_eval, None, seed=1))
    fake_c7 = list(generate_images(gc, args.n_eval, 7.0, seed=1))
    fake_c85 = list(generate_images(gc, args.n_eval, 8.5, seed=1))
    crops = list(random_crops(data["train"][7.0], args.n_eval, 64, rng)[:, 0])
    frac = float(np.mean([segment(x).mean() for x in crops]))
    grf = grf_images(args.n_eval, frac, rng)
    real7 = data["real7"]
    models = {
        "dcgan": compare_sets(real7, fake),
        "conditional": compare_sets(real7, fake_c7),
        "crops": compare_sets(real7, crops),
        "grf": compare_sets(real7, grf),
    }
    unseen = {"si_wt_pct": 8.5, **compare_sets(data["real85"], fake_c85)}
    return {"models": models, "conditional_unseen_si": unseen}


def keep_models(root: Path, keep: Path) -> None:
    """Copy the trained model folders ``dcgan`` and ``cond`` into ``keep``."""
    for name in ("dcgan", "cond"):
        dst = keep / name
        if dst.exists():
            shutil.rmtree(dst)
        shutil.copytree(root / name, dst)


def speed_report(train_wall_s: dict[str, float]) -> dict[str, Any]:
    """Speed of the paper's architecture at nz 1000 and nz 100, with the training wall times."""
    sp = {"nz1000": speed(1000), "nz100": speed(100)}
    big, small = sp["nz1000"], sp["nz100"]
    return {
        "train_iters_per_s": big["train_iters_per_s"],
        "generate_per_s": big["generate_per_s"],
        "nz100": small,
        "nz1000_over_nz100_train_time": small["train_iters_per_s"] / big["train_iters_per_s"],
        "nz1000_over_nz100_generate_time": small["generate_per_s"] / big["generate_per_s"],
        "train_wall_s": train_wall_s,
        "threads": 2,
    }


def goals(report: dict[str, Any]) -> dict[str, dict[str, bool]]:
    """Phase-fraction error < 0.02 and s2_mae < 0.01, for each generator."""
    scored = {
        "dcgan": report["models"]["dcgan"],
        "conditional": report["models"]["conditional"],
        "conditional_unseen_si": report["conditional_unseen_si"],
    }
    return {
        k: {
            "phase_fraction_error_lt_0.02": v["phase_fraction_error"] < 0.02,
            "s2_mae_lt_0.01": v["s2_mae"] < 0.01,
        }
        for k, v in scored.items()
    }


def only_conditional(args: argparse.Namespace) -> None:
    """The conditional model of ``--cond-arch`` alone, once per seed of ``--seeds``: trained
    on Al-4, 7 and 10Si, scored at Al-7Si and at the unseen Al-8.5Si; the mean over the
    seeds and each seed's scores are merged into microstructure.json."""
    seeds = args.seeds or [args.seed]
    rng = np.random.default_rng(args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        data = make_data(root, args, rng)
        runs = {str(seed): conditional_run(root, args, data, seed) for seed in seeds}
    row = {**seed_mean(runs), "seeds": runs,
           "settings": vars(args) | {"keep": str(args.keep) if args.keep else None},
           "machine": machine()}  # fmt: skip
    path = Path(__file__).resolve().parent / "results" / "microstructure.json"
    whole = json.loads(path.read_text())
    whole.setdefault("conditional_by_arch", {})[args.cond_arch] = row
    print(write_json("microstructure.json", whole))


def conditional_run(
    root: Path, args: argparse.Namespace, data: dict[str, Any], seed: int
) -> dict[str, Any]:
    """One training of the conditional model with ``seed``, scored at Al-7Si and Al-8.5Si."""
    from microstructure.generate import generate_images, load_generator
    from microstructure.metrics import compare_sets

    shutil.rmtree(root / "cond", ignore_errors=True)
    wall = train_conditional(root, argparse.Namespace(**{**vars(args), "seed": seed}))
    gc, config = load_generator(root / "cond")
    run: dict[str, Any] = {
        f"si_{si:g}": {"si_wt_pct": si, "seen": si in SI_TRAIN, **compare_sets(
            data[key], list(generate_images(gc, args.n_eval, si, seed=1)))}
        for si, key in ((7.0, "real7"), (8.5, "real85"))
    }  # fmt: skip
    if args.keep is not None:
        shutil.copytree(root / "cond", args.keep / f"cond_{args.cond_arch}_seed{seed}")
    return run | {"train_wall_s": wall, "warnings": config.get("warnings", [])}


def seed_mean(runs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The mean over the seeds' runs of every number they score, per content, with the
    seeds' lowest and highest phase-fraction error and s2_mae beside it."""
    out: dict[str, Any] = {}
    for key in ("si_7", "si_8.5"):
        rows = [r[key] for r in runs.values()]
        mean = {k: v if not isinstance(v, float) else float(np.mean([r[k] for r in rows]))
                for k, v in rows[0].items()}  # fmt: skip
        for k in ("phase_fraction_error", "s2_mae"):
            mean[f"{k}_range"] = [min(r[k] for r in rows), max(r[k] for r in rows)]
        out[key] = mean
    out["train_wall_s"] = float(np.mean([r["train_wall_s"] for r in runs.values()]))
    out["warnings"] = [f"seed {s}: {w}" for s, r in runs.items() for w in r["warnings"]]
    return out


def main() -> None:
    """Run the benchmark and write ``benchmarks/results/microstructure.json``."""
    args = parse_args()
    torch.set_num_threads(2)
    if args.only_conditional:
        only_conditional(args)
        return
    t_start = time.perf_counter()
    rng = np.random.default_rng(args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        data = make_data(root, args, rng)
        train_wall_s = train_models(root, args)
        report: dict[str, Any] = score_models(root, args, data, rng)
        if args.keep is not None:
            keep_models(root, args.keep)
    report["speed"] = speed_report(train_wall_s)
    report["goals"] = goals(report)
    report["settings"] = vars(args) | {
        "keep": str(args.keep) if args.keep else None,
        "reuse_conditional": str(args.reuse_conditional) if args.reuse_conditional else None,
    }
    report["benchmark_wall_s"] = time.perf_counter() - t_start
    report["machine"] = machine()
    path = Path(__file__).resolve().parent / "results" / "microstructure.json"
    kept = json.loads(path.read_text()) if path.is_file() else {}
    for key in ("real", "conditional_by_arch"):  # written by other runs
        if key in kept:
            report[key] = kept[key]
    print(write_json("microstructure.json", report))
    summary = {k: report[k] for k in ("models", "conditional_unseen_si", "speed")}
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
