"""Ternary and pseudo-ternary composition maps (PNG) from a screening table.

For three elements the map is the whole ternary. For more, it is a pseudo-ternary *section*:
the first three elements span the triangle and every other element is held at an equal share
``s`` (the equiatomic share ``1/n`` rounded down to the grid), as in the EFTGAN paper's
sections through the Cantor alloy. Binary systems are drawn as curves. The section is screened
on its own (:func:`section_bounds`) rather than filtered out of a large streamed grid, so that
nothing of the stream is kept alive.

Geometry of the triangle. The three corner elements A, B, C (``corners``, in that order) with
fractions normalised to sum 1 sit at ``x = b + c/2``, ``y = (√3/2) c``: A at the origin, B at
(1, 0), C at the apex (1/2, √3/2). The side is 1, so a normalised fraction is a distance along
an edge. The fraction of corner ``k`` is constant on lines parallel to the edge opposite that
corner; its ticks sit on the edge from corner ``k-1`` to corner ``k`` (indices mod 3: B on the
base, C on the right edge, A on the left edge) and grow towards corner ``k``, and each tick mark
continues its grid line outwards, so a point is read by following the grid line to the label.
In a pseudo-ternary section the corners hold ``span = 1 - (n-3) s`` of the atoms between them;
the ticks are labelled in actual atomic fraction, 0 to ``span``.

Each property map has a second row with the spread (``std``) of the prediction, and the
compositions the model extrapolates to (column ``extrapolation``) are hatched (hollow markers on
a binary's curves).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from eftgan.dataset import std_column

SQRT3_2 = math.sqrt(3.0) / 2.0
#: the corners A, B, C of the triangle, shape (3, 2)
CORNERS_XY = np.array([[0.0, 0.0], [1.0, 0.0], [0.5, SQRT3_2]])
HATCH_COLOR = "0.5"  # mid grey: visible on the dark and the light ends of a colour map
EXTRAPOLATION_NOTE = "hatched: extrapolation (outside the training data)"
EXTRAPOLATION_NOTE_BINARY = "hollow markers: extrapolation (outside the training data)"
#: property column, name, unit, colour map, file
PROPERTIES: tuple[tuple[str, str, str, str, str], ...] = (
    ("eform_ev_per_atom", "Formation energy", "eV/atom", "viridis", "map_eform.png"),
    ("ms_mub_per_atom", "Magnetic moment", "μB/atom", "magma", "map_ms.png"),
    ("rmsd_angstrom", "Local lattice distortion (RMSD)", "Å", "cividis", "map_rmsd.png"),
)
_TICK_LEN = 0.025  # length of a tick mark, in units of the triangle's side
_TICK_ALIGN = {0: ("right", "center"), 1: ("right", "top"), 2: ("left", "center")}
_GRID_STYLE: dict[str, Any] = {"color": "0.8", "lw": 0.5, "alpha": 0.8, "zorder": 3}


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


def fractions_to_xy(fractions: Any) -> tuple[np.ndarray, np.ndarray]:
    """Triangle coordinates of corner fractions, shape (..., 3) in the order A, B, C.

    The fractions are normalised to sum 1 first, so a pseudo-ternary composition (corners
    summing to ``span``) lands where its corner elements' proportions put it."""
    f = np.asarray(fractions, dtype=float)
    tot = f.sum(axis=-1)
    b, c = f[..., 1] / tot, f[..., 2] / tot
    return b + 0.5 * c, SQRT3_2 * c


def xy_to_fractions(x: Any, y: Any, span: float = 1.0) -> np.ndarray:
    """Inverse of :func:`fractions_to_xy`: the atomic fractions (A, B, C), shape (..., 3),
    of the point (x, y), scaled to sum to ``span`` (the corners' share of the atoms)."""
    c = np.asarray(y, dtype=float) / SQRT3_2
    b = np.asarray(x, dtype=float) - 0.5 * c
    return span * np.stack([1.0 - b - c, b, c], axis=-1)


def edge_point(k: int, fraction: float, span: float = 1.0) -> tuple[float, float]:
    """Where the tick of corner ``k``'s atomic fraction ``fraction`` (0..``span``) sits: on the
    edge from corner ``k-1`` (fraction 0) to corner ``k`` (fraction ``span``)."""
    f = np.zeros(3)
    f[k] = fraction / span
    f[(k - 1) % 3] = 1.0 - fraction / span
    x, y = fractions_to_xy(f)
    return float(x), float(y)


