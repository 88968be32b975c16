"""``eftgan micro``: synthetic Al-Si micrographs, augmentation, DCGANs, statistics.

Each command parses its options, calls one library function of :mod:`microstructure` (which
writes every output file) and prints a summary.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from eftgan_cli.main import ModelFolder, echo_json


@click.group()
def micro() -> None:
    """Micrographs: synth, augment, normalize, train, generate, evaluate; grains (grain
    growth, rendering, data assimilation) and segment (grain boundaries and phases)."""


@micro.command()
@click.option("--si", "si", required=True, type=float, help="Si content, wt % (0-25).")
@click.option("--n", "n", default=20, show_default=True, type=click.IntRange(min=1))
@click.option("--size", default=256, show_default=True, help="Image size in pixels.")
@click.option("--cooling-rate", default=10.0, show_default=True, help="K/s; sets the scale.")
@click.option("--seed", default=0, show_default=True)
@click.option("--out", required=True, type=click.Path(path_type=Path))
@click.option("--force", is_flag=True)
def synth(
    si: float, n: int, size: int, cooling_rate: float, seed: int, out: Path, force: bool
) -> None:
    """Synthetic Al-Si micrographs with ground-truth phase maps (OUT/phase/)."""
    from microstructure.synth import write_synth_folder

    meta = write_synth_folder(out, si, n, size, cooling_rate, seed, force=force, progress=True)
    click.echo(
        f"{n} micrographs of Al-{si:g}Si -> {out} (Si area fraction: lever rule "
        f"{meta['lever_rule']['si_total']:.3f}, drawn {meta['si_area_fraction_mean']:.3f})"
    )


@micro.command()
@click.argument("folder", type=click.Path(path_type=Path))
@click.option("--out", required=True, type=click.Path(path_type=Path))
@click.option(
    "--bin",
    "bins",
    default=1,
    show_default=True,
    help="Bin N x N pixels first, so that a 64-pixel crop holds more of the structure.",
)
@click.option("--force", is_flag=True)
def normalize(folder: Path, out: Path, bins: int, force: bool) -> None:
    """Stretch each image to its own 1st-99th gray-level percentiles (micrographs taken at
    different brightness and contrast, as SEM images often are), as gray PNGs in OUT."""
    from eftgan.files import refuse_existing
    from microstructure.images import normalize_folder

    refuse_existing(out, force)
    normalize_folder(folder, out, force, bins)
    click.echo(f"contrast-stretched images of {folder} -> {out}")


@micro.command()
@click.argument("folder", type=click.Path(path_type=Path))
@click.option("--factor", default=200, show_default=True, help="Augmented copies per image.")
@click.option("--seed", default=0, show_default=True)
@click.option("--out", required=True, type=click.Path(path_type=Path))
@click.option("--force", is_flag=True)
def augment(folder: Path, factor: int, seed: int, out: Path, force: bool) -> None:
    """The paper's augmentation (shift, shear, zoom, flips; kornia) of every image in FOLDER."""
    from microstructure.augment import augment_folder

    written = augment_folder(folder, out, factor, seed, force=force, progress=True)
    click.echo(f"{written} augmented images -> {out}")


def _condition_si(condition_si: str | None, images: tuple[Path, ...]) -> tuple[float, ...] | None:
    """The Si contents of ``--condition-si``: a comma-separated list, or ``auto`` (each
    folder's synth.json)."""
    from eftgan.errors import UserError
    from microstructure.synth import folder_si_wt_pct

    if not condition_si:
        return None
    if condition_si == "auto":
        found = [folder_si_wt_pct(f) for f in images]
        if any(s is None for s in found):
            raise UserError("--condition-si auto needs a synth.json in every folder")
        return tuple(float(s) for s in found if s is not None)
    try:
        return tuple(float(x) for x in condition_si.split(","))
    except ValueError:
        raise UserError(f"--condition-si {condition_si!r} is not a list of numbers") from None


