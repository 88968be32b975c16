"""Rock compositions as geochemists report them: oxide closure of a LIBS composition.

A LIBS spectrum of a rock shows its cations (Si, Al, Fe, ...) but not how much oxygen binds
them: the oxygen lines are shared with the ambient gas and fitted as a nuisance species. A
calibration-free analysis therefore gives the cations' mass ratios only. Geochemistry
reports the whole rock, either as element mass fractions of the whole rock (oxygen
included, so the cations sum to well under 100 %) or as oxides (SiO2, Al2O3, ...) summing
to 100 %. Both follow from the ratios once each cation is assigned its usual oxide
(:data:`OXIDES`, total iron as Fe2O3 as in the USGS certificates): with ``w_e`` the
cations' mass fractions (any scale) and ``f_e = M(oxide) / (n M(e))`` the mass of oxide
per mass of cation, the whole rock is ``w_e / sum_k w_k f_k`` and the oxides are
``w_e f_e / sum_k w_k f_k``. An element with no usual oxide here (a halogen, a noble
metal, or one missing from the table) is counted as the element itself (``f_e = 1``).
"""

from __future__ import annotations

from collections.abc import Mapping

#: The oxide each cation is reported as: (cations, oxygens) per formula unit.
OXIDES: dict[str, tuple[int, int]] = {
    "Si": (1, 2), "Ti": (1, 2), "Al": (2, 3), "Fe": (2, 3), "Mn": (1, 1), "Mg": (1, 1),
    "Ca": (1, 1), "Na": (2, 1), "K": (2, 1), "P": (2, 5), "Cr": (2, 3), "Ni": (1, 1),
    "Cu": (1, 1), "Zn": (1, 1), "Li": (2, 1), "Sr": (1, 1), "Ba": (1, 1), "Co": (1, 1),
    "V": (2, 5), "Rb": (2, 1), "Zr": (1, 2), "S": (1, 3), "Cl": (1, 0), "F": (1, 0),
    "C": (1, 2), "H": (2, 1), "B": (2, 3), "Be": (1, 1), "Sc": (2, 3), "Y": (2, 3),
    "Nb": (2, 5), "Mo": (1, 3), "W": (1, 3), "Pb": (1, 1), "Sn": (1, 2), "La": (2, 3),
    "Ce": (1, 2), "Nd": (2, 3), "Th": (1, 2), "U": (1, 2), "Ga": (2, 3), "Ge": (1, 2),
    "Cs": (2, 1), "Hf": (1, 2), "Ta": (2, 5), "Ag": (2, 1), "Au": (1, 0), "Pt": (1, 0),
}  # fmt: skip
OXYGEN_MASS = 15.999


def oxide_name(element: str) -> str:
    """The oxide's formula, e.g. ``Al2O3``; the element itself where no oxygen binds it."""
    n_cat, n_ox = OXIDES.get(element, (1, 0))
    if n_ox == 0:
        return element
    fmt = lambda sym, n: sym if n == 1 else f"{sym}{n}"  # noqa: E731
    return fmt(element, n_cat) + fmt("O", n_ox)


def oxide_factor(element: str) -> float:
    """Mass of the oxide per unit mass of its cation (1 for an element without one)."""
    from pymatgen.core import Element

    n_cat, n_ox = OXIDES.get(element, (1, 0))
    if n_ox == 0:
        return 1.0
    m = float(Element(element).atomic_mass)
    return (n_cat * m + n_ox * OXYGEN_MASS) / (n_cat * m)


def oxide_closure(wt: Mapping[str, float]) -> tuple[dict[str, float], dict[str, float]]:
    """From the cations' mass fractions (any scale), the whole rock's element wt % (oxygen
    by stoichiometry, so the cations sum to under 100) and the oxides' wt % (summing to 100,
    keyed by element, since an element without an oxide keeps its own symbol)."""
    factor = {e: oxide_factor(e) for e in wt}
    total = sum(max(float(w), 0.0) * factor[e] for e, w in wt.items())
    if total <= 0:
        return {e: 0.0 for e in wt}, {e: 0.0 for e in wt}
    rock = {e: 100.0 * max(float(w), 0.0) / total for e, w in wt.items()}
    return rock, {e: rock[e] * factor[e] for e in wt}
