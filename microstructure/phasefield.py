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

**Grain identity and misorientation.** Each grain keeps an id for the whole run: besides
``eta``, a field ``ids`` (B, Q, H, W) holds, for every parameter, the id of the grain of that
parameter nearest each pixel (within its diffuse edge), rebuilt at every recolouring from
the grains found then (each takes the id most of its pixels carried). :meth:`labels` is the
persistent label image. With ``GrainGrowth(misorientation=True)`` each grain has a 2D
orientation (degrees, four-fold symmetric, as a cubic grain seen along [001]) and a
boundary's energy and mobility depend on the misorientation ``d`` of the two grains that
dominate the pixel: the energy by Read and Shockley, ``sigma (d/d_m)(1 - ln(d/d_m))`` below
``d_m`` = 15 degrees (floored at a tenth), the mobility by the sigmoid of Humphreys,
``M [r + (1 - r)(1 - exp(-5 (d/d_m)^4))]``, where ``r`` is the low-angle mobility ratio.
Both scale ``m`` and ``kappa`` together (the width stays ``ell``) and ``L``, so the driving
force at a boundary is multiplied by ``E(d) * M(d) / M``; ``kappa lap eta`` stands for
``div(kappa grad eta)`` and a triple junction takes the pair of its two largest parameters,
approximations that hold where the factor varies little over a boundary's width.

