"""Structure-free screening of composition space: :class:`Screener`.

    >>> from eftgan import Screener
    >>> s = Screener.load()                                   # shipped default model
    >>> s.predict(["FeNiCoCrMn", "Fe0.3Ni0.3Co0.2Cr0.1Mn0.1"], phase="fcc")
    >>> df = s.screen(elements=["Fe", "Ni", "Co", "Cr", "Mn"], step=0.05)
    >>> res = s.explore(["Fe", "Ni", "Co", "Cr", "Mn"], out="runs/explore", step=0.05)

``screen`` returns one table; ``iter_screen`` streams it in chunks for grids too large to hold;
``explore`` (:func:`write_explore`, what ``eftgan explore`` runs) streams a grid into a folder:
``explore.parquet`` (and ``explore.csv``), ``candidates.csv`` and the maps of
:mod:`eftgan.maps`.

An EFTGAN model folder holds one or several members (a deep ensemble: each member's generator
learned the features of its own ECNet). For each composition and phase every member's
generator draws ``n_z`` element-feature samples and its property MLP reads them; the value is
the mean over all draws of all members and ``<name>_std`` their spread (generator noise and
disagreement between members), multiplied by the factor that made the spread match the errors
on validation data (``calibration`` in the folder's config; 1 where none was fitted).

Columns: ``x_<El>`` atomic fractions; ``phase``; each target with its spread
(``etot_ev_per_atom``/``etot_std``, ``eform_ev_per_atom``/``eform_std``,
``emix_ev_per_atom``/``emix_std``, ``ms_mub_per_atom``/``ms_std``, ``rmsd_angstrom``/``rmsd_std``,
``v0_a3_per_atom``/``v0_std``; older models lack some); then

``a_angstrom``
    cubic lattice constant of that phase (fcc ``(4 V0)^(1/3)``, bcc ``(2 V0)^(1/3)``);
``delta_e_bcc_fcc_ev_per_atom``
    Eform(bcc) - Eform(fcc) of that composition (negative: bcc preferred);
``stable_phase``
    the phase of lower formation energy at that composition;
``s_conf_kb_per_atom``
    ideal configurational entropy ``-sum x ln x``;
``g_ev_per_atom``
    ``Eform - T k_B S_conf``: the free energy relative to the pure elements in their
    ground-state lattices, one reference for fcc and bcc rows, so rows of different phases
    compare. Candidates are ranked by it;
``g_mix_ev_per_atom``
    ``Emix - T k_B S_conf``: relative to the pure elements *in the same lattice* as the row, so
    it compares compositions within one phase only;
``extrapolation``
    true where the composition lies outside the training data *of that phase*
    (:mod:`eftgan.reach`).
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from eftgan.augment import PropertyMLP
from eftgan.checkpoint import (
    building,
    calibration_factors,
    ensemble_members,
    load_weights,
    read_model_folder,
)
from eftgan.composition import (
    CompositionLike,
    check_elements,
    grid_divisions,
    parse_composition,
    simplex_grid,
)
from eftgan.dataset import std_column
from eftgan.devices import resolve_device, usable_cores
from eftgan.errors import UserError
from eftgan.files import atomic_write_json, atomic_write_text, refuse_existing, staged_dir
from eftgan.infogan import GANConfig, Generator
from eftgan.paths import default_model_dir
from eftgan.reach import PhaseReach, reach_by_phase

K_B_EV = 8.617333262e-5  # eV/K
#: grids with more compositions than this write Parquet only unless CSV is asked for
CSV_AUTO_LIMIT = 1_000_000
#: rows per forward pass: small enough for the activations to stay in the CPU's cache
BLOCK = 1024


def _columns(elements: Sequence[str], targets: Sequence[str]) -> list[str]:
    cols = [f"x_{e}" for e in elements] + ["phase"]
    for t in targets:
        cols += [t, std_column(t)]
    return cols + [
        "a_angstrom",
        "delta_e_bcc_fcc_ev_per_atom",
        "stable_phase",
        "s_conf_kb_per_atom",
        "g_ev_per_atom",
        "g_mix_ev_per_atom",
        "extrapolation",
    ]


class _Member:
    """One generator + property MLP with its target scaling."""

    def __init__(self, m: dict[str, Any], state: dict[str, torch.Tensor], where: Any, pre: str):
        self.cfg = GANConfig.from_dict(m["gan"])
        self.targets: list[str] = list(m["targets"])
        self.g = load_weights(lambda: Generator(self.cfg), state, where, f"{pre}g").eval()
        n_t, n_p = len(self.targets), len(self.cfg.phases)
        self.mlp = load_weights(
            lambda: PropertyMLP(self.cfg.feature_dim, n_t, n_p, m["mlp_hidden"]),
            state,
            where,
            f"{pre}mlp",
        ).eval()
        self.y_mean = torch.tensor(m["target_mean"])
        self.y_std = torch.tensor(m["target_std"])

    def to(self, device: torch.device) -> None:
        """Move the networks and the target scaling to ``device``."""
        self.g, self.mlp = self.g.to(device), self.mlp.to(device)
        self.y_mean, self.y_std = self.y_mean.to(device), self.y_std.to(device)

    def draws(self, c: torch.Tensor, phase: int, z: torch.Tensor, slots: list[int]):
        """Physical-unit predictions (B, T) for compositions ``c`` (B, S) and noise ``z``.

        The same arithmetic as ``mlp(g(c, phase, z))``, rearranged for screening, where the
        same few layers run on millions of rows: the generator's first layer is split into a
        per-slot and a per-sample term (:meth:`Generator.forward`); the generator's last
        layer and the MLP's first layer, with no nonlinearity between them, are one matrix;
        and the MLP's last (linear) layer is applied once to the composition-weighted sum of
        the slots instead of to every slot. (Masking absent slots is not needed: their terms
        carry the weight ``c = 0``.)
        """
        g: Any = self.g.net
        mlp: Any = self.mlp.net
        w1, b1 = g[0].weight, g[0].bias
        sd = self.cfg.slot_dim
        ctx = torch.cat([self.g.phase.weight[phase].expand(len(c), -1), c, z], 1)
        h = (
            torch.addmm(b1, ctx, w1[:, sd:].T)[:, None, :]
            + self.g.slot.weight[slots] @ w1[:, :sd].T
        )
        h = F.leaky_relu_(g[2](F.leaky_relu_(h, 0.2)), 0.2)
        w_f = mlp[0].weight[:, : self.cfg.feature_dim]
        w_p = mlp[0].weight[:, self.cfg.feature_dim :]
        bias = mlp[0].bias + w_f @ g[4].bias + w_p @ self.mlp.phase.weight[phase]
        h = F.silu(F.linear(h, w_f @ g[4].weight, bias), inplace=True)
        h = F.silu(mlp[2](h), inplace=True)
        cs = c[:, slots]
        pooled = torch.bmm(cs[:, None, :], h)[:, 0]  # composition-weighted sum over the slots
        y = torch.addmm(cs.sum(1, keepdim=True) * mlp[4].bias, pooled, mlp[4].weight.T)
        return y * self.y_std + self.y_mean


class Screener:
    """The generators and property MLPs of an EFTGAN model folder, ready to screen."""

    def __init__(
        self, config: dict[str, Any], state: dict[str, torch.Tensor], folder: Path | None
    ) -> None:
        m = config["model"]
        self.folder = folder
        self.config = config
        self.state = state
        where = folder or "the EFTGAN model"
        self.members = [_Member(mm, state, where, pre) for mm, pre in ensemble_members(m)]
        self.cfg = self.members[0].cfg
        self.targets: list[str] = self.members[0].targets
        self.calibration = calibration_factors(m)
        self.reach = self._reach(m)
        self.device = torch.device("cpu")

    def to(self, device: str | torch.device) -> Screener:
        """Compute on ``device`` (``cpu``, ``cuda`` or ``auto``, see :mod:`eftgan.devices`);
        the noise is still drawn on the CPU, so a seed gives the same draws everywhere."""
        self.device = resolve_device(device)
        for member in self.members:
            member.to(self.device)
        return self

    def _reach(self, m: dict[str, Any]) -> dict[str, PhaseReach]:
        """Per-phase training compositions of all members (all phases where unrecorded)."""
        comps: list[np.ndarray] = []
        phases: list[str | None] = []
        for mm, _ in ensemble_members(m):
            c = np.asarray(mm["train_compositions"], dtype=np.float64)
            comps.append(c)
            phases += mm.get("train_phases") or [None] * len(c)
        return reach_by_phase(np.concatenate(comps), phases, self.cfg.phases)

    @classmethod
    def load(cls, path: str | os.PathLike[str] | None = None) -> Screener:
        """Load an EFTGAN model folder; without a path, the shipped default model."""
        folder = Path(path) if path is not None else default_model_dir("eftgan")
        config, state = read_model_folder(folder, kind="eftgan")
        with building(folder, "eftgan"):
            return cls(config, state, folder)

    @classmethod
    def load_for(cls, elements: Sequence[str]) -> Screener:
        """The shipped model for ``elements`` (see :func:`shipped_screener_for`)."""
        return shipped_screener_for(elements)

    @property
    def elements(self) -> tuple[str, ...]:
        """The element slots of the model."""
        return self.cfg.elements

    @property
    def label_source(self) -> str:
        """Whose labels the model learned: ``dft``, or ``dft+chgnet`` for DFT and oracle rows
        together (it then predicts the first, see :mod:`eftgan.ecnet`)."""
        member = ensemble_members(self.config["model"])[0][0]
        return "+".join(member.get("label_sources", {"dft": None}))

    def metadata(self) -> dict[str, Any]:
        """The model's name, folder and label source, as run records give them."""
        name = self.folder.name if self.folder else None
        return {"model": name, "label_source": self.label_source}

    # -- core ---------------------------------------------------------------------------
    @torch.inference_mode()
    def _properties(
        self, c: np.ndarray, phase: str, n_z: int, seed: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Mean and calibrated spread over all draws of all members: two arrays (N, T)."""
        slots = [int(j) for j in np.flatnonzero((c > 0).any(axis=0))]
        dev = self.device
        ct = torch.from_numpy(c.astype(np.float32)).repeat_interleave(n_z, 0).to(dev)
        gen = torch.Generator().manual_seed(seed)
        p = self.cfg.phases.index(phase)
        block = BLOCK if dev.type == "cpu" else len(ct)  # a GPU takes the chunk at once
        ys = []
        for member in self.members:
            z = torch.randn(ct.shape[0], self.cfg.noise_dim, generator=gen).to(dev)
            blocks = [
                member.draws(ct[i : i + block], p, z[i : i + block], slots)
                for i in range(0, len(ct), block)
            ]
            ys.append(torch.cat(blocks).reshape(len(c), n_z, -1))
        y = torch.cat(ys, dim=1)
        std = y.std(1, unbiased=False) if y.shape[1] > 1 else torch.zeros_like(y[:, 0])
        factor = self.calibration.get(phase, {})
        scale = torch.tensor([factor.get(t, 1.0) for t in self.targets], device=dev)
        return y.mean(1).cpu().numpy(), (std * scale).cpu().numpy()

    def extrapolation(self, c: np.ndarray, phase: str) -> np.ndarray:
        """True outside the training data of ``phase`` (see :mod:`eftgan.reach`)."""
        return self.reach[phase].extrapolates(c)

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
        per_phase = {p: self._properties(c, p, n_z, seed) for p in self.cfg.phases}
        j = {name: i for i, name in enumerate(self.targets)}
        eform = {p: per_phase[p][0][:, j["eform_ev_per_atom"]] for p in per_phase}
        delta = eform["bcc"] - eform["fcc"]
        stable = np.where(delta < 0, "bcc", "fcc").astype(object)
        with np.errstate(divide="ignore", invalid="ignore"):
            s_conf = -np.where(frac > 0, frac * np.log(np.where(frac > 0, frac, 1.0)), 0.0).sum(1)
        ts = temperature * K_B_EV * np.abs(s_conf)  # abs: no -0.0 for pure elements
        parts = []
        for p in phases:
            mean, std = per_phase[p]
            cols: dict[str, np.ndarray] = {f"x_{e}": frac[:, k] for k, e in enumerate(names)}
            cols["phase"] = np.full(len(frac), p, dtype=object)
            for t, k in j.items():
                cols[t], cols[std_column(t)] = mean[:, k], std[:, k]
            if "v0_a3_per_atom" in j:
                v0 = mean[:, j["v0_a3_per_atom"]]
                cols["a_angstrom"] = np.cbrt((4.0 if p == "fcc" else 2.0) * v0)
            cols["delta_e_bcc_fcc_ev_per_atom"] = delta
            cols["stable_phase"] = stable
            cols["s_conf_kb_per_atom"] = np.abs(s_conf)
            cols["g_ev_per_atom"] = mean[:, j["eform_ev_per_atom"]] - ts
            cols["g_mix_ev_per_atom"] = mean[:, j["emix_ev_per_atom"]] - ts
            cols["extrapolation"] = self.extrapolation(c, p)
            parts.append(cols)
        order = [k for k in _columns(names, self.targets) if k in parts[0]]
        return {k: np.concatenate([q[k] for q in parts]) for k in order}

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
        n_z: int | None = None,
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
        n_z = n_z or default_n_z(len(self.members), None) * 2
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
        n_z: int | None = None,
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
        n_z = n_z or default_n_z(len(self.members), None)
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
    (each predicted for every phase), the phases, the files (``csv`` is None when the CSV was
    not written), the candidate rows (best first, each with a ``composition`` formula), the
    one-line statement of what they are ranked by, and notes. Round-trips through JSON with
    :meth:`as_dict`/:meth:`from_dict`.
    """

    out: Path
    n_compositions: int
    phases: list[str]
    csv: Path | None
    parquet: Path
    candidates_csv: Path
    maps: list[Path] = field(default_factory=list)
    candidates: list[dict[str, Any]] = field(default_factory=list)
    ranking: str = ""
    notes: list[str] = field(default_factory=list)

    _PATHS = ("out", "csv", "parquet", "candidates_csv")

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form (paths as strings)."""
        keys = ("n_compositions", "phases", "candidates", "ranking", "notes")
        d = {k: getattr(self, k) for k in keys}
        d.update(
            {k: None if getattr(self, k) is None else str(getattr(self, k)) for k in self._PATHS}
        )
        d["maps"] = [str(m) for m in self.maps]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ExploreResult:
        """The inverse of :meth:`as_dict`."""
        d = dict(d)
        for k in cls._PATHS:
            d[k] = None if d.get(k) is None else Path(d[k])
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

    def arrays(self, screener: Screener) -> Iterator[dict[str, np.ndarray]]:
        """The grid's column arrays, chunk by chunk, in grid order, computed here.

        Chunks are computed on one thread per CPU core, each running single-threaded PyTorch
        (which releases the GIL inside its kernels): on small matrices that keeps every core
        busy where intra-op threading does not, and the tables are written while the next
        chunks compute. At most two chunks per thread are in flight, so memory stays bounded.
        """
        from concurrent.futures import ThreadPoolExecutor

        workers = max(1, min(usable_cores(), torch.get_num_threads()))
        chunks = simplex_grid(self.names, self.step, self.bounds, chunk=4096)
        args = (self.names, self.phases, self.temperature, self.n_z, self.seed)
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            with ThreadPoolExecutor(workers) as pool:
                pending: list[Any] = []
                for frac in chunks:
                    pending.append(pool.submit(screener._rows, frac, *args))
                    if len(pending) >= 2 * workers:
                        yield pending.pop(0).result()
                for future in pending:
                    yield future.result()
        finally:
            torch.set_num_threads(threads)

    def size(self) -> int | None:
        """Number of grid compositions, when known without enumerating (no bounds)."""
        n, k = grid_divisions(self.step), len(self.names)
        return math.comb(n + k - 1, k - 1) if not self.bounds else None


def ranking_line(temperature: float) -> str:
    """What the candidates are ranked by, in one line."""
    return (
        f"ranked by g = Eform - T S_conf at T = {temperature:g} K (pure elements in their "
        "ground-state lattice as the reference), each composition in its more stable phase, "
        "extrapolated rows excluded"
    )


class _Best:
    """The ``k`` lowest-``g`` rows of a stream that are in their stable phase and in reach."""

    def __init__(self, k: int) -> None:
        self.k = k
        self.cols: dict[str, np.ndarray] | None = None

    def push(self, cols: Mapping[str, np.ndarray]) -> None:
        """Offer every row of a chunk of column arrays."""
        ok = (cols["phase"] == cols["stable_phase"]) & ~cols["extrapolation"].astype(bool)
        if self.cols is not None:
            cols = {c: np.concatenate([self.cols[c], cols[c]]) for c in self.cols}
            ok = np.concatenate([np.ones(len(self.cols["phase"]), bool), ok])
        g = np.where(ok, cols["g_ev_per_atom"], np.inf)
        keep = np.argsort(g, kind="stable")[: min(self.k, int(ok.sum()))]
        self.cols = {c: v[keep] for c, v in cols.items()}

    def rows(self) -> list[dict[str, Any]]:
        """The kept rows, lowest ``g`` first, values as plain Python scalars."""
        if self.cols is None:
            return []
        n = len(self.cols["phase"])
        return [
            {c: v[i].item() if hasattr(v[i], "item") else v[i] for c, v in self.cols.items()}
            for i in range(n)
        ]


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
    n_z: int | None = None,
    seed: int = 0,
    top: int = 10,
    maps: bool = True,
    force: bool = False,
    scheduler: str | None = None,
    progress: bool = True,
    csv: bool | None = None,
) -> ExploreResult:
    """Screen a composition grid into the folder ``out`` (what ``eftgan explore`` writes).

    Writes ``explore.parquet`` (every composition and phase, the columns of the module
    docstring, one row group per chunk so memory stays bounded for any grid) and, with
    ``csv`` (default: for grids of at most :data:`CSV_AUTO_LIMIT` compositions), the same
    table as ``explore.csv``; ``candidates.csv``, the ``top`` rows of lowest ``g_ev_per_atom``
    at ``temperature`` (K), each composition in its more stable phase, outside the
    extrapolation region, with ``ranking.txt`` saying so in one line; and with ``maps`` the
    PNG maps of :func:`eftgan.maps.write_maps` over the pseudo-ternary section. ``n_z`` is
    the number of generator draws per ensemble member (default: 16 draws per composition in
    all, at least 1 per member, and 1 per member for grids over :data:`CSV_AUTO_LIMIT`). The
    folder is built in a temporary sibling and appears whole or not at all; an existing
    ``out`` is replaced only with ``force``. ``bounds`` are per-element atomic-fraction
    limits, as a mapping or as ``"Mn:0-0.35,Cr:0.1-0.3"``; ``scheduler`` a Dask scheduler
    address to screen on.
    """
    out = Path(out)
    refuse_existing(out, force)
    grid = _grid(screener, elements, step, phases, bounds, temperature, n_z, seed, scheduler)
    want_csv = _want_csv(csv, grid.size())
    best = _Best(top)
    with staged_dir(out, force=force) as tmp:
        count = _write_tables(screener, grid, tmp, best, progress, want_csv)
        notes: list[str] = []
        if not want_csv:
            notes.append(f"{count} compositions: explore.parquet only (pass --csv for CSV too)")
        written = _section_maps(screener, grid, tmp, notes) if maps else []
        rows = best.rows()
        for r in rows:
            r["composition"] = formula(r, grid.names)
        _write_candidates(rows, grid.names, screener.targets, tmp / "candidates.csv")
        atomic_write_text(tmp / "ranking.txt", ranking_line(temperature) + "\n")
        settings = {"step": step, "bounds": bounds, "temperature_k": temperature, "seed": seed}
        atomic_write_json(tmp / "run.json", _run_record(screener, grid, settings))
    return ExploreResult(
        out=out,
        n_compositions=count,
        phases=grid.phases,
        csv=out / "explore.csv" if want_csv else None,
        parquet=out / "explore.parquet",
        candidates_csv=out / "candidates.csv",
        maps=[out / p.name for p in written],
        candidates=rows,
        ranking=ranking_line(temperature),
        notes=notes,
    )


def _run_record(screener: Screener, grid: Any, settings: dict[str, Any]) -> dict[str, Any]:
    """What a screen was made with: model and label source, grid settings, versions."""
    from eftgan.checkpoint import package_versions

    weights = screener.config.get("weights", {}).get("sha256")
    return {
        **screener.metadata(),
        "model_weights_sha256": weights,
        "elements": list(grid.names),
        "phases": list(grid.phases),
        **settings,
        "versions": package_versions(),
    }


def _want_csv(csv: bool | None, size: int | None) -> bool:
    """Whether to write explore.csv: as asked, else for grids up to :data:`CSV_AUTO_LIMIT`."""
    return csv if csv is not None else (size is not None and size <= CSV_AUTO_LIMIT)


def default_n_z(n_members: int, n_compositions: int | None) -> int:
    """Draws per member: 16 per composition in all, 1 per member on grids over the CSV limit."""
    if n_compositions is not None and n_compositions > CSV_AUTO_LIMIT:
        return 1
    return max(1, math.ceil(16 / n_members))


def _grid(
    screener: Screener,
    elements: Sequence[str],
    step: float,
    phases: Sequence[str],
    bounds: Mapping[str, tuple[float, float]] | str | None,
    temperature: float,
    n_z: int | None,
    seed: int,
    scheduler: str | None,
) -> _Grid:
    """Check a request before any work (a :class:`UserError` names the problem)."""
    from eftgan.composition import check_bounds, parse_bounds

    if n_z is not None and n_z < 1:
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
    grid = _Grid(names, step, phase_list, bnd, temperature, n_z or 1, seed, scheduler)
    if n_z is None:
        grid.n_z = default_n_z(len(screener.members), grid.size())
    return grid


def _arrow_table(cols: Mapping[str, np.ndarray]) -> Any:
    """A chunk of column arrays as an Arrow table (predictions as float32)."""
    import pyarrow as pa

    arrays = {}
    for k, v in cols.items():
        if v.dtype == object:
            arrays[k] = pa.array(v.astype(str))
        elif v.dtype.kind == "f" and not k.startswith("x_"):
            arrays[k] = pa.array(v.astype(np.float32))
        else:
            arrays[k] = pa.array(v)
    return pa.table(arrays)


def _chunks(screener: Screener, grid: _Grid) -> Iterator[dict[str, np.ndarray]]:
    """Column arrays of the grid: computed here, or on the Dask cluster when one is given."""
    if grid.scheduler is None:
        yield from grid.arrays(screener)
        return
    for df in grid.frames(screener):
        yield {k: df[k].to_numpy() for k in df.columns}


def _write_tables(
    screener: Screener, grid: _Grid, folder: Path, best: _Best, progress: bool, csv: bool
) -> int:
    """Stream the grid into ``explore.parquet`` (and ``explore.csv``); offer each chunk to
    ``best``; return the number of compositions."""
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq
    from tqdm import tqdm

    bar = tqdm(
        total=grid.size(),
        desc="explore",
        unit="comp",
        mininterval=1.0,
        disable=None if progress else True,
    )
    writer = csv_writer = None
    count = 0
    try:
        for cols in _chunks(screener, grid):
            table = _arrow_table(cols)
            writer = writer or pq.ParquetWriter(folder / "explore.parquet", table.schema)
            writer.write_table(table)
            if csv:
                csv_writer = csv_writer or pacsv.CSVWriter(folder / "explore.csv", table.schema)
                csv_writer.write_table(table)
            best.push(cols)
            n = len(cols["phase"]) // len(grid.phases)
            count += n
            bar.update(n)
    finally:
        bar.close()
        for w in (writer, csv_writer):
            if w is not None:
                w.close()
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


def _write_candidates(
    rows: list[dict[str, Any]], names: Sequence[str], targets: Sequence[str], path: Path
) -> None:
    """The candidate rows as CSV, ``composition`` first."""
    import pandas as pd

    cols = ["composition", *[c for c in _columns(names, targets) if not rows or c in rows[0]]]
    pd.DataFrame(rows, columns=cols).to_csv(path, index=False, float_format="%.6g")


def load_screener(path: str | os.PathLike[str] | None = None) -> Screener:
    """An EFTGAN model folder as a :class:`Screener` (default: the shipped model)."""
    return Screener.load(path)


def shipped_screener_for(elements: Sequence[str]) -> Screener:
    """The shipped EFTGAN model for ``elements`` (:func:`eftgan.catalog.shipped_model_for`)."""
    from eftgan.catalog import shipped_model_for

    return Screener.load(shipped_model_for("eftgan", elements))
