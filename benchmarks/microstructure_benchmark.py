"""microstructure: the seed DCGAN, the conditional one and two baselines, judged by numbers.

Writes benchmarks/results/microstructure.json. In one run:

* data: synthetic micrographs (``eftgan micro synth`` physics), 256 x 256 pixels, cooling rate
  10 K/s; Al-7Si for the seed DCGAN (``--n-train`` training images, seeds 0..; held-out
  images from other seeds), Al-4Si, Al-7Si and Al-10Si for the conditional model, and held-out
  Al-8.5Si images, a content the conditional model never saw;
* models: ``dcgan`` (the seed's architecture, 64 x 64, one channel, nz 1000) trained on Al-7Si;
  ``conditional`` trained on the three contents, at half the seed's width and nz 100 by
  default (``--cond-width``, ``--cond-nz``): a quarter of the compute per iteration, and
  small enough (about 7 MB with its discriminator) to ship as the default model; ``crops``
  (random crops of the training images: the ceiling) and ``grf`` (a Gaussian random field
  thresholded to the training phase fraction and rendered with the same gray levels: the
  floor);
* scores: ``eftgan micro evaluate`` statistics of ``--n-eval`` generated 64 x 64 images against
  as many random crops of the held-out images;
* speed: training iterations per second at batch 64 and generated images per second for the
  seed architecture, with nz 1000 and with nz 100.

    python benchmarks/microstructure_benchmark.py [--iters 600] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine, write_json


def synth_folder(folder: Path, si: float, n: int, seed0: int) -> list[np.ndarray]:
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
    from microstructure.synth import gaussian_field, threshold_to_fraction

    out = []
    for _ in range(n):
        si = threshold_to_fraction(gaussian_field((64, 64), 2.0, rng), fraction)
        img = np.where(si, 0.3, 0.8) + rng.normal(0, 0.02, si.shape)
        out.append(np.clip(img, 0, 1))
    return out


def speed(nz: int, width: int = 64) -> dict[str, float]:
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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--iters", type=int, default=600)
    ap.add_argument("--n-train", type=int, default=40)
    ap.add_argument("--n-eval", type=int, default=256)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--keep", type=Path, default=None, help="copy the trained models here")
    ap.add_argument("--cond-width", type=int, default=32, help="conditional model base width")
    ap.add_argument("--cond-nz", type=int, default=100, help="conditional model noise size")
    ap.add_argument("--lr", type=float, default=5e-4, help="seed DCGAN learning rate")
    ap.add_argument("--reuse-conditional", type=Path, default=None,
                    help="evaluate this conditional model (kept by an earlier run with the same "
                    "settings) instead of training it again")  # fmt: skip
    args = ap.parse_args()
    torch.set_num_threads(2)
    from microstructure.images import random_crops
    from microstructure.metrics import compare_sets, segment
    from microstructure.generate import generate_images, load_generator
    from microstructure.train import train_dcgan

    t_start = time.perf_counter()
    rng = np.random.default_rng(args.seed)
    report: dict[str, Any] = {"models": {}}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        train = {si: synth_folder(root / f"train_{si:g}", si, args.n_train, 0)
                 for si in (4.0, 7.0, 10.0)}  # fmt: skip
        held7 = synth_folder(root / "held_7", 7.0, args.n_train // 2, 10_000)
        held85 = synth_folder(root / "held_8.5", 8.5, args.n_train // 2, 20_000)
        real7 = list(random_crops(held7, args.n_eval, 64, rng)[:, 0])
        real85 = list(random_crops(held85, args.n_eval, 64, rng)[:, 0])
        t0 = time.perf_counter()
        train_dcgan([root / "train_7"], root / "dcgan", iters=args.iters, lr=args.lr,
                    seed=args.seed, progress=True)  # fmt: skip
        t_dcgan = time.perf_counter() - t0
        t0 = time.perf_counter()
        if args.reuse_conditional is None:
            train_dcgan([root / f"train_{s:g}" for s in (4.0, 7.0, 10.0)], root / "cond",
                        si_wt_pct=[4.0, 7.0, 10.0], iters=args.iters, nz=args.cond_nz,
                        width=args.cond_width, seed=args.seed, progress=True)  # fmt: skip
            t_cond = time.perf_counter() - t0
        else:
            import shutil

            shutil.copytree(args.reuse_conditional, root / "cond")
            kept = json.loads((root / "cond" / "config.json").read_text())
            if kept["iters"] != args.iters or kept["seed"] != args.seed:
                raise SystemExit("--reuse-conditional: trained with other --iters or --seed")
            t_cond = float(kept["wall_s"])
        g, _ = load_generator(root / "dcgan")
        gc, _ = load_generator(root / "cond")
        fake = list(generate_images(g, args.n_eval, None, seed=1))
        fake_c7 = list(generate_images(gc, args.n_eval, 7.0, seed=1))
        fake_c85 = list(generate_images(gc, args.n_eval, 8.5, seed=1))
        crops = list(random_crops(train[7.0], args.n_eval, 64, rng)[:, 0])
        frac = float(np.mean([segment(x).mean() for x in crops]))
        grf = grf_images(args.n_eval, frac, rng)
        report["models"]["dcgan"] = compare_sets(real7, fake)
        report["models"]["conditional"] = compare_sets(real7, fake_c7)
        report["models"]["crops"] = compare_sets(real7, crops)
        report["models"]["grf"] = compare_sets(real7, grf)
        report["conditional_unseen_si"] = {"si_wt_pct": 8.5, **compare_sets(real85, fake_c85)}
        if args.keep is not None:
            import shutil

            for name in ("dcgan", "cond"):
                dst = args.keep / name
                if dst.exists():
                    shutil.rmtree(dst)
                shutil.copytree(root / name, dst)
    sp = {"nz1000": speed(1000), "nz100": speed(100)}
    report["speed"] = {
        "train_iters_per_s": sp["nz1000"]["train_iters_per_s"],
        "generate_per_s": sp["nz1000"]["generate_per_s"],
        "nz100": sp["nz100"],
        "nz1000_over_nz100_train_time": sp["nz100"]["train_iters_per_s"]
        / sp["nz1000"]["train_iters_per_s"],
        "nz1000_over_nz100_generate_time": sp["nz100"]["generate_per_s"]
        / sp["nz1000"]["generate_per_s"],
        "train_wall_s": {"dcgan": t_dcgan, "conditional": t_cond},
        "threads": 2,
    }
    report["goals"] = {
        k: {"phase_fraction_error_lt_0.02": v["phase_fraction_error"] < 0.02,
            "s2_mae_lt_0.01": v["s2_mae"] < 0.01}
        for k, v in (("dcgan", report["models"]["dcgan"]),
                     ("conditional", report["models"]["conditional"]),
                     ("conditional_unseen_si", report["conditional_unseen_si"]))
    }  # fmt: skip
    report["settings"] = vars(args) | {
        "keep": str(args.keep) if args.keep else None,
        "reuse_conditional": str(args.reuse_conditional) if args.reuse_conditional else None,
    }
    report["benchmark_wall_s"] = time.perf_counter() - t_start
    report["machine"] = machine()
    print(write_json("microstructure.json", report))
    print(json.dumps({k: report[k] for k in ("models", "conditional_unseen_si", "speed")},
                     indent=1))  # fmt: skip


if __name__ == "__main__":
    main()
