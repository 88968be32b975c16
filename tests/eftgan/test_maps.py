"""Composition maps: ticks that read back as compositions, spread maps, extrapolation hatching."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from eftgan.composition import simplex_grid
from eftgan.maps import (
    EXTRAPOLATION_NOTE,
    EXTRAPOLATION_NOTE_BINARY,
    edge_point,
    fractions_to_xy,
    phase_figure,
    property_figure,
    section_bounds,
    std_column,
    tick_values,
    write_maps,
    xy_to_fractions,
)
from eftgan.plotting import pyplot

CANTOR = ["Fe", "Ni", "Co", "Cr", "Mn"]
STD = {"eform_ev_per_atom": "eform_std", "ms_mub_per_atom": "ms_std", "rmsd_angstrom": "rmsd_std"}


def table(
    elements: Sequence[str],
    step: float,
    std: bool = True,
    flag: Any = lambda c, phase: c.max(axis=1) > 0.55,
    bounds: dict[str, tuple[float, float]] | None = None,
) -> pd.DataFrame:
    """Screening rows of the section (as :func:`eftgan.explore._section_maps` screens it) with
    smooth made-up properties; ``flag(c, phase)`` gives the extrapolation flags."""
    c = np.concatenate(list(simplex_grid(elements, step, section_bounds(elements, step, bounds))))
    parts = []
    for phase, offset in (("fcc", 0.0), ("bcc", 0.05)):
        df = pd.DataFrame({f"x_{e}": c[:, i] for i, e in enumerate(elements)})
        df["phase"] = phase
        df["eform_ev_per_atom"] = 0.2 * c[:, 0] * c[:, 1] - 0.1 * c[:, -1] + offset
        df["ms_mub_per_atom"] = 2.2 * c[:, 0] + 0.6 * c[:, 1]
        df["rmsd_angstrom"] = 0.05 * c[:, 1] + offset
        if std:
            for col, s in STD.items():
                df[s] = 0.01 + 0.05 * c.max(axis=1) + (col == "ms_mub_per_atom")
        df["delta_e_bcc_fcc_ev_per_atom"] = 0.1 * (c[:, 0] - c[:, 1])
        df["extrapolation"] = flag(c, phase)
        parts.append(df)
    return pd.concat(parts, ignore_index=True)


def ticks_by_element(fig: Any) -> dict[str, list[Any]]:
    """The numeric tick labels of a figure's panels, by the element they count."""
    out: dict[str, list[Any]] = {}
    for ax in fig.axes:
        for t in ax.texts:
            gid = t.get_gid() or ""
            if gid.startswith("tick:"):
                float(t.get_text())  # numeric, or the test fails here
                out.setdefault(gid[5:], []).append(t)
    return out


def hatched(ax: Any) -> list[Any]:
    """The hatched artists of a panel (a contour set keeps its hatches in ``hatches``)."""
    return [c for c in ax.collections if c.get_hatch() or any(getattr(c, "hatches", []))]


def close(fig: Any) -> None:
    pyplot().close(fig)


def test_std_column_names() -> None:
    pairs = {
        "eform_ev_per_atom": "eform_std",
        "ms_mub_per_atom": "ms_std",
        "etot_ev_per_atom": "etot_std",
        "emix_ev_per_atom": "emix_std",
        "rmsd_angstrom": "rmsd_std",
        "v0_a3_per_atom": "v0_std",
    }
    assert {c: std_column(c) for c in pairs} == pairs


def test_xy_round_trip_and_corners() -> None:
    corners = np.eye(3)
    x, y = fractions_to_xy(corners)
    np.testing.assert_allclose(np.stack([x, y], 1), [[0, 0], [1, 0], [0.5, np.sqrt(3) / 2]])
    f = np.random.default_rng(0).dirichlet(np.ones(3), size=200) * 0.6  # a section's corners
    x, y = fractions_to_xy(f)
    np.testing.assert_allclose(xy_to_fractions(x, y, span=0.6), f, atol=1e-12)
    # (1/3, 1/3, 1/3) is the centroid, whatever the span
    np.testing.assert_allclose(fractions_to_xy([0.2, 0.2, 0.2]), (0.5, np.sqrt(3) / 6))


