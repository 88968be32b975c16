"""``eftgan micro``: synthetic Al-Si micrographs, augmentation, DCGANs, statistics.

Each command parses its options, calls one library function of :mod:`microstructure` (which
writes every output file) and prints a summary.
"""

from __future__ import annotations

import json
from pathlib import Path

import click


@click.group()
def micro() -> None:
    """Al-Si micrographs: synth, augment, train, generate, evaluate."""


@micro.command()
@click.option("--si", "si", required=True, type=float, help="Si content, wt % (0-25).")
@click.option("--n", "n", default=20, show_default=True)
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
@click.option("--nz", default=1000, show_default=True, help="Noise size (the paper: 1000).")
@click.option("--width", default=64, show_default=True, help="Base width (the paper: 64).")
@click.option("--batch-size", default=64, show_default=True)
@click.option(
    "--lr",
    default=5e-4,
    show_default=True,
    help="Adam learning rate (the paper: 0.0005; 0.0002 if D wins early).",
)
@click.option(
    "--channels",
    type=click.Choice(["1", "3"]),
    default="1",
    show_default=True,
    help="Gray (1) or RGB (3) images; the files are converted.",
)
@click.option("--seed", default=0, show_default=True)
@click.option("--force", is_flag=True)
@click.option("--quiet", is_flag=True)
def train(
    images: tuple[Path, ...],
    out: Path,
    iters: int,
    condition_si: str | None,
    nz: int,
    width: int,
    batch_size: int,
    lr: float,
    channels: str,
    seed: int,
    force: bool,
    quiet: bool,
) -> None:
    """Train the paper's DCGAN, or the conditional one, on random 64x64 crops (resumable)."""
    from microstructure.train import DCGANTrainConfig, train_dcgan

    config = DCGANTrainConfig(
        iters=iters,
        batch_size=batch_size,
        lr=lr,
        nz=nz,
        channels=int(channels),
        width=width,
        seed=seed,
        si_wt_pct=_condition_si(condition_si, images),
    )
    r = train_dcgan(list(images), out, config, progress=not quiet, force=force)
    if r["resumed_from"]:
        click.echo(f"resumed from iteration {r['resumed_from']}", err=True)
    click.echo(f"model written to {out} ({iters} iterations, {r['wall_s']:.0f} s)")


@micro.command()
@click.option(
    "--model",
    "model_dir",
    type=click.Path(path_type=Path),
    default=None,
    help="DCGAN model folder (default: shipped).",
)
@click.option("--n", "n", default=64, show_default=True)
@click.option("--si", default=None, type=float, help="Si wt % (conditional models).")
@click.option("--seed", default=0, show_default=True)
@click.option("--out", required=True, type=click.Path(path_type=Path))
@click.option("--force", is_flag=True)
def generate(
    model_dir: Path | None, n: int, si: float | None, seed: int, out: Path, force: bool
) -> None:
    """Generate micrographs (PNG)."""
    from eftgan.files import refuse_existing
    from microstructure.generate import generate_images, load_generator, write_images

    refuse_existing(out, force)
    g, _ = load_generator(model_dir)
    write_images(out, generate_images(g, n, si, seed, gray=False), force=force)
    click.echo(f"{n} generated micrographs -> {out}")


@micro.command()
@click.option("--real", required=True, type=click.Path(path_type=Path))
@click.option("--fake", required=True, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def evaluate(real: Path, fake: Path, as_json: bool) -> None:
    """Phase fraction, S2, lineal path and Fréchet distance between two image folders."""
    from microstructure.metrics import compare_folders

    r = compare_folders(real, fake)
    if as_json:
        click.echo(json.dumps(r, indent=1))
    else:
        for k, v in r.items():
            click.echo(f"{k:22s} {v:.6g}" if isinstance(v, float) else f"{k:22s} {v}")
