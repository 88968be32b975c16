"""Structure-free screening of composition space: :class:`Screener`.

    >>> from eftgan import Screener
    >>> s = Screener.load()                                   # shipped default model
    >>> s.predict(["FeNiCoCrMn", "Fe0.3Ni0.3Co0.2Cr0.1Mn0.1"], phase="fcc")
    >>> df = s.screen(elements=["Fe", "Ni", "Co", "Cr", "Mn"], step=0.05)
    >>> res = s.explore(["Fe", "Ni", "Co", "Cr", "Mn"], out="runs/explore", step=0.05)

``screen`` returns one table; ``iter_screen`` streams it in chunks for grids too large to hold;
``explore`` (:func:`write_explore`, what ``eftgan explore`` runs) streams a grid into a folder:
``explore.csv``, ``explore.parquet``, ``candidates.csv`` (the lowest free energies of mixing
outside the extrapolation region) and the maps of :mod:`eftgan.maps`.

For each composition and phase the generator draws ``n_z`` element-feature samples, the
property MLP reads them, and the mean and spread over the draws are reported. Columns:

``x_<El>`` atomic fractions; ``phase``; ``eform_ev_per_atom`` and ``eform_std``;
``emix_ev_per_atom``; ``ms_mub_per_atom`` and ``ms_std``; ``v0_a3_per_atom``;
``a_angstrom`` cubic lattice constant of that phase (fcc ``(4 V0)^(1/3)``, bcc ``(2 V0)^(1/3)``);
``delta_e_bcc_fcc_ev_per_atom`` = Eform(bcc) - Eform(fcc) of that composition (negative: bcc
preferred); ``s_conf_kb_per_atom`` = -sum x ln x; ``g_mix_ev_per_atom`` = Emix - T k_B S_conf at
the given temperature; ``extrapolation``: true where the composition's total-variation distance
to the nearest training composition exceeds the model's threshold (the 95th percentile of
leave-one-out nearest-neighbour distances among the training compositions), or where its
number of components lies outside the training range (2 to 5 here: pure elements are
extrapolation), i.e. where the model has no training data of comparable closeness.
"""

from __future__ import annotations

import dataclasses
import heapq
import itertools
import math
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from eftgan.augment import PropertyMLP
from eftgan.checkpoint import building, load_weights, read_model_folder
from eftgan.composition import (
    CompositionLike,
    check_elements,
    grid_divisions,
    parse_composition,
    simplex_grid,
)
from eftgan.errors import UserError
from eftgan.files import refuse_existing, staged_dir
from eftgan.infogan import GANConfig, Generator
from eftgan.paths import default_model_dir

K_B_EV = 8.617333262e-5  # eV/K


def _columns(elements: Sequence[str]) -> list[str]:
    return [f"x_{e}" for e in elements] + [
        "phase",
        "eform_ev_per_atom",
        "eform_std",
        "emix_ev_per_atom",
        "ms_mub_per_atom",
        "ms_std",
        "v0_a3_per_atom",
        "a_angstrom",
        "delta_e_bcc_fcc_ev_per_atom",
        "s_conf_kb_per_atom",
        "g_mix_ev_per_atom",
        "extrapolation",
    ]


