"""``eftgan explore``: map properties over a composition grid without structures.

The work is :func:`eftgan.explore.write_explore`; this command parses the options, calls it
and prints the candidates.
"""

from __future__ import annotations

from pathlib import Path

import click
from eftgan_cli.main import ModelFolder, device_option, echo_table

CANDIDATE_COLUMNS = [
    "composition",
    "phase",
    "g_ev_per_atom",
    "eform_ev_per_atom",
    "eform_std",
    "delta_e_bcc_fcc_ev_per_atom",
    "ms_mub_per_atom",
    "a_angstrom",
]


@click.command()
@click.option("--elements", required=True, help="Comma-separated elements, e.g. Fe,Ni,Co,Cr,Mn.")
@click.option("--step", default=0.05, show_default=True, help="Grid step in atomic fraction.")
@click.option("--phases", default="fcc,bcc", show_default=True)
@click.option("--temperature", default=1000.0, show_default=True, help="K, for g and g_mix.")
@click.option("--bounds", default=None, help="Per-element limits, e.g. Mn:0-0.35,Cr:0.1-0.3.")
@click.option(
    "--out", type=click.Path(path_type=Path), default=Path("eftgan-explore"), show_default=True
)
@click.option(
    "--model",
    "model_dir",
    type=ModelFolder(),
    default=None,
    help="EFTGAN model folder [default: the shipped default where it covers --elements, else "
    "the shipped model with the fewest elements that does].",
)
@click.option(
    "--n-z",
    type=int,
    default=None,
    help="Generator draws per ensemble member [default: 16 per composition in all; 1 per "
    "member above a million compositions].",
)
@click.option(
    "--csv/--no-csv",
    "csv",
    default=None,
    help="Also write explore.csv [default: for grids up to a million compositions].",
)
@click.option("--top", default=10, show_default=True, help="Candidates to print.")
@click.option("--seed", default=0, show_default=True)
@click.option(
    "--scheduler",
    default=None,
    help="Dask scheduler address (tcp://HOST:8786) to screen on a cluster; needs eftgan[dist].",
)
@device_option()
@click.option("--no-maps", is_flag=True, help="Skip the PNG maps.")
@click.option("--force", is_flag=True, help="Replace an existing --out folder.")
def explore(
    elements: str,
    step: float,
    phases: str,
    temperature: float,
    bounds: str | None,
    out: Path,
    model_dir: Path | None,
    n_z: int | None,
    csv: bool | None,
    top: int,
    seed: int,
    scheduler: str | None,
    device: str,
    no_maps: bool,
    force: bool,
) -> None:
    """Predict energies, moment, distortion, volume and their uncertainty over a grid.

    Writes OUT/explore.parquet (and explore.csv), OUT/candidates.csv and PNG maps, and prints
    the candidates of lowest free energy g = Eform - T S_conf, each composition in its more
    stable phase, outside the extrapolation region.
    """
    from eftgan.errors import UserError
    from eftgan.explore import Screener, shipped_screener_for, write_explore
    from eftgan.files import refuse_existing

    refuse_existing(out, force)
    if scheduler and device != "cpu":
        raise UserError("--device applies to local screening; drop it with --scheduler")
    names = [e for e in elements.split(",") if e.strip()]
    screener = Screener.load(model_dir) if model_dir else shipped_screener_for(names)
    result = write_explore(
        screener.to(device),
        names,
        out,
        step=step,
        phases=[p.strip() for p in phases.split(",") if p.strip()],
        bounds=bounds,
        temperature=temperature,
        n_z=n_z,
        seed=seed,
        top=top,
        maps=not no_maps,
        force=force,
        scheduler=scheduler,
        csv=csv,
    )
    for note in result.notes:
        click.echo(note, err=True)
    tables = "explore.parquet, explore.csv" if result.csv else "explore.parquet"
    maps = f", {len(result.maps)} maps" if result.maps else ""
    meta = screener.metadata()
    click.echo(
        f"{result.n_compositions} compositions x {len(result.phases)} phases -> "
        f"{out}/{tables}, candidates.csv{maps} (model {meta['model']}, labels: "
        f"{meta['label_source']})"
    )
    click.echo(result.ranking + ":")
    echo_table(result.candidates, CANDIDATE_COLUMNS)
