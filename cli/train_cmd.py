"""``eftgan train``: train models."""

from __future__ import annotations

from pathlib import Path

import click


@click.group()
def train() -> None:
    """Train models (resumable: run the same command again after an interruption)."""


@train.command()
@click.option(
    "--data",
    "data_path",
    required=True,
    multiple=True,
    type=click.Path(path_type=Path),
    help="Dataset path; repeat it to train on several (DFT and `data label` tables).",
)
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Run/model folder.")
@click.option("--seed", default=0, show_default=True, help="Random seed (init, split, shuffling).")
@click.option("--epochs", default=300, show_default=True, help="Maximum epochs.")
@click.option("--patience", default=50, show_default=True, help="Early-stopping patience (epochs).")
@click.option("--batch-size", default=16, show_default=True)
@click.option("--lr", default=3e-3, show_default=True, help="Initial learning rate.")
@click.option("--cutoff", default=4.5, show_default=True, help="Neighbour cutoff (Å).")
@click.option("--hidden", default=32, show_default=True, help="Feature width.")
@click.option("--keep-flagged", is_flag=True, help="Train on entries that validation flags too.")
@click.option("--force", is_flag=True, help="Overwrite a finished model or restart a run in --out.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def ecnet(
    data_path: tuple[Path, ...],
    out: Path,
    seed: int,
    epochs: int,
    patience: int,
    batch_size: int,
    lr: float,
    cutoff: float,
    hidden: int,
    keep_flagged: bool,
    force: bool,
    quiet: bool,
) -> None:
    """Train ECNet on a labelled dataset; writes a model folder to --out."""
    from eftgan.dataset import label_sources, load_datasets
    from eftgan.ecnet import ECNetConfig
    from eftgan.errors import UserError
    from eftgan.runstate import check_output_folder
    from eftgan.train import TrainConfig, Trainer
    from eftgan.validate import clean, flagged_names, masked_labels, validate

    if epochs < 1 or patience < 1 or batch_size < 1 or hidden < 1 or cutoff <= 0:
        raise UserError(
            "--epochs, --patience, --batch-size, --hidden and --cutoff must be positive"
        )
    check_output_folder(out, force)
    ds = load_datasets(data_path)
    excluded: list[str] = []
    if not keep_flagged:
        flags = validate(ds)
        excluded = sorted(flagged_names(flags))
        n_masked = len(masked_labels(flags).get("rmsd_angstrom", []))
        ds = clean(ds, flags)
        click.echo(
            f"excluding {len(excluded)} flagged entries (see 'eftgan data validate'); "
            f"{len(ds)} left, {n_masked} of them without their rmsd label",
            err=True,
        )
    trainer = Trainer(
        ds,
        out,
        ECNetConfig(elements=ds.elements, sources=label_sources(ds), cutoff=cutoff, hidden=hidden),
        TrainConfig(seed=seed, max_epochs=epochs, patience=patience, batch_size=batch_size, lr=lr),
        excluded=excluded,
        progress=not quiet,
        force=force,
    )
    result = trainer.run()
    if result.resumed_from:
        click.echo(f"resumed from epoch {result.resumed_from}", err=True)
    test = result.metrics.get("test", {})
    click.echo(
        f"model written to {result.folder} ({result.epochs} epochs, best at "
        f"{result.best_epoch}, {result.wall_s:.0f} s)"
    )
    for phase, per in test.items():
        click.echo(
            f"test {phase}: "
            + ", ".join(f"{t} MAE {m['mae']:.4f}" for t, m in per.items() if m["n"])
        )


