"""Grain growth by a multi-order-parameter phase-field model, in torch (CPU or CUDA).

The model is the one of Fan and Chen (1997) in the quantitative form of Moelans, Blanpain
and Wollants (Phys. Rev. B 78, 024113, 2008). Each grain is a region where one of ``Q``
non-conserved order parameters ``eta_i`` is 1 and the others 0; boundaries are the diffuse
layers between them. The free energy density is

    f = m [sum_i (eta_i^4 / 4 - eta_i^2 / 2) + gamma sum_{i<j} eta_i^2 eta_j^2 + 1/4]
        + (kappa / 2) sum_i |grad eta_i|^2

and each parameter relaxes by the Allen-Cahn equation
``d eta_i / dt = -L [m (eta_i^3 - eta_i + 2 gamma eta_i sum_{j != i} eta_j^2) - kappa lap eta_i]``.
With ``gamma = 1.5`` the profile is symmetric and the model's parameters follow from the
physical ones: boundary energy ``sigma`` (J/m^2), mobility ``M`` (m^4/(J s)) and the diffuse
width ``ell`` (m): ``m = 6 sigma / ell``, ``kappa = 3 sigma ell / 4``, ``L = 4 M / (3 ell)``.
A boundary then moves with ``v = M sigma kappa_curv``, so a circular grain shrinks as
``R^2 = R0^2 - 2 M sigma t``, and only the product ``M sigma`` sets the kinetics of
isotropic growth.

**Memory that does not grow with the grains.** ``Q`` is fixed (16 by default), far fewer
than the grains: grains that never touch share a parameter. The initial grains are coloured
greedily on their adjacency graph (periodic), so that no two neighbours share one. As
grains grow, two of the same colour can come to meet and would then merge:
:meth:`PhaseField.recolour` (called every ``recolour_every`` steps by :meth:`PhaseField.run`)
moves such a grain, with its diffuse boundary, to a parameter that no grain within
:data:`RECOLOUR_CELLS` cells uses, where one is free.

Boundaries are periodic (the Laplacian is a five-point stencil with ``torch.roll``), the
time step is explicit (Euler) and checked against the stability limit
``dt <= 2 / (2 L m + 8 L kappa / dx^2)`` (the grain interior's relaxation rate plus the
five-point stencil's fastest mode); the default step is half of it. An ensemble of runs
with different ``M sigma`` is one batch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from eftgan.errors import UserError

__all__ = [
    "GrainGrowth",
    "PhaseField",
    "colour_grains",
    "grain_map",
    "recolouring",
    "voronoi_labels",
]

GAMMA = 1.5
#: Grains of one order parameter closer than this (cells) are moved apart by recolouring.
RECOLOUR_CELLS = 12
#: A moved grain takes its field out to this many cells beyond its edge (its diffuse layer).
EDGE_CELLS = 4


@dataclass
class GrainGrowth:
    """Physical parameters of a grain-growth run (SI units).

    Attributes:
        sigma_j_m2: boundary energy.
        mobility_m4_js: boundary mobility ``M``; a batch of runs may scale it per member.
        dx_m: grid spacing.
        width_cells: diffuse boundary width ``ell`` in grid cells (4-6 resolve it).
        n_params: order parameters ``Q`` shared among the grains.
    """

    sigma_j_m2: float = 0.5
    mobility_m4_js: float = 1e-12
    dx_m: float = 1e-6
    width_cells: float = 5.0
    n_params: int = 16

    @property
    def ell_m(self) -> float:
        return self.width_cells * self.dx_m

    def coefficients(self) -> tuple[float, float, float]:
        """``(m, kappa, L)`` of the free energy and the kinetics (see the module)."""
        ell = self.ell_m
        return (
            6 * self.sigma_j_m2 / ell,
            0.75 * self.sigma_j_m2 * ell,
            4 * self.mobility_m4_js / (3 * ell),
        )

    def stable_dt_s(self, mobility_scale: float = 1.0) -> float:
        """The largest stable explicit time step (s) for the largest mobility of a batch."""
        m, kappa, ell_l = self.coefficients()
        ell_l = ell_l * mobility_scale
        # explicit Euler: dt times the largest rate, 2 L m (the bulk's curvature) plus
        # 8 L kappa / dx^2 (the stencil's checkerboard mode), at most 2
        return 2 / (2 * ell_l * m + 8 * ell_l * kappa / self.dx_m**2)


class PhaseField:
    """A batch of grain structures and their evolution.

    ``eta`` is (B, Q, H, W); ``mobility_scale`` (B,) multiplies ``M`` per member (so one
    batch can hold an ensemble of ``M sigma``)."""

    def __init__(
        self,
        params: GrainGrowth,
        eta: torch.Tensor,
        dt_s: float | None = None,
        mobility_scale: torch.Tensor | None = None,
    ) -> None:
        self.p = params
        self.eta = eta
        b = eta.shape[0]
        self.scale = (
            mobility_scale.to(eta)
            if mobility_scale is not None
            else torch.ones(b, dtype=eta.dtype, device=eta.device)
        ).reshape(b, 1, 1, 1)
        limit = params.stable_dt_s(float(self.scale.max()))
        self.dt_s = 0.5 * limit if dt_s is None else dt_s
        if self.dt_s > limit:
            raise UserError(
                f"time step {self.dt_s:.3g} s is beyond the stability limit; the largest "
                f"stable step is {limit:.3g} s"
            )
        self.time_s = 0.0

    @classmethod
    def from_labels(
        cls, labels: np.ndarray, params: GrainGrowth, device: str = "cpu", **kw
    ) -> PhaseField:
        """Sharp initial grains from a label image (H, W) or a batch (B, H, W): each grain
        gets the parameter of its colour (:func:`colour_grains`)."""
        lab = np.asarray(labels)
        lab = lab[None] if lab.ndim == 2 else lab
        eta = np.zeros((lab.shape[0], params.n_params, *lab.shape[1:]), dtype=np.float32)
        for k, one in enumerate(lab):
            colour = colour_grains(one, params.n_params)
            idx = colour[one]
            np.put_along_axis(eta[k], idx[None], 1.0, axis=0)
        return cls(params, torch.from_numpy(eta).to(device), **kw)

    def step(self, n: int = 1) -> None:
        """``n`` explicit Euler steps of the Allen-Cahn equations."""
        m, kappa, ell_l = self.p.coefficients()
        inv_dx2 = 1.0 / self.p.dx_m**2
        lk = self.dt_s * ell_l * self.scale
        for _ in range(n):
            e = self.eta
            sq = e * e
            lap = (
                torch.roll(e, 1, -1) + torch.roll(e, -1, -1) + torch.roll(e, 1, -2)
                + torch.roll(e, -1, -2) - 4 * e
            ) * inv_dx2  # fmt: skip
            bulk = e * (sq - 1 + 2 * GAMMA * (sq.sum(1, keepdim=True) - sq))
            self.eta = e - lk * (m * bulk - kappa * lap)
        self.time_s += n * self.dt_s

    def run(self, n: int, recolour_every: int = 100) -> None:
        """``n`` steps, re-colouring every ``recolour_every`` of them."""
        self.recolour()  # the start's colouring parts only grains that touch
        done = 0
        while done < n:
            k = min(recolour_every, n - done)
            self.step(k)
            done += k
            self.recolour()

    def recolour(self) -> int:
        """Move each grain that has a grain of its own order parameter within
        :data:`RECOLOUR_CELLS` cells to a parameter that none within that distance uses
        (:func:`recolouring`); returns how many were moved. A grain's field moves with the
        pixels nearest to it among its parameter's grains, out to its diffuse edge, so
        neither a neighbour nor a partner of the old parameter is cut into."""
        moved = 0
        for k in range(self.eta.shape[0]):
            grains, colour = grain_map(self.eta[k].cpu().numpy())
            moves = recolouring(grains, colour, self.eta.shape[1])
            if not moves:
                continue
            src = self.eta[k].clone()
            zones = {}
            for old in {int(colour[g]) for g, _ in moves}:
                mask = np.isin(grains, np.flatnonzero(colour == old))
                d, (ri, ci) = _periodic_edt(mask, EDGE_CELLS + 1)
                zones[old] = (d, grains[ri, ci])
            regions = []
            for g, new in moves:
                d, owner = zones[int(colour[g])]
                region = torch.from_numpy((d <= EDGE_CELLS) & (owner == g)).to(self.eta.device)
                regions.append((region, int(colour[g]), new))
                self.eta[k, int(colour[g])][region] = 0.0
            for region, old, new in regions:
                self.eta[k, new][region] = src[old][region]
            moved += len(moves)
        return moved

    def labels(self) -> torch.Tensor:
        """The parameter that dominates each pixel, (B, H, W)."""
        return self.eta.argmax(1)

    def area_of(self, param: int) -> torch.Tensor:
        """Area (m^2) where ``eta_param`` exceeds 1/2, per member, (B,)."""
        return (self.eta[:, param] > 0.5).sum((-1, -2)).to(torch.float64) * self.p.dx_m**2


def _periodic_dilation(mask: np.ndarray, cells: int) -> np.ndarray:
    """``mask`` grown by ``cells`` (a square reach) on a periodic grid."""
    from scipy.ndimage import maximum_filter

    return maximum_filter(mask, size=2 * cells + 1, mode="wrap")


def _periodic_edt(mask: np.ndarray, pad: int) -> tuple[np.ndarray, np.ndarray]:
    """Distance (cells) from every pixel to the nearest pixel of ``mask`` on a periodic
    grid, exact within ``pad`` cells, and that pixel's (row, column) index."""
    from scipy.ndimage import distance_transform_edt

    h, w = mask.shape
    padded = np.pad(mask, pad, mode="wrap")
    dist, idx = distance_transform_edt(~padded, return_indices=True)
    crop = (slice(pad, pad + h), slice(pad, pad + w))
    return dist[crop], ((idx[0][crop] - pad) % h, (idx[1][crop] - pad) % w)