@pytest.mark.parametrize(
    ("span", "first", "last", "count"),
    [(1.0, 0.1, 1.0, 11), (0.6, 0.1, 0.6, 7), (0.4, 0.05, 0.4, 9), (0.55, 0.1, 0.55, 7)],
)
def test_tick_values(span: float, first: float, last: float, count: int) -> None:
    t = tick_values(span)
    assert t[0] == 0 and t[1] == pytest.approx(first) and t[-1] == pytest.approx(last)
    assert len(t) == count and np.all(np.diff(t) > 0)
    assert len(tick_values(0.52)) == 6 and tick_values(0.52)[-2] == pytest.approx(0.4)


@pytest.mark.parametrize("span", [1.0, 0.6, 0.55])
def test_tick_positions_map_back_to_compositions(span: float) -> None:
    """Each tick sits on its edge (the next corner's fraction 0) at the fraction it names."""
    for k in range(3):
        for t in tick_values(span):
            f = xy_to_fractions(*edge_point(k, float(t), span), span=span)
            assert f[k] == pytest.approx(t, abs=1e-12)
            assert f[(k + 1) % 3] == pytest.approx(0.0, abs=1e-12)
            assert f.sum() == pytest.approx(span)


def test_pseudo_ternary_ticks_on_all_three_edges_in_atomic_fraction() -> None:
    rows = table(CANTOR, 0.05)
    fig = phase_figure(rows, CANTOR)
    try:
        ticks = ticks_by_element(fig)
        assert set(ticks) == {"Fe", "Ni", "Co"}
        for k, el in enumerate(["Fe", "Ni", "Co"]):
            values = [float(t.get_text()) for t in ticks[el]]
            # Cr and Mn at 0.20 each: the corners hold 1 - 2 * 0.2 = 0.60 of the atoms
            assert max(values) == pytest.approx(0.60) and len(values) == 6
            # a label lies on its tick's grid line, so its position reads back as its value
            for t in ticks[el]:
                f = xy_to_fractions(*t.get_position(), span=0.6)
                assert f[k] == pytest.approx(float(t.get_text()), abs=1e-9)
                assert f[(k + 1) % 3] < 0  # outside the edge its element's ticks belong to
        titles = [t.get_text() for t in fig.axes[0].texts if (t.get_gid() or "").startswith("e")]
        assert sorted(titles) == sorted(
            ["← Fe (atomic fraction)", "Ni (atomic fraction) →", "← Co (atomic fraction)"]
        )
        assert "Cr, Mn at 0.20 each" in fig.axes[0].get_title()
        assert "Fe + Ni + Co = 0.60" in fig.axes[0].get_title()
    finally:
        close(fig)


def test_full_ternary_ticks_every_tenth() -> None:
    fig = property_figure(table(CANTOR[:3], 0.1), CANTOR[:3], "eform_ev_per_atom", "E", "eV")
    try:
        ticks = ticks_by_element(fig)
        for el in ("Fe", "Ni", "Co"):  # 4 panels, labels 0.1 .. 1.0 on each edge
            assert sorted({t.get_text() for t in ticks[el]}) == [
                f"{v / 10:.1f}" for v in range(1, 11)
            ]
            assert len(ticks[el]) == 4 * 10
    finally:
        close(fig)


def test_property_figure_has_value_and_spread_rows_with_hatching() -> None:
    rows = table(CANTOR, 0.05)
    fig = property_figure(
        rows, CANTOR, "eform_ev_per_atom", "Formation energy", "eV/atom", "viridis"
    )
    try:
        panels = [ax for ax in fig.axes if ax.get_title()]
        assert [ax.get_title() for ax in panels] == [
            "fcc",
            "bcc",
            "fcc: spread (std)",
            "bcc: spread (std)",
        ]
        assert all(len(hatched(ax)) == 1 for ax in panels)
        colour_bars = [ax for ax in fig.axes if ax not in panels]
        assert len(colour_bars) == 2
        assert "spread" in colour_bars[1].get_ylabel()
        assert [t.get_text() for leg in fig.legends for t in leg.get_texts()] == [
            EXTRAPOLATION_NOTE
        ]
    finally:
        close(fig)


