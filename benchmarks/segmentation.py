"""Grain-boundary segmentation of rendered polycrystals: the shipped U-Net beside the classical
Sobel + watershed pipeline.

Protocol (fixed before the run); writes benchmarks/results/segmentation.json:

* the model: ``data/models/unet-grains-synthetic-v3``, trained by
  ``eftgan micro segment train --out data/models/unet-grains-synthetic-v3 --n-images 24000
  --seed 0`` (its card); it saw rendered images only, from grain maps of one random stream;
* validation: 12 images of 384 x 384 pixels (9 optical, 3 SEM-like), grain maps of
  ``relaxed_grain_map`` from seed 101 and looks from seed 102, never used in training.
  The watershed's settings (probability threshold 0.4/0.5/0.6, marker depth h 1/2/3
  pixels) are chosen per method on them, by the mean adjusted Rand index;
* test: 24 images of 512 x 512 (18 optical, 6 SEM-like), maps from seed 201, looks from
  seed 202 (v1 and v2; v3 on fresh ones from seeds 203 and 204, below), read once per
  model with the chosen settings: boundary precision, recall and F
  (2-pixel tolerance), adjusted Rand index, variation of information (split, merge) and
  the difference in ASTM G (planimetric), means over the images with their spread;
* speed: one 1024 x 1024 optical image, probability and watershed, the median of 3 runs;
* Super1 phases (real SEM micrographs of a Ni superalloy, ../shared/reference/
  micrographs_super1, 10/4/4 train/val/test as distributed): the model
  ``data/models/unet-phases-super1-v1``, trained from scratch by
  ``eftgan micro segment train --task phases --images .../train --masks .../train_annot
  --val-images .../val --val-masks .../val_annot --classes matrix,secondary,tertiary
  --iters 1500 --seed 0`` (weights of the best validation IoU kept, its card). The
  multi-Otsu baseline is chosen on the validation images among: three intensity classes
  (smoothing sigma 1 or 2 pixels), or two classes with the dark particles split by area
  (sigma 1 or 2, split area fitted on the training images over 16-1024 pixels). The test
  images are read once: IoU per phase pooled over their pixels, per-image IoU spread, and
  the error of each phase's area fraction.

Choice of the shipped grain model (``python benchmarks/segmentation.py validation MODEL...``,
``model_choice`` in the JSON; rule fixed before the run): each candidate is scored on the
validation set above, with its own watershed settings chosen there, and on a second
validation set of elongated grains (12 images of 384 x 384, maps from seed 103 and looks
from seed 104, each map stretched 1.5-2.5 times along a random direction by
``scipy.ndimage.affine_transform`` with periodic wrap: grains as in rolled metal; v1 was
trained on equiaxed grains only, v2's kornia warp stretches them up to 1.96 : 1, so the set
lies partly inside v2's training range). The candidate whose training augmentation is the
issue's (kornia) is shipped unless it loses more than 0.01 in mean adjusted Rand index on
the first set; the elongated set is reported beside it, as a check of robustness to grain
shapes. Both sets are renderings of our own simulator; they say nothing of real
micrographs. Written after the validation run: v1 (numpy flips, quarter turns, gamma)
scored ARI 0.961 on the first set and 0.887 on the elongated one, v2 (kornia) 0.954 and
0.905, so v2 is shipped and v1 removed; the test set below was then read with v2.
Written after that test read, which missed the ARI goal (0.946 against 0.95), and before
the next run: v3, the same recipe trained 1.5 times longer (``--n-images 24000``: a wider
training distribution may need more steps), replaces v2 if its ARI on the first validation
set is higher than v2's and it loses no more than 0.01 on the elongated one. Because the
test renderings above have now been read twice, a replacement is tested on fresh ones
(``--test-seeds 203 204``: maps from seed 203, looks from 204), with v2 scored beside it
there; the figures on seeds 201/202 stay recorded in the card and the changelog.
Written before the next run: v4, v3's recipe with a clDice term (Shit et al. 2021) of
weight 0.5 in the loss (``--cldice 0.5``: the issue's topology-aware term, against broken
boundaries, which merge grains), trained from the same seed, replaces v3 if its mean ARI
over the two validation sets is at least 0.003 above v3's and it loses no more than 0.005
on either; a replacement is tested once on fresh renderings (``--test-seeds 205 206``),
with v3 beside it. Written after the run: v4 scored 0.957 on the first set (v3 0.956) and
0.910 on the elongated one (v3 0.913), a mean 0.001 below v3's, so v3 stays, the test set
was not read, and v4 is not shipped (the option stays, off by default).

Markers on a coarser grid (``python benchmarks/segmentation.py markers``,
``post_processing`` in the JSON; rule fixed before the run): the watershed's markers, the
h-maxima of the distance to the boundary, are searched on the full-resolution distance map
(``block`` 1) or on its 2 x 2 block maxima (``block`` 2, four times fewer pixels for the
morphological reconstruction that takes most of the post-processing's time). For the
shipped model, each is scored on both validation sets above, with its own watershed
settings chosen on the first, and timed on the speed image (post-processing only, median
of 3). Block 2 becomes the default if its ARI on neither set is more than 0.003 below
block 1's; otherwise block 1 stays. The test renderings are then read once more, on fresh
seeds (``--test-seeds 205 206``), because the shipped pipeline changes. Written after the
run: block 2 lost 0.0012 on the first set and 0.0043 on the elongated one, so block 1
stays and the test set was not read again; the CLI's marker depth, left at 2 pixels while
every model's validation chose 1, now takes the chosen value.

Speed changes meant to keep the output (written before the recorded speed run): the
marker search runs on horizontal bands in threads (``banded_h_maxima``, equal to the
whole-map search for marker depths up to the smallest interior distance, by its argument
and a test) and the network's up blocks skip the channel concatenation (``InferenceUNet``,
the same function to float rounding). Before the speed was measured again, the grain
labels of the 12 equiaxed validation images were checked identical, pixel for pixel, to
those of the code before (a one-off check); the accuracy figures above were not
re-measured, and only ``speed`` was rerun.

Not measured: any real grain micrograph with hand-traced boundaries (none is in
../shared). ``python benchmarks/segmentation.py super1`` re-measures only the Super1 part,
``speed`` only the speed.

    python benchmarks/segmentation.py [--test-seeds 201 202] [--beside MODEL]
    python benchmarks/segmentation.py validation|markers|super1|speed [MODEL...]
"""

