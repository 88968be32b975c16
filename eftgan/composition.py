"""Compositions: parse formulas, fraction maps and pymatgen Compositions; validate; normalise.

Compositions in the API are atomic fractions that sum to 1, as ``dict[str, float]`` with
canonical element symbols.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from eftgan.elements import canonical_symbol
from eftgan.errors import UnknownElementError, UserError

CompositionLike = Any  # str formula, Mapping[str, float], or pymatgen Composition


def parse_composition(comp: CompositionLike) -> dict[str, float]:
    """Atomic fractions of a formula (``"Fe0.3Ni0.7"``, ``"NiFe3"``), a dict or a Composition.

    Raises :class:`UserError` for an unreadable formula, negative or all-zero amounts, and
    :class:`UnknownElementError` for a symbol that is no element.
    """
    from pymatgen.core import Composition

    if isinstance(comp, Composition):
        amounts = {str(el): float(v) for el, v in comp.get_el_amt_dict().items()}
    elif isinstance(comp, Mapping):
        amounts = {}
        for k, v in comp.items():
            sym = canonical_symbol(str(k))
            if sym in amounts:
                raise UserError(f"element {sym} appears twice in composition {dict(comp)}")
            try:
                amounts[sym] = float(v)
            except (TypeError, ValueError):
                raise UserError(
                    f"the amount of {sym} in a composition is {v!r}, not a number"
                ) from None
    elif isinstance(comp, str):
        text = comp.strip()
        if not text:
            raise UserError("empty composition: give a formula such as FeNiCoCrMn")
        try:
            parsed = Composition(text)
        except Exception:
            raise UserError(
                f"cannot read composition {comp!r}: write a formula such as "
                "'FeNiCoCrMn' or 'Fe0.3Ni0.3Co0.4'"
            ) from None
        amounts = {}
        for el, v in parsed.get_el_amt_dict().items():
            amounts[canonical_symbol(str(el))] = float(v)
    else:
        raise UserError(f"cannot read composition of type {type(comp).__name__}")
    if not all(math.isfinite(v) for v in amounts.values()):
        raise UserError(f"composition {comp!r} has an infinite or NaN amount")
    if any(v < 0 for v in amounts.values()):
        raise UserError(f"composition {comp!r} has a negative amount")
    total = sum(amounts.values())
    if not math.isfinite(total) or total <= 0:
        raise UserError(f"composition {comp!r} has no positive amount")
    return {k: v / total for k, v in amounts.items() if v > 0}


def check_elements(fractions: Mapping[str, float], supported: Sequence[str], what: str) -> None:
    """Raise :class:`UnknownElementError` if ``fractions`` holds elements outside ``supported``."""
    extra = sorted(set(fractions) - set(supported))
    if extra:
        raise UnknownElementError(
            f"{what} contains {', '.join(extra)}, which this model was not trained on; "
            f"it supports {', '.join(supported)}"
        )


def fraction_vector(fractions: Mapping[str, float], elements: Sequence[str]) -> np.ndarray:
    """Fractions as a vector over ``elements`` (missing elements are 0)."""
    return np.array([fractions.get(e, 0.0) for e in elements], dtype=np.float64)


def composition_key(fractions: Mapping[str, float], decimals: int = 4) -> str:
    """A stable text key for a composition (elements sorted, fractions rounded)."""
    return " ".join(f"{e}{round(fractions[e], decimals):g}" for e in sorted(fractions))


def n_components(fractions: Mapping[str, float], tol: float = 1e-9) -> int:
    """Number of elements whose fraction exceeds ``tol`` (2 for a binary, 5 for a quinary)."""
    return sum(1 for v in fractions.values() if v > tol)


def formula(fractions: Mapping[str, float], order: Iterable[str] | None = None) -> str:
    """A readable formula like ``Fe0.2Ni0.2Co0.2Cr0.2Mn0.2``."""
    keys = list(order) if order is not None else sorted(fractions)
    return "".join(f"{e}{fractions[e]:.3g}" for e in keys if fractions.get(e, 0) > 0)


def grid_divisions(step: float) -> int:
    """Number of steps in 1 for a grid step; :class:`UserError` unless the step divides 1."""
    if not (0 < step <= 1):
        raise UserError(f"grid step {step} must be in (0, 1]")
    n = int(round(1.0 / step))
    if abs(n * step - 1.0) > 1e-9:
        raise UserError(f"grid step {step} does not divide 1; use e.g. 0.05, 0.02 or 0.01")
    return n


def parse_bounds(text: str | None, elements: Sequence[str]) -> dict[str, tuple[float, float]]:
    """Parse ``"Mn:0-0.35,Cr:0.1-0.3"`` into ``{element: (lower, upper)}`` atomic fractions."""
    out: dict[str, tuple[float, float]] = {}
    if not text:
        return out
    for part in text.split(","):
        try:
            el, rng = part.split(":")
            lo_s, hi_s = rng.split("-")
            out[el] = (float(lo_s), float(hi_s))
        except ValueError:
            raise UserError(
                f"cannot read bound {part!r}: write ELEMENT:LOW-HIGH, e.g. Mn:0-0.35"
            ) from None
    return check_bounds(out, elements)


def check_bounds(
    bounds: Mapping[str, tuple[float, float]], elements: Sequence[str]
) -> dict[str, tuple[float, float]]:
    """``bounds`` with canonical element symbols, checked: each element among ``elements`` and
    ``0 <= lower <= upper <= 1`` (a :class:`UserError` otherwise)."""
    out: dict[str, tuple[float, float]] = {}
    for el, (lo, hi) in bounds.items():
        sym = canonical_symbol(el)
        if sym not in elements:
            raise UserError(
                f"bound on {sym}, which is not among the elements {', '.join(elements)}"
            )
        if not (0 <= lo <= hi <= 1):
            raise UserError(f"bound {sym}:{lo:g}-{hi:g} must satisfy 0 <= LOW <= HIGH <= 1")
        out[sym] = (float(lo), float(hi))
    return out


def simplex_grid(
    elements: Sequence[str],
    step: float,
    bounds: Mapping[str, tuple[float, float]] | None = None,
    chunk: int = 8192,
) -> Iterator[np.ndarray]:
    """All compositions on a simplex grid, streamed as arrays of shape (<= chunk, n_elements).

    Fractions are multiples of ``step`` and sum to 1 (pure elements and sub-systems included);
    ``bounds`` restrict elements to ``[lower, upper]``. Memory stays at one chunk whatever the
    grid size (five elements at step 0.01 are 4,598,126 compositions).
    """
    n = grid_divisions(step)
    k = len(elements)
    if k < 2:
        raise UserError("a composition grid needs at least two elements")
    bounds = bounds or {}
    lo = np.array([int(np.ceil(bounds.get(e, (0.0, 1.0))[0] * n - 1e-9)) for e in elements])
    hi = np.array([int(np.floor(bounds.get(e, (0.0, 1.0))[1] * n + 1e-9)) for e in elements])
    buf: list[np.ndarray] = []
    size = 0

    def prefixes(i: int, remaining: int, prefix: list[int]) -> Iterator[tuple[list[int], int]]:
        if i == k - 2:
            yield prefix, remaining
            return
        top = min(hi[i], remaining - lo[i + 1 :].sum())
        for v in range(lo[i], top + 1):
            prefix.append(v)
            yield from prefixes(i + 1, remaining - v, prefix)
            prefix.pop()

    for prefix, r in prefixes(0, n, []):
        a = np.arange(max(lo[k - 2], r - hi[k - 1]), min(hi[k - 2], r - lo[k - 1]) + 1)
        if a.size == 0:
            continue
        block = np.empty((a.size, k), dtype=np.int64)
        block[:, : k - 2] = prefix
        block[:, k - 2] = a
        block[:, k - 1] = r - a
        buf.append(block)
        size += a.size
        if size >= chunk:
            allb = np.concatenate(buf)
            for s in range(0, len(allb) - len(allb) % chunk, chunk):
                yield allb[s : s + chunk] / n
            rest = allb[len(allb) - len(allb) % chunk :]
            buf, size = ([rest], len(rest)) if len(rest) else ([], 0)
    if size:
        yield np.concatenate(buf) / n
