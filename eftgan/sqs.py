"""Special quasirandom structures (SQS): small periodic cells that mimic a random alloy.

A chemically disordered alloy has, on average, no correlation between the species on
neighbouring sites. A periodic supercell of ``N`` sites can only approximate that: the SQS of
Zunger et al. (Phys. Rev. Lett. 65, 353, 1990) is the arrangement of the given atom counts
whose pair correlations in the first few neighbour shells are closest to those of the random
alloy. Here the distance to random is measured with the Warren-Cowley parameters

    alpha_s(a, b) = 1 - P_s(b | a) / x_b,

the relative deficit of ``b`` neighbours around an ``a`` atom in shell ``s`` (0 for the random
alloy, negative for ordering, positive for clustering). The search minimises
``sum_s w_s sum_ab (x_a x_b alpha_s(a, b))^2`` (the squared deviation of the pair
probabilities from ``x_a x_b``, weights ``w_s = 1/s``) by simulated annealing over swaps of two
unlike atoms, and keeps the best arrangement met. The largest ``|alpha|`` of each shell is
recorded beside every structure; in a small cell a dilute element cannot reach 0 exactly.

Supercells are built from the primitive fcc or bcc cell with the Hermite-normal-form matrix of
determinant ``N`` whose cell is most compact (largest shortest lattice vector, i.e. the farthest
periodic image), so any ``N`` works, not only multiples of the cubic cell; a composition
whose atom counts are not whole numbers on ``N`` sites has no site assignment and is refused
with the sizes that would work.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache

import numpy as np

from eftgan.errors import UserError

__all__ = [
    "SQS_PHASES",
    "Sqs",
    "make_sqs",
    "sample_compositions",
    "site_counts",
    "supercell_matrix",
]

#: Primitive cells in units of the cubic lattice constant ``a`` (rows are cell vectors).
PRIMITIVE = {
    "fcc": 0.5 * np.array([[0.0, 1.0, 1.0], [1.0, 0.0, 1.0], [1.0, 1.0, 0.0]]),
    "bcc": 0.5 * np.array([[-1.0, 1.0, 1.0], [1.0, -1.0, 1.0], [1.0, 1.0, -1.0]]),
}
SQS_PHASES = tuple(PRIMITIVE)
#: Neighbour-shell radii in units of ``a`` (first three shells).
SHELLS = {
    "fcc": (math.sqrt(0.5), 1.0, math.sqrt(1.5)),
    "bcc": (math.sqrt(0.75), 1.0, math.sqrt(2.0)),
}
MAX_SIZE = 512


@dataclass
class Sqs:
    """A special quasirandom structure and how random it is.

    Attributes:
        structure: the pymatgen ``Structure`` on the ideal lattice.
        alpha_max: largest ``|alpha_s(a, b)|`` per shell (first, second, third).
        objective: the minimised weighted squared deviation from random.
    """

    structure: object
    alpha_max: tuple[float, ...]
    objective: float


def site_counts(fractions: Mapping[str, float], n_sites: int) -> dict[str, int]:
    """Whole atom counts of ``fractions`` on ``n_sites`` sites.

    Raises:
        UserError: the counts are not whole numbers; the message names the smallest sizes
            that would work.
    """
    counts = {e: x * n_sites for e, x in fractions.items() if x > 0}
    if all(abs(c - round(c)) < 1e-6 for c in counts.values()):
        return {e: round(c) for e, c in counts.items()}
    fits = [n for n in range(1, MAX_SIZE + 1) if _fits(fractions, n)]
    hint = (
        f"sizes that would work: {', '.join(str(n) for n in fits[:4])}"
        if fits
        else f"no size up to {MAX_SIZE} works; round the fractions"
    )
    raise UserError(
        f"composition {_formula(fractions)} has no site assignment on {n_sites} sites "
        f"(atom counts {', '.join(f'{e} {c:.2f}' for e, c in counts.items())}); {hint} "
        "(--size)"
    )


def _fits(fractions: Mapping[str, float], n: int) -> bool:
    return all(abs(x * n - round(x * n)) < 1e-6 for x in fractions.values())


def _formula(fractions: Mapping[str, float]) -> str:
    return "".join(f"{e}{x:.4g}" for e, x in fractions.items() if x > 0)


def smallest_size(fractions: Mapping[str, float], at_least: int) -> int:
    """The smallest number of sites ``>= at_least`` on which ``fractions`` are whole counts."""
    den = math.lcm(
        *(Fraction(x).limit_denominator(MAX_SIZE).denominator for x in fractions.values())
    )
    return den * math.ceil(at_least / den)


@lru_cache(maxsize=64)
def supercell_matrix(phase: str, n_sites: int) -> tuple[tuple[int, ...], ...]:
    """The Hermite-normal-form supercell of ``n_sites`` primitive cells with the largest
    shortest periodic image distance (ties: the first in enumeration order)."""
    prim = PRIMITIVE[phase]
    best, best_len = None, -1.0
    for h in _hnf_matrices(n_sites):
        length = _shortest_vector(h @ prim)
        if length > best_len + 1e-9:
            best, best_len = h, length
    assert best is not None
    return tuple(tuple(int(v) for v in row) for row in best)


def _hnf_matrices(n: int):
    """All lower-triangular Hermite normal forms of determinant ``n`` (rows are the supercell
    vectors in primitive coordinates; each off-diagonal entry reduced modulo its column's
    diagonal entry, which adding multiples of the rows above allows)."""
    for a in (d for d in range(1, n + 1) if n % d == 0):
        for c in (d for d in range(1, n // a + 1) if (n // a) % d == 0):
            f = n // (a * c)
            for b, d, e in itertools.product(range(a), range(a), range(c)):
                yield np.array([[a, 0, 0], [b, c, 0], [d, e, f]], dtype=float)


def _shortest_vector(cell: np.ndarray) -> float:
    """Length of the shortest non-zero lattice vector (combinations -2..2 of a reduced cell)."""
    from pymatgen.core import Lattice

    red = Lattice(cell).get_lll_reduced_lattice().matrix
    combos = np.array([c for c in itertools.product(range(-2, 3), repeat=3) if any(c)])
    return float(np.min(np.linalg.norm(combos @ red, axis=1)))


def ideal_supercell(phase: str, n_sites: int, a: float):
    """``n_sites`` sites of the ``phase`` lattice with cubic constant ``a`` (Å), LLL-reduced and
    right-handed (:func:`eftgan.lattice.right_handed`)."""
    from pymatgen.core import Lattice, Structure

    from eftgan.lattice import right_handed

    if phase not in PRIMITIVE:
        raise UserError(f"unknown phase {phase!r}; SQS are built on {', '.join(SQS_PHASES)}")
    prim = Structure(Lattice(PRIMITIVE[phase] * a), ["X0+"], [[0.0, 0.0, 0.0]])
    prim.make_supercell(np.array(supercell_matrix(phase, n_sites)))
    return right_handed(prim.get_reduced_structure("LLL"))


def _shell_bonds(structure, phase: str, a: float) -> list[np.ndarray]:
    """Per shell, the directed site pairs ``(2, bonds)`` at that distance (images included)."""
    radii = SHELLS[phase]
    i, j, _, d = structure.get_neighbor_list(radii[-1] * a + 0.05 * a)
    return [np.vstack([i[m], j[m]]) for m in (np.abs(d - r * a) < 0.05 * a for r in radii)]


def _pair_probabilities(species: np.ndarray, bonds: list[np.ndarray], k: int) -> np.ndarray:
    """``P_s(a, b)``: fraction of the bonds of shell ``s`` from an ``a`` to a ``b``."""
    out = np.empty((len(bonds), k, k))
    for s, b in enumerate(bonds):
        counts = np.bincount(species[b[0]] * k + species[b[1]], minlength=k * k)
        out[s] = counts.reshape(k, k) / max(b.shape[1], 1)
    return out


def _objective(p: np.ndarray, target: np.ndarray, weights: np.ndarray) -> float:
    return float(np.sum(weights[:, None, None] * (p - target) ** 2))


def warren_cowley(species: np.ndarray, bonds: list[np.ndarray], x: np.ndarray) -> np.ndarray:
    """``alpha_s(a, b) = 1 - P_s(a, b) / (x_a x_b)`` per shell, shape ``(shells, k, k)``."""
    p = _pair_probabilities(species, bonds, len(x))
    return 1.0 - p / np.outer(x, x)[None]


def anneal(
    counts: Sequence[int], bonds: list[np.ndarray], rng: np.random.Generator, steps: int
) -> np.ndarray:
    """Species index per site minimising the distance to random by simulated annealing."""
    k = len(counts)
    species = rng.permutation(np.repeat(np.arange(k), counts))
    x = np.asarray(counts, float) / sum(counts)
    target, weights = np.outer(x, x)[None], 1.0 / np.arange(1, len(bonds) + 1)
    cost = _objective(_pair_probabilities(species, bonds, k), target, weights)
    best, best_cost = species.copy(), cost
    temps = 1e-3 * np.exp(np.linspace(0.0, np.log(1e-3), steps))
    for t in temps:
        i, j = rng.integers(len(species), size=2)
        if species[i] == species[j]:
            continue
        species[[i, j]] = species[[j, i]]
        new = _objective(_pair_probabilities(species, bonds, k), target, weights)
        if new <= cost or rng.random() < math.exp((cost - new) / t):
            cost = new
            if cost < best_cost:
                best, best_cost = species.copy(), cost
        else:
            species[[i, j]] = species[[j, i]]
    return best


def make_sqs(
    fractions: Mapping[str, float],
    phase: str,
    n_sites: int,
    a: float,
    rng: np.random.Generator,
    steps: int = 4000,
) -> Sqs:
    """An SQS of ``fractions`` on ``n_sites`` sites of ``phase`` with lattice constant ``a``."""
    from pymatgen.core import Structure

    counts = site_counts(fractions, n_sites)
    elements = sorted(counts)
    cell = ideal_supercell(phase, n_sites, a)
    bonds = _shell_bonds(cell, phase, a)
    species = anneal([counts[e] for e in elements], bonds, rng, steps)
    x = np.array([counts[e] for e in elements], float) / n_sites
    alpha = warren_cowley(species, bonds, x)
    p = _pair_probabilities(species, bonds, len(elements))
    weights = 1.0 / np.arange(1, len(bonds) + 1)
    order = np.argsort(species, kind="stable")
    structure = Structure(
        cell.lattice, [elements[int(species[i])] for i in order], cell.frac_coords[order]
    )
    return Sqs(
        structure=structure,
        alpha_max=tuple(float(np.max(np.abs(a_s))) for a_s in alpha),
        objective=_objective(p, np.outer(x, x)[None], weights),
    )


def sample_compositions(
    elements: Sequence[str], n: int, n_sites: int, rng: np.random.Generator
) -> list[dict[str, float]]:
    """``n`` distinct compositions over the simplex of ``elements``, binaries to all of them.

    Equiatomic alloys come first: the whole set's always, then those of the subsets of two,
    three, ... elements (the families users screen), as long as they take at most half of
    ``n``. The rest are drawn at random: a subset size uniform over 2..len, a subset uniform
    among those, and whole atom counts on ``n_sites`` sites (at least one atom each) from a
    flat Dirichlet draw.
    """
    els = list(elements)
    if len(els) < 2:
        raise UserError("--elements needs at least two elements to sample alloys")
    seen: dict[str, dict[str, float]] = {}
    for k in [len(els), *range(2, len(els))]:
        for subset in itertools.combinations(els, k):
            if len(seen) >= max(1, n // 2):
                break
            seen.setdefault(_key(dict.fromkeys(subset, 1.0 / k)), dict.fromkeys(subset, 1.0 / k))
    tries = 0
    while len(seen) < n and tries < 100 * n:
        tries += 1
        frac = _random_counts(els, n_sites, rng)
        if frac is not None:
            seen.setdefault(_key(frac), frac)
    return list(seen.values())[:n]


def _random_counts(
    els: list[str], n_sites: int, rng: np.random.Generator
) -> dict[str, float] | None:
    k = int(rng.integers(2, len(els) + 1))
    if k > n_sites:
        return None
    subset = sorted(rng.choice(len(els), size=k, replace=False))
    raw = rng.dirichlet(np.ones(k)) * (n_sites - k)
    counts = np.floor(raw).astype(int) + 1
    for i in np.argsort(raw - np.floor(raw))[::-1][: n_sites - counts.sum()]:
        counts[i] += 1
    return {els[i]: float(c) / n_sites for i, c in zip(subset, counts, strict=True)}


def _key(fractions: Mapping[str, float]) -> str:
    return ",".join(f"{e}:{x:.6f}" for e, x in sorted(fractions.items()))