@micro.command()
@click.option(
    "--images",
    "images",
    multiple=True,
    required=True,
    type=click.Path(path_type=Path),
    help="Folder of training images (repeatable).",
)
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Model folder.")
@click.option("--iters", default=2000, show_default=True)
@click.option(
    "--condition-si",
    default=None,
    help="Train the conditional model: Si wt % of each --images folder, e.g. 4,10; "
    "'auto' reads each folder's synth.json.",
)
@click.option(
    "--arch",
    type=click.Choice(["spatial", "style", "paper"]),
    default="spatial",
    show_default=True,
    help="spatial: the default, fully convolutional G and spectrally normalised D with hinge "
    "loss, two learning rates, differentiable augmentation and an averaged G; style: a "
    "StyleGAN2-lite G with the same stabilisers, for 128- and 256-pixel crops (slower); "
    "paper: the seed's DCGAN as printed (nz 1000, lr 0.0005, BCE), for comparison.",
)
@click.option(
    "--size",
    default=None,
    type=int,
    help="Crop side in pixels [spatial 64, style 128, paper 64 only].",
)
@click.option("--nz", default=None, type=int, help="Noise size [spatial 64, style 32, paper 1000].")
@click.option("--width", default=None, type=int, help="Base width [spatial 16, paper 64].")
@click.option("--batch-size", default=None, type=int, help="[spatial 32, style 16, paper 64]")
@click.option(
    "--lr",
    default=None,
    type=float,
    help="Learning rate: the generator's for spatial and style [0.0001], both networks' "
    "for paper [0.0005].",
)
@click.option(
    "--lr-d",
    "lr_d",
    default=None,
    type=float,
    help="The discriminator's learning rate [spatial and style 0.0004; paper: --lr's]. "
    "--lr 0.0004 --lr-d 0.0016 is worth a try on micrographs unlike Super1's (see the docs).",
)
@click.option(
    "--histogram",
    default=None,
    type=float,
    help="Weight of a term in G's loss that holds the generated gray-level histogram, and so "
    "the phase fractions, to the training crops' [0: off; 10 was tried, see the docs].",
)
@click.option(
    "--channels",
    type=click.Choice(["1", "3"]),
    default=None,
    help="Gray (1) or RGB (3), the files converted [default: from the images; mixed gray "
    "and colour need this].",
)
@click.option(
    "--init",
    default="auto",
    show_default=True,
    help="Where the first weights come from. auto: the shipped GAN sngan-super1-v1 (trained "
    "on real SEM micrographs), fine-tuned on yours, where the settings train its architecture "
    "(the defaults on gray images), random weights otherwise; none: random weights; or a GAN "
    "model folder to fine-tune (same architecture settings).",
)
@click.option("--seed", default=0, show_default=True)
@click.option("--force", is_flag=True)
@click.option("--quiet", is_flag=True)
def train(
    images: tuple[Path, ...],
    out: Path,
    iters: int,
    condition_si: str | None,
    arch: str,
    size: int | None,
    nz: int | None,
    width: int | None,
    batch_size: int | None,
    lr: float | None,
    lr_d: float | None,
    histogram: float | None,
    channels: str | None,
    init: str,
    seed: int,
    force: bool,
    quiet: bool,
) -> None:
    """Train a micrograph GAN, or the conditional one, on random crops (resumable)."""
    from microstructure.train import DCGANTrainConfig, train_dcgan

    config = DCGANTrainConfig(
        iters=iters,
        arch=arch,
        size=size,
        batch_size=batch_size,
        lr=lr,
        lr_d=lr_d,
        histogram=histogram,
        nz=nz,
        channels=int(channels) if channels else None,
        width=width,
        seed=seed,
        si_wt_pct=_condition_si(condition_si, images),
        init=init,
    )
    r = train_dcgan(list(images), out, config, progress=not quiet, force=force)
    if r["resumed_from"]:
        click.echo(f"resumed from iteration {r['resumed_from']}", err=True)
    click.echo(f"model written to {out} ({iters} iterations, {r['wall_s']:.0f} s)")
    warned = r["history"].get("warnings", [])
    if warned:
        click.echo(f"{len(warned)} training warning(s), kept in {out / 'config.json'}:", err=True)
        for w in warned:
            click.echo(f"  {w}", err=True)