def tick_values(span: float, max_divisions: int = 10) -> np.ndarray:
    """Tick values in atomic fraction from 0 to ``span``: multiples of the smallest of 0.01,
    0.02, 0.05, 0.1, 0.2 and 0.5 that gives at most ``max_divisions`` intervals, and ``span``
    itself (the corner), which replaces the last multiple when closer than 0.4 of a step."""
    step = next((s for s in (0.01, 0.02, 0.05, 0.1, 0.2) if span / s <= max_divisions + 1e-9), 0.5)
    ticks = step * np.arange(math.floor(span / step + 1e-9) + 1)
    if span - ticks[-1] > 1e-9:
        keep = ticks if span - ticks[-1] >= 0.4 * step else ticks[:-1]
        ticks = np.append(keep, span)
    return np.round(ticks, 10)


def _labels(values: Sequence[float]) -> list[str]:
    """The values with the fewest decimals (1 to 3) that show each of them exactly."""
    d = next((d for d in (1, 2) if all(abs(round(v, d) - v) < 1e-9 for v in values)), 3)
    return [f"{v:.{d}f}" for v in values]


@dataclass(frozen=True)
class _Section:
    """What the maps show: the corner elements (two for a binary), the number of elements
    ``n`` and the share ``share`` of each element beyond the third."""

    corners: tuple[str, ...]
    n: int
    share: float = 0.0

    @property
    def span(self) -> float:
        """The corners' share of the atoms, ``1 - (n-3) share``."""
        return 1.0 - max(self.n - 3, 0) * self.share

    def note(self, others: Sequence[str]) -> str:
        """The title line that says which section this is and what the ticks count."""
        if self.n <= 3:
            return ""
        return (
            f"{', '.join(others)} at {self.share:.2f} each; ticks in atomic fraction "
            f"({' + '.join(self.corners)} = {self.span:.2f})"
        )


def _section(rows: Any, elements: Sequence[str]) -> _Section:
    share = float(rows[f"x_{elements[3]}"].iloc[0]) if len(elements) > 3 else 0.0
    return _Section(tuple(elements[:3]), len(elements), share)