Boundaries are periodic (the Laplacian is a five-point stencil on circular padding), the
time step is explicit (Euler) and checked against the stability limit
``dt <= 2 / (2 L m + 8 L kappa / dx^2)`` (the grain interior's relaxation rate plus the
five-point stencil's fastest mode); the default step is half of it. An ensemble of runs
with different ``M sigma`` (and low-angle mobility ratios) is one batch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from eftgan.errors import UserError

__all__ = [
    "GrainGrowth",
    "PhaseField",
    "boundary_factor",
    "colour_grains",
    "diffuse_fields",
    "grain_map",
    "misorientation_deg",
    "recolouring",
    "voronoi_labels",
]

GAMMA = 1.5
#: Grains of one order parameter closer than this (cells) are moved apart by recolouring.
RECOLOUR_CELLS = 12
#: A moved grain takes its field out to this many cells beyond its edge: its diffuse layer,
#: whose tail there is below 0.2 % (a residue of the old parameter at 4 cells, 6 %, sped up
#: low-angle boundaries, where it outweighed the partner grain's tail in the misorientation
#: factor).
EDGE_CELLS = 8
#: A grain's id is known this far (cells) beyond its edge, where its field is not yet zero.
ID_CELLS = EDGE_CELLS + 2
#: Steps between updates of the misorientation factor (a boundary moves ~0.01 cell a step).
FACTOR_EVERY = 10
#: The smallest Read-Shockley energy, as a fraction of the high-angle one.
ENERGY_FLOOR = 0.1


@dataclass
class GrainGrowth:
    """Physical parameters of a grain-growth run (SI units).

    Attributes:
        sigma_j_m2: boundary energy.
        mobility_m4_js: boundary mobility ``M``; a batch of runs may scale it per member.
        dx_m: grid spacing.
        width_cells: diffuse boundary width ``ell`` in grid cells (4-6 resolve it).
        n_params: order parameters ``Q`` shared among the grains.
        misorientation: boundary energy (Read-Shockley) and mobility depend on the grains'
            misorientation; ``sigma`` and ``M`` are then the high-angle values.
        low_angle_mobility_ratio: ``r``, the mobility of a low-angle boundary over ``M``.
        high_angle_deg: ``d_m``, where a boundary becomes high-angle.
    """

    sigma_j_m2: float = 0.5
    mobility_m4_js: float = 1e-12
    dx_m: float = 1e-6
    width_cells: float = 5.0
    n_params: int = 16
    misorientation: bool = False
    low_angle_mobility_ratio: float = 1.0
    high_angle_deg: float = 15.0

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

    def stable_dt_s(self, mobility_scale: float = 1.0, ratio: float | None = None) -> float:
        """The largest stable explicit time step (s) for the fastest boundary: ``M`` times
        ``mobility_scale`` (the largest of a batch), times the low-angle ratio ``ratio``
        (default this run's) where misorientation is on and the ratio exceeds 1."""
        m, kappa, ell_l = self.coefficients()
        r = self.low_angle_mobility_ratio if ratio is None else ratio
        ell_l = ell_l * mobility_scale * (max(1.0, r) if self.misorientation else 1.0)
        # explicit Euler: dt times the largest rate, 2 L m (the bulk's curvature) plus
        # 8 L kappa / dx^2 (the stencil's checkerboard mode), at most 2
        return 2 / (2 * ell_l * m + 8 * ell_l * kappa / self.dx_m**2)


class PhaseField:
    """A batch of grain structures and their evolution.

    ``eta`` is (B, Q, H, W); ``ids`` (B, Q, H, W) the grain id each parameter carries near
    each pixel (-1: none); ``mobility_scale`` (B,) multiplies ``M`` per member and
    ``mobility_ratio`` (B,) sets each member's low-angle mobility ratio, so one batch can
    hold an ensemble of parameters. ``orientations_deg`` (B, G) gives grain ``g``'s
    orientation in member ``b`` (needed with ``params.misorientation``)."""

    def __init__(
        self,
        params: GrainGrowth,
        eta: torch.Tensor,
        dt_s: float | None = None,
        mobility_scale: torch.Tensor | None = None,
        mobility_ratio: torch.Tensor | None = None,
        ids: torch.Tensor | None = None,
        orientations_deg: torch.Tensor | None = None,
    ) -> None:
        self.p = params
        self.eta = eta
        b = eta.shape[0]
        self.scale = self._per_member(mobility_scale, 1.0)
        self.ratio = self._per_member(mobility_ratio, params.low_angle_mobility_ratio)
        self.ids = ids.to(eta.device) if ids is not None else self._ids_from_fields()
        self.orient = None
        if params.misorientation:
            if orientations_deg is None:
                raise ValueError("misorientation needs the grains' orientations_deg")
            self.orient = orientations_deg.to(eta).reshape(b, -1)
        limit = params.stable_dt_s(float(self.scale.max()), float(self.ratio.max()))
        self.dt_s = 0.5 * limit if dt_s is None else dt_s
        if self.dt_s > limit:
            raise UserError(
                f"time step {self.dt_s:.3g} s is beyond the stability limit; the largest "
                f"stable step is {limit:.3g} s"
            )
        self.time_s = 0.0

    def _per_member(self, value: torch.Tensor | None, default: float) -> torch.Tensor:
        b = self.eta.shape[0]
        if value is None:
            value = torch.full((b,), default)
        return value.to(self.eta).reshape(b, 1, 1, 1)

    def _ids_from_fields(self) -> torch.Tensor:
        """Ids for fields given without them: each grain found now gets a new one."""
        out = []
        for one in self.eta.cpu().numpy():
            grains, colour = grain_map(one)
            out.append(id_field(grains, colour, np.arange(len(colour)), one.shape[0]))
        return torch.from_numpy(np.stack(out)).to(self.eta.device)

    @classmethod
    def from_labels(
        cls,
        labels: np.ndarray,
        params: GrainGrowth,
        device: str = "cpu",
        orientations_deg: np.ndarray | None = None,
        seed: int = 0,
        **kw,
    ) -> PhaseField:
        """Initial grains from a label image (H, W) or a batch (B, H, W) of grain ids
        (0 .. G-1, gaps allowed): each grain gets the parameter of its colour
        (:func:`colour_grains`), with the relaxed profile across its boundary
        (:func:`diffuse_fields`), and keeps its label as its id. With ``params.misorientation``
        the orientations (G,) or (B, G) in degrees are drawn uniformly (from ``seed``) when
        not given."""
        lab = np.asarray(labels)
        lab = lab[None] if lab.ndim == 2 else lab
        q = params.n_params
        eta = np.zeros((lab.shape[0], q, *lab.shape[1:]), dtype=np.float32)
        ids = np.zeros(eta.shape, dtype=np.int64)
        for k, one in enumerate(lab):
            colour = colour_grains(one, q)
            eta[k] = diffuse_fields(colour[one], q, params.width_cells)
            ids[k] = id_field(one, colour, np.arange(len(colour)), q)
        if params.misorientation:
            if orientations_deg is None:
                rng = np.random.default_rng(seed)
                orientations_deg = rng.uniform(0, 90, int(lab.max()) + 1)
            orient = np.broadcast_to(
                orientations_deg, (lab.shape[0], np.shape(orientations_deg)[-1])
            )
            kw["orientations_deg"] = torch.tensor(np.ascontiguousarray(orient))
        return cls(params, torch.from_numpy(eta).to(device), ids=torch.from_numpy(ids), **kw)

    def step(self, n: int = 1) -> None:
        """``n`` explicit Euler steps of the Allen-Cahn equations. On a CPU the members go
        one at a time through all ``n`` steps (a 256^2 member stays in the cache, a batch
        does not); on CUDA the batch goes at once."""
        chunks = (
            [slice(None)] if self.eta.is_cuda else [slice(k, k + 1) for k in range(len(self.eta))]
        )
        for sl in chunks:
            self.eta[sl] = self._advance(sl, n)
        self.time_s += n * self.dt_s

    def _advance(self, sl: slice, n: int) -> torch.Tensor:
        m, kappa, ell_l = self.p.coefficients()
        e = self.eta[sl]
        stencil = _laplacian_kernel(e.shape[1], self.p.dx_m, e)
        lk = self.dt_s * ell_l * self.scale[sl]
        rate = lk
        for i in range(n):
            if self.orient is not None and i % FACTOR_EVERY == 0:
                rate = lk * self.boundary_factor(e, sl)
            sq = e * e
            lap = F.conv2d(F.pad(e, (1, 1, 1, 1), mode="circular"), stencil, groups=e.shape[1])
            # eta (eta^2 - 1 + 2 gamma (sum_j eta_j^2 - eta^2)), in place where it can be
            bulk = (2 * GAMMA * sq.sum(1, keepdim=True) - 1).add(sq, alpha=1 - 2 * GAMMA)
            e = bulk.mul_(e).mul_(m).sub_(lap, alpha=kappa).mul_(-rate).add_(e)
        return e

    def boundary_factor(self, eta: torch.Tensor, sl: slice = slice(None)) -> torch.Tensor:
        """``E(d) M(d) / M`` (B, 1, H, W) at each pixel of the members ``sl`` (fields
        ``eta``), for the misorientation ``d`` of the grains of its two largest parameters
        (see the module)."""
        assert self.orient is not None
        top = eta.topk(2, dim=1).indices
        gid = self.ids[sl].gather(1, top).clamp_min(0)
        theta = torch.gather(self.orient[sl], 1, gid.flatten(1)).view(gid.shape)
        d = misorientation_deg(theta[:, :1], theta[:, 1:])
        return boundary_factor(d, self.ratio[sl], self.p.high_angle_deg)

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
        neither a neighbour nor a partner of the old parameter is cut into. The id field is
        rebuilt from the grains found, moved or not."""
        moved = 0
        for k in range(self.eta.shape[0]):
            grains, colour = grain_map(self.eta[k].cpu().numpy())
            gid = component_ids(grains, colour, self.ids[k].cpu().numpy())
            moves = recolouring(grains, colour, self.eta.shape[1])
            self._move(k, grains, colour, moves)
            for g, new in moves:
                colour[g] = new
            field = id_field(grains, colour, gid, self.eta.shape[1])
            self.ids[k] = torch.from_numpy(field).to(self.ids.device)
            moved += len(moves)
        return moved

    def _move(
        self, k: int, grains: np.ndarray, colour: np.ndarray, moves: list[tuple[int, int]]
    ) -> None:
        """Carry the fields of the grains in ``moves`` of member ``k`` to their new
        parameters."""
        if not moves:
            return
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
        for region, old, new in regions:  # the new parameter may hold a far grain's tail
            self.eta[k, new][region] = torch.maximum(self.eta[k, new][region], src[old][region])

    def labels(self) -> torch.Tensor:
        """The persistent grain id of each pixel (that of its dominant parameter), (B, H, W)."""
        return self.ids.gather(1, self.eta.argmax(1, keepdim=True))[:, 0]

    def area_of(self, param: int) -> torch.Tensor:
        """Area (m^2) where ``eta_param`` exceeds 1/2, per member, (B,)."""
        return (self.eta[:, param] > 0.5).sum((-1, -2)).to(torch.float64) * self.p.dx_m**2


def _laplacian_kernel(q: int, dx_m: float, like: torch.Tensor) -> torch.Tensor:
    """The five-point Laplacian (1/m^2) as a depthwise 3 x 3 kernel for ``q`` channels."""
    k = torch.tensor([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]]) / dx_m**2
    return k.to(like).expand(q, 1, 3, 3).contiguous()


def misorientation_deg(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """The misorientation (0-45 degrees) of 2D orientations ``a`` and ``b`` (degrees) of a
    four-fold symmetric lattice."""
    d = torch.remainder(a - b, 90.0)
    return torch.minimum(d, 90.0 - d)


def boundary_factor(
    d_deg: torch.Tensor, ratio: torch.Tensor | float, high_angle_deg: float = 15.0
) -> torch.Tensor:
    """``E(d) M(d) / M``: the Read-Shockley energy (floored at :data:`ENERGY_FLOOR`) times
    the Humphreys mobility ``r + (1 - r)(1 - exp(-5 (d/d_m)^4))`` of a boundary of
    misorientation ``d``, both relative to a high-angle boundary."""
    x = d_deg / high_angle_deg
    low = x.clamp(1e-6, 1.0)  # Read-Shockley holds below d_m, constant above
    energy = (low * (1 - torch.log(low))).clamp_min(ENERGY_FLOOR)
    mobility = ratio + (1 - ratio) * (1 - torch.exp(-5 * x**4))
    return energy * mobility


def diffuse_fields(param_of_pixel: np.ndarray, q: int, width_cells: float) -> np.ndarray:
    """The order parameters (Q, H, W) of grains whose parameter per pixel is
    ``param_of_pixel``, each with the relaxed profile ``(1 + tanh(2 s / ell)) / 2`` of its
    signed distance ``s`` to the boundary (cells, on the periodic grid): the profile a flat
    boundary of the model relaxes to (``ell/2`` within 2 %, measured), so that a run from a
    label image starts without the transient a sharp start has, and boundaries start where
    the labels put them."""
    out = np.zeros((q, *param_of_pixel.shape), dtype=np.float32)
    reach = int(math.ceil(1.5 * width_cells))
    for c in np.unique(param_of_pixel):
        mask = param_of_pixel == c
        inside, _ = _periodic_edt(~mask, reach + 1)
        outside, _ = _periodic_edt(mask, reach + 1)
        s = np.where(mask, inside - 0.5, 0.5 - outside)
        eta = 0.5 * (1 + np.tanh(2 * s / width_cells))
        out[c] = np.where(s > -reach, eta, 0.0)
    return out


def component_ids(grains: np.ndarray, colour: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """The id of each grain found (:func:`grain_map`): the id most of its pixels carry in
    the id field ``ids`` (Q, H, W) of its parameter."""
    at = np.take_along_axis(ids, colour[grains][None], 0)[0]
    span = int(at.max()) + 2
    keys, counts = np.unique(grains.ravel() * span + at.ravel() + 1, return_counts=True)
    comp = keys // span
    order = np.lexsort((counts, comp))
    comp_sorted = comp[order]
    last = np.r_[comp_sorted[1:] != comp_sorted[:-1], True]
    out = np.full(len(colour), -1, dtype=np.int64)
    out[comp_sorted[last]] = keys[order][last] % span - 1
    return out


def id_field(grains: np.ndarray, colour: np.ndarray, gid: np.ndarray, q: int) -> np.ndarray:
    """For every parameter, the id ``gid`` of its grain nearest each pixel within
    :data:`ID_CELLS` cells (-1 beyond), (Q, H, W)."""
    out = np.full((q, *grains.shape), -1, dtype=np.int64)
    of_pixel = colour[grains]
    for c in np.unique(of_pixel):
        d, (ri, ci) = _periodic_edt(of_pixel == c, ID_CELLS + 1)
        near = d <= ID_CELLS
        out[c][near] = gid[grains[ri, ci]][near]
    return out


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