from __future__ import annotations

import itertools
import time
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch
from _common import machine, merge_json, protocol_text

SUPER1 = Path(__file__).resolve().parents[1].parent / "shared/reference/micrographs_super1"
PHASES = ("matrix", "secondary", "tertiary")


def rendered_set(n: int, size: int, map_seed: int, look_seed: int) -> list[dict[str, Any]]:
    """``n`` rendered micrographs with their true grains (a quarter SEM-like), half of the
    grain maps magnified 2x."""
    return _rendered(n, size, map_seed, look_seed, _magnify_half)


def elongated_set(n: int, size: int, map_seed: int, look_seed: int) -> list[dict[str, Any]]:
    """``n`` rendered micrographs of grain maps stretched 1.5-2.5 times along a random
    direction (nearest-neighbour resampling of the periodic maps, wrapped), a quarter
    SEM-like."""
    return _rendered(n, size, map_seed, look_seed, _stretch)


def _magnify_half(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    if rng.random() < 0.5:
        return np.repeat(np.repeat(labels, 2, 0), 2, 1)[: len(labels), : len(labels)]
    return labels


def _stretch(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    from scipy.ndimage import affine_transform

    a, k = rng.uniform(0, np.pi), rng.uniform(1.5, 2.5)
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    inverse = rot @ np.diag([1 / k, 1.0]) @ rot.T  # output pixel -> map pixel
    return affine_transform(labels, inverse, order=0, mode="grid-wrap")


def _rendered(n: int, size: int, map_seed: int, look_seed: int, warp) -> list[dict[str, Any]]:
    """``n`` grain maps from ``map_seed``, each changed by ``warp(labels, rng)`` with the
    maps' random stream, drawn in looks from ``look_seed`` (every fourth SEM-like)."""
    from microstructure.polycrystal import draw_look, render
    from microstructure.segment import relaxed_grain_map

    maps, looks = np.random.default_rng(map_seed), np.random.default_rng(look_seed)
    out = []
    for i in range(n):
        labels = warp(relaxed_grain_map(maps, size), maps)
        style = "sem" if i % 4 == 3 else "optical"
        img, _ = render(labels, draw_look(looks, style), looks)
        out.append({"image": img, "labels": labels, "style": style})
    return out


def probabilities(net: Any, images: list[dict[str, Any]]) -> dict[str, list[np.ndarray]]:
    from microstructure.segment import predict_probability
    from microstructure.segscore import baseline_probability

    return {
        "unet": [predict_probability(net, d["image"]) for d in images],
        "baseline": [baseline_probability(d["image"]) for d in images],
    }


def scores(
    probs: list[np.ndarray], images: list[dict[str, Any]], t: float, h: float, block: int = 1
) -> list[dict]:
    from microstructure.segment import grains_from_probability
    from microstructure.segscore import score

    return [
        score(grains_from_probability(p, t, h_px=h, block=block), d["labels"])
        for p, d in zip(probs, images, strict=True)
    ]


def summary(rows: list[dict[str, float]]) -> dict[str, float]:
    out = {}
    for k in rows[0]:
        v = np.array([r[k] for r in rows])
        out[k], out[f"{k}_std"] = float(v.mean()), float(v.std(ddof=1))
    out["delta_g_abs"] = float(np.mean([abs(r["delta_g"]) for r in rows]))
    return out


def choose(probs: list[np.ndarray], images: list[dict[str, Any]], block: int = 1) -> dict[str, Any]:
    grid = {}
    for t, h in itertools.product((0.4, 0.5, 0.6), (1.0, 2.0, 3.0)):
        rows = scores(probs, images, t, h, block)
        grid[f"{t}/{h}"] = float(np.mean([s["ari"] for s in rows]))
    best = max(grid, key=grid.__getitem__)
    t, h = (float(x) for x in best.split("/"))
    return {"threshold": t, "h_px": h, "val_ari": grid[best], "grid_val_ari": grid}


def speed_image() -> np.ndarray:
    """The 1024 x 1024 optical rendering that every timing here uses."""
    return rendered_set(1, 1024, 301, 302)[0]["image"]


def median_seconds(work, runs: int = 3) -> float:
    """The median wall time of ``runs`` calls of ``work()``."""
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        work()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def speed(net: Any) -> dict[str, float]:
    from microstructure.segment import grains_from_probability, predict_probability

    img = speed_image()
    s = median_seconds(lambda: grains_from_probability(predict_probability(net, img)))
    return {"s_per_megapixel": s / 1.048576, "s_1024": s}


def super1_split(split: str) -> list[tuple[np.ndarray, np.ndarray]]:
    from microstructure.phaseseg import _read_labelled, labelled_pairs

    return _read_labelled(labelled_pairs(SUPER1 / split, SUPER1 / f"{split}_annot"))


def phase_scores(pred: list[np.ndarray], data: list[tuple[np.ndarray, np.ndarray]]) -> dict:
    from microstructure.phaseseg import iou

    truth = [lab for _, lab in data]
    pairs = list(zip(pred, truth, strict=True))
    pooled = iou(pred, truth, len(PHASES))
    per_image = [iou([p], [t], len(PHASES)) for p, t in pairs]
    out: dict[str, Any] = {}
    for k, name in enumerate(PHASES):
        v = np.array([row[k] for row in per_image])
        frac = [abs(float((p == k).mean() - (t == k).mean())) for p, t in pairs]
        out[f"iou_{name}"] = pooled[k]
        out[f"iou_{name}_image_std"] = float(v.std(ddof=1))
        out[f"fraction_error_{name}"] = float(np.mean(frac))
    out["mean_iou_precipitates"] = float(np.mean(pooled[1:]))
    return out


def otsu_candidates(train: list[tuple[np.ndarray, np.ndarray]]) -> dict[str, Any]:
    """The baseline variants, each a function of an image; split areas fitted on ``train``."""
    from microstructure.phaseseg import iou, otsu_phases, otsu_size_phases

    cands: dict[str, Any] = {}
    for sigma in (1.0, 2.0):
        cands[f"multiotsu3 sigma {sigma:g}"] = lambda im, s=sigma: otsu_phases(im, 3, s)
        best = max(
            (2 ** (k / 2) for k in range(8, 21)),
            key=lambda a, s=sigma: np.mean(
                iou([otsu_size_phases(im, a, s) for im, _ in train], [t for _, t in train], 3)[1:]
            ),
        )
        cands[f"otsu2 + split {best:.0f} px, sigma {sigma:g}"] = lambda im, s=sigma, a=best: (
            otsu_size_phases(im, a, s)
        )
    return cands


def super1() -> dict[str, Any]:
    from microstructure.phaseseg import load_phase_segmenter, phase_labels

    if not SUPER1.is_dir():
        return {"skipped": f"{SUPER1} is absent"}
    train, val, test = (super1_split(s) for s in ("train", "val", "test"))
    cands = otsu_candidates(train)
    val_scores = {
        name: phase_scores([f(im) for im, _ in val], val)["mean_iou_precipitates"]
        for name, f in cands.items()
    }
    chosen = max(val_scores, key=val_scores.__getitem__)
    net, config = load_phase_segmenter()
    unet = phase_scores([phase_labels(net, im) for im, _ in test], test)
    base = phase_scores([cands[chosen](im) for im, _ in test], test)
    return {
        **unet,
        **{f"baseline_{k}": v for k, v in base.items()},
        "baseline_chosen_on_validation": chosen,
        "baseline_val_mean_iou": val_scores,
        "unet_val_mean_iou": config["model"]["best"]["val_iou"],
        "unet_best_iter": config["model"]["best"]["iter"],
        "model_wall_s": config.get("wall_s"),
        "images": {"train": len(train), "val": len(val), "test": len(test)},
    }


def validation_sets() -> dict[str, list[dict[str, Any]]]:
    return {
        "validation": rendered_set(12, 384, 101, 102),
        "elongated": elongated_set(12, 384, 103, 104),
    }


def validation_row(probs: dict[str, list[np.ndarray]], sets: dict, block: int = 1) -> dict:
    """The U-Net's adjusted Rand index and boundary F on each validation set, with the
    watershed settings chosen on the first."""
    chosen = choose(probs["validation"], sets["validation"], block)
    row: dict[str, Any] = {"chosen": {k: chosen[k] for k in ("threshold", "h_px")}}
    for k, images in sets.items():
        rows = scores(probs[k], images, chosen["threshold"], chosen["h_px"], block)
        row[k] = {m: summary(rows)[m] for m in ("ari", "ari_std", "boundary_f", "boundary_f_std")}
    return row


def model_choice(models: list[str]) -> dict[str, Any]:
    """Each model's validation scores (:func:`validation_row`)."""
    from microstructure.segment import load_segmenter

    sets = validation_sets()
    out: dict[str, Any] = {}
    for folder in models:
        net, _ = load_segmenter(folder)
        out[Path(folder).name] = validation_row(
            {k: probabilities(net, v)["unet"] for k, v in sets.items()}, sets
        )
        print(Path(folder).name, out[Path(folder).name])
    return out


def marker_grids(net: Any) -> dict[str, Any]:
    """The shipped model's validation scores with markers searched at full resolution
    (block 1) and on 2 x 2 block maxima (block 2), and each one's post-processing time on
    the speed image (the median of 3)."""
    from microstructure.segment import grains_from_probability, predict_probability

    sets = validation_sets()
    probs = {k: probabilities(net, v)["unet"] for k, v in sets.items()}
    prob = predict_probability(net, speed_image())
    out: dict[str, Any] = {}
    for block in (1, 2):
        row = validation_row(probs, sets, block)
        chosen = {"threshold": row["chosen"]["threshold"], "h_px": row["chosen"]["h_px"]}
        post_s = median_seconds(partial(grains_from_probability, prob, **chosen, block=block))
        out[f"block{block}"] = {**row, "post_s_1024": post_s}
        print(block, out[f"block{block}"])
    return out


def test_scores(net: Any, val: list[dict], test: list[dict]) -> tuple[dict, dict]:
    """The watershed settings of the U-Net and the baseline chosen on ``val``, and their
    scores on ``test`` (means, spreads, and per style)."""
    val_probs = probabilities(net, val)
    chosen = {m: choose(p, val) for m, p in val_probs.items()}
    result = {}
    for m, probs in probabilities(net, test).items():
        rows = scores(probs, test, chosen[m]["threshold"], chosen[m]["h_px"])
        result[m] = {**summary(rows), "by_style": {
            s: summary([r for r, d in zip(rows, test, strict=True) if d["style"] == s])
            for s in ("optical", "sem")
        }}  # fmt: skip
    return chosen, result


def full_run(test_seeds: tuple[int, int], beside: str | None) -> None:
    """The whole benchmark but the model choice: test, speed and Super1, merged into the
    results so that ``model_choice`` and ``post_processing`` stay."""
    from microstructure.segment import load_segmenter

    t0 = time.perf_counter()
    net, config = load_segmenter()
    val = rendered_set(12, 384, 101, 102)
    test = rendered_set(24, 512, *test_seeds)
    chosen, result = test_scores(net, val, test)
    report = {
        "test_seeds": list(test_seeds),
        "synthetic": result["unet"],
        "baseline_synthetic": result["baseline"],
        "chosen_on_validation": chosen,
        "speed": speed(net),
        "super1": super1(),
        "model": {"config": config["model"], "wall_s": config.get("wall_s")},
        "benchmark_wall_s": time.perf_counter() - t0,
    }
    if beside:
        other = test_scores(load_segmenter(beside)[0], val, test)[1]["unet"]
        report["beside"] = {"model": Path(beside).name, "synthetic": other}
    for key, part in report.items():
        path = merge_json("segmentation.json", [key], part)
    print(path)
    for m in ("synthetic", "baseline_synthetic"):
        print(m, {k: round(report[m][k], 3) for k in ("boundary_f", "ari", "delta_g_abs")})
    print(report["speed"], report.get("beside"))


def main() -> None:
    import argparse

    from microstructure.segment import load_segmenter

    ap = argparse.ArgumentParser(description="Grain and phase segmentation benchmark.")
    parts = ("all", "validation", "markers", "super1", "speed")
    ap.add_argument(
        "part", nargs="?", default="all", choices=parts,
        help="all (default): test, speed and Super1; the others measure one part",
    )  # fmt: skip
    ap.add_argument("models", nargs="*", help="validation: the candidate model folders")
    ap.add_argument("--test-seeds", type=int, nargs=2, default=(201, 202))
    ap.add_argument("--beside", help="another grain model scored on the same test renderings")
    args = ap.parse_args()
    if (args.part == "validation") != bool(args.models):
        ap.error("model folders go with 'validation', and only with it")
    torch.set_num_threads(2)
    merge_json("segmentation.json", ["machine"], machine())
    merge_json("segmentation.json", ["protocol"], protocol_text(__doc__))
    if args.part == "validation":
        for name, row in model_choice(args.models).items():  # earlier candidates stay
            merge_json("segmentation.json", ["model_choice", name], row)
    elif args.part == "markers":
        merge_json("segmentation.json", ["post_processing"], marker_grids(load_segmenter()[0]))
    elif args.part == "super1":
        print(merge_json("segmentation.json", ["super1"], super1()))
    elif args.part == "speed":
        print(merge_json("segmentation.json", ["speed"], speed(load_segmenter()[0])))
    else:
        full_run(tuple(args.test_seeds), args.beside)


if __name__ == "__main__":
    main()
