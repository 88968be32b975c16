"""``eftgan micro``: synthetic Al-Si micrographs, augmentation, DCGANs, statistics."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import click


@click.group()
def micro() -> None:
    """Al-Si micrographs: synth, augment, train, generate, evaluate."""


def _fresh_dir(out: Path, force: bool) -> Path:
    """A temporary folder beside ``out`` (renamed into place by :func:`_commit`)."""
    from eftgan.errors import UserError

    if out.exists() and not force:
        raise UserError(f"{out} already exists; pass --force to replace it or choose another --out")
    out.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.tmp-"))


def _commit(tmp: Path, out: Path) -> None:
    if out.exists():
        shutil.rmtree(out)
    tmp.rename(out)


@micro.command()
@click.option("--si", "si", required=True, type=float, help="Si content, wt % (0-25).")
@click.option("--n", "n", default=20, show_default=True)
@click.option("--size", default=256, show_default=True, help="Image size in pixels.")
@click.option("--cooling-rate", default=10.0, show_default=True, help="K/s; sets the scale.")
@click.option("--seed", default=0, show_default=True)
@click.option("--out", required=True, type=click.Path(path_type=Path))
@click.option("--force", is_flag=True)
def synth(si: float, n: int, size: int, cooling_rate: float, seed: int, out: Path,
          force: bool) -> None:  # fmt: skip
    """Synthetic Al-Si micrographs with ground-truth phase maps (OUT/phase/)."""
    from tqdm import tqdm

    from eftgan.errors import UserError
    from microstructure.images import write_png
    from microstructure.synth import LABEL_SI, lever_rule, synthesize

    fr = lever_rule(si)
    if n < 1:
        raise UserError("--n must be at least 1")
    if cooling_rate <= 0:
        raise UserError("--cooling-rate must be positive")
    tmp = _fresh_dir(out, force)
    try:
        (tmp / "phase").mkdir()
        got = []
        for i in tqdm(range(n), desc="synth", disable=None):
            img, labels = synthesize(si, size, cooling_rate, seed=seed * 100003 + i)
            write_png(tmp / f"alsi_{si:g}_{i:04d}.png", img)
            write_png(tmp / "phase" / f"alsi_{si:g}_{i:04d}.png", (labels == LABEL_SI) * 1.0)
            got.append(float((labels == LABEL_SI).mean()))
        meta = {"si_wt_pct": si, "n": n, "size": size, "cooling_rate_k_s": cooling_rate,
                "seed": seed, "lever_rule": fr.__dict__,
                "si_area_fraction_mean": sum(got) / len(got)}  # fmt: skip
        (tmp / "synth.json").write_text(json.dumps(meta, indent=1))
        _commit(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    click.echo(f"{n} micrographs of Al-{si:g}Si -> {out} (Si area fraction: lever rule "
               f"{fr.si_total:.3f}, drawn {sum(got) / len(got):.3f})")  # fmt: skip


@micro.command()
@click.argument("folder", type=click.Path(path_type=Path))
@click.option("--factor", default=200, show_default=True, help="Augmented copies per image.")
@click.option("--seed", default=0, show_default=True)
@click.option("--out", required=True, type=click.Path(path_type=Path))
@click.option("--force", is_flag=True)
def augment(folder: Path, factor: int, seed: int, out: Path, force: bool) -> None:
    """The seed's augmentation (shift, shear, zoom, flips; kornia) of every image in FOLDER."""
    import torch
    from tqdm import tqdm

    from eftgan.errors import UserError
    from microstructure.augment import augment_batch
    from microstructure.images import image_files, read_gray, write_png

    if factor < 1:
        raise UserError("--factor must be at least 1")
    files = image_files(folder)
    tmp = _fresh_dir(out, force)
    try:
        for k, p in enumerate(tqdm(files, desc="augment", disable=None)):
            x = torch.from_numpy(read_gray(p)[None, None]).repeat(factor, 1, 1, 1)
            y = augment_batch(x, seed * 1_000_003 + k).numpy()
            for j in range(factor):
                write_png(tmp / f"{p.stem}_aug{j:04d}.png", y[j, 0])
        src = Path(folder) / "synth.json"
        if src.is_file():
            shutil.copy(src, tmp / "synth.json")
        _commit(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    click.echo(f"{len(files) * factor} augmented images -> {out}")


def _si_of(folder: Path) -> float | None:
    meta = folder / "synth.json"
    return float(json.loads(meta.read_text())["si_wt_pct"]) if meta.is_file() else None


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
@click.option("--condition-si", default=None,
              help="Train the conditional model: Si wt % of each --images folder, e.g. 4,10; "
                   "'auto' reads each folder's synth.json.")  # fmt: skip
@click.option("--nz", default=1000, show_default=True, help="Noise size (the seed: 1000).")
@click.option("--width", default=64, show_default=True, help="Base width (the seed: 64).")
@click.option("--batch-size", default=64, show_default=True)
@click.option("--lr", default=5e-4, show_default=True,
              help="Adam learning rate (the seed: 0.0005; 0.0002 if D wins early).")  # fmt: skip
@click.option("--channels", type=click.Choice(["1", "3"]), default="1", show_default=True,
              help="Gray (1) or RGB (3) images; the files are converted.")  # fmt: skip
@click.option("--seed", default=0, show_default=True)
@click.option("--force", is_flag=True)
@click.option("--quiet", is_flag=True)
def train(images: tuple[Path, ...], out: Path, iters: int, condition_si: str | None, nz: int,
          width: int, batch_size: int, lr: float, channels: str, seed: int, force: bool,
          quiet: bool) -> None:  # fmt: skip
    """Train the seed DCGAN, or the conditional one, on random 64x64 crops (resumable)."""
    from eftgan.errors import UserError
    from microstructure.train import train_dcgan

    si: list[float] | None = None
    if condition_si:
        if condition_si == "auto":
            found = [_si_of(Path(f)) for f in images]
            if any(s is None for s in found):
                raise UserError("--condition-si auto needs a synth.json in every folder")
            si = [float(s) for s in found if s is not None]
        else:
            try:
                si = [float(x) for x in condition_si.split(",")]
            except ValueError:
                raise UserError(
                    f"--condition-si {condition_si!r} is not a list of numbers"
                ) from None
    if not 0 < lr < 1:
        raise UserError(f"--lr {lr:g} is not a learning rate; give a value such as 0.0002")
    r = train_dcgan([Path(f) for f in images], out, si_wt_pct=si, iters=iters, batch_size=batch_size, lr=lr, nz=nz,
                    width=width, channels=int(channels), seed=seed, progress=not quiet,
                    force=force)  # fmt: skip
    if r["resumed_from"]:
        click.echo(f"resumed from iteration {r['resumed_from']}", err=True)
    click.echo(f"model written to {out} ({iters} iterations, {r['wall_s']:.0f} s)")


@micro.command()
@click.option("--model", "model_dir", type=click.Path(path_type=Path), default=None,
              help="DCGAN model folder (default: shipped).")  # fmt: skip
@click.option("--n", "n", default=64, show_default=True)
@click.option("--si", default=None, type=float, help="Si wt % (conditional models).")
@click.option("--seed", default=0, show_default=True)
@click.option("--out", required=True, type=click.Path(path_type=Path))
@click.option("--force", is_flag=True)
def generate(model_dir: Path | None, n: int, si: float | None, seed: int, out: Path,
             force: bool) -> None:  # fmt: skip
    """Generate micrographs (PNG) and a sample grid."""
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
    from microstructure.images import read_folder
    from microstructure.metrics import compare_sets

    r = compare_sets(read_folder(real), read_folder(fake))
    if as_json:
        click.echo(json.dumps(r, indent=1))
    else:
        for k, v in r.items():
            click.echo(f"{k:22s} {v:.6g}" if isinstance(v, float) else f"{k:22s} {v}")
