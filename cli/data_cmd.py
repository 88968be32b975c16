"""``eftgan data``: validate and fetch datasets."""

from __future__ import annotations

import json
from pathlib import Path

import click
from eftgan_cli.main import echo_table


@click.group()
def data() -> None:
    """Read, check and download datasets."""


@data.command()
@click.argument("path", type=click.Path(path_type=Path))
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print a JSON list of {structure, check, reason, masks}; masks lists the labels a "
    "finding removes from an entry that stays in use (empty: the entry is excluded).",
)
def validate(path: Path, as_json: bool) -> None:
    """Check every entry of a dataset and report the inconsistent ones.

    Most findings exclude the entry from training; a "distortion" finding only masks the
    entry's rmsd label (its cell sheared onto another lattice).

    PATH is a folder with labels.csv and POSCARS/, an .extxyz file, or VASP outputs.
    """
    from eftgan.dataset import load_dataset, short_name
    from eftgan.validate import TARGET_CHECKS, flagged_names, masked_labels
    from eftgan.validate import validate as run_validation

    ds = load_dataset(path)
    flags = run_validation(ds)
    rows = [{**f.as_dict(), "masks": list(TARGET_CHECKS.get(f.check, ()))} for f in flags]
    if as_json:
        click.echo(json.dumps(rows, indent=1))
        return
    if flags:
        for r in rows:
            if r["masks"]:
                short = ", ".join(short_name(m) for m in r["masks"])
                r["check"] = f"{r['check']} ({short} masked)"
        echo_table(rows, ["structure", "check", "reason"])
        click.echo("")
    n_bad = len(flagged_names(flags))
    masked = masked_labels(flags)
    click.echo(
        f"{n_bad} of {len(ds)} entries flagged ({len(flags)} findings); training excludes them "
        "unless --keep-flagged is given"
    )
    for target, names in masked.items():
        click.echo(
            f"{len(names)} more entries stay in use with their {target} label masked "
            f"({', '.join(sorted({c for c, ts in TARGET_CHECKS.items() if target in ts}))})"
        )


@data.command()
@click.option(
    "--url", default=None, help="Archive to download (default: the public ECNet repository)."
)
@click.option("--sha256", default=None, help="Expected SHA-256 of the archive.")
@click.option("--force", is_flag=True, help="Replace data already in the cache.")
def fetch(url: str | None, sha256: str | None, force: bool) -> None:
    """Download the public ECNet/EFTGAN DFT data (HEA_Data) into $EFTGAN_HOME."""
    from eftgan.fetch import DEFAULT_URL, fetch_dataset

    target = fetch_dataset(url or DEFAULT_URL, sha256=sha256, force=force)
    click.echo(f"downloaded and verified: {target}")