def recolouring(
    grains: np.ndarray, colour: np.ndarray, n_colours: int, cells: int = RECOLOUR_CELLS
) -> list[tuple[int, int]]:
    """The moves ``(grain, new order parameter)`` that part grains of one parameter closer
    than ``cells``. Each grain's neighbourhood is the grains within ``cells`` of it
    (periodic); grains are visited largest first, and one that shares its parameter with a
    grain of its neighbourhood takes the lowest parameter none of them holds, the colours
    updated as it goes (so two neighbours never take the same one). A grain with no free
    parameter keeps its own."""
    near = _neighbourhoods(grains, len(colour), cells)
    colour = colour.copy()
    area = np.bincount(grains.ravel(), minlength=len(colour))
    moves: list[tuple[int, int]] = []
    for g in np.argsort(-area, kind="stable"):
        used = {int(colour[h]) for h in near[g]}
        if int(colour[g]) not in used:
            continue
        free = [c for c in range(n_colours) if c not in used]
        if free:
            colour[g] = free[0]
            moves.append((int(g), free[0]))
    return moves


def _neighbourhoods(grains: np.ndarray, n: int, cells: int) -> list[set[int]]:
    """For each grain, the other grains within ``cells`` of it on the periodic grid."""
    from scipy.ndimage import find_objects, maximum_filter

    h, w = grains.shape
    padded = np.pad(grains + 1, cells, mode="wrap")  # 0: no grain
    out: list[set[int]] = [set() for _ in range(n)]
    for g, box in enumerate(find_objects(grains + 1)):
        if box is None:
            continue
        rows = slice(box[0].start, box[0].stop + 2 * cells)
        cols = slice(box[1].start, box[1].stop + 2 * cells)
        if box[0].stop - box[0].start >= h - 1 or box[1].stop - box[1].start >= w - 1:
            rows, cols = slice(0, h + 2 * cells), slice(0, w + 2 * cells)  # wraps: all
        crop = padded[rows, cols]
        reach = maximum_filter(crop == g + 1, size=2 * cells + 1)
        out[g] = {int(x) - 1 for x in np.unique(crop[reach]) if x and x != g + 1}
    return out


