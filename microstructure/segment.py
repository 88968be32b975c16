"""Grain-boundary segmentation: a small U-Net trained only on rendered polycrystals.

**Training data.** Every training image is made on the fly: a grain map (a periodic
Voronoi start relaxed by the phase-field model of :mod:`.phasefield`, so boundaries are
curved and meet at 120-degree junctions, at a random grain size, sometimes magnified) is
warped with kornia (:func:`.augment.label_warp`: any rotation, each axis stretched
independently, so grains come elongated as in rolled metal, shear, flips) and drawn in a
random look by :mod:`.polycrystal` (optical or SEM-like, faint and broken grooves,
inclusions, scratches, illumination, blur, noise); kornia then varies gamma, contrast,
brightness, blur and noise (:func:`.augment.photometric`), and half of the images are
inverted. The geometry is drawn on the labels, not on the image, so the target, the
boundary mask made from the warped labels (two pixels wide), stays exact. Grain maps are
cached in the run folder; looks are never reused.

**The network** is a U-Net (Ronneberger et al. 2015) of ``depth`` poolings, ``width``
channels at the top and doubled at each level, batch norm and ReLU, bilinear upsampling;
its output is one boundary logit per pixel. The loss is binary cross-entropy weighted by
``1 + 4 exp(-d^2 / 18)`` (``d``: distance to the nearest boundary in pixels, so the pixels
beside a boundary, where a boundary is drawn too wide or missed, count five times) plus the
soft Dice loss of the boundary class (which keeps the thin class from being ignored).

**From probabilities to grains** (:func:`grains_from_probability`): the interior (boundary
probability below 1/2) is split into grains by a watershed of the probability map from
markers at the maxima of the distance to the boundary (a gap in a boundary leaves a neck
between two maxima, which the watershed closes); grains smaller than ``min_grain_px``
are merged into their neighbours. A large image is predicted in overlapping tiles.
"""

from __future__ import annotations

import copy
import math
import os
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from eftgan.errors import UserError
from eftgan.settings import JSONSettings

__all__ = [
    "KIND",
    "InferenceUNet",
    "SegmentTrainConfig",
    "UNet",
    "grains_from_probability",
    "load_segmenter",
    "predict_classes",
    "predict_probability",
    "train_segmenter",
]

KIND = "unet-grains"
#: Training saves its run state (and a loss point) every this many iterations.
SAVE_EVERY = 50
#: Tiles of this side (pixels) with this overlap cover a large image (a 1024-pixel tile
#: needs about 0.3 GB; a larger tile saves the overlap's recomputation).
TILE, OVERLAP = 1024, 32


class _Block(nn.Sequential):
    def __init__(self, cin: int, cout: int) -> None:
        super().__init__(
            nn.Conv2d(cin, cout, 3, padding=1, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True),
            nn.Conv2d(cout, cout, 3, padding=1, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True),
        )