@train.command("eftgan")
@click.option(
    "--data",
    "data_path",
    required=True,
    multiple=True,
    type=click.Path(path_type=Path),
    help="Dataset(s) the ECNet was trained on (repeat --data for several).",
)
@click.option(
    "--ecnet",
    "ecnet_dir",
    type=click.Path(path_type=Path),
    required=True,
    help="A single ECNet model folder (the shipped ECNet is an ensemble: see train ensemble).",
)
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Model folder.")
@click.option("--seed", default=0, show_default=True)
@click.option("--gan-steps", default=3000, show_default=True)
@click.option("--rounds", default=0, show_default=True, help="Augmentation rounds.")
@click.option(
    "--gen-draws",
    default=8,
    show_default=True,
    help="Generated samples per training composition for the property MLP.",
)
@click.option("--force", is_flag=True, help="Overwrite an existing model in --out.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def eftgan_cmd(
    data_path: tuple[Path, ...],
    ecnet_dir: Path,
    out: Path,
    seed: int,
    gan_steps: int,
    rounds: int,
    gen_draws: int,
    force: bool,
    quiet: bool,
) -> None:
    """Train the InfoGAN feature generator and property MLP on a trained ECNet's features.

    Run again with the same settings to resume an interrupted run (the GAN is checkpointed
    to the run folder every 250 steps through eftgan.runstate).
    """
    from eftgan.dataset import load_datasets
    from eftgan.model import load_model
    from eftgan.pipeline import EFTGANTrainConfig, train_eftgan
    from eftgan.runstate import check_output_folder
    from eftgan.validate import clean

    check_output_folder(out, force)
    ds = clean(load_datasets(data_path))
    config = EFTGANTrainConfig(seed=seed, gan_steps=gan_steps, rounds=rounds, gen_draws=gen_draws)
    m = train_eftgan(load_model(ecnet_dir), ds, out, config, force=force, progress=not quiet)
    if m["resumed_from_step"]:
        click.echo(f"resumed from GAN step {m['resumed_from_step']}", err=True)
    click.echo(
        f"model written to {out} ({m['n_train']} structures, Q MAE "
        f"{m['q_mae_train_real']:.4f}, {m['wall_s']:.0f} s)"
    )


@train.command()
@click.option(
    "--data",
    "data_path",
    required=True,
    multiple=True,
    type=click.Path(path_type=Path),
    help="Dataset path; repeat it to train on several (DFT and `data label` tables).",
)
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Run folder.")
@click.option("--members", default=5, show_default=True, help="ECNet/EFTGAN pairs.")
@click.option("--seed", default=0, show_default=True, help="Split seed; member k uses seed + k.")
@click.option("--subsample", default=0.9, show_default=True, help="Training share per member.")
@click.option("--epochs", default=300, show_default=True, help="ECNet maximum epochs.")
@click.option("--patience", default=50, show_default=True, help="ECNet early-stopping patience.")
@click.option("--gan-steps", default=3000, show_default=True)
@click.option("--gen-draws", default=8, show_default=True)
@click.option(
    "--names",
    default="ecnet,eftgan",
    show_default=True,
    help="Folder names of the ECNet and EFTGAN ensembles inside --out.",
)
@click.option("--quiet", is_flag=True, help="No progress bars.")
def ensemble(
    data_path: tuple[Path, ...],
    out: Path,
    members: int,
    seed: int,
    subsample: float,
    epochs: int,
    patience: int,
    gan_steps: int,
    gen_draws: int,
    names: str,
    quiet: bool,
) -> None:
    """Train a calibrated deep ensemble of ECNets and EFTGANs (see eftgan.ensemble).

    Writes OUT/ecnet and OUT/eftgan (model folders with every member; --names renames them),
    OUT/report.json (test accuracy and calibration) and keeps the members' run folders in
    OUT/members, so that an interrupted run resumes where it stopped.
    """
    from eftgan.dataset import load_datasets
    from eftgan.ensemble import EnsembleTrainConfig, train_ensemble
    from eftgan.errors import UserError
    from eftgan.validate import clean, flagged_names, validate

    if members < 2 or not 0 < subsample <= 1:
        raise UserError("--members must be at least 2 and --subsample in (0, 1]")
    folders = [n.strip() for n in names.split(",")]
    if len(folders) != 2 or not all(folders) or folders[0] == folders[1]:
        raise UserError("--names takes two different folder names, e.g. ecnet-v2,eftgan-v3")
    ds = load_datasets(data_path)
    flags = validate(ds)
    cfg = EnsembleTrainConfig(
        members=members,
        seed=seed,
        subsample=subsample,
        epochs=epochs,
        patience=patience,
        gan_steps=gan_steps,
        gen_draws=gen_draws,
        names=(folders[0], folders[1]),
    )
    excluded = sorted(flagged_names(flags))
    report = train_ensemble(clean(ds, flags), out, cfg, excluded, progress=not quiet)
    for kind in ("ecnet", "eftgan"):
        fcc = report[kind]["test"]["fcc"]["eform"]
        click.echo(
            f"{kind}: fcc Eform test MAE {fcc['mae']:.4f} eV/atom, ±1σ coverage "
            f"{fcc['coverage_1sigma']:.2f}, ±2σ {fcc['coverage_2sigma']:.2f}"
        )
    click.echo(
        f"ensembles written to {out}/{folders[0]} and {out}/{folders[1]}; report {out}/report.json"
    )
