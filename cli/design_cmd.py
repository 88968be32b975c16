"""``eftgan design``: Bayesian design of the next experiments (:mod:`eftgan.design`)."""

from __future__ import annotations

import warnings
from pathlib import Path

import click

from eftgan.design import ACQUISITIONS


def _space_and_data(data: Path, space: Path | None, bounds: str | None, goal: str | None):
    """The space (space.json, or BOXVIA-style --bounds over the CSV's columns) and the
    checked observations; warnings (merged duplicates) printed as one line each."""
    import pandas as pd

    from eftgan.design import Space, read_observations
    from eftgan.errors import UserError

    if (space is None) == (bounds is None):
        raise UserError("give --space space.json or --bounds LOW:HIGH (not both)")
    if space is not None:
        if goal is not None:
            raise UserError("the goal of a space.json is its objective's 'goal'; drop --goal")
        sp = Space.from_json(space)
    else:
        try:
            columns = list(pd.read_csv(data, nrows=0).columns)
        except (OSError, ValueError) as exc:
            raise UserError(f"cannot read {data} ({' '.join(str(exc).split())[:100]})") from None
        sp = Space.from_bounds(columns, bounds or "", goal or "minimize")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        frame = read_observations(data, sp)
    for w in caught:
        click.echo(f"warning: {w.message}", err=True)
    return sp, frame


_data = click.option(
    "--data", required=True, type=click.Path(path_type=Path),
    help="Observations: one column per variable, then the measured ones.",
)  # fmt: skip
_space = click.option("--space", type=click.Path(path_type=Path), help="space.json")
_bounds = click.option(
    "--bounds",
    help="Instead of --space, for BOXVIA CSVs (objective last): LOW:HIGH or x1=LOW:HIGH,...",
)
_goal = click.option(
    "--goal", type=click.Choice(["minimize", "maximize"]),
    help="With --bounds [minimize] or --elements [maximize]; space.json names its own.",
)  # fmt: skip
_acq = click.option("--acquisition", type=click.Choice(ACQUISITIONS), default="qlogei",
                    show_default=True)  # fmt: skip


@click.group()
def design() -> None:
    """Bayesian design: which points to measure next (design suggest), and what the model
    believes (design plot)."""


@design.command("suggest")
@_data
@_space
@_bounds
@_goal
@click.option("--batch", default=5, show_default=True, help="Points to suggest.")
@_acq
@click.option("--seed", default=0, show_default=True)
@click.option("--elements", help="Alloy design: the elements (e.g. Fe,Ni,Co,Cr,Mn).")
@click.option("--target", help="[alloys] The column to optimise, e.g. ms_mub_per_atom.")
@click.option("--phase", help="[alloys] fcc or bcc. [fcc]")
@click.option("--prior", type=click.Choice(["eftgan", "none"]),
              help="[alloys] The shipped EFTGAN as the GP's prior. [eftgan]")  # fmt: skip
@click.option("--step", type=float, help="[alloys] Candidate grid step. [0.05]")
@click.option("--out", required=True, type=click.Path(path_type=Path), help="next.csv")
@click.option("--force", is_flag=True, help="Replace --out.")
def suggest_cmd(
    data: Path, space: Path | None, bounds: str | None, goal: str | None, batch: int,
    acquisition: str, seed: int, elements: str | None, target: str | None, phase: str | None,
    prior: str | None, step: float | None, out: Path, force: bool,
) -> None:  # fmt: skip
    """Suggest the next --batch points: next.csv has the variables, then the model's mean,
    std and acquisition at each. With --elements: the next compositions of an alloy."""
    from eftgan.design import suggest
    from eftgan.errors import UserError
    from eftgan.files import atomic_write_text, refuse_existing

    refuse_existing(out, force)
    if batch < 1:
        raise UserError(f"--batch {batch}: ask for at least one point")
    alloy_only = {"--target": target, "--phase": phase, "--prior": prior, "--step": step}
    if elements is not None:
        if space is not None or bounds is not None or acquisition != "qlogei":
            raise UserError("--elements takes no --space, --bounds or --acquisition")
        _suggest_alloys(
            data, elements, target, goal or "maximize", phase or "fcc", prior or "eftgan",
            0.05 if step is None else step, batch, seed, out,
        )  # fmt: skip
        return
    given = [k for k, v in alloy_only.items() if v is not None]
    if given:
        raise UserError(f"{', '.join(given)} need(s) --elements (alloy design)")
    sp, frame = _space_and_data(data, space, bounds, goal)
    result = suggest(sp, frame, batch, acquisition, seed)
    atomic_write_text(out, result.frame.to_csv(index=False, float_format="%.6g"))
    click.echo(result.frame.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    click.echo(f"{len(result.frame)} points ({acquisition}, {len(frame)} observations) -> {out}")


@design.command("plot")
@_data
@_space
@_bounds
@_goal
@_acq
@click.option("--seed", default=0, show_default=True)
@click.option("--out", required=True, type=click.Path(path_type=Path), help="A folder.")
@click.option("--force", is_flag=True, help="Replace --out.")
def plot_cmd(
    data: Path, space: Path | None, bounds: str | None, goal: str, acquisition: str,
    seed: int, out: Path, force: bool,
) -> None:  # fmt: skip
    """PNGs of the model's mean, std and acquisition along 1D and 2D slices through the best
    observed point."""
    from eftgan.design_plot import plot_design
    from eftgan.files import refuse_existing

    refuse_existing(out, force)
    sp, frame = _space_and_data(data, space, bounds, goal)
    for path in plot_design(sp, frame, out, acquisition, seed, force):
        click.echo(str(path))


def _suggest_alloys(
    data: Path, elements: str, target: str | None, goal: str, phase: str, prior: str,
    step: float, batch: int, seed: int, out: Path,
) -> None:  # fmt: skip
    from eftgan import alloy_design as ad
    from eftgan.composition import composition_key
    from eftgan.errors import UserError
    from eftgan.files import atomic_write_text

    if not target:
        raise UserError("--elements needs --target (the column to optimise)")
    els = [e.strip() for e in elements.split(",") if e.strip()]
    if not 0 < step <= 0.5:
        raise UserError(f"--step {step}: give a grid step in (0, 0.5]")
    observed = ad.read_alloy_observations(str(data), els, target, phase)
    seen = {composition_key(dict(zip(els, r, strict=True))) for r in observed[els].to_numpy()}
    grid = ad.grid_candidates(els, step)
    keys = [composition_key(dict(zip(els, r, strict=True))) for r in grid.to_numpy()]
    cand = grid[[k not in seen for k in keys]].reset_index(drop=True)
    p_obs = p_cand = None
    if prior == "eftgan":
        p_obs = ad.eftgan_prior(observed, els, target, phase)
        p_cand = ad.eftgan_prior(cand, els, target, phase)
    r = ad.suggest_alloys(els, observed, target, cand, goal, batch, p_obs, p_cand, seed)
    atomic_write_text(out, r.frame.to_csv(index=False, float_format="%.6g"))
    click.echo(r.frame.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    cv = ", ".join(f"{k} {v:.4g}" for k, v in r.cv_mae.items())
    click.echo(f"prior: {r.mode}" + (f" (5-fold MAE: {cv})" if cv else "") + f" -> {out}")
