"""What the design model believes, drawn as BOXVIA drew it: the posterior mean, its standard
deviation and the acquisition along slices through the best observed point.

- ``slices_1d.png``: one row per numeric variable, moved over its range while the others
  stay at the best point (mean with a ±2 std band and the observations; acquisition);
- ``slice_2d_<a>_<b>.png``: mean, std and acquisition over pairs of the first three
  numeric variables.

A variable of a composition group moves with the other members of its group scaled to keep
the group's total; where they would leave their bounds the slice is left blank.
Categorical variables stay at the best point's category.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from eftgan.design import Space, model_and_acquisition, predict

__all__ = ["best_point", "evaluate_slice", "plot_design", "slice_frame"]

N_1D, N_2D = 101, 41


def best_point(space: Space, frame: pd.DataFrame) -> pd.Series:
    """The observed row with the best first objective (outcome constraints not considered)."""
    o = space.objectives[0]
    return frame.loc[(frame[o.name] * o.sign).idxmax()]


def slice_frame(space: Space, best: pd.Series, moves: dict[str, np.ndarray]) -> pd.DataFrame:
    """Points equal to ``best`` but for the moved variables (same-length arrays); composition
    partners rescaled to keep their total. Rows that leave the space are NaN."""
    n = len(next(iter(moves.values())))
    frame = pd.DataFrame({v.name: [best[v.name]] * n for v in space.variables})
    for name, values in moves.items():
        frame[name] = values
    ok = np.ones(n, dtype=bool)
    var = {v.name: v for v in space.variables}
    for group, total in space.composition_groups:
        moved = [g for g in group if g in moves]
        rest = [g for g in group if g not in moves]
        if not rest:
            ok &= np.abs(frame[moved].sum(axis=1).to_numpy() - total) < 1e-6
            continue
        if not moved:
            continue
        left = total - frame[moved].sum(axis=1).to_numpy()
        base = float(sum(best[g] for g in rest))
        for g in rest:
            share = best[g] / base if base > 0 else 1 / len(rest)
            frame[g] = left * share
            ok &= (frame[g] >= var[g].low - 1e-9) & (frame[g] <= var[g].high + 1e-9)
    for c, rhs in space.linear_constraints:
        ok &= sum(k * frame[n] for n, k in c.items()).to_numpy() <= rhs + 1e-9
    return frame.where(pd.Series(ok, index=frame.index), other=np.nan)


def evaluate_slice(space: Space, model: object, acq: object, frame: pd.DataFrame) -> dict:
    """Mean, std (first objective) and acquisition at the rows of a slice; NaN where the
    row left the space."""
    keep = frame.notna().all(axis=1).to_numpy()
    out = {k: np.full(len(frame), np.nan) for k in ("mean", "std", "acquisition")}
    if keep.any():
        p = predict(space, model, acq, space.encode(frame[keep]))
        out["mean"][keep], out["std"][keep] = p["mean"][:, 0], p["std"][:, 0]
        out["acquisition"][keep] = p["acquisition"]
    return out


def plot_design(
    space: Space,
    data: pd.DataFrame,
    out: str | os.PathLike[str],
    acquisition: str = "qlogei",
    seed: int = 0,
    force: bool = False,
) -> list[Path]:
    """Write the slice plots of the model fitted to ``data`` (checked observations, see
    :func:`eftgan.design.read_observations`) into the folder ``out`` (all or nothing);
    returns the files."""
    from eftgan.files import staged_dir

    frame = data
    model, acq = model_and_acquisition(space, frame, acquisition, seed)
    best = best_point(space, frame)
    numeric = [v for v in space.variables if not v.choices]
    with staged_dir(out, force) as tmp:
        _plot_1d(space, model, acq, frame, best, numeric, tmp / "slices_1d.png", acquisition)
        for i, a in enumerate(numeric[:3]):
            for b in numeric[i + 1 : 3]:
                _plot_2d(space, model, acq, best, a, b, tmp / f"slice_2d_{a.name}_{b.name}.png")
        names = sorted(p.name for p in tmp.iterdir())
    return [Path(out) / n for n in names]


def _plot_1d(space, model, acq, frame, best, numeric, path: Path, kind: str) -> None:
    from eftgan.plotting import pyplot, save_png

    plt = pyplot()
    obj = space.objectives[0].name
    fig, axes = plt.subplots(len(numeric), 2, figsize=(8, 2.2 * len(numeric)), squeeze=False)
    for row, v in zip(axes, numeric, strict=True):
        x = np.linspace(v.low, v.high, N_1D)
        r = evaluate_slice(space, model, acq, slice_frame(space, best, {v.name: x}))
        row[0].plot(x, r["mean"], color="C0")
        row[0].fill_between(x, r["mean"] - 2 * r["std"], r["mean"] + 2 * r["std"], alpha=0.25)
        row[0].scatter(frame[v.name], frame[obj], s=8, color="k", label="observed")
        row[0].axvline(best[v.name], color="C3", lw=0.8)
        row[0].set_ylabel(f"{obj} (mean ± 2 std)", fontsize=8)
        row[1].plot(x, r["acquisition"], color="C2")
        row[1].set_ylabel(f"acquisition ({kind})", fontsize=8)
        for ax in row:
            ax.set_xlabel(v.name, fontsize=8)
    fig.suptitle(f"slices through the best observed point ({obj})", fontsize=9)
    fig.tight_layout()
    save_png(fig, path, dpi=90)


def _plot_2d(space, model, acq, best, a, b, path: Path) -> None:
    from eftgan.plotting import pyplot, save_png

    plt = pyplot()
    xa, xb = np.meshgrid(np.linspace(a.low, a.high, N_2D), np.linspace(b.low, b.high, N_2D))
    moves = {a.name: xa.ravel(), b.name: xb.ravel()}
    r = evaluate_slice(space, model, acq, slice_frame(space, best, moves))
    fig, axes = plt.subplots(1, 3, figsize=(11, 3.2))
    for ax, key in zip(axes, ("mean", "std", "acquisition"), strict=True):
        im = ax.pcolormesh(xa, xb, r[key].reshape(xa.shape), shading="auto")
        ax.plot(best[a.name], best[b.name], "r*", ms=9)
        ax.set_title(key, fontsize=9)
        ax.set_xlabel(a.name)
        ax.set_ylabel(b.name)
        fig.colorbar(im, ax=ax)
    fig.tight_layout()
    save_png(fig, path, dpi=90)