def _xy(df: Any, corners: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    return fractions_to_xy(np.stack([df[f"x_{e}"].to_numpy(dtype=float) for e in corners], -1))


def _flags(r: Any) -> np.ndarray:
    """The rows' ``extrapolation`` flags (all False for a table without the column)."""
    if "extrapolation" not in r.columns:
        return np.zeros(len(r), dtype=bool)
    return r["extrapolation"].to_numpy(dtype=bool)


def _triangle(ax: Any, sec: _Section, title: str) -> None:
    """Outline, corner names, grid, ticks and edge titles of a ternary panel."""
    ax.plot([0, 1, 0.5, 0], [0, 0, SQRT3_2, 0], color="k", lw=0.8, zorder=5)
    a, b, c = sec.corners
    ax.text(-0.04, -0.03, a, ha="right", va="top", fontsize=11, weight="bold")
    ax.text(1.04, -0.03, b, ha="left", va="top", fontsize=11, weight="bold")
    ax.text(0.5, SQRT3_2 + 0.04, c, ha="center", va="bottom", fontsize=11, weight="bold")
    _grid_and_ticks(ax, sec)
    _edge_titles(ax, sec)
    ax.set_title(title, fontsize=10, pad=14)
    ax.set_aspect("equal")
    ax.set_xlim(-0.15, 1.15)
    ax.set_ylim(-0.17, 0.97)
    ax.axis("off")


def _grid_and_ticks(ax: Any, sec: _Section) -> None:
    """For each corner ``k`` and tick value: the grid line of constant fraction (from the tick's
    edge k-1..k to the edge k..k+1, parallel to the edge opposite corner ``k``), the tick mark
    continuing it outwards, and the label (none at 0: that is the neighbouring corner)."""
    ticks = tick_values(sec.span)
    labels = _labels(ticks.tolist())
    for k in range(3):
        out = CORNERS_XY[(k - 1) % 3] - CORNERS_XY[(k + 1) % 3]  # unit vector, outwards
        ha, va = _TICK_ALIGN[k]
        for t, label in zip(ticks, labels, strict=True):
            p = np.array(edge_point(k, t, sec.span))
            q = p - (1.0 - t / sec.span) * out  # the other end of the grid line
            if 1e-9 < t < sec.span - 1e-9:
                ax.plot([p[0], q[0]], [p[1], q[1]], **_GRID_STYLE)
            e = p + _TICK_LEN * out
            ax.plot([p[0], e[0]], [p[1], e[1]], color="k", lw=0.6, zorder=5)
            if t > 1e-9:
                e = e + 0.3 * _TICK_LEN * out
                ax.text(*e, label, ha=ha, va=va, fontsize=6.5, gid=f"tick:{sec.corners[k]}")


def _edge_titles(ax: Any, sec: _Section) -> None:
    """Beside each edge, the element its ticks count, with an arrow towards that element's
    corner (the direction its fraction grows); the text runs along the edge, upright."""
    for k in range(3):
        start, end = CORNERS_XY[(k - 1) % 3], CORNERS_XY[k]
        mid = 0.5 * (start + end)
        normal = (mid - CORNERS_XY[(k + 1) % 3]) / SQRT3_2
        angle = math.degrees(math.atan2(*(end - start)[::-1]))
        name = f"{sec.corners[k]} (atomic fraction)"
        if 90.0 < angle % 360.0 <= 270.0:  # upright text reads from corner k to corner k-1
            angle, name = angle - 180.0, f"← {name}"
        else:
            name = f"{name} →"
        x, y = mid + 0.14 * normal
        ax.text(
            x,
            y,
            name,
            rotation=angle,
            ha="center",
            va="center",
            fontsize=8,
            rotation_mode="anchor",
            gid=f"edge:{sec.corners[k]}",
        )


def _triangulation(x: np.ndarray, y: np.ndarray) -> Any:
    """The Delaunay triangulation of the points, or None when they do not span an area."""
    from matplotlib.tri import Triangulation

    try:
        return Triangulation(x, y)
    except (ValueError, RuntimeError):  # fewer than three points, or all on one line
        return None


def hatch_extrapolation(ax: Any, x: np.ndarray, y: np.ndarray, flag: np.ndarray) -> Any:
    """Hatch the extrapolated part of a ternary panel; returns the hatched artist (None when no
    point is flagged).

    The 0/1 flag is interpolated linearly over the Delaunay triangles of the points and the
    region where it exceeds 1/2 is hatched: the border runs halfway between a flagged point and
    its unflagged neighbours, so a lone flagged corner gets a small triangle of half the grid
    spacing. Points that span no area are circled with hatched markers instead."""
    flag = np.asarray(flag, dtype=bool)
    if not flag.any():
        return None
    tri = _triangulation(x, y)
    if tri is None:
        return ax.scatter(
            x[flag], y[flag], s=90, facecolors="none", edgecolors=HATCH_COLOR, hatch="///", zorder=4
        )
    cs = ax.tricontourf(
        tri, flag.astype(float), levels=[0.5, 1.5], colors="none", hatches=["///"], zorder=4
    )
    cs.set_edgecolor(HATCH_COLOR)  # the hatch colour on matplotlib < 3.10; no outline
    cs.set_linewidth(0.0)
    if hasattr(cs, "set_hatchcolor"):
        cs.set_hatchcolor(HATCH_COLOR)
    return cs


def _ternary_panel(
    ax: Any, r: Any, sec: _Section, col: str, cmap: str, norm: Any, title: str, flag: np.ndarray
) -> Any:
    """Colour a triangle by column ``col`` of the rows ``r``, hatch the flagged part, draw the
    axes; returns the mappable for the colour bar."""
    x, y = _xy(r, sec.corners)
    v = r[col].to_numpy(dtype=float)
    tri = _triangulation(x, y)
    if tri is not None:
        m = ax.tripcolor(tri, v, cmap=cmap, norm=norm, shading="gouraud", zorder=1)
    else:
        m = ax.scatter(x, y, c=v, cmap=cmap, norm=norm, s=40, zorder=2)
    hatch_extrapolation(ax, x, y, flag)
    _triangle(ax, sec, title)
    return m


def _curve(
    ax: Any, r: Any, sec: _Section, col: str, ylabel: str, title: str, flag: np.ndarray
) -> None:
    """A binary's column ``col`` against the second element's fraction; extrapolated points
    as hollow markers."""
    x = r[f"x_{sec.corners[1]}"].to_numpy(dtype=float)
    v = r[col].to_numpy(dtype=float)
    o = np.argsort(x)
    x, v, bad = x[o], v[o], np.asarray(flag, dtype=bool)[o]
    ax.plot(x, v, "-", color="C0", lw=1.0)
    ax.plot(x[~bad], v[~bad], "o", ms=4, color="C0")
    ax.plot(x[bad], v[bad], "o", ms=5, mfc="none", mec="C0", mew=1.0)
    ax.set_xlabel(f"atomic fraction {sec.corners[1]} (rest {sec.corners[0]})")
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.grid(color="0.9", lw=0.5)


def _extrapolation_legend(fig: Any, binary: bool) -> None:
    """The figure's legend entry for the extrapolation marks, below the panels."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    if binary:
        handle: Any = Line2D([], [], ls="", marker="o", mfc="none", mec="C0")
        handle.set_label(EXTRAPOLATION_NOTE_BINARY)
    else:
        handle = Patch(
            facecolor="none", edgecolor=HATCH_COLOR, hatch="///", label=EXTRAPOLATION_NOTE
        )
    fig.legend(handles=[handle], loc="outside lower center", frameon=False)


def _phases(rows: Any) -> list[str]:
    return [p for p in ("fcc", "bcc") if (rows["phase"] == p).any()]


def property_figure(
    rows: Any, elements: Sequence[str], col: str, name: str, unit: str, cmap: str = "viridis"
) -> Any:
    """The map of property ``col``: one column of panels per phase, the value in the first row
    and its spread (column :func:`std_column`) in the second when the table has it, each row
    with its own colour scale shared by the phases; extrapolated compositions hatched."""
    from matplotlib.colors import Normalize

    from eftgan.plotting import pyplot

    sec, phases = _section(rows, elements), _phases(rows)
    layers = [(col, f"{name} ({unit})", cmap, "")]
    std = std_column(col)
    if std in rows.columns and rows[std].notna().any():
        layers.append((std, f"{name}: spread, std ({unit})", "Oranges", ": spread (std)"))
    fig, axes = pyplot().subplots(
        len(layers),
        len(phases),
        squeeze=False,
        sharey="row" if sec.n == 2 else False,
        figsize=(4.8 * len(phases) + 1.2, 4.6 * len(layers)),
        layout="constrained",
    )
    flagged, m = False, None
    for (c, label, cm, what), row_axes in zip(layers, axes, strict=True):
        vals = rows[c].to_numpy(dtype=float)
        norm = Normalize(float(np.nanmin(vals)), float(np.nanmax(vals)))
        for ax, p in zip(row_axes, phases, strict=True):
            r = rows[rows["phase"] == p]
            flag = _flags(r)
            flagged |= bool(flag.any())
            if sec.n == 2:
                _curve(ax, r, sec, c, label, f"{p}{what}", flag)
            else:
                m = _ternary_panel(ax, r, sec, c, cm, norm, f"{p}{what}", flag)
        if sec.n >= 3:
            fig.colorbar(m, ax=row_axes.tolist(), shrink=0.8, label=label)
    fig.suptitle("\n".join(s for s in (f"{name} ({unit})", sec.note(elements[3:])) if s))
    if flagged:
        _extrapolation_legend(fig, binary=sec.n == 2)
    return fig


def phase_figure(rows: Any, elements: Sequence[str]) -> Any:
    """The fcc/bcc preference Eform(bcc) - Eform(fcc), one value per composition, on a colour
    scale centred at 0; hatched where either phase extrapolates."""
    from matplotlib.colors import TwoSlopeNorm

    from eftgan.plotting import pyplot

    sec = _section(rows, elements)
    col = "delta_e_bcc_fcc_ev_per_atom"
    either = rows.assign(extrapolation=_flags(rows))
    either = either.groupby([f"x_{e}" for e in elements], sort=False)["extrapolation"]
    pick = (rows["phase"] == _phases(rows)[0]).to_numpy()
    r, flag = rows[pick], either.transform("any").to_numpy(dtype=bool)[pick]
    title = "\n".join(
        s for s in ("E(bcc) − E(fcc): red favours bcc, blue fcc", sec.note(elements[3:])) if s
    )
    label = "ΔE bcc − fcc (eV/atom)"
    fig, ax = pyplot().subplots(figsize=(6.0, 5.2), layout="constrained")
    if sec.n == 2:
        _curve(ax, r, sec, col, label, title, flag)
        ax.axhline(0.0, color="0.5", lw=0.6)
    else:
        lim = float(np.nanmax(np.abs(r[col].to_numpy(dtype=float)))) or 1e-3
        norm = TwoSlopeNorm(0.0, -lim, lim)
        m = _ternary_panel(ax, r, sec, col, "RdBu", norm, title, flag)
        fig.colorbar(m, ax=ax, shrink=0.8, label=label)
    if flag.any():
        _extrapolation_legend(fig, binary=sec.n == 2)
    return fig


def _render(rows: Any, elements: Sequence[str], job: tuple[Path, tuple | None]) -> Path:
    """Draw one map (``job``: its path, and a row of :data:`PROPERTIES`, or None for the
    phase map)."""
    from eftgan.plotting import save_png

    path, prop = job
    fig = property_figure(rows, elements, *prop[:4]) if prop else phase_figure(rows, elements)
    return save_png(fig, path, dpi=150)


def write_maps(rows: Any, elements: Sequence[str], out: Path) -> list[Path]:
    """Formation-energy, magnetic-moment (and, when the table has it, lattice-distortion) maps
    with their spreads, and the fcc/bcc-preference map; returns the PNG paths.

    Drawing is Python-bound (text layout of the ticks and labels), so the maps are drawn by
    worker processes, one per core (:func:`eftgan.devices.map_in_processes`).
    """
    import functools

    from eftgan.devices import map_in_processes, usable_cores

    jobs: list[tuple[Path, tuple | None]] = [
        (out / p[4], p) for p in PROPERTIES if p[0] in rows.columns and rows[p[0]].notna().any()
    ]
    jobs.append((out / "map_phase.png", None))
    return map_in_processes(functools.partial(_render, rows, elements), jobs, usable_cores())