@micro.command()
@click.option(
    "--model",
    "model_dir",
    type=ModelFolder(),
    default=None,
    help="GAN model folder (default: shipped).",
)
@click.option("--n", "n", default=64, show_default=True, type=click.IntRange(min=1))
@click.option("--si", default=None, type=float, help="Si wt % (conditional models).")
@click.option(
    "--size",
    default=None,
    type=int,
    help="Image side in pixels (default: the training crops'); larger fields from the fully "
    "convolutional architectures only, a multiple of 16 (spatial) or 32 (style) pixels.",
)
@click.option("--seed", default=0, show_default=True)
@click.option("--out", required=True, type=click.Path(path_type=Path))
@click.option("--force", is_flag=True)
def generate(
    model_dir: Path | None,
    n: int,
    si: float | None,
    size: int | None,
    seed: int,
    out: Path,
    force: bool,
) -> None:
    """Generate micrographs (PNG)."""
    from eftgan.files import refuse_existing
    from microstructure.generate import generate_images, load_generator, write_images

    refuse_existing(out, force)
    g, config = load_generator(model_dir)
    images = generate_images(g, n, si, seed, gray=False, size=size)  # checks --si first
    trained = config["model"].get("si_wt_pct") or []
    if si is not None and trained and not min(trained) <= si <= max(trained):
        click.echo(
            f"warning: Si {si:g} wt % is outside the contents the model was trained on "
            f"({min(trained):g}-{max(trained):g} wt %): its images there are extrapolated, "
            "not checked against any micrograph",
            err=True,
        )
    write_images(out, images, force=force)
    click.echo(f"{n} generated micrograph{'s' if n != 1 else ''} -> {out}")


#: Images per set below which ``evaluate`` warns that its set statistics are unreliable
#: (a Fréchet distance from a few samples is biased upwards, a diversity noisy).
FEW_IMAGES = 32