class _UShape(nn.Module):
    """The U-Net's pass, shared by the trained network and its inference form: ``down``
    blocks with 2 x 2 max pooling between them, then for each level from the bottom a
    bilinear upsampling joined to that level's skip by :meth:`up_step`, then ``head``."""

    down: nn.ModuleList
    up: nn.ModuleList
    head: nn.Module
    depth: int

    def up_step(self, level: int, upsampled: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for i, block in enumerate(self.down):
            x = block(x if i == 0 else nn.functional.max_pool2d(x, 2))
            skips.append(x)
        for i in reversed(range(self.depth)):
            x = nn.functional.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
            x = self.up_step(i, x, skips[i])
        return self.head(x)


class UNet(_UShape):
    """A U-Net with ``depth`` poolings; input (B, 1, H, W) with H, W multiples of
    ``2**depth``; output (B, ``classes``, H, W) logits (one channel: boundary or not)."""

    def __init__(self, width: int = 16, depth: int = 3, classes: int = 1) -> None:
        super().__init__()
        chans = [width * 2**i for i in range(depth + 1)]
        self.down = nn.ModuleList([_Block(1, chans[0])])
        self.down.extend(_Block(chans[i], chans[i + 1]) for i in range(depth))
        self.up = nn.ModuleList(_Block(chans[i + 1] + chans[i], chans[i]) for i in range(depth))
        self.head = nn.Conv2d(chans[0], classes, 1)
        self.depth = depth

    def up_step(self, level: int, upsampled: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        return self.up[level](torch.cat([upsampled, skip], 1))

    def for_inference(self) -> InferenceUNet:
        """This network for evaluation, about 2x faster on a CPU with the same outputs to
        rounding (:class:`InferenceUNet`). A copy: this network keeps its mode and weights."""
        was_training = self.training
        fast = InferenceUNet(self.eval())
        self.train(was_training)
        return fast


def _fused(block: _Block) -> tuple[nn.Conv2d, nn.Conv2d]:
    """The two convolutions of an evaluation-mode block with its batch norms folded in."""
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    conv1, bn1, _, conv2, bn2, _ = block
    return fuse_conv_bn_eval(conv1, bn1), fuse_conv_bn_eval(conv2, bn2)


class _UpBlock(nn.Module):
    """An up block whose first convolution is split by input channels: a convolution of
    the channel concatenation [upsampled, skip] is the sum of one convolution of each, and
    the sum is far cheaper than building the concatenated tensor in memory (8 against 133
    ms for the three up blocks of a 1024-pixel image, in a one-off profile)."""

    def __init__(self, block: _Block, skip_channels: int) -> None:
        super().__init__()
        conv1, self.conv2 = _fused(block)
        cup = conv1.in_channels - skip_channels
        like = {"device": conv1.weight.device, "dtype": conv1.weight.dtype}
        conv = partial(nn.utils.skip_init, nn.Conv2d, kernel_size=3, padding=1, **like)
        self.from_up = conv(cup, conv1.out_channels)  # no initialisation: no draw from the
        self.from_skip = conv(skip_channels, conv1.out_channels, bias=False)  # global RNG
        with torch.no_grad():
            self.from_up.weight.copy_(conv1.weight[:, :cup])
            self.from_up.bias.copy_(conv1.bias)
            self.from_skip.weight.copy_(conv1.weight[:, cup:])

    def forward(self, up: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        x = self.from_up(up).add_(self.from_skip(skip)).relu_()
        return self.conv2(x).relu_()


class InferenceUNet(_UShape):
    """A trained :class:`UNet` rebuilt for evaluation: every batch norm folded into its
    convolution, channels-last memory, and up blocks that never concatenate
    (:class:`_UpBlock`). The same function as the network it was made from (outputs equal
    to float rounding); for inference only."""

    def __init__(self, net: UNet) -> None:
        super().__init__()
        self.depth = net.depth
        self.down = nn.ModuleList(
            nn.Sequential(c1, nn.ReLU(inplace=True), c2, nn.ReLU(inplace=True))
            for c1, c2 in map(_fused, net.down)
        )
        skips = [b[0].out_channels for b in net.down]
        self.up = nn.ModuleList(_UpBlock(b, skips[i]) for i, b in enumerate(net.up))
        self.head = copy.deepcopy(net.head)
        self.eval().to(memory_format=torch.channels_last)

    def up_step(self, level: int, upsampled: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        return self.up[level](upsampled, skip)


@dataclass
class SegmentTrainConfig(JSONSettings):
    """Training settings. ``n_images`` images of ``crop`` pixels are seen in all
    (``n_images / batch_size`` iterations); ``n_maps`` grain maps are simulated and cached."""

    n_images: int = 2000
    crop: int = 128
    batch_size: int = 8
    lr: float = 2e-3
    width: int = 16
    depth: int = 3
    n_maps: int = 48
    map_size: int = 256
    sem_fraction: float = 0.25
    #: Weight of the clDice term in the loss (0: none).
    cldice: float = 0.0
    seed: int = 0

    @property
    def iters(self) -> int:
        return max(1, self.n_images // self.batch_size)


def relaxed_grain_map(rng: np.random.Generator, size: int) -> np.ndarray:
    """A grain map of ``size``^2 pixels: a Voronoi start of a random number of grains (mean
    diameter about 8-40 pixels) relaxed by 150-400 phase-field steps."""
    from microstructure.phasefield import GrainGrowth, PhaseField, voronoi_labels

    diameter = math.exp(rng.uniform(math.log(8), math.log(40)))
    n = max(4, int(size * size / (math.pi * diameter**2 / 4)))
    pf = PhaseField.from_labels(
        voronoi_labels(size, n, seed=int(rng.integers(2**31))), GrainGrowth(n_params=16)
    )
    pf.run(int(rng.integers(150, 400)), recolour_every=50)
    return pf.labels()[0].numpy()


def _cached_maps(folder: Path, cfg: SegmentTrainConfig, progress: bool) -> list[np.ndarray]:
    """The run's grain maps, simulated once into ``folder/maps.npz``."""
    from tqdm import tqdm

    from eftgan.files import atomic_writer

    path = folder / "maps.npz"
    if path.is_file():
        with np.load(path) as z:
            return [z[k] for k in sorted(z.files, key=int)]
    rng = np.random.default_rng(cfg.seed + 7919)
    maps = [
        relaxed_grain_map(rng, cfg.map_size).astype(np.int32)
        for _ in tqdm(range(cfg.n_maps), desc="grain maps", disable=not progress)
    ]
    with atomic_writer(path) as tmp:
        np.savez_compressed(tmp, **{str(i): m for i, m in enumerate(maps)})
    return maps


def _label_crops(
    maps: list[np.ndarray], cfg: SegmentTrainConfig, rng: np.random.Generator
) -> torch.Tensor:
    """A batch of label crops (B, 1, S, S) of side ``S =`` :func:`_warp_side`, float:
    random maps, magnified 2x half of the time, cut at random."""
    side, crops = _warp_side(cfg), []
    for _ in range(cfg.batch_size):
        labels = maps[int(rng.integers(len(maps)))]
        if rng.random() < 0.5:
            labels = np.repeat(np.repeat(labels, 2, 0), 2, 1)
        y, x = rng.integers(0, labels.shape[0] - side + 1, 2)
        crops.append(labels[y : y + side, x : x + side])
    return torch.from_numpy(np.stack(crops)[:, None].astype(np.float32))


def _warp_side(cfg: SegmentTrainConfig) -> int:
    """The side of the label crops that are warped: 1.5 ``crop`` (so that little reflected
    content reaches the centre after a rotation), at most a map's side."""
    return min(cfg.crop * 3 // 2, cfg.map_size)


def _weights(mask: np.ndarray) -> np.ndarray:
    """``1 + 4 exp(-d^2/18)`` with ``d`` the distance (pixels) to the nearest boundary."""
    from scipy.ndimage import distance_transform_edt

    d = distance_transform_edt(~mask)
    return 1 + 4 * np.exp(-(d**2) / 18)


def _batch(
    maps: list[np.ndarray], cfg: SegmentTrainConfig, rng: np.random.Generator, warp: nn.Module
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Images, boundary masks and loss weights of one batch: label crops warped by
    ``warp``, centre-cut, each rendered in a random look, then photometric augmentation and,
    for half of them, inversion (boundaries bright as often as dark)."""
    from microstructure.augment import photometric
    from microstructure.polycrystal import draw_look, render

    labels = _label_crops(maps, cfg, rng)
    with torch.random.fork_rng():
        torch.manual_seed(int(rng.integers(2**31)))
        labels = warp(labels)
    c = (labels.shape[-1] - cfg.crop) // 2
    labels = labels[:, 0, c : c + cfg.crop, c : c + cfg.crop].round().long().numpy()
    pairs = [
        render(lab, draw_look(rng, "sem" if rng.random() < cfg.sem_fraction else "optical"), rng)
        for lab in labels
    ]
    gen = torch.Generator().manual_seed(int(rng.integers(2**31)))
    img = photometric(torch.from_numpy(np.stack([p[0] for p in pairs])[:, None]).float(), gen)
    img = torch.where(torch.from_numpy(rng.random((len(pairs), 1, 1, 1)) < 0.5), 1 - img, img)
    x = torch.from_numpy(np.stack([_standardise(im[0]) for im in img.numpy()])[:, None])
    y = torch.from_numpy(np.stack([p[1] for p in pairs])[:, None]).float()
    w = torch.from_numpy(np.stack([_weights(p[1]) for p in pairs])[:, None]).float()
    return x, y, w


def _standardise(img: np.ndarray) -> np.ndarray:
    """An image scaled to zero mean and unit spread (robust to exposure and bit depth)."""
    lo, hi = np.percentile(img, (1, 99))
    return ((img - (lo + hi) / 2) / max(hi - lo, 1e-6)).astype(np.float32)


def _loss(
    logits: torch.Tensor, y: torch.Tensor, w: torch.Tensor, cldice: float = 0.0
) -> torch.Tensor:
    """Weighted binary cross-entropy plus the soft Dice loss of the boundary class, plus
    ``cldice`` times the clDice loss (:func:`cldice_loss`)."""
    bce = nn.functional.binary_cross_entropy_with_logits(logits, y, weight=w)
    p = torch.sigmoid(logits)
    dice = 1 - (2 * (p * y).sum() + 1) / (p.sum() + y.sum() + 1)
    return bce + dice + (cldice * cldice_loss(p, y) if cldice > 0 else 0.0)


def _soft_skeleton(p: torch.Tensor, iters: int = 3) -> torch.Tensor:
    """The soft skeleton of Shit et al. (2021): what each soft opening removes, accumulated
    over ``iters`` soft erosions (min and max pooling; enough for boundaries a few pixels
    wide)."""
    pool = nn.functional.max_pool2d

    def erode(x: torch.Tensor) -> torch.Tensor:
        return torch.minimum(-pool(-x, (3, 1), 1, (1, 0)), -pool(-x, (1, 3), 1, (0, 1)))

    eroded = erode(p)
    skel = torch.relu(p - pool(eroded, 3, 1, 1))  # what the opening removes
    for _ in range(iters):
        p, eroded = eroded, erode(eroded)
        delta = torch.relu(p - pool(eroded, 3, 1, 1))
        skel = skel + torch.relu(delta - skel * delta)
    return skel


def cldice_loss(p: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """1 - clDice (Shit et al., CVPR 2021): the harmonic mean of the share of the predicted
    skeleton inside the true boundaries and of the true skeleton inside the predicted
    ones. A gap in a predicted boundary cuts the true skeleton's coverage however thin
    it is, where the pixel losses hardly see it, and a gap merges two grains."""
    sp, sy = _soft_skeleton(p), _soft_skeleton(y)
    precision = ((sp * y).sum() + 1) / (sp.sum() + 1)
    sensitivity = ((sy * p).sum() + 1) / (sy.sum() + 1)
    return 1 - 2 * precision * sensitivity / (precision + sensitivity)


def train_segmenter(
    out: str | os.PathLike[str],
    cfg: SegmentTrainConfig,
    force: bool = False,
    progress: bool = True,
) -> dict[str, Any]:
    """Train the boundary U-Net on rendered polycrystals (resumable); writes a model folder
    with ``loss.png`` and a card."""
    from tqdm import tqdm

    from eftgan.checkpoint import write_finished_run
    from eftgan.runstate import RunState
    from microstructure.augment import label_warp

    out = Path(out)
    if cfg.n_images < 1 or cfg.batch_size < 1:
        raise UserError("--n-images and --batch-size must be at least 1")
    if not 0 < cfg.crop <= cfg.map_size or cfg.crop % 2**cfg.depth:
        raise UserError(
            f"--crop {cfg.crop}: give a multiple of {2**cfg.depth} pixels up to {cfg.map_size}"
        )
    state = RunState(out, cfg.as_dict(), force=force)
    if force:
        (out / "maps.npz").unlink(missing_ok=True)
    torch.manual_seed(cfg.seed)
    net = UNet(cfg.width, cfg.depth)
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, cfg.lr, total_steps=cfg.iters)
    rng = np.random.default_rng(cfg.seed)
    state.track(net=net, opt=opt, sched=sched, rng=rng)
    saved = state.restore()
    start = saved.scalars["iter"] if saved else 0
    history: list[dict[str, Any]] = saved.scalars["history"] if saved else []
    wall = saved.scalars["wall_s"] if saved else 0.0
    if not saved:  # a state from the start, so a kill while the maps are made resumes
        state.save({"iter": 0, "history": [], "wall_s": 0.0})
    maps = _cached_maps(out, cfg, progress)
    net.train()
    warp, t0, running = label_warp(), time.perf_counter(), []
    for it in tqdm(
        range(start, cfg.iters), "segment", cfg.iters, initial=start, disable=not progress
    ):
        x, y, w = _batch(maps, cfg, rng, warp)
        loss = _loss(net(x), y, w, cfg.cldice)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        running.append(float(loss.detach()))
        if (it + 1) % SAVE_EVERY == 0 or it + 1 == cfg.iters:
            history.append({"iter": it + 1, "loss": float(np.mean(running))})
            running = []
            state.save(
                {"iter": it + 1, "history": history, "wall_s": wall + time.perf_counter() - t0}
            )
    wall += time.perf_counter() - t0
    (out / "maps.npz").unlink(missing_ok=True)
    net.eval()
    write_finished_run(
        out, net, KIND, {**cfg.as_dict(), "kind": KIND}, _card(cfg, wall), history,
        {"training loss": "loss"}, "iter", extra={"wall_s": wall},
    )  # fmt: skip
    state.finish()
    return {"wall_s": wall, "history": history}


def _card(cfg: SegmentTrainConfig, wall: float) -> str:
    return (
        "# Grain-boundary U-Net trained on rendered polycrystals\n\n"
        f"A U-Net (width {cfg.width}, {cfg.depth} poolings) trained for {cfg.iters} iterations "
        f"of {cfg.batch_size} rendered {cfg.crop}-pixel crops ({cfg.n_images} images, "
        f"{cfg.n_maps} phase-field grain maps, seed {cfg.seed}) in {wall / 60:.1f} min, "
        "with weighted binary cross-entropy plus Dice"
        f"{f' plus {cfg.cldice:g} times clDice' if cfg.cldice > 0 else ''} as the loss. "
        "It has never seen a real micrograph. Output: boundary probability per pixel; "
        "`eftgan micro segment` turns it into grains.\n"
    )


def load_segmenter(folder: str | os.PathLike[str] | None = None) -> tuple[UNet, dict[str, Any]]:
    """The U-Net of a model folder (default: the shipped one) and its config."""
    from eftgan.checkpoint import building, load_weights, read_model_folder
    from eftgan.paths import default_model_dir

    folder = Path(folder) if folder is not None else default_model_dir(KIND)
    config, state = read_model_folder(folder, KIND)
    with building(folder, KIND):
        model = config["model"]
        net = load_weights(lambda: UNet(model["width"], model["depth"]), state, folder)
    return net.eval(), config


def predict_probability(net: UNet, img: np.ndarray) -> np.ndarray:
    """The boundary probability of every pixel of a gray image (H, W)."""
    return predict_classes(net, img)[0]


@torch.no_grad()
def predict_classes(net: UNet, img: np.ndarray) -> np.ndarray:
    """Class probabilities (C, H, W) of a gray image (H, W): the sigmoid of a one-channel
    network, the softmax of a multi-class one; in overlapping tiles of :data:`TILE` pixels
    for a large image."""
    field = 2**net.depth
    h, w = img.shape
    if min(h, w) < 4 * field:
        raise UserError(
            f"the image is {w}x{h}; the network needs at least {4 * field} pixels a side"
        )
    x = torch.from_numpy(_standardise(img))[None, None]
    fast = net.for_inference()
    classes = fast.head.out_channels
    out = torch.zeros(classes, h, w)
    weight = torch.zeros(h, w)
    ty, tx = _tile(h, field), _tile(w, field)
    for y0 in _starts(h, ty):
        for x0 in _starts(w, tx):
            tile = x[..., y0 : y0 + ty, x0 : x0 + tx]
            th, tw = tile.shape[-2:]
            ph, pw = (-th) % field, (-tw) % field
            padded = nn.functional.pad(tile, (0, pw, 0, ph), mode="reflect")
            logits = fast(padded.contiguous(memory_format=torch.channels_last))[0]
            prob = torch.sigmoid(logits) if classes == 1 else torch.softmax(logits, 0)
            ramp = _ramp(th, tw, OVERLAP)
            out[:, y0 : y0 + th, x0 : x0 + tw] += prob[:, :th, :tw] * ramp
            weight[y0 : y0 + th, x0 : x0 + tw] += ramp
    return (out / weight).numpy()


def _tile(n: int, field: int) -> int:
    """The tile side along an image side of ``n`` pixels: the fewest tiles of at most
    :data:`TILE` that overlap by :data:`OVERLAP`, each as small as that allows (a multiple
    of ``field``), so that a side just over TILE is not computed twice over."""
    if n <= TILE:
        return n
    k = math.ceil((n - 2 * OVERLAP) / (TILE - 2 * OVERLAP))
    side = math.ceil((n - 2 * OVERLAP) / k) + 2 * OVERLAP
    return min(TILE, -(-side // field) * field)


def _starts(n: int, tile: int) -> list[int]:
    """Evenly spread starts of tiles of ``tile`` pixels covering ``n``."""
    if n <= tile:
        return [0]
    k = math.ceil((n - 2 * OVERLAP) / (tile - 2 * OVERLAP))
    return [round(i * (n - tile) / (k - 1)) for i in range(k)] if k > 1 else [0]


def _ramp(h: int, w: int, overlap: int) -> torch.Tensor:
    """Tile weights that fall off linearly over ``overlap`` pixels at the edges."""

    def one(n: int) -> torch.Tensor:
        i = torch.arange(n, dtype=torch.float32)
        return torch.clamp(torch.minimum(i + 1, n - i) / overlap, 0.05, 1.0)

    return one(h)[:, None] * one(w)[None, :]


def grains_from_probability(
    prob: np.ndarray,
    threshold: float = 0.5,
    min_grain_px: int = 20,
    h_px: float = 1.0,
    block: int = 1,
) -> np.ndarray:
    """Grain labels (1..N, int32) from a boundary probability map: a watershed of ``prob``
    from markers at the maxima (by more than ``h_px``, found on ``block`` x ``block``
    block maxima) of the distance to the boundary pixels (``prob >= threshold``), grains
    below ``min_grain_px`` merged into their neighbours by a second watershed over their
    pixels only, from the kept grains. The defaults are those chosen on the validation
    renderings of ``benchmarks/segmentation.py`` (``chosen_on_validation`` and
    ``post_processing`` in its results; ``block`` 2, faster, lost 0.001-0.004 in adjusted
    Rand index there)."""
    from scipy.ndimage import binary_dilation, distance_transform_edt, label
    from skimage.segmentation import relabel_sequential, watershed

    prob = prob.astype(np.float32)
    interior = prob < threshold
    dist = distance_transform_edt(interior).astype(np.float32)
    markers, n = label(_distance_maxima(dist, h_px, block) & interior)
    if n == 0:  # no interior wider than h_px: one grain
        return np.ones(prob.shape, dtype=np.int32)
    labels = watershed(prob, markers)
    small = np.bincount(labels.ravel())[labels] < min_grain_px
    if small.all():  # every grain below the size: one grain, as if none was found
        return np.ones(prob.shape, dtype=np.int32)
    if small.any():
        region = binary_dilation(small)  # the small grains and a ring of their neighbours
        merged = watershed(prob, np.where(small, 0, labels), mask=region)
        labels = np.where(region, merged, labels)
    return relabel_sequential(labels)[0].astype(np.int32)


def _distance_maxima(dist: np.ndarray, h_px: float, block: int) -> np.ndarray:
    """The h-maxima (by more than ``h_px``) of a distance map, found on the maxima of its
    ``block`` x ``block`` blocks and spread back over each block. A grain's centre is a
    broad peak many pixels from its boundary, so a coarser grid still holds one peak per
    grain: a block's maximum keeps every peak's height and raises a neck's saddle by at
    most the block's diagonal (the distance changes by at most a pixel per pixel). The
    morphological reconstruction behind ``h_maxima``, most of the post-processing's time,
    runs on ``block**2`` times fewer pixels; ``block`` 1 is the plain search."""
    if block == 1:
        return banded_h_maxima(dist, h_px)
    h, w = dist.shape
    even = np.pad(dist, ((0, -h % block), (0, -w % block)))
    hb, wb = even.shape[0] // block, even.shape[1] // block
    peaks = banded_h_maxima(even.reshape(hb, block, wb, block).max(axis=(1, 3)), h_px)
    return peaks.repeat(block, axis=0).repeat(block, axis=1)[:h, :w]


def banded_h_maxima(dist: np.ndarray, h_px: float, bands: int | None = None) -> np.ndarray:
    """scikit-image's ``h_maxima(dist, h_px)`` (8-connected) of a distance map on its
    interior (``dist > 0``), computed on horizontal bands in parallel threads (``bands``:
    the usable cores, at most 4), with the same result; on the whole map where ``h_px``
    exceeds the smallest positive distance.
    The reconstruction behind it rises from the seeds ``dist - h_px`` under ``dist`` along
    paths whose every pixel bounds it. The interior components (``dist > 0``, 8-connected)
    are separated by zero-distance pixels, so a path from another component brings at most
    0. With ``h_px`` at most every interior distance, every seed inside is at least 0 (less
    scikit-image's rounding margin, which leaves a pixel of ``dist == h_px`` a maximum
    either way), so that path changes nothing. A band therefore holds whole components
    (those whose top row falls in it), framed by zero pixels, and its maxima on its own
    components are those of the whole map. The sort inside the reconstruction, most of its
    time, releases the GIL, so the bands run at once."""
    from concurrent.futures import ThreadPoolExecutor

    from scipy.ndimage import find_objects, label
    from skimage.morphology import h_maxima

    from eftgan.devices import usable_cores

    bands = bands or min(4, usable_cores())
    comps, n = label(dist > 0, structure=np.ones((3, 3)))
    if bands == 1 or n < 2 or h_px > dist[dist > 0].min():
        return h_maxima(dist, h_px).astype(bool) & (dist > 0)
    rows = np.array([(s[0].start, s[0].stop) for s in find_objects(comps)])
    band_of = np.minimum(rows[:, 0] * bands // dist.shape[0], bands - 1)
    band_of_label = np.concatenate([[-1], band_of])

    def search_band(k: int) -> tuple[slice, np.ndarray]:
        own = band_of == k
        if not own.any():
            return slice(0, 0), np.zeros((0, dist.shape[1]), bool)
        span = slice(rows[own, 0].min(), rows[own, 1].max())
        framed = np.pad(dist[span], 1)  # a band of one flat component still has its peak
        peaks = h_maxima(framed, h_px)[1:-1, 1:-1].astype(bool)
        return span, peaks & (band_of_label[comps[span]] == k)

    out = np.zeros(dist.shape, bool)
    with ThreadPoolExecutor(bands) as pool:
        for span, peaks in pool.map(search_band, range(bands)):
            out[span] |= peaks
    return out


#: The columns of grains.csv (particles.csv: image, phase, particle_id, then the rest).
GRAIN_COLUMNS = ("image", "grain_id", "area_px", "area_um2", "equivalent_diameter_um",
                 "aspect_ratio", "touches_edge")  # fmt: skip


def _csv(rows: list[dict[str, Any]], fields: tuple[str, ...] | None = None) -> str:
    """CSV text of ``rows`` (a header only, where ``fields`` are given, for none)."""
    import csv
    import io

    buf = io.StringIO()
    names = list(rows[0]) if rows else list(fields or ())
    if names:
        writer = csv.DictWriter(buf, fieldnames=names, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return buf.getvalue()


def check_stems(files: list[Path]) -> None:
    """A one-line error when two inputs share a name stem (their outputs would collide)."""
    seen: dict[str, Path] = {}
    for f in files:
        if f.stem in seen:
            raise UserError(f"{seen[f.stem]} and {f} share the name {f.stem}; rename one")
        seen[f.stem] = f


def _overlay(img: np.ndarray, boundaries: np.ndarray) -> np.ndarray:
    """The image in gray with the found boundaries in red (H, W, 3)."""
    rgb = np.repeat(img[:, :, None], 3, 2)
    rgb[boundaries] = (1.0, 0.1, 0.1)
    return rgb


def segment_images(
    files: list[Path],
    out: str | os.PathLike[str],
    model: str | os.PathLike[str] | None = None,
    pixel_size_um: float | None = None,
    force: bool = False,
    progress: bool = True,
) -> list[dict[str, Any]]:
    """Segment each image into grains; writes ``<stem>_boundaries.png``,
    ``<stem>_grains.png`` (16-bit), ``<stem>_overlay.png``, ``grains.csv`` and
    ``summary.csv`` to ``out`` (all or nothing). Returns the summary rows."""
    from tqdm import tqdm

    from eftgan.files import atomic_write_text, staged_dir
    from microstructure.grainio import write_labels
    from microstructure.grainsize import grain_table
    from microstructure.images import read_gray, write_png
    from microstructure.polycrystal import boundary_mask

    if pixel_size_um is not None and not pixel_size_um > 0:
        raise UserError(f"--pixel-size-um must be positive, not {pixel_size_um}")
    check_stems(files)
    net, _ = load_segmenter(model)
    scale = pixel_size_um or 1.0
    summary, grains = [], []
    with staged_dir(out, force) as tmp:
        for path in tqdm(files, desc="segment", disable=not progress):
            img = read_gray(path)
            if img.size == 0 or float(img.max()) == float(img.min()):
                raise UserError(f"{path} is empty (one gray level); give a micrograph")
            labels = grains_from_probability(predict_probability(net, img))
            edges = boundary_mask(labels)
            write_png(tmp / f"{path.stem}_boundaries.png", edges.astype(float))
            write_labels(tmp / f"{path.stem}_grains.png", labels)
            write_png(tmp / f"{path.stem}_overlay.png", _overlay(img, edges))
            table = grain_table(labels, scale)
            grains += [{"image": path.name, **row} for row in table]
            summary.append(_summary_row(path.name, labels, table, pixel_size_um))
        if pixel_size_um is None:
            for row in grains:
                row["area_um2"] = row["equivalent_diameter_um"] = ""
        atomic_write_text(tmp / "grains.csv", _csv(grains, GRAIN_COLUMNS))
        atomic_write_text(tmp / "summary.csv", _csv(summary))
    return summary


def _summary_row(
    name: str, labels: np.ndarray, table: list[dict[str, Any]], pixel_size_um: float | None
) -> dict[str, Any]:
    from microstructure.grainsize import astm_intercept, astm_planimetric

    row: dict[str, Any] = {"image": name, "n_grains": len(table)}
    if pixel_size_um is None:
        row.update(mean_area_um2="", astm_g_planimetric="", astm_g_intercept="")
        return row
    row["mean_area_um2"] = float(np.mean([r["area_um2"] for r in table]))
    try:  # undefined where no boundary was found
        row["astm_g_planimetric"] = round(astm_planimetric(labels, pixel_size_um), 3)
        row["astm_g_intercept"] = round(astm_intercept(labels, pixel_size_um), 3)
    except UserError:
        row["astm_g_planimetric"] = row["astm_g_intercept"] = ""
    return row


def evaluate_folders(pred: str | os.PathLike[str], truth: str | os.PathLike[str]) -> dict[str, Any]:
    """Scores (:mod:`.segscore`) of every ``<stem>_grains.png`` of ``pred`` against the one
    of the same name in ``truth``, and their means."""
    from microstructure.grainio import read_labels
    from microstructure.segscore import score

    pred, truth = Path(pred), Path(truth)
    files = sorted(pred.glob("*_grains.png")) if pred.is_dir() else []
    pairs = [(p, truth / p.name) for p in files if (truth / p.name).is_file()]
    if not pairs:
        raise UserError(
            f"no <name>_grains.png of {pred} has a namesake in {truth}; give the folder of "
            "`micro segment` and one of true label images"
        )
    per = {}
    for p, t in pairs:
        found, true = read_labels(p), read_labels(t)
        if found.shape != true.shape:
            raise UserError(f"{p} and {t} differ in size; compare grains of the same image")
        per[p.name] = score(found, true)
    keys = next(iter(per.values())).keys()
    return {
        "images": len(per),
        **{k: float(np.mean([s[k] for s in per.values()])) for k in keys},
        "per_image": per,
    }
