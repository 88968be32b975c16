"""Ternary and pseudo-ternary composition maps (PNG) from a screening table.

For three elements the map is the whole ternary. For more, it is a pseudo-ternary *section*:
the first three elements span the triangle and every other element is held at an equal share
``s`` (the equiatomic share ``1/n`` rounded down to the grid), as in the EFTGAN paper's
sections through the Cantor alloy. Binary systems are drawn as curves. The section is screened
on its own (:func:`section_bounds`) rather than filtered out of a large streamed grid, so that
nothing of the stream is kept alive.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

SQRT3_2 = math.sqrt(3.0) / 2.0


def section_bounds(
    elements: Sequence[str], step: float, bounds: Mapping[str, tuple[float, float]] | None = None
) -> dict[str, tuple[float, float]] | None:
    """Grid bounds that select the pseudo-ternary section: every element after the third at
    the equiatomic share rounded down to the grid, the user's bounds kept; None if those
    bounds exclude the share.
    """
    out = dict(bounds or {})
    n = len(elements)
    if n > 3:
        share = math.floor((1.0 / n) / step + 1e-9) * step
        for e in elements[3:]:
            lo, hi = out.get(e, (0.0, 1.0))
            if not lo - 1e-9 <= share <= hi + 1e-9:
                return None
            out[e] = (share, share)
    return out


def _xy(df: Any, corners: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    a, b, c = (df[f"x_{e}"].to_numpy(dtype=float) for e in corners)
    tot = a + b + c
    b, c = b / tot, c / tot
    return b + 0.5 * c, SQRT3_2 * c


def _triangle(ax: Any, corners: Sequence[str], title: str) -> None:
    ax.plot([0, 1, 0.5, 0], [0, 0, SQRT3_2, 0], color="k", lw=0.8)
    ax.text(-0.03, -0.04, corners[0], ha="right", va="top", fontsize=10)
    ax.text(1.03, -0.04, corners[1], ha="left", va="top", fontsize=10)
    ax.text(0.5, SQRT3_2 + 0.03, corners[2], ha="center", va="bottom", fontsize=10)
    for t in (0.25, 0.5, 0.75):  # light grid lines at 25 % steps
        ax.plot([t / 2, 1 - t / 2], [t * SQRT3_2] * 2, color="0.85", lw=0.5, zorder=0)
        ax.plot([t, t / 2 + 0.5], [0, (1 - t) * SQRT3_2], color="0.85", lw=0.5, zorder=0)
        ax.plot([t, t / 2], [0, t * SQRT3_2], color="0.85", lw=0.5, zorder=0)
    ax.set_title(title, fontsize=10)
    ax.set_aspect("equal")
    ax.set_xlim(-0.08, 1.08)
    ax.set_ylim(-0.1, 0.95)
    ax.axis("off")


def write_maps(rows: Any, elements: Sequence[str], out: Path) -> list[Path]:
    """Formation-energy, magnetic-moment and fcc/bcc-preference maps; returns the PNG paths."""
    from matplotlib.colors import TwoSlopeNorm

    from eftgan.plotting import pyplot, save_png

    plt = pyplot()

    share = float(rows[f"x_{elements[3]}"].iloc[0]) if len(elements) > 3 else 0.0
    corners = list(elements[:3])
    suffix = f"; {', '.join(elements[3:])} at {share:.2f} each" if len(elements) > 3 else ""
    phases = [p for p in ("fcc", "bcc") if (rows["phase"] == p).any()]
    written: list[Path] = []
    specs = [
        ("eform_ev_per_atom", "Formation energy (eV/atom)", "viridis", "map_eform.png"),
        ("ms_mub_per_atom", "Magnetic moment (μB/atom)", "magma", "map_ms.png"),
    ]
    for col, label, cmap, fname in specs:
        fig, axes = plt.subplots(1, len(phases), figsize=(4.6 * len(phases), 4.2), squeeze=False)
        vals = rows[col].to_numpy(dtype=float)
        vmin, vmax = float(np.nanmin(vals)), float(np.nanmax(vals))
        for ax, p in zip(axes[0], phases, strict=True):
            r = rows[rows["phase"] == p]
            sc = _draw(ax, r, corners, col, cmap, vmin, vmax, len(elements))
            if len(elements) >= 3:
                _triangle(ax, corners, f"{p}{suffix}")
            else:
                ax.set_title(p, fontsize=10)
        fig.colorbar(sc, ax=axes[0].tolist(), shrink=0.8, label=label)
        save_png(fig, out / fname, dpi=150, bbox_inches="tight")
        written.append(out / fname)
    # phase preference from one row per composition
    r = rows[rows["phase"] == phases[0]]
    d = r["delta_e_bcc_fcc_ev_per_atom"].to_numpy(dtype=float)
    lim = float(np.nanmax(np.abs(d))) or 1e-3
    fig, ax = plt.subplots(figsize=(5.2, 4.2))
    norm = TwoSlopeNorm(0.0, -lim, lim)
    sc = _draw(
        ax, r, corners, "delta_e_bcc_fcc_ev_per_atom", "RdBu", -lim, lim, len(elements), norm
    )
    if len(elements) >= 3:
        _triangle(ax, corners, f"E(bcc) − E(fcc): red favours bcc, blue fcc{suffix}")
    fig.colorbar(sc, ax=ax, shrink=0.8, label="ΔE bcc − fcc (eV/atom)")
    save_png(fig, out / "map_phase.png", dpi=150, bbox_inches="tight")
    written.append(out / "map_phase.png")
    return written


def _draw(
    ax: Any,
    r: Any,
    corners: Sequence[str],
    col: str,
    cmap: str,
    vmin: float,
    vmax: float,
    n: int,
    norm: Any = None,
) -> Any:
    """Colour the rows ``r`` by column ``col``: a curve for a binary (``n == 2``), else a
    triangle of (pseudo-)ternary coordinates; returns the mappable for the colour bar."""
    v = r[col].to_numpy(dtype=float)
    if n == 2:
        x = r[f"x_{corners[1]}"].to_numpy(dtype=float)
        o = np.argsort(x)
        ax.plot(x[o], v[o], "-o", ms=3)
        ax.set_xlabel(f"x({corners[1]})")
        ax.set_ylabel(col)
        limits = {} if norm else {"vmin": vmin, "vmax": vmax}
        return ax.scatter(x[o], v[o], c=v[o], cmap=cmap, norm=norm, s=10, **limits)
    x, y = _xy(r, corners)
    kw = {"norm": norm} if norm is not None else {"vmin": vmin, "vmax": vmax}
    if len(x) >= 3:
        return ax.tripcolor(x, y, v, cmap=cmap, shading="gouraud", **kw)
    return ax.scatter(x, y, c=v, cmap=cmap, **kw)
