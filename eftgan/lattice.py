"""Which cubic lattice a (relaxed, chemically disordered) structure resembles.

The order parameter compares nearest-neighbour shells atom by atom. With the distances to the 14
nearest neighbours sorted, ``ratio = mean(d9..d12) / mean(d1..d8)`` is 1 on an fcc lattice (12
equal first neighbours) and 2/sqrt(3) = 1.1547 on a bcc lattice (8 first, then 6 second
neighbours). ``eta = (ratio - 1) / (2/sqrt(3) - 1)`` is therefore 0 for fcc and 1 for bcc; the
median over atoms is robust to the local distortions of a relaxed special quasirandom structure.

The SQS supercells of the DFT table are built from the cubic cell of their starting lattice: each
cell vector is a combination of half-integer multiples of the cubic lattice constant ``a``, and
every site sits on the grid of half-integer positions (in units of ``a``). Relaxation changes the
cell (a homogeneous strain) and moves the atoms off their sites (the local lattice distortion of
a chemically disordered alloy). With ``a`` from the volume per atom (``a^3 = 4 V/N`` on fcc,
``2 V/N`` on bcc), ``vec = lattice / a`` and the nearest ideal cell ``A = round(2 vec) / 2``:

* :func:`cell_strain` is ``max |vec - A|``, how far the cell vectors moved from the ideal cell,
  in units of ``a``. It is a few hundredths after an ordinary relaxation; a cell that left its
  lattice (for instance fcc to bcc along the Bain path, a shear of order 0.2-0.3 ``a``) shows a
  large value. By construction it cannot exceed 0.25: a larger shear aliases onto another ideal
  cell, which then no longer holds ``N`` sites.
* :func:`local_distortion` maps the fractional coordinates onto the ideal cell ``A`` (removing
  the homogeneous strain), subtracts the nearest grid sites and the mean displacement (the rigid
  translation), and returns the root-mean-square displacement in Å, converted back through the
  relaxed cell. It is the ``rmsd_angstrom`` label of the DFT table wherever the cell kept its
  lattice; where it did not, the label measures the transformation instead.
"""

from __future__ import annotations

import math

import numpy as np

BCC_RATIO = 2.0 / math.sqrt(3.0)


def lattice_order_parameter(structure) -> float:
    """Median fcc (0) to bcc (1) order parameter of a periodic structure; NaN if undefined."""
    n = len(structure)
    if n == 0:
        return math.nan
    vpa = structure.volume / n
    cutoff = 1.9 * vpa ** (1.0 / 3.0)
    center, _, _, dist = structure.get_neighbor_list(cutoff)
    order = np.lexsort((dist, center))
    center, dist = center[order], dist[order]
    counts = np.bincount(center, minlength=n)
    if counts.min() < 14:
        return math.nan
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    idx = starts[:, None] + np.arange(14)[None, :]
    d = dist[idx]
    ratio = d[:, 8:12].mean(axis=1) / d[:, :8].mean(axis=1)
    return float(np.median((ratio - 1.0) / (BCC_RATIO - 1.0)))


def classify_phase(structure) -> tuple[str | None, float]:
    """``("fcc" | "bcc", eta)`` by the nearer ideal lattice, or ``(None, nan)`` if undefined."""
    eta = lattice_order_parameter(structure)
    if not math.isfinite(eta):
        return None, eta
    return ("bcc" if eta >= 0.5 else "fcc"), eta


#: conventional cubic cell of each starting lattice: atoms per cell
ATOMS_PER_CUBIC_CELL = {"fcc": 4, "bcc": 2}


