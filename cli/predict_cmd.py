"""``eftgan predict``: properties of structures from files."""

from __future__ import annotations

import csv
import sys
from pathlib import Path
from typing import Any

import click
from eftgan_cli.main import ModelFolder, device_option, echo_table

COLUMNS = [
    "structure",
    "phase",
    "etot_ev_per_atom",
    "etot_std",
    "eform_ev_per_atom",
    "eform_std",
    "emix_ev_per_atom",
    "emix_std",
    "ms_mub_per_atom",
    "ms_std",
    "rmsd_angstrom",
    "rmsd_std",
    "v0_a3_per_atom",
    "extrapolation",
    "phase_source",
]


def read_structures(paths: list[Path]) -> tuple[list[Any], list[str]]:
    """Structures and names from CIF/POSCAR/extxyz files (every frame of an extxyz)."""
    from eftgan.dataset import read_structure_frames
    from eftgan.errors import UserError

    structures, names = [], []
    for p in paths:
        if p.is_dir():
            raise UserError(f"{p} is a folder; give structure files (CIF, POSCAR, extxyz)")
        for name, structure in read_structure_frames(p):
            names.append(name)
            structures.append(structure)
    if not structures:
        raise UserError("no structures given")
    return structures, names


@click.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--model",
    "model_dir",
    type=ModelFolder(),
    default=None,
    help="Model folder (default: shipped model).",
)
@click.option(
    "--phase",
    type=click.Choice(["fcc", "bcc"]),
    default=None,
    help="Lattice of all structures (default: from the file name, else from coordination).",
)
@click.option(
    "--format", "fmt", type=click.Choice(["table", "csv"]), default="table", show_default=True
)
@click.option("--batch-size", default=32, show_default=True)
@device_option()
def predict(
    files: tuple[Path, ...],
    model_dir: Path | None,
    phase: str | None,
    fmt: str,
    batch_size: int,
    device: str,
) -> None:
    """Predict energies, moment, distortion and their spread for structure files.

    Etot, Eform, Emix (eV/atom), Ms (μB/atom), rmsd (Å) and V0 (Å³/atom, the input cell's
    volume per atom) from CIF, POSCAR or extxyz files; an ensemble model adds the calibrated
    spread of each (*_std) and whether the composition lies outside its training data.
    """
    from eftgan.catalog import shipped_model_for
    from eftgan.model import load_model
    from eftgan.paths import default_model_dir

    structures, names = read_structures(list(files))
    if model_dir is None:
        elements = {el.symbol for s in structures for el in s.composition.elements}
        model_dir = shipped_model_for("ecnet", elements)
        if model_dir != default_model_dir("ecnet"):
            click.echo(f"model {model_dir.name}: the default does not know every element", err=True)
    model = load_model(model_dir).to(device)
    rows = model.predict_structures(structures, phase=phase, names=names, batch_size=batch_size)
    columns = [c for c in COLUMNS if c in rows[0]]
    if fmt == "csv":
        w = csv.DictWriter(
            sys.stdout, fieldnames=columns, extrasaction="ignore", lineterminator="\n"
        )
        w.writeheader()
        for r in rows:
            w.writerow({k: (f"{v:.6f}" if isinstance(v, float) else v) for k, v in r.items()})
    else:
        echo_table(rows, columns)