class Screener:
    """Generator + property MLP of an EFTGAN model folder, ready to screen compositions."""

    def __init__(
        self, config: dict[str, Any], state: dict[str, torch.Tensor], folder: Path | None
    ) -> None:
        m = config["model"]
        self.folder = folder
        self.config = config
        self.state = state
        self.cfg = GANConfig.from_dict(m["gan"])
        where = folder or "the EFTGAN model"
        self.g = load_weights(lambda: Generator(self.cfg), state, where, "g").eval()
        n_targets, n_phases = len(m["targets"]), len(self.cfg.phases)
        self.mlp = load_weights(
            lambda: PropertyMLP(self.cfg.feature_dim, n_targets, n_phases, m["mlp_hidden"]),
            state,
            where,
            "mlp",
        ).eval()
        self.targets: list[str] = list(m["targets"])
        self.y_mean = torch.tensor(m["target_mean"])
        self.y_std = torch.tensor(m["target_std"])
        self.train_c = np.asarray(m["train_compositions"], dtype=np.float32)
        self.threshold = float(m["extrapolation"]["threshold"])
        k = (self.train_c > 0).sum(1)
        self.n_components_range = (int(k.min()), int(k.max()))

    @classmethod
    def load(cls, path: str | os.PathLike[str] | None = None) -> Screener:
        """Load an EFTGAN model folder; without a path, the shipped default model."""
        folder = Path(path) if path is not None else default_model_dir("eftgan")
        config, state = read_model_folder(folder, kind="eftgan")
        with building(folder, "eftgan"):
            return cls(config, state, folder)

    @property
    def elements(self) -> tuple[str, ...]:
        """The element slots of the model."""
        return self.cfg.elements

    # -- core ---------------------------------------------------------------------------
    @torch.no_grad()
    def _properties(
        self, c: np.ndarray, phase: int, n_z: int, seed: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Mean and std over ``n_z`` draws, physical units: two arrays (N, T)."""
        n = c.shape[0]
        ct = torch.from_numpy(c.astype(np.float32)).repeat_interleave(n_z, 0)
        ph = torch.full((n * n_z,), phase, dtype=torch.long)
        gen = torch.Generator().manual_seed(seed)
        z = torch.randn(n * n_z, self.cfg.noise_dim, generator=gen)
        y = self.mlp(self.g(ct, ph, z), ct, ph) * self.y_std + self.y_mean
        y = y.reshape(n, n_z, -1)
        return y.mean(1).numpy(), y.std(1).numpy() if n_z > 1 else np.zeros((n, y.shape[2]))

    def extrapolation(self, c: np.ndarray) -> np.ndarray:
        """True outside the training data's reach (see the module docstring)."""
        k = (c > 0).sum(1)
        lo, hi = self.n_components_range
        out = np.empty(len(c), dtype=bool)
        for i in range(0, len(c), 2048):
            block = c[i : i + 2048].astype(np.float32)
            d = np.full(len(block), np.inf, dtype=np.float32)
            for j in range(0, len(self.train_c), 256):
                t = self.train_c[j : j + 256]
                d = np.minimum(d, 0.5 * np.abs(block[:, None, :] - t[None, :, :]).sum(2).min(1))
            out[i : i + 2048] = d > self.threshold
        return out | (k < lo) | (k > hi)

    def _rows(
        self,
        frac: np.ndarray,
        names: Sequence[str],
        phases: Sequence[str],
        temperature: float,
        n_z: int,
        seed: int,
    ) -> dict[str, np.ndarray]:
        """Column arrays for compositions ``frac`` (N, len(names)) and the requested phases."""
        idx = [self.elements.index(e) for e in names]
        c = np.zeros((len(frac), len(self.elements)), dtype=np.float32)
        c[:, idx] = frac
        per_phase = {
            p: self._properties(c, self.cfg.phases.index(p), n_z, seed) for p in self.cfg.phases
        }
        t = {name: j for j, name in enumerate(self.targets)}
        eform = {p: per_phase[p][0][:, t["eform_ev_per_atom"]] for p in per_phase}
        delta = eform["bcc"] - eform["fcc"]
        with np.errstate(divide="ignore", invalid="ignore"):
            s_conf = -np.where(frac > 0, frac * np.log(np.where(frac > 0, frac, 1.0)), 0.0).sum(1)
        s_conf = np.abs(s_conf)  # no -0.0 for pure elements
        extra = self.extrapolation(c)
        cols: dict[str, list[np.ndarray]] = {k: [] for k in _columns(names)}
        for p in phases:
            mean, std = per_phase[p]
            v0 = mean[:, t["v0_a3_per_atom"]]
            for j, e in enumerate(names):
                cols[f"x_{e}"].append(frac[:, j])
            cols["phase"].append(np.full(len(frac), p, dtype=object))
            cols["eform_ev_per_atom"].append(mean[:, t["eform_ev_per_atom"]])
            cols["eform_std"].append(std[:, t["eform_ev_per_atom"]])
            cols["emix_ev_per_atom"].append(mean[:, t["emix_ev_per_atom"]])
            cols["ms_mub_per_atom"].append(mean[:, t["ms_mub_per_atom"]])
            cols["ms_std"].append(std[:, t["ms_mub_per_atom"]])
            cols["v0_a3_per_atom"].append(v0)
            cols["a_angstrom"].append(np.cbrt((4.0 if p == "fcc" else 2.0) * v0))
            cols["delta_e_bcc_fcc_ev_per_atom"].append(delta)
            cols["s_conf_kb_per_atom"].append(s_conf)
            cols["g_mix_ev_per_atom"].append(
                mean[:, t["emix_ev_per_atom"]] - temperature * K_B_EV * s_conf
            )
            cols["extrapolation"].append(extra)
        return {k: np.concatenate(v) for k, v in cols.items()}

    # -- public API ---------------------------------------------------------------------
    def _check_phases(self, phases: Sequence[str]) -> list[str]:
        out = []
        for p in phases:
            if p not in self.cfg.phases:
                raise UserError(f"phase {p!r} is not one of {', '.join(self.cfg.phases)}")
            if p not in out:
                out.append(p)
        return out

    def predict(
        self,
        compositions: Sequence[CompositionLike] | CompositionLike,
        phase: str | Sequence[str] = ("fcc", "bcc"),
        temperature: float = 1000.0,
        n_z: int = 32,
        seed: int = 0,
    ):
        """Predictions for named compositions (formulas, dicts or pymatgen Compositions)."""
        import pandas as pd

        if isinstance(compositions, (str, Mapping)) or not isinstance(compositions, Sequence):
            compositions = [compositions]
        phases = self._check_phases([phase] if isinstance(phase, str) else list(phase))
        fr = [parse_composition(c) for c in compositions]
        for f, c in zip(fr, compositions, strict=True):
            check_elements(f, self.elements, f"composition {c}")
        frac = np.array([[f.get(e, 0.0) for e in self.elements] for f in fr], dtype=np.float64)
        cols = self._rows(frac, self.elements, phases, temperature, n_z, seed)
        df = pd.DataFrame(cols)
        df.insert(0, "composition", [str(c) for c in compositions] * len(phases))
        return df

    def iter_screen(
        self,
        elements: Sequence[str],
        step: float = 0.05,
        phases: Sequence[str] = ("fcc", "bcc"),
        bounds: Mapping[str, tuple[float, float]] | None = None,
        temperature: float = 1000.0,
        n_z: int = 16,
        seed: int = 0,
        chunk: int = 4096,
        scheduler: str | None = None,
    ) -> Iterator[Any]:
        """Stream the grid as DataFrames of at most ``chunk`` compositions (times phases).

        With ``scheduler`` (a Dask scheduler address such as ``tcp://host:8786``) the chunks are
        computed on that cluster (see :mod:`eftgan.distributed`); the rows are the same.
        """
        import pandas as pd

        names = validate_elements(elements, self.elements)
        phases = self._check_phases(phases)
        if scheduler:
            from eftgan.distributed import iter_screen_dask

            yield from iter_screen_dask(
                self, scheduler, names, step, phases, bounds, temperature, n_z, seed, chunk
            )
            return
        for frac in simplex_grid(names, step, bounds, chunk=chunk):
            yield pd.DataFrame(self._rows(frac, names, phases, temperature, n_z, seed))

    def screen(self, elements: Sequence[str], step: float = 0.05, **kw: Any):
        """The whole grid as one DataFrame (see :meth:`iter_screen` for large grids)."""
        import pandas as pd

        parts = list(self.iter_screen(elements, step, **kw))
        if not parts:
            raise UserError("the bounds leave no composition on the grid")
        return pd.concat(parts, ignore_index=True)

    def explore(
        self, elements: Sequence[str], out: str | os.PathLike[str], step: float = 0.05, **kw: Any
    ) -> ExploreResult:
        """Screen a grid into the folder ``out``: tables, candidates and maps, as
        ``eftgan explore`` writes them (see :func:`write_explore` for the options)."""
        return write_explore(self, elements, out, step, **kw)


def validate_elements(elements: Sequence[str], supported: Sequence[str]) -> list[str]:
    """Canonical, unique, supported element symbols; :class:`UserError` otherwise."""
    from eftgan.elements import canonical_symbol

    names = [canonical_symbol(e) for e in elements]
    dup = sorted({e for e in names if names.count(e) > 1})
    if dup:
        raise UserError(f"element {', '.join(dup)} is given twice; list each element once")
    if len(names) < 2:
        raise UserError("give at least two elements, e.g. --elements Fe,Ni,Co")
    check_elements({e: 1.0 for e in names}, supported, "--elements")
    return names


@dataclass
class ExploreResult:
    """What :func:`write_explore` wrote: the output folder, the number of grid compositions
    (each predicted for every phase), the phases, the files, and the candidate rows (lowest
    ``g_mix_ev_per_atom`` outside the extrapolation region, best first, each with a
    ``composition`` formula). Round-trips through JSON with :meth:`as_dict`/:meth:`from_dict`.
    """

    out: Path
    n_compositions: int
    phases: list[str]
    csv: Path
    parquet: Path
    candidates_csv: Path
    maps: list[Path] = field(default_factory=list)
    candidates: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form (paths as strings)."""
        d = {k: getattr(self, k) for k in ("n_compositions", "phases", "candidates", "notes")}
        d.update({k: str(getattr(self, k)) for k in ("out", "csv", "parquet", "candidates_csv")})
        d["maps"] = [str(m) for m in self.maps]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ExploreResult:
        """The inverse of :meth:`as_dict`."""
        d = dict(d)
        for k in ("out", "csv", "parquet", "candidates_csv"):
            d[k] = Path(d[k])
        d["maps"] = [Path(m) for m in d.get("maps", [])]
        return cls(**d)


@dataclass
class _Grid:
    """One screening request: what :meth:`Screener.iter_screen` is called with."""

    names: list[str]
    step: float
    phases: list[str]
    bounds: dict[str, tuple[float, float]]
    temperature: float
    n_z: int
    seed: int
    scheduler: str | None = None

    def frames(self, screener: Screener, bounds: Mapping | None = None) -> Iterator[Any]:
        """The grid's tables, chunk by chunk (``bounds`` replaces the request's bounds)."""
        return screener.iter_screen(
            self.names,
            self.step,
            self.phases,
            self.bounds if bounds is None else bounds,
            self.temperature,
            self.n_z,
            self.seed,
            scheduler=self.scheduler,
        )


class _TopK:
    """The ``k`` rows of lowest ``g_mix_ev_per_atom`` outside extrapolation, over a stream."""

    def __init__(self, k: int) -> None:
        self.k = k
        self._heap: list[tuple[float, int, dict[str, Any]]] = []  # worst (highest) first
        self._tiebreak = itertools.count()

    def push(self, df: Any) -> None:
        """Offer every row of the table ``df``."""
        ok = df[~df["extrapolation"]]
        for _, row in ok.nsmallest(self.k, "g_mix_ev_per_atom").iterrows():
            item = (-float(row["g_mix_ev_per_atom"]), next(self._tiebreak), row.to_dict())
            (heapq.heappush if len(self._heap) < self.k else heapq.heappushpop)(self._heap, item)

    def rows(self) -> list[dict[str, Any]]:
        """The kept rows, lowest ``g_mix`` first, values as plain Python scalars."""
        ordered = [r for _, _, r in sorted(self._heap, key=lambda t: -t[0])]
        return [{k: v.item() if hasattr(v, "item") else v for k, v in r.items()} for r in ordered]


def formula(row: Mapping[str, Any], elements: Sequence[str]) -> str:
    """A row's composition as a formula with two-decimal fractions, e.g. ``Fe0.50Ni0.50``."""
    return "".join(f"{e}{row[f'x_{e}']:.2f}" for e in elements if row[f"x_{e}"] > 0)