def _ideal_cell(structure, phase: str | None) -> tuple[float, np.ndarray, np.ndarray] | None:
    """``(a, vec, A)``: lattice constant (Å), cell vectors and nearest ideal cell (units of a).

    ``a`` is the cubic lattice constant that gives the cell's volume per atom on the starting
    lattice, so ``vec = lattice / a`` carries only the shape change of the cell and ``A`` is
    the nearest cell whose vectors are half-integer combinations of the cubic axes. None when
    the phase is not fcc/bcc, the structure is empty or the ideal cell is singular.
    """
    per_cell = ATOMS_PER_CUBIC_CELL.get(phase or "")
    n = len(structure)
    if per_cell is None or n == 0 or not structure.volume > 0:
        return None
    a = (per_cell * structure.volume / n) ** (1.0 / 3.0)
    vec = np.asarray(structure.lattice.matrix, dtype=np.float64) / a
    ideal = np.round(2.0 * vec) / 2.0
    if abs(np.linalg.det(ideal)) < 1.0 / 16.0:  # a nonzero det is a multiple of 1/8
        return None
    return a, vec, ideal


def cell_strain(structure, phase: str | None) -> float:
    """Largest deviation of the cell vectors from the nearest ideal starting cell.

    Args:
        structure: a relaxed pymatgen ``Structure`` built as a supercell of the cubic cell.
        phase: the lattice the relaxation started from, ``"fcc"`` or ``"bcc"``.

    Returns:
        ``max |lattice / a - A|`` over all components, in units of the lattice constant ``a``
        (from the volume per atom), ``A`` the nearest cell of half-integer combinations of the
        cubic axes. A volume change alone gives 0; an ordinary relaxation a few hundredths; a
        cell sheared onto another lattice 0.15-0.25 (the value cannot exceed 0.25). NaN when
        undefined (phase not fcc/bcc, empty structure, degenerate cell).
    """
    cell = _ideal_cell(structure, phase)
    if cell is None:
        return math.nan
    _, vec, ideal = cell
    return float(np.abs(vec - ideal).max())


def local_distortion(structure, phase: str | None) -> float:
    """Root-mean-square displacement of the atoms from the ideal sites of the starting lattice.

    The fractional coordinates are placed in the ideal cell ``A`` (so the homogeneous strain of
    the cell does not count), each atom is referred to the nearest site of the half-integer
    grid after the grid has been shifted onto the first atom, and the mean displacement (a
    rigid translation) is subtracted. The displacements are converted to Å through the relaxed
    cell. Sites are assigned by rounding, so displacements must stay below a/4 to be counted
    against the right site; that holds for the local distortions of a relaxed alloy (~0.1 Å).

    Args:
        structure: a relaxed pymatgen ``Structure`` built as a supercell of the cubic cell.
        phase: the lattice the relaxation started from, ``"fcc"`` or ``"bcc"``.

    Returns:
        The rms displacement in Å (the ``rmsd_angstrom`` label of the DFT table), or NaN when
        undefined (phase not fcc/bcc, empty structure, degenerate cell).
    """
    cell = _ideal_cell(structure, phase)
    if cell is None:
        return math.nan
    _, _, ideal = cell
    cart = np.asarray(structure.frac_coords, dtype=np.float64) @ ideal
    cart = cart - (cart[0] - np.round(2.0 * cart[0]) / 2.0)
    d = cart - np.round(2.0 * cart) / 2.0
    d -= d.mean(axis=0)
    d_ang = d @ np.linalg.inv(ideal) @ np.asarray(structure.lattice.matrix, dtype=np.float64)
    return float(np.sqrt(np.mean(np.sum(d_ang**2, axis=1))))


def right_handed(structure):
    """The same crystal with a right-handed cell (positive triple product of the vectors).

    A lattice reduction (LLL, Niggli) may return a left-handed cell. The crystal is the same,
    but code that takes the volume as a signed determinant sees a negative one: CHGNet then
    returns the stress with its sign flipped, so a relaxation climbs the energy and the cell
    expands or collapses without end. Inverting every cell vector makes the cell right-handed;
    the fractional coordinates change sign, so every atom keeps its Cartesian position.
    """
    from pymatgen.core import Lattice, Structure

    if np.linalg.det(structure.lattice.matrix) > 0:
        return structure
    return Structure(
        Lattice(-structure.lattice.matrix),
        structure.species_and_occu,
        np.mod(-structure.frac_coords, 1.0),
        site_properties=structure.site_properties or None,
    )