@micro.command()
@click.option("--real", required=True, type=click.Path(path_type=Path))
@click.option("--fake", required=True, type=click.Path(path_type=Path))
@click.option(
    "--phases",
    type=click.Choice(["alsi", "two"]),
    default="alsi",
    show_default=True,
    help="How the phases are split: alsi (three gray levels, Si the darkest) or two (a "
    "two-phase micrograph, e.g. a superalloy; the darker phase is counted).",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def evaluate(real: Path, fake: Path, phases: str, as_json: bool) -> None:
    """Phase fraction, S2, lineal path, particle shapes, texture-feature Fréchet distance and
    diversity between two image folders."""
    from microstructure.metrics import compare_folders

    r = compare_folders(real, fake, 3 if phases == "alsi" else 2)
    if min(r["n_real"], r["n_fake"]) < FEW_IMAGES:
        click.echo(
            f"warning: {r['n_real']} real and {r['n_fake']} generated images: the Fréchet "
            f"distances and the diversity are unreliable below {FEW_IMAGES} per set",
            err=True,
        )
    if as_json:
        echo_json(r)
    else:
        for k, v in r.items():
            click.echo(f"{k:22s} {v:.6g}" if isinstance(v, float) else f"{k:22s} {v}")


@micro.group()
def grains() -> None:
    """Polycrystals: grain-growth simulation, rendered micrographs, data assimilation."""


@grains.command()
@click.option("--size", default=256, show_default=True, help="Grid side (pixels).")
@click.option("--grains", "n_grains", default=300, show_default=True, help="Initial grains.")
@click.option("--steps", default=2000, show_default=True)
@click.option("--snapshots", default=5, show_default=True, help="Label images written.")
@click.option(
    "--mobility-energy",
    default=1e-13,
    show_default=True,
    help="M sigma (m^2/s), the product that sets the kinetics.",
)
@click.option(
    "--anisotropy",
    default=None,
    type=float,
    help="Low-angle/high-angle mobility ratio r: turns on misorientation dependence "
    "(Read-Shockley energy, Humphreys mobility) with random grain orientations.",
)
@click.option("--sigma", default=0.5, show_default=True, help="Boundary energy (J/m^2).")
@click.option("--pixel-size", default=1e-6, show_default=True, help="Grid spacing (m).")
@click.option("--dt", default=None, type=float, help="Time step (s) [half the stable limit].")
@click.option("--device", default="cpu", show_default=True, help="cpu or cuda.")
@click.option("--seed", default=0, show_default=True)
@click.option("--out", required=True, type=click.Path(path_type=Path))
@click.option("--force", is_flag=True)
@click.option("--quiet", is_flag=True)
def simulate(
    size: int,
    n_grains: int,
    steps: int,
    snapshots: int,
    mobility_energy: float,
    anisotropy: float | None,
    sigma: float,
    pixel_size: float,
    dt: float | None,
    device: str,
    seed: int,
    out: Path,
    force: bool,
    quiet: bool,
) -> None:
    """Grain growth from a periodic Voronoi start: OUT/grains_<step>.png (16-bit labels),
    observations.json, run.json and growth.png (resumable)."""
    from microstructure import grainio

    cfg = grainio.SimulationConfig(
        size=size,
        grains=n_grains,
        steps=steps,
        snapshots=snapshots,
        mobility_energy_m2_s=mobility_energy,
        low_angle_mobility_ratio=anisotropy,
        sigma_j_m2=sigma,
        pixel_size_m=pixel_size,
        dt_s=dt,
        seed=seed,
    )
    if anisotropy is not None and anisotropy > 1:
        click.echo(
            f"warning: --anisotropy {anisotropy:g} makes low-angle boundaries more mobile than "
            "high-angle ones, against the measured trend (Humphreys: r below 1); running as asked",
            err=True,
        )
    run = grainio.simulate(out, cfg, force=force, progress=not quiet, device=device)
    click.echo(
        f"{snapshots} snapshots -> {out} ({run['steps']} steps of {run['dt_s']:.3g} s, "
        f"{1 / run['seconds_per_step']:.0f} steps/s)"
    )


@grains.command()
@click.argument("folder", type=click.Path(path_type=Path))
@click.option("--out", required=True, type=click.Path(path_type=Path))
@click.option(
    "--style", type=click.Choice(["optical", "sem"]), default="optical", show_default=True
)
@click.option("--seed", default=0, show_default=True)
@click.option("--force", is_flag=True)
def render(folder: Path, out: Path, style: str, seed: int, force: bool) -> None:
    """Micrographs of the label images in FOLDER, each with its exact boundary mask
    (<name>_boundaries.png) and grains (<name>_grains.png); the looks in render.json."""
    from microstructure.polycrystal import render_folder

    looks = render_folder(folder, out, style, seed, force=force)
    click.echo(f"{len(looks)} {style} micrographs with boundary masks -> {out}")


@grains.command()
@click.argument("folder", type=click.Path(path_type=Path))
@click.option("--ensemble", default=32, show_default=True, help="Ensemble members.")
@click.option(
    "--obs-error",
    default=0.25,
    show_default=True,
    type=click.FloatRange(min=0, min_open=True),
    help="Observation error: boundary displacement (cells) along a grain's perimeter.",
)
@click.option(
    "--out",
    default=None,
    type=click.Path(path_type=Path),
    help="Where the result, its PNG and the resumable state go [FOLDER/assimilation].",
)
@click.option("--seed", default=0, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--force", is_flag=True)
@click.option("--quiet", is_flag=True)
def assimilate(
    folder: Path,
    ensemble: int,
    obs_error: float,
    out: Path | None,
    seed: int,
    as_json: bool,
    force: bool,
    quiet: bool,
) -> None:
    """Estimate M sigma (and the low-angle mobility ratio, when observations.json holds
    grain orientations) from the snapshots in FOLDER with an ensemble Kalman filter."""
    from microstructure import assimilate as filtering

    cfg = filtering.AssimilationConfig(ensemble=ensemble, seed=seed, obs_error_cells=obs_error)
    out = out or folder / "assimilation"
    r = filtering.assimilate(folder, out, cfg, force=force, progress=not quiet)
    keep = ("mobility_energy", "low_angle_mobility_ratio", "ensemble", "windows", "wall_s")
    if as_json:
        echo_json({k: r[k] for k in keep if k in r})
        return
    me = r["mobility_energy"]
    click.echo(f"M sigma = {me['mean']:.4g} +- {me['std']:.2g} m^2/s")
    if "low_angle_mobility_ratio" in r:
        ra = r["low_angle_mobility_ratio"]
        click.echo(f"low-angle mobility ratio = {ra['mean']:.3f} +- {ra['std']:.3f}")
    click.echo(f"convergence plot and JSON -> {out}")


class _ImagesOrCommand(click.Group):
    """``segment IMAGE...`` runs the default command ``images``; ``segment train`` and
    ``segment evaluate`` are subcommands."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["images", *args]
        return super().parse_args(ctx, args)


@micro.group(cls=_ImagesOrCommand)
def segment() -> None:
    """Grain boundaries and grains of micrographs with a U-Net trained on rendered
    polycrystals: segment IMAGE... --out DIR; segment train; segment evaluate."""


@segment.command("images")
@click.argument("images", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--out", required=True, type=click.Path(path_type=Path))
@click.option("--pixel-size-um", default=None, type=float, help="For areas and ASTM G.")
@click.option(
    "--model", default=None, type=ModelFolder(),
    help="A grain-boundary (unet-grains) or phase (unet-phases) model. [shipped grains]",
)  # fmt: skip
@click.option("--force", is_flag=True)
@click.option("--quiet", is_flag=True)
def segment_images_cmd(
    images: tuple[Path, ...],
    out: Path,
    pixel_size_um: float | None,
    model: Path | None,
    force: bool,
    quiet: bool,
) -> None:
    """Grains: boundaries, grain labels, an overlay, grains.csv and summary.csv (ASTM E112
    G by the planimetric and the intercept method) for each image. Phases (with a phase
    model): label images, an overlay, phases.csv (area fractions) and particles.csv."""
    from eftgan.checkpoint import read_kind
    from microstructure import phaseseg
    from microstructure.segment import segment_images

    if (
        model is not None
        and (model / "config.json").is_file()
        and read_kind(model) == phaseseg.KIND
    ):
        rows = phaseseg.segment_phases(list(images), out, model, pixel_size_um, force, not quiet)
        for r in rows:
            click.echo(f"{r['image']}: {r['phase']} {100 * r['area_fraction']:.1f} %")
        click.echo(f"-> {out}")
        return
    rows = segment_images(list(images), out, model, pixel_size_um, force, progress=not quiet)
    for r in rows:
        g = f", G {r['astm_g_planimetric']} / {r['astm_g_intercept']}" if pixel_size_um else ""
        click.echo(f"{r['image']}: {r['n_grains']} grains{g}")
    click.echo(f"-> {out}")


@segment.command("train")
@click.option("--out", required=True, type=click.Path(path_type=Path))
@click.option(
    "--task", type=click.Choice(["boundaries", "phases"]), default="boundaries",
    show_default=True,
    help="boundaries: on rendered polycrystals; phases: on labelled micrographs.",
)  # fmt: skip
@click.option("--n-images", default=None, type=int, help="[boundaries] Images seen. [2000]")
@click.option(
    "--cldice", default=None, type=float,
    help="[boundaries] Weight of a clDice term in the loss, against broken boundaries. [0]",
)  # fmt: skip
@click.option("--images", type=click.Path(path_type=Path), help="[phases] Micrographs.")
@click.option("--masks", type=click.Path(path_type=Path), help="[phases] Their label images.")
@click.option("--val-images", type=click.Path(path_type=Path), help="[phases] Early stopping.")
@click.option("--val-masks", type=click.Path(path_type=Path))
@click.option("--classes", default="", help="[phases] Names of label values 0, 1, ...")
@click.option("--iters", default=None, type=int, help="[phases] Iterations. [1200]")
@click.option("--crop", default=None, type=int, help="Crop side. [128; phases 192]")
@click.option("--batch-size", default=None, type=int, help="[8; phases 6]")
@click.option("--seed", default=0, show_default=True)
@click.option("--force", is_flag=True)
@click.option("--quiet", is_flag=True)
def segment_train(out: Path, task: str, **kw: Any) -> None:
    """Train the boundary U-Net on rendered polycrystals only, or (--task phases) a phase
    U-Net on labelled micrographs (<name>_mask.png beside each <name>.png); resumable."""
    from eftgan.errors import UserError

    other = _PHASE_ONLY if task == "boundaries" else ("n_images", "cldice")
    given = [f"--{k.replace('_', '-')}" for k in other if kw[k] not in (None, "")]
    if given:
        raise UserError(f"{', '.join(given)} belong(s) to the other --task than {task}")
    if task == "phases":
        _train_phases(out, **kw)
        return
    from microstructure.segment import SegmentTrainConfig, train_segmenter

    cfg = SegmentTrainConfig(
        n_images=2000 if kw["n_images"] is None else kw["n_images"],
        crop=128 if kw["crop"] is None else kw["crop"],
        batch_size=8 if kw["batch_size"] is None else kw["batch_size"], seed=kw["seed"],
        cldice=kw["cldice"] or 0.0,
    )  # fmt: skip
    r = train_segmenter(out, cfg, force=kw["force"], progress=not kw["quiet"])
    click.echo(f"model written to {out} ({cfg.iters} iterations, {r['wall_s']:.0f} s)")


_PHASE_ONLY = ("images", "masks", "val_images", "val_masks", "classes", "iters")


def _train_phases(out: Path, **kw: Any) -> None:
    from eftgan.errors import UserError
    from microstructure.phaseseg import PhaseTrainConfig, train_phase_segmenter

    if kw["images"] is None or kw["masks"] is None:
        raise UserError("--task phases needs --images DIR and --masks DIR of label images")
    if (kw["val_images"] is None) != (kw["val_masks"] is None):
        raise UserError("give --val-images and --val-masks together")
    cfg = PhaseTrainConfig(
        images=str(kw["images"]), masks=str(kw["masks"]),
        val_images=str(kw["val_images"] or ""), val_masks=str(kw["val_masks"] or ""),
        classes=tuple(c for c in kw["classes"].split(",") if c),
        iters=1200 if kw["iters"] is None else kw["iters"],
        crop=192 if kw["crop"] is None else kw["crop"],
        batch_size=6 if kw["batch_size"] is None else kw["batch_size"], seed=kw["seed"],
    )  # fmt: skip
    r = train_phase_segmenter(out, cfg, force=kw["force"], progress=not kw["quiet"])
    best = f", best validation IoU {r['best']['val_iou']:.3f}" if r["best"] else ""
    click.echo(f"model written to {out} ({cfg.iters} iterations, {r['wall_s']:.0f} s{best})")


@segment.command("evaluate")
@click.option("--pred", required=True, type=click.Path(path_type=Path))
@click.option("--truth", required=True, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True)
def segment_evaluate(pred: Path, truth: Path, as_json: bool) -> None:
    """Boundary P/R/F (2 px), adjusted Rand index, variation of information and the
    difference in ASTM G of predicted grains against true ones (<name>_grains.png); for
    phase labels (<name>_phases.png), the IoU of each phase."""
    from microstructure.phaseseg import evaluate_phase_folders
    from microstructure.segment import evaluate_folders

    phases = pred.is_dir() and any(pred.glob("*_phases.png"))
    r = evaluate_phase_folders(pred, truth) if phases else evaluate_folders(pred, truth)
    if as_json:
        echo_json(r)
        return
    for k, v in r.items():
        if k != "per_image":
            click.echo(f"{k:20s} {v:.4g}" if isinstance(v, float) else f"{k:20s} {v}")