def grain_map(eta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The grains of one structure (Q, H, W): a label image (H, W) of connected regions
    where one order parameter dominates (connected across the periodic edges), and each
    grain's order parameter."""
    from scipy.ndimage import label

    dominant = eta.argmax(0)
    grains = np.full(dominant.shape, -1, dtype=np.int64)
    colour: list[int] = []
    for c in range(eta.shape[0]):
        lab, n = label(dominant == c)
        if n == 0:
            continue
        lab = _join_periodic(lab, n)
        ids = np.unique(lab[lab > 0])
        remap = np.zeros(lab.max() + 1, dtype=np.int64)
        remap[ids] = np.arange(len(ids)) + len(colour)
        grains[lab > 0] = remap[lab[lab > 0]]
        colour += [c] * len(ids)
    return grains, np.array(colour, dtype=np.int64)


def _join_periodic(lab: np.ndarray, n: int) -> np.ndarray:
    """Labels of regions that continue across the periodic edges made one."""
    parent = np.arange(n + 1)

    def find(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for a_edge, b_edge in ((lab[0], lab[-1]), (lab[:, 0], lab[:, -1])):
        for a, b in zip(a_edge, b_edge, strict=True):
            if a and b:
                ra, rb = find(int(a)), find(int(b))
                if ra != rb:
                    parent[max(ra, rb)] = min(ra, rb)
    roots = np.array([find(i) for i in range(n + 1)])
    return roots[lab]


def voronoi_labels(size: int, n_grains: int, seed: int = 0) -> np.ndarray:
    """A periodic Voronoi tessellation of a ``size`` x ``size`` grid into ``n_grains``
    grains (labels 0 .. n-1), from uniformly random seeds."""
    from scipy.spatial import cKDTree

    rng = np.random.default_rng(seed)
    pts = rng.random((n_grains, 2)) * size
    tree = cKDTree(pts, boxsize=size)
    yy, xx = np.mgrid[0:size, 0:size]
    _, lab = tree.query(np.c_[yy.ravel() + 0.5, xx.ravel() + 0.5])
    return lab.reshape(size, size).astype(np.int64)


def colour_grains(labels: np.ndarray, n_colours: int) -> np.ndarray:
    """A colour (order parameter) per grain label such that no two grains that touch
    (periodically, edges or corners) share one: greedy colouring, largest degree first.
    Raises :class:`UserError` when ``n_colours`` is too few."""
    n = int(labels.max()) + 1
    pairs = set()
    for shift in ((0, 1), (1, 0), (1, 1), (1, -1)):  # corners touch too
        other = np.roll(labels, shift, axis=(0, 1))
        diff = labels != other
        for a, b in zip(labels[diff].ravel(), other[diff].ravel(), strict=True):
            pairs.add((min(a, b), max(a, b)))
    neighbours: list[set[int]] = [set() for _ in range(n)]
    for a, b in pairs:
        neighbours[a].add(b)
        neighbours[b].add(a)
    colour = np.full(n, -1, dtype=np.int64)
    for g in sorted(range(n), key=lambda g: -len(neighbours[g])):
        used = {int(colour[h]) for h in neighbours[g] if colour[h] >= 0}
        free = [c for c in range(n_colours) if c not in used]
        if not free:
            raise UserError(
                f"{n_colours} order parameters cannot colour these grains apart; give more"
            )
        colour[g] = free[0]
    return colour
