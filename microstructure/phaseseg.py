"""Phase segmentation of real micrographs: the U-Net of :mod:`.segment` trained on a few
hand-labelled images, and a classical multi-Otsu baseline.

**The data** are micrographs with label images of the same size (``0..C-1``, one value per
phase), as few as ten. The first case is the Super1 set of a Ni superalloy (gamma matrix,
secondary gamma-prime of about 50 % of the area, tertiary gamma-prime of 1-4 % in small
particles of about 8 pixels across).

**Training from scratch on ten images** leans on augmentation (kornia, the same draw for
image and labels): any rotation, zoom 0.7-1.4, shear, flips, then, on the image only,
gamma, contrast, brightness, blur and noise. Crops are drawn at random; the loss is cross
entropy plus the soft Dice loss averaged over the phases, so a phase of 2 % of the pixels
weighs as much as the matrix. Every ``eval_every`` iterations the network labels the
validation images whole; the weights of the best validation IoU (mean over the phases
other than the first) are kept: early stopping, chosen on validation data only.

**The baseline** (:func:`otsu_phases`) thresholds the smoothed image with multi-Otsu
(Otsu 1979; Liao et al. 2001) and maps the intensity classes to phases by their order;
where two phases share an intensity (secondary and tertiary gamma-prime are both dark),
particles are told apart by area instead (:func:`otsu_size_phases`).
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from eftgan.errors import UserError
from eftgan.settings import JSONSettings

__all__ = [
    "KIND",
    "PhaseTrainConfig",
    "evaluate_phase_folders",
    "iou",
    "labelled_pairs",
    "load_phase_segmenter",
    "otsu_phases",
    "otsu_size_phases",
    "phase_labels",
    "segment_phases",
    "train_phase_segmenter",
]

KIND = "unet-phases"
#: Label images beside a micrograph ``x.png`` are ``x_mask.png`` or ``x.png`` in the
#: mask folder, with any of these suffixes.
SUFFIXES = (".png", ".tif", ".tiff")


@dataclass
class PhaseTrainConfig(JSONSettings):
    """Training settings: ``iters`` iterations of ``batch_size`` random crops of ``crop``
    pixels; the validation images (if given) are labelled every ``eval_every`` iterations."""

    images: str = ""
    masks: str = ""
    val_images: str = ""
    val_masks: str = ""
    classes: tuple[str, ...] = ()
    iters: int = 1200
    crop: int = 192
    batch_size: int = 6
    lr: float = 2e-3
    width: int = 16
    depth: int = 4
    eval_every: int = 100
    seed: int = 0


def _mask_for(image: Path, masks: Path) -> Path | None:
    for name in (f"{image.stem}_mask", image.stem):
        for suffix in SUFFIXES:
            if (masks / f"{name}{suffix}").is_file():
                return masks / f"{name}{suffix}"
    return None


def labelled_pairs(
    images: str | Path, masks: str | Path, flags: tuple[str, str] = ("--images", "--masks")
) -> list[tuple[Path, Path]]:
    """``(image, label image)`` pairs of two folders (they may be one): ``x.png`` with
    ``x_mask.png`` or ``x.png``; a one-line error when an image has no labels or a folder
    is empty."""
    images, masks = Path(images), Path(masks)
    for folder, flag in zip((images, masks), flags, strict=True):
        if not folder.is_dir():
            raise UserError(f"{flag} {folder} is not a folder; give the folder of the files")
    files = sorted(
        p for p in images.iterdir()
        if p.suffix.lower() in SUFFIXES and not p.stem.endswith("_mask")
    )  # fmt: skip
    if not files:
        raise UserError(f"{images} holds no .png or .tif micrograph")
    pairs = []
    for f in files:
        m = _mask_for(f, masks)
        if m is None or m.resolve() == f.resolve():
            raise UserError(f"{f.name} has no label image in {masks} ({f.stem}_mask.png)")
        pairs.append((f, m))
    return pairs


def read_label_image(path: Path) -> np.ndarray:
    """A label image as integers: gray values, palette indices or a two-level image as
    0/1; a colour image only where its channels are equal."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            im.load()
            mode, a = im.mode, np.asarray(im)
    except (OSError, ValueError, SyntaxError) as exc:
        reason = " ".join(str(exc).split())[:100]
        raise UserError(f"cannot read label image {path} ({reason})") from None
    if mode in ("RGB", "RGBA"):
        a = a[..., :3]
        if (a != a[..., :1]).any():
            raise UserError(
                f"{path} is a colour image; give labels as one gray value (or palette index) "
                "per phase"
            )
        a = a[..., 0]
    return a.astype(np.int64)