def write_explore(
    screener: Screener,
    elements: Sequence[str],
    out: str | os.PathLike[str],
    step: float = 0.05,
    phases: Sequence[str] = ("fcc", "bcc"),
    bounds: Mapping[str, tuple[float, float]] | str | None = None,
    temperature: float = 1000.0,
    n_z: int = 16,
    seed: int = 0,
    top: int = 10,
    maps: bool = True,
    force: bool = False,
    scheduler: str | None = None,
    progress: bool = True,
) -> ExploreResult:
    """Screen a composition grid into the folder ``out`` (what ``eftgan explore`` writes).

    Writes ``explore.csv`` and ``explore.parquet`` (every composition and phase, the columns
    of the module docstring), streamed chunk by chunk so memory stays bounded for any grid;
    ``candidates.csv``, the ``top`` rows of lowest ``g_mix_ev_per_atom`` at ``temperature``
    (K) outside the extrapolation region; and with ``maps`` the PNG maps of
    :func:`eftgan.maps.write_maps` over the pseudo-ternary section. The folder is built in a
    temporary sibling and appears whole or not at all; an existing ``out`` is replaced only
    with ``force``. ``bounds`` are per-element atomic-fraction limits, as a mapping or as
    ``"Mn:0-0.35,Cr:0.1-0.3"``; ``scheduler`` a Dask scheduler address to screen on.
    """
    out = Path(out)
    refuse_existing(out, force)
    grid = _grid(screener, elements, step, phases, bounds, temperature, n_z, seed, scheduler)
    best = _TopK(top)
    with staged_dir(out, force=force) as tmp:
        count = _write_tables(screener, grid, tmp, best, progress)
        notes: list[str] = []
        written = _section_maps(screener, grid, tmp, notes) if maps else []
        rows = best.rows()
        for r in rows:
            r["composition"] = formula(r, grid.names)
        _write_candidates(rows, grid.names, tmp / "candidates.csv")
    return ExploreResult(
        out=out,
        n_compositions=count,
        phases=grid.phases,
        csv=out / "explore.csv",
        parquet=out / "explore.parquet",
        candidates_csv=out / "candidates.csv",
        maps=[out / p.name for p in written],
        candidates=rows,
        notes=notes,
    )


