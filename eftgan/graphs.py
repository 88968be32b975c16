"""Periodic neighbour graphs as ``torch_geometric.data.Data``.

Edges connect every atom to every periodic image of every atom within ``cutoff`` (Å), found by
pymatgen's neighbour search, so that a structure and any supercell of it give each atom the
same neighbourhood. (The published ECNet code builds graphs without periodic images by default;
that makes predictions depend on the cell chosen and is not done here.)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch_geometric.data import Data

from eftgan.composition import check_elements

DEFAULT_CUTOFF = 4.5  # Å: first three shells of fcc and bcc 3d-metal alloys


def to_structure(obj: Any) -> Any:
    """A pymatgen Structure from a Structure or an ASE Atoms object."""
    from pymatgen.core import Structure

    if isinstance(obj, Structure):
        return obj
    try:
        from ase import Atoms
    except ImportError:  # pragma: no cover - ase is a core dependency
        Atoms = None  # type: ignore[assignment,misc]
    if Atoms is not None and isinstance(obj, Atoms):
        from pymatgen.io.ase import AseAtomsAdaptor

        return AseAtomsAdaptor.get_structure(obj)
    raise TypeError(f"expected a pymatgen Structure or ASE Atoms, got {type(obj).__name__}")


def periodic_neighbors(
    structure: Any, cutoff: float, tol: float = 1e-8
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(centre, neighbour, distance)`` of every atom pair within ``cutoff`` (Å) over all
    periodic images, an atom's zero-distance pair with itself excluded.

    The pairs of ``Structure.get_neighbor_list``, from the same Cython search
    (``pymatgen.optimization.neighbors.find_points_in_spheres``) called on the Cartesian
    coordinates directly, without the method's per-site Python loop, which costs more than
    the search itself on cells of tens of atoms.
    """
    from pymatgen.optimization.neighbors import find_points_in_spheres

    cart = np.ascontiguousarray(structure.cart_coords, dtype=float)
    centre, neighbour, _, dist = find_points_in_spheres(
        cart,
        cart,
        r=float(cutoff),
        pbc=np.ascontiguousarray(structure.pbc, dtype=np.int64),
        lattice=np.ascontiguousarray(structure.lattice.matrix, dtype=float),
        tol=tol,
    )
    keep = ~((centre == neighbour) & (dist <= tol))
    return centre[keep], neighbour[keep], dist[keep]


def structure_to_graph(
    structure: Any,
    elements: Sequence[str],
    cutoff: float = DEFAULT_CUTOFF,
    phase_index: int = 0,
    targets: np.ndarray | None = None,
    name: str = "",
    source_index: int = 0,
) -> Data:
    """Graph of one periodic structure.

    Fields: ``slot`` (n,) element slot of each atom in ``elements``; ``edge_index`` (2, E)
    with row 0 the neighbour j and row 1 the centre i; ``edge_dist`` (E,) in Å; ``phase`` (1,);
    ``source`` (1,), the label source (0: the model's first, DFT where it has DFT data);
    ``cell_volume`` (1,) in Å³;
    ``y`` and ``y_mask`` (1, n_targets) when targets are given.
    """
    structure = to_structure(structure)
    symbols = [site.specie.symbol for site in structure]
    check_elements({s: 1.0 for s in symbols}, elements, f"structure {name or structure.formula}")
    index = {e: i for i, e in enumerate(elements)}
    slot = torch.tensor([index[s] for s in symbols], dtype=torch.long)
    center, neighbor, dist = periodic_neighbors(structure, cutoff)
    edge_index = torch.from_numpy(np.stack([neighbor, center]).astype(np.int64))
    data = Data(
        slot=slot,
        edge_index=edge_index,
        edge_dist=torch.from_numpy(np.asarray(dist, dtype=np.float32)),
        phase=torch.tensor([phase_index], dtype=torch.long),
        source=torch.tensor([source_index], dtype=torch.long),
        cell_volume=torch.tensor([structure.volume], dtype=torch.float32),
        num_nodes=len(structure),
    )
    if targets is not None:
        t = torch.tensor(np.asarray(targets, dtype=np.float32)).reshape(1, -1)
        data.y_mask = torch.isfinite(t)
        data.y = torch.nan_to_num(t, nan=0.0)
    return data
