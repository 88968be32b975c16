"""``eftgan explore``: map properties over a composition grid without structures."""

from __future__ import annotations

import heapq
import itertools
import math
import shutil
import tempfile
from pathlib import Path
from typing import Any

import click
from eftgan_cli.main import echo_table


def _formula(row: Any, elements: list[str]) -> str:
    return "".join(f"{e}{row[f'x_{e}']:.2f}" for e in elements if row[f"x_{e}"] > 0)


@click.command()
@click.option("--elements", required=True, help="Comma-separated elements, e.g. Fe,Ni,Co,Cr,Mn.")
@click.option("--step", default=0.05, show_default=True, help="Grid step in atomic fraction.")
@click.option("--phases", default="fcc,bcc", show_default=True)
@click.option("--temperature", default=1000.0, show_default=True, help="K, for g_mix.")
@click.option("--bounds", default=None, help="Per-element limits, e.g. Mn:0-0.35,Cr:0.1-0.3.")
@click.option(
    "--out", type=click.Path(path_type=Path), default=Path("eftgan-explore"), show_default=True
)
@click.option(
    "--model",
    "model_dir",
    type=click.Path(path_type=Path),
    default=None,
    help="EFTGAN model folder (default: shipped).",
)
@click.option("--n-z", default=16, show_default=True, help="Generator noise draws per composition.")
@click.option("--top", default=10, show_default=True, help="Candidates to print.")
@click.option("--seed", default=0, show_default=True)
@click.option(
    "--scheduler",
    default=None,
    help="Dask scheduler address (tcp://HOST:8786) to screen on a cluster; needs eftgan[dist].",
)
@click.option("--no-maps", is_flag=True, help="Skip the PNG maps.")
@click.option("--force", is_flag=True, help="Replace an existing --out folder.")
def explore(
    elements: str, step: float, phases: str, temperature: float, bounds: str | None, out: Path,
    model_dir: Path | None, n_z: int, top: int, seed: int, scheduler: str | None, no_maps: bool,
    force: bool,
) -> None:  # fmt: skip
    """Predict Eform, Emix, Ms, V0 and derived quantities over a composition grid.

    Writes OUT/explore.csv, OUT/explore.parquet and PNG maps, and prints the candidates with the
    lowest free energy of mixing (outside the extrapolation region).
    """
    import pyarrow as pa
    import pyarrow.parquet as pq
    from tqdm import tqdm

    from eftgan.composition import grid_divisions, parse_bounds
    from eftgan.errors import UserError
    from eftgan.explore import Screener, validate_elements

    if out.exists() and not force:
        raise UserError(f"{out} already exists; pass --force to replace it or choose another --out")
    if n_z < 1:
        raise UserError("--n-z must be at least 1")
    screener = Screener.load(model_dir)
    names = validate_elements([e for e in elements.split(",") if e.strip()], screener.elements)
    phase_list = [p.strip() for p in phases.split(",") if p.strip()]
    n = grid_divisions(step)
    bnd = parse_bounds(bounds, names)
    total = math.comb(n + len(names) - 1, len(names) - 1) if not bnd else None

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.tmp-"))
    try:
        writer = None
        best: list[tuple[float, int, dict[str, Any]]] = []  # min-heap on -g_mix: worst first
        tiebreak = itertools.count()
        count = 0
        bar = tqdm(total=total, desc="explore", unit="comp", mininterval=1.0, disable=None)
        with open(tmp / "explore.csv", "w") as csv_fh:
            for k, df in enumerate(
                screener.iter_screen(
                    names, step, phase_list, bnd, temperature, n_z, seed, scheduler=scheduler
                )
            ):
                df.to_csv(csv_fh, header=(k == 0), index=False, float_format="%.6g")
                table = pa.Table.from_pandas(df, preserve_index=False)
                writer = writer or pq.ParquetWriter(tmp / "explore.parquet", table.schema)
                writer.write_table(table)
                ok = df[~df["extrapolation"]]
                for _, row in ok.nsmallest(top, "g_mix_ev_per_atom").iterrows():
                    item = (-float(row["g_mix_ev_per_atom"]), next(tiebreak), row.to_dict())
                    (heapq.heappush if len(best) < top else heapq.heappushpop)(best, item)
                count += len(df) // len(phase_list)
                bar.update(len(df) // len(phase_list))
        bar.close()
        if writer is None:
            raise UserError("the bounds leave no composition on the grid; widen them")
        writer.close()
        maps: list[Path] = []
        if not no_maps:
            from eftgan.maps import section_bounds, write_maps

            sec = section_bounds(names, step, bnd)
            parts = []
            if sec is not None:
                parts = list(
                    screener.iter_screen(names, step, phase_list, sec, temperature, n_z, seed)
                )
            if parts:
                import pandas as pd

                maps = write_maps(pd.concat(parts, ignore_index=True), names, tmp)
            else:
                click.echo("no maps: the bounds exclude the equal-share section", err=True)
        if out.exists():
            shutil.rmtree(out)
        tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    rows = [r for _, _, r in sorted(best, key=lambda t: -t[0])]
    for r in rows:
        r["composition"] = _formula(r, names)
    click.echo(
        f"{count} compositions x {len(phase_list)} phases -> {out}/explore.csv, explore.parquet"
        + (f", {len(maps)} maps" if maps else "")
    )
    click.echo(f"lowest g_mix at {temperature:g} K (extrapolation excluded):")
    echo_table(rows, ["composition", "phase", "g_mix_ev_per_atom", "eform_ev_per_atom",
                      "delta_e_bcc_fcc_ev_per_atom", "ms_mub_per_atom", "a_angstrom"])  # fmt: skip
