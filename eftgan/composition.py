"""Compositions: parse formulas, fraction maps and pymatgen Compositions; validate; normalise.

Compositions in the API are atomic fractions that sum to 1, as ``dict[str, float]`` with
canonical element symbols.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
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
            amounts[sym] = float(v)
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
    if any(v < 0 for v in amounts.values()):
        raise UserError(f"composition {comp!r} has a negative amount")
    total = sum(amounts.values())
    if total <= 0:
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
    return sum(1 for v in fractions.values() if v > tol)


def formula(fractions: Mapping[str, float], order: Iterable[str] | None = None) -> str:
    """A readable formula like ``Fe0.2Ni0.2Co0.2Cr0.2Mn0.2``."""
    keys = list(order) if order is not None else sorted(fractions)
    return "".join(f"{e}{fractions[e]:.3g}" for e in keys if fractions.get(e, 0) > 0)
