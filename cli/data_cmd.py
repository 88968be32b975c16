"""``eftgan data``: validate and fetch datasets."""

from __future__ import annotations

from pathlib import Path

import click
from eftgan_cli.main import echo_json, echo_table


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
        echo_json(rows)
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


@data.command()
@click.option("--elements", required=True, help="Comma-separated elements, e.g. Al,Co,Cr,Fe,Ni.")
@click.option("--phases", default="fcc,bcc", show_default=True, help="Lattices of the SQS.")
@click.option(
    "--n",
    "n",
    default=400,
    show_default=True,
    help="Structures in all: ceil(n / phases) compositions, each on every phase. A run is "
    "resumed only with the same --n (and every other setting).",
)
@click.option(
    "--compositions",
    default=None,
    help="Label these compositions instead of sampling, e.g. CoCrFeNi,Al0.5CoCrFeNi.",
)
@click.option(
    "--oracle",
    type=click.Choice(["chgnet"]),
    default="chgnet",
    show_default=True,
    help="Universal potential.",
)
@click.option("--out", required=True, type=click.Path(path_type=Path))
@click.option("--size", default=32, show_default=True, help="Atoms per supercell.")
@click.option("--fmax", default=0.1, show_default=True, help="Force limit, eV/Å.")
@click.option("--max-steps", default=300, show_default=True, help="Relaxation step limit.")
@click.option("--seed", default=0, show_default=True)
@click.option(
    "--scheduler", default=None, help="Dask scheduler (tcp://HOST:8786); needs eftgan[dist]."
)
@click.option("--force", is_flag=True, help="Start afresh in an existing --out.")
def label(
    elements: str,
    phases: str,
    n: int,
    compositions: str | None,
    oracle: str,
    out: Path,
    size: int,
    fmax: float,
    max_steps: int,
    seed: int,
    scheduler: str | None,
    force: bool,
) -> None:
    """Label special quasirandom alloys of any elements with a universal potential.

    Samples compositions (binaries to the whole set, equiatomic ones included), builds an SQS
    per composition and phase, relaxes it with the oracle and writes OUT/labels.csv,
    OUT/POSCARS/ and OUT/provenance.json in the DFT table's layout (`eftgan train --data OUT`
    reads it). Rerunning the same command resumes a killed run.
    """
    from eftgan.errors import UserError
    from eftgan.label import parse_compositions, plan_jobs, run_labels
    from eftgan.oracle import check_oracle_elements

    els = check_oracle_elements([e for e in elements.split(",") if e.strip()], oracle)
    if n < 1 or size < 2:
        raise UserError("--n must be at least 1 and --size at least 2")
    comps = parse_compositions(compositions, els) if compositions else None
    phase_list = [p.strip().lower() for p in phases.split(",") if p.strip()]
    jobs = plan_jobs(els, phase_list, n, size, seed, comps)
    click.echo(f"{len(jobs)} structures ({len(jobs) // len(phase_list)} compositions) -> {out}")
    prov = run_labels(out, jobs, oracle, fmax, max_steps, scheduler=scheduler, force=force)
    click.echo(
        f"{prov['n_structures']} labelled ({prov['n_converged']} converged within "
        f"{max_steps} steps), median {prov['seconds_per_structure_median']:.1f} s per "
        f"structure -> {out}/labels.csv"
    )