def _grid(
    screener: Screener,
    elements: Sequence[str],
    step: float,
    phases: Sequence[str],
    bounds: Mapping[str, tuple[float, float]] | str | None,
    temperature: float,
    n_z: int,
    seed: int,
    scheduler: str | None,
) -> _Grid:
    """Check a request before any work (a :class:`UserError` names the problem)."""
    from eftgan.composition import check_bounds, parse_bounds

    if n_z < 1:
        raise UserError("--n-z must be at least 1")
    names = validate_elements(elements, screener.elements)
    phase_list = screener._check_phases(list(phases))
    if not phase_list:
        raise UserError(f"give at least one phase: {', '.join(screener.cfg.phases)}")
    grid_divisions(step)
    if isinstance(bounds, str) or bounds is None:
        bnd = parse_bounds(bounds, names)
    else:
        bnd = check_bounds(bounds, names)
    return _Grid(names, step, phase_list, bnd, temperature, n_z, seed, scheduler)


def _write_tables(
    screener: Screener, grid: _Grid, folder: Path, best: _TopK, progress: bool
) -> int:
    """Stream the grid into ``explore.csv`` and ``explore.parquet``; offer each chunk to
    ``best``; return the number of compositions."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    from tqdm import tqdm

    n, k = grid_divisions(grid.step), len(grid.names)
    total = math.comb(n + k - 1, k - 1) if not grid.bounds else None
    bar = tqdm(
        total=total,
        desc="explore",
        unit="comp",
        mininterval=1.0,
        disable=None if progress else True,
    )
    writer, count = None, 0
    try:
        with open(folder / "explore.csv", "w") as csv_fh:
            for i, df in enumerate(grid.frames(screener)):
                df.to_csv(csv_fh, header=(i == 0), index=False, float_format="%.6g")
                table = pa.Table.from_pandas(df, preserve_index=False)
                writer = writer or pq.ParquetWriter(folder / "explore.parquet", table.schema)
                writer.write_table(table)
                best.push(df)
                count += len(df) // len(grid.phases)
                bar.update(len(df) // len(grid.phases))
    finally:
        bar.close()
        if writer is not None:
            writer.close()
    if writer is None:
        raise UserError("the bounds leave no composition on the grid; widen them")
    return count


def _section_maps(screener: Screener, grid: _Grid, folder: Path, notes: list[str]) -> list[Path]:
    """The maps over the pseudo-ternary section, screened on its own (see :mod:`eftgan.maps`);
    a note instead when the bounds exclude the section."""
    import pandas as pd

    from eftgan.maps import section_bounds, write_maps

    sec = section_bounds(grid.names, grid.step, grid.bounds)
    parts = (
        [] if sec is None else list(dataclasses.replace(grid, scheduler=None).frames(screener, sec))
    )
    if not parts:
        notes.append("no maps: the bounds exclude the equal-share section")
        return []
    return write_maps(pd.concat(parts, ignore_index=True), grid.names, folder)


def _write_candidates(rows: list[dict[str, Any]], names: Sequence[str], path: Path) -> None:
    """The candidate rows as CSV, ``composition`` first, in the number format of explore.csv."""
    import pandas as pd

    cols = ["composition", *_columns(names)]
    pd.DataFrame(rows, columns=cols).to_csv(path, index=False, float_format="%.6g")


def load_screener(path: str | os.PathLike[str] | None = None) -> Screener:
    """An EFTGAN model folder as a :class:`Screener` (default: the shipped model)."""
    return Screener.load(path)