#: Label values at or above this need --classes to be believed.
MAX_UNNAMED_PHASES = 16


def _read_labelled(pairs: list[tuple[Path, Path]]) -> list[tuple[np.ndarray, np.ndarray]]:
    from microstructure.images import read_gray

    out = []
    for f, m in pairs:
        img, lab = read_gray(f), read_label_image(m)
        if lab.shape != img.shape:
            raise UserError(f"{m} is {lab.shape[::-1]} pixels but {f} is {img.shape[::-1]}")
        out.append((img, lab))
    return out


def _data_hash(pairs: list[tuple[Path, Path]]) -> str:
    import hashlib

    h = hashlib.sha256()
    for f, m in pairs:
        h.update(f.read_bytes())
        h.update(m.read_bytes())
    return h.hexdigest()


def _augmenter() -> nn.Module:
    """Geometric draws shared by image and labels (labels resampled by nearest neighbour)."""
    import kornia.augmentation as K

    return K.AugmentationSequential(
        K.RandomAffine(
            degrees=180.0, scale=(0.7, 1.4), shear=8.0, padding_mode="reflection", p=1.0
        ),
        K.RandomHorizontalFlip(),
        K.RandomVerticalFlip(),
        data_keys=["input", "mask"],
    )


def _batch(
    data: list[tuple[np.ndarray, np.ndarray]],
    cfg: PhaseTrainConfig,
    gen: torch.Generator,
    aug: nn.Module,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Random crops with their labels: 1.5x ``crop`` cut out, augmented, then centre-cut
    (at strong zoom-out and rotation some reflected content enters at the corners; the
    labels are reflected alike)."""
    from microstructure.augment import photometric
    from microstructure.segment import _standardise

    big = int(cfg.crop * 1.5)
    xs, ys = [], []
    for _ in range(cfg.batch_size):
        img, lab = data[int(torch.randint(len(data), (1,), generator=gen))]
        h, w = img.shape
        y0 = int(torch.randint(max(1, h - big + 1), (1,), generator=gen))
        x0 = int(torch.randint(max(1, w - big + 1), (1,), generator=gen))
        xs.append(torch.from_numpy(img[y0 : y0 + big, x0 : x0 + big].copy()))
        ys.append(torch.from_numpy(lab[y0 : y0 + big, x0 : x0 + big].astype(np.float32)))
    x, y = torch.stack(xs)[:, None], torch.stack(ys)[:, None]
    with torch.random.fork_rng():
        torch.manual_seed(int(torch.randint(2**31, (1,), generator=gen)))
        x, y = aug(x, y)
    x = photometric(x, gen)
    c = (big - cfg.crop) // 2
    x, y = x[..., c : c + cfg.crop, c : c + cfg.crop], y[..., c : c + cfg.crop, c : c + cfg.crop]
    x = torch.stack([torch.from_numpy(_standardise(im[0].numpy()))[None] for im in x])
    return x, y[:, 0].round().long()


def _loss(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Cross entropy plus the soft Dice loss averaged over the classes."""
    ce = nn.functional.cross_entropy(logits, y)
    p = torch.softmax(logits, 1)
    onehot = nn.functional.one_hot(y, logits.shape[1]).permute(0, 3, 1, 2).float()
    inter, total = (p * onehot).sum((0, 2, 3)), (p + onehot).sum((0, 2, 3))
    return ce + (1 - (2 * inter + 1) / (total + 1)).mean()


def iou(pred: list[np.ndarray], truth: list[np.ndarray], classes: int) -> list[float]:
    """Intersection over union of each class over all pixels of all images."""
    inter, union = np.zeros(classes), np.zeros(classes)
    for p, t in zip(pred, truth, strict=True):
        for k in range(classes):
            a, b = p == k, t == k
            inter[k] += (a & b).sum()
            union[k] += (a | b).sum()
    return [float(i / u) if u else math.nan for i, u in zip(inter, union, strict=True)]


def phase_labels(net: nn.Module, img: np.ndarray) -> np.ndarray:
    """The most probable phase of every pixel (H, W) of a gray image."""
    from microstructure.segment import predict_classes

    return predict_classes(net, img).argmax(0).astype(np.uint8)


def _validate(net: nn.Module, val: list[tuple[np.ndarray, np.ndarray]], classes: int) -> float:
    scores = iou([phase_labels(net, im) for im, _ in val], [lab for _, lab in val], classes)
    found = [v for v in scores[1:] if not math.isnan(v)]
    return float(np.mean(found)) if found else -math.inf


def _check_config(cfg: PhaseTrainConfig) -> None:
    field = 2**cfg.depth
    if cfg.iters < 1 or cfg.batch_size < 1:
        raise UserError("--iters and --batch-size must be at least 1")
    if cfg.crop < 4 * field or cfg.crop % field:
        raise UserError(f"--crop {cfg.crop}: give a multiple of {field} of at least {4 * field}")


def _classes(cfg: PhaseTrainConfig, labelled: list[tuple[np.ndarray, np.ndarray]]) -> list[str]:
    """The phase names: --classes, or phase0.. up to the largest label value."""
    top = int(max(lab.max() for _, lab in labelled))
    if int(min(lab.min() for _, lab in labelled)) < 0:
        raise UserError("label images hold negative values; give one value 0, 1, ... per phase")
    if cfg.classes:
        if top >= len(cfg.classes):
            raise UserError(
                f"the label images hold values up to {top} but --classes names "
                f"{len(cfg.classes)} phases; name one per label value 0..{top}"
            )
        return list(cfg.classes)
    if top >= MAX_UNNAMED_PHASES or top < 1:
        raise UserError(
            f"the label images hold values 0..{top}; they must hold one small value per "
            "phase (0, 1, 2, ...), at least two phases; name them with --classes"
        )
    return [f"phase{k}" for k in range(top + 1)]


def train_phase_segmenter(
    out: str | os.PathLike[str], cfg: PhaseTrainConfig, force: bool = False, progress: bool = True
) -> dict[str, Any]:
    """Train the phase U-Net on labelled micrographs (resumable); writes a model folder with
    ``loss.png`` (training loss and validation IoU) and a card."""
    from tqdm import tqdm

    from eftgan.checkpoint import write_finished_run
    from eftgan.runstate import RunState
    from microstructure.segment import UNet

    _check_config(cfg)
    pairs = labelled_pairs(cfg.images, cfg.masks)
    val_pairs = (
        labelled_pairs(cfg.val_images, cfg.val_masks, ("--val-images", "--val-masks"))
        if cfg.val_images else []
    )  # fmt: skip
    train, val = _read_labelled(pairs), _read_labelled(val_pairs)
    classes = _classes(cfg, train + val)
    n_classes = len(classes)
    if min(min(im.shape) for im, _ in train) < int(cfg.crop * 1.5):
        raise UserError(f"--crop {cfg.crop}: give at most 2/3 of the smallest image's side")
    if val and min(min(im.shape) for im, _ in val) < 4 * 2**cfg.depth:
        raise UserError(f"the validation images need at least {4 * 2**cfg.depth} pixels a side")
    if val and all((lab == 0).all() for _, lab in val):
        raise UserError("the validation labels hold only the first phase; nothing to score")
    fingerprint = {**cfg.as_dict(), "data_sha256": _data_hash(pairs + val_pairs)}
    state = RunState(out, fingerprint, force=force)
    torch.manual_seed(cfg.seed)
    net, best = UNet(cfg.width, cfg.depth, n_classes), UNet(cfg.width, cfg.depth, n_classes)
    best.load_state_dict(net.state_dict())
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, cfg.lr, total_steps=cfg.iters)
    gen = torch.Generator().manual_seed(cfg.seed)
    state.track(net=net, best=best, opt=opt, sched=sched, gen=gen)
    saved = state.restore()
    s = saved.scalars if saved else {"iter": 0, "history": [], "wall_s": 0.0, "best": None}
    aug, running, t0 = _augmenter(), [], time.perf_counter()
    net.train()
    steps = range(s["iter"], cfg.iters)
    for it in tqdm(steps, "phases", cfg.iters, s["iter"], disable=not progress):
        x, y = _batch(train, cfg, gen, aug)
        loss = _loss(net(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        running.append(float(loss.detach()))
        if (it + 1) % cfg.eval_every == 0 or it + 1 == cfg.iters:
            row = {"iter": it + 1, "loss": float(np.mean(running))}
            if val:
                row["val_iou"] = _validate(net, val, n_classes)
                if s["best"] is None or row["val_iou"] > s["best"]["val_iou"]:
                    best.load_state_dict(net.state_dict())
                    s["best"] = row
            s["history"].append(row)
            running = []
            s.update(iter=it + 1, wall_s=s["wall_s"] + time.perf_counter() - t0)
            t0 = time.perf_counter()
            state.save(s)
    final = best if val else net
    model = {**cfg.as_dict(), "kind": KIND, "classes": classes, "best": s["best"]}
    curves = {"training loss": "loss", **({"validation IoU": "val_iou"} if val else {})}
    write_finished_run(
        out, final.eval(), KIND, model, _card(cfg, classes, s), s["history"], curves, "iter",
        extra={"wall_s": s["wall_s"]},
    )  # fmt: skip
    state.finish()
    return {"wall_s": s["wall_s"], "history": s["history"], "best": s["best"]}


def _card(cfg: PhaseTrainConfig, classes: list[str], s: dict[str, Any]) -> str:
    kept = (
        f"The weights of iteration {s['best']['iter']} are kept: the best mean validation IoU "
        f"of the phases other than {classes[0]} ({s['best']['val_iou']:.3f}), on the images "
        f"of {cfg.val_images}."
        if s["best"]
        else "No validation images were given; the last weights are kept."
    )
    return (
        "# Phase U-Net trained on labelled micrographs\n\n"
        f"A U-Net (width {cfg.width}, {cfg.depth} poolings) trained from scratch for "
        f"{cfg.iters} iterations of {cfg.batch_size} augmented {cfg.crop}-pixel crops of the "
        f"micrographs in {cfg.images} (labels in {cfg.masks}), seed {cfg.seed}, in "
        f"{s['wall_s'] / 60:.1f} min. Phases: {', '.join(classes)}. {kept}\n"
    )


def load_phase_segmenter(
    folder: str | os.PathLike[str] | None = None,
) -> tuple[nn.Module, dict[str, Any]]:
    """The phase U-Net of a model folder (default: the shipped Super1 one) and its config."""
    from eftgan.checkpoint import building, load_weights, read_model_folder
    from eftgan.paths import default_model_dir
    from microstructure.segment import UNet

    folder = Path(folder) if folder is not None else default_model_dir(KIND)
    config, state = read_model_folder(folder, KIND)
    with building(folder, KIND):
        m = config["model"]
        net = load_weights(lambda: UNet(m["width"], m["depth"], len(m["classes"])), state, folder)
    return net.eval(), config


def otsu_phases(img: np.ndarray, classes: int, sigma: float = 1.0) -> np.ndarray:
    """Multi-Otsu phases of a gray image: ``classes`` intensity classes of the image smoothed
    by a Gaussian of ``sigma`` pixels, numbered from the brightest (0) to the darkest."""
    from scipy.ndimage import gaussian_filter
    from skimage.filters import threshold_multiotsu

    smooth = gaussian_filter(img.astype(np.float64), sigma)
    thresholds = threshold_multiotsu(smooth, classes=classes)
    return (classes - 1 - np.digitize(smooth, thresholds)).astype(np.uint8)


def otsu_size_phases(img: np.ndarray, split_area_px: float, sigma: float = 1.0) -> np.ndarray:
    """Matrix (0, the bright Otsu class) and particles of the dark class: those of at least
    ``split_area_px`` pixels are phase 1, smaller ones phase 2."""
    from scipy.ndimage import label

    dark = otsu_phases(img, 2, sigma) == 1
    lab, _ = label(dark)
    area = np.bincount(lab.ravel())[lab]
    return np.where(dark, np.where(area >= split_area_px, 1, 2), 0).astype(np.uint8)


def _colour(img: np.ndarray, phases: np.ndarray) -> np.ndarray:
    """The image in gray with each phase but the first tinted (H, W, 3)."""
    tints = np.array([[0, 0, 0], [0.2, 0.4, 1.0], [1.0, 0.2, 0.1], [0.2, 0.9, 0.2], [1, 0.8, 0]])
    rgb = np.repeat(img[:, :, None], 3, 2)
    for k in range(1, int(phases.max()) + 1):
        rgb[phases == k] = 0.5 * rgb[phases == k] + 0.5 * tints[k % len(tints)]
    return rgb


def segment_phases(
    files: list[Path],
    out: str | os.PathLike[str],
    model: str | os.PathLike[str],
    pixel_size_um: float | None = None,
    force: bool = False,
    progress: bool = True,
) -> list[dict[str, Any]]:
    """Label each image's phases; writes ``<stem>_phases.png`` (8-bit labels),
    ``<stem>_overlay.png``, ``phases.csv`` (area fraction of each phase) and
    ``particles.csv`` (each connected particle of each phase but the first) to ``out``,
    all or nothing. Returns the rows of ``phases.csv``."""
    from scipy.ndimage import label
    from tqdm import tqdm

    from eftgan.files import atomic_write_bytes, atomic_write_text, staged_dir
    from microstructure.grainsize import grain_table
    from microstructure.images import read_gray, write_png
    from microstructure.segment import GRAIN_COLUMNS, _csv, check_stems

    if pixel_size_um is not None and not pixel_size_um > 0:
        raise UserError(f"--pixel-size-um must be positive, not {pixel_size_um}")
    check_stems(files)
    net, config = load_phase_segmenter(model)
    names = config["model"]["classes"]
    fractions, particles = [], []
    with staged_dir(out, force) as tmp:
        for path in tqdm(files, desc="phases", disable=not progress):
            img = read_gray(path)
            if img.size == 0 or float(img.max()) == float(img.min()):
                raise UserError(f"{path} is empty (one gray level); give a micrograph")
            phases = phase_labels(net, img)
            atomic_write_bytes(tmp / f"{path.stem}_phases.png", _png8(phases))
            write_png(tmp / f"{path.stem}_overlay.png", _colour(img, phases))
            for k, name in enumerate(names):
                share = float((phases == k).mean())
                fractions.append({"image": path.name, "phase": name, "area_fraction": share})
                if k == 0:
                    continue
                for row in grain_table(label(phases == k)[0], pixel_size_um or 1.0):
                    row = {"particle_id": row.pop("grain_id"), **row}
                    particles.append({"image": path.name, "phase": name, **row})
        if pixel_size_um is None:
            for row in particles:
                row["area_um2"] = row["equivalent_diameter_um"] = ""
        atomic_write_text(tmp / "phases.csv", _csv(fractions))
        columns = ("image", "phase", "particle_id", *GRAIN_COLUMNS[2:])
        atomic_write_text(tmp / "particles.csv", _csv(particles, columns))
    return fractions


def evaluate_phase_folders(
    pred: str | os.PathLike[str], truth: str | os.PathLike[str]
) -> dict[str, Any]:
    """IoU of each label value of every ``<stem>_phases.png`` of ``pred`` against the label
    image of the same stem in ``truth`` (``<stem>_phases.png``, ``<stem>_mask.png`` or
    ``<stem>.png``), pooled over the images; their mean over the phases other than the
    first (the matrix), as in training; None where a phase is in neither."""
    pred, truth = Path(pred), Path(truth)
    found, true, unmatched = [], [], []
    for p in sorted(pred.glob("*_phases.png")):
        stem = p.name.removesuffix("_phases.png")
        t = next((truth / f"{stem}{s}" for s in ("_phases.png", "_mask.png", ".png")
                  if (truth / f"{stem}{s}").is_file()), None)  # fmt: skip
        if t is None:
            unmatched.append(p.name)
            continue
        found.append(read_label_image(p))
        true.append(read_label_image(t))
        if found[-1].shape != true[-1].shape:
            raise UserError(f"{p} and {t} differ in size; compare labels of the same image")
    if not found:
        raise UserError(
            f"no <name>_phases.png of {pred} has a label image of that name in {truth}; give "
            "the folder of `micro segment --model PHASE_MODEL` and one of true label images"
        )
    classes = int(max(b.max() for b in true)) + 1
    if classes > 256:
        raise UserError(f"{truth} holds label values up to {classes - 1}; give phase labels")
    scores = [None if math.isnan(v) else v for v in iou(found, true, classes)]
    rest = [v for v in scores[1:] if v is not None]
    return {
        "images": len(found),
        **{f"iou_phase{k}": v for k, v in enumerate(scores)},
        "mean_iou_phases_1_up": float(np.mean(rest)) if rest else None,
        "unmatched": unmatched,
    }


def _png8(labels: np.ndarray) -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(labels.astype(np.uint8)).save(buf, format="PNG")
    return buf.getvalue()