def test_hatching_covers_the_flagged_compositions_only() -> None:
    """Flag Co >= 0.3 (of the 0.6 the corners hold) in bcc only: the bcc panels are hatched
    over the Co corner and not at the Fe-Ni edge; fcc is not hatched; the phase map, which
    hatches where either phase extrapolates, is."""
    rows = table(
        CANTOR, 0.05, flag=lambda c, phase: np.full(len(c), phase == "bcc") & (c[:, 2] >= 0.3)
    )
    fig = property_figure(rows, CANTOR, "ms_mub_per_atom", "Ms", "μB/atom", "magma")
    phase = phase_figure(rows, CANTOR)
    try:
        fcc, bcc = fig.axes[0], fig.axes[1]
        assert not hatched(fcc) and len(hatched(bcc)) == 1
        paths = hatched(bcc)[0].get_paths()
        # the flag interpolates linearly between the rows Co = 0.25 (0) and 0.30 (1): the
        # border runs at Co = 0.275
        for co, expected in ((0.5, True), (0.285, True), (0.265, False), (0.0, False)):
            xy = fractions_to_xy([(0.6 - co) / 2, (0.6 - co) / 2, co])
            assert any(p.contains_point(xy) for p in paths) is expected, co
        assert len(hatched(phase.axes[0])) == 1
    finally:
        close(fig)
        close(phase)


def test_no_extrapolation_no_hatching_and_no_legend() -> None:
    rows = table(CANTOR, 0.05, flag=lambda c, phase: np.zeros(len(c), dtype=bool))
    fig = phase_figure(rows, CANTOR)
    try:
        assert not hatched(fig.axes[0]) and not fig.legends
    finally:
        close(fig)


def check_pngs(paths: list[Path], names: list[str]) -> None:
    from PIL import Image

    assert [p.name for p in paths] == names
    assert sorted(p.name for p in paths[0].parent.iterdir()) == sorted(names)  # no temp files
    for p in paths:
        with Image.open(p) as im:
            im.verify()
            assert im.format == "PNG"
            assert 700 <= im.width <= 3000 and 500 <= im.height <= 3000, (p.name, im.size)


def test_write_maps_pseudo_ternary(tmp_path: Path) -> None:
    paths = write_maps(table(CANTOR, 0.05), CANTOR, tmp_path)
    check_pngs(paths, ["map_eform.png", "map_ms.png", "map_rmsd.png", "map_phase.png"])


def test_write_maps_without_std_or_rmsd(tmp_path: Path) -> None:
    """An old model folder's table: no spread columns and no rmsd: value maps only."""
    rows = table(CANTOR, 0.05, std=False).drop(columns=["rmsd_angstrom"])
    paths = write_maps(rows, CANTOR, tmp_path)
    check_pngs(paths, ["map_eform.png", "map_ms.png", "map_phase.png"])
    fig = property_figure(rows, CANTOR, "eform_ev_per_atom", "E", "eV/atom", "viridis")
    try:
        assert [ax.get_title() for ax in fig.axes if ax.get_title()] == ["fcc", "bcc"]
    finally:
        close(fig)


def test_binary_curves_with_hollow_markers(tmp_path: Path) -> None:
    rows = table(["Fe", "Ni"], 0.1)  # flagged: pure ends and x > 0.55
    paths = write_maps(rows, ["Fe", "Ni"], tmp_path)
    check_pngs(paths, ["map_eform.png", "map_ms.png", "map_rmsd.png", "map_phase.png"])
    fig = property_figure(rows, ["Fe", "Ni"], "eform_ev_per_atom", "E", "eV/atom", "viridis")
    try:
        assert len(fig.axes) == 4  # value and spread, per phase; no colour bars
        n_flagged = int(rows[rows["phase"] == "fcc"]["extrapolation"].sum())
        hollow = [ln for ln in fig.axes[0].lines if ln.get_markerfacecolor() == "none"]
        assert n_flagged == 10 and len(hollow) == 1 and len(hollow[0].get_xdata()) == n_flagged
        assert [t.get_text() for t in fig.legends[0].get_texts()] == [EXTRAPOLATION_NOTE_BINARY]
    finally:
        close(fig)


def test_section_without_area_falls_back_to_markers(tmp_path: Path) -> None:
    """Bounds that leave the section on one line (no Co): no triangles to colour or hatch,
    so the points are drawn as markers, the flagged ones hatched."""
    rows = table(CANTOR, 0.05, bounds={"Co": (0.0, 0.0)})
    paths = write_maps(rows, CANTOR, tmp_path)
    check_pngs(paths, ["map_eform.png", "map_ms.png", "map_rmsd.png", "map_phase.png"])
    fig = phase_figure(rows, CANTOR)
    try:
        (marks,) = hatched(fig.axes[0])
        assert len(marks.get_offsets()) == 2  # Fe0.6 and Ni0.6 (with Cr0.2 Mn0.2)
    finally:
        close(fig)
