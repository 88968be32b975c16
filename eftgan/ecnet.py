"""ECNet: continuous-filter convolutions on atoms, then the elemental convolution.

Data flow for a batch of structures (shapes: n atoms, E edges, K element nodes, B structures,
H hidden width, T targets)::

    slot (n,) ─► element embedding + projected registry descriptors ─► x (n, H)
    edge_dist (E,) ─► filter(Gaussian basis) × smooth envelope ─► L cfconv blocks on x
    x ─► mean over the atoms of each element of each structure ─► element nodes e (K, H)
    e ─► M elemental convolutions: e += MLP([e, Σ_k c_k e_k of its structure, phase, label
         source and cell volume embedding])
    e ─► per-target head (K, T) ─► composition-weighted sum ─► properties (B, T)

Every quantity is per atom (eV/atom, μB/atom, Å³/atom), so the composition-weighted sum of
element contributions is the natural read-out, and a supercell predicts the same values as its
cell. Outputs of :meth:`ECNet.forward` are standardised; :attr:`ECNetConfig.target_mean` and
``target_std`` turn them into physical units.

Several label sources (multi-fidelity). A model trained on DFT rows and on rows labelled by a
universal potential (``eftgan data label``) has one learned vector per source, added to the
structure-level input like the phase, and initialised at zero. The network thus learns one
mapping with a source-dependent correction: where both sources label similar alloys, the
difference between them (the oracle's offset) is learned there and carried to alloys that only
the oracle labelled. Predictions are made for the first source, DFT where the model has DFT
data.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from torch import nn
from torch_geometric.data import Batch

from eftgan.dataset import PHASES, TARGETS
from eftgan.elements import descriptor_matrix
from eftgan.errors import UserError
from eftgan.graphs import DEFAULT_CUTOFF
from eftgan.settings import JSONSettings


@dataclass
class ECNetConfig(JSONSettings):
    """Architecture and output scaling of an ECNet; round-trips through JSON."""

    elements: tuple[str, ...] = ("Cr", "Mn", "Fe", "Co", "Ni", "Pd")
    targets: tuple[str, ...] = TARGETS
    phases: tuple[str, ...] = PHASES
    sources: tuple[str, ...] = ("dft",)
    cutoff: float = DEFAULT_CUTOFF
    hidden: int = 32
    n_rbf: int = 32
    n_interactions: int = 3
    n_elemental: int = 2
    avg_neighbors: float = 30.0
    target_mean: list[float] = field(default_factory=lambda: [0.0] * len(TARGETS))
    target_std: list[float] = field(default_factory=lambda: [1.0] * len(TARGETS))

    def __post_init__(self) -> None:
        if not isinstance(self.cutoff, (int, float)) or not 0.5 <= self.cutoff <= 20.0:
            raise UserError(f"ECNet cutoff must be 0.5-20 Å, not {self.cutoff!r}")
        for name in ("hidden", "n_rbf", "n_interactions", "n_elemental"):
            value = getattr(self, name)
            limit = 4096 if name in ("hidden", "n_rbf") else 32
            if not isinstance(value, int) or not 1 <= value <= limit:
                raise UserError(f"ECNet {name} must be an integer from 1 to {limit}, not {value!r}")


class ShiftedSoftplus(nn.Module):
    """softplus(x) - log 2: smooth, zero at zero (SchNet's activation)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``softplus(x) - log 2`` elementwise, same shape as ``x``."""
        return nn.functional.softplus(x) - math.log(2.0)


def mlp(n_in: int, n_hidden: int, n_out: int) -> nn.Sequential:
    """Two-layer perceptron: Linear(n_in, n_hidden), shifted softplus, Linear(n_hidden, n_out)."""
    return nn.Sequential(nn.Linear(n_in, n_hidden), ShiftedSoftplus(), nn.Linear(n_hidden, n_out))


class GaussianBasis(nn.Module):
    """Gaussian radial basis on [0, cutoff]."""

    centers: torch.Tensor

    def __init__(self, n_rbf: int, cutoff: float) -> None:
        super().__init__()
        self.register_buffer("centers", torch.linspace(0.0, cutoff, n_rbf))
        self.gamma = 0.5 / float(cutoff / (n_rbf - 1)) ** 2

    def forward(self, d: torch.Tensor) -> torch.Tensor:
        """Gaussians of distances ``d`` (Å, shape (N,)) around each centre; shape (N, n_rbf)."""
        return torch.exp(-self.gamma * (d[:, None] - self.centers[None, :]) ** 2)


def envelope(d: torch.Tensor, cutoff: float, width: float = 1.0) -> torch.Tensor:
    """1 below ``cutoff - width``, a cosine taper to 0 at ``cutoff``, 0 beyond (smooth edges)."""
    t = ((d - (cutoff - width)) / width).clamp(0.0, 1.0)
    return 0.5 * (torch.cos(math.pi * t) + 1.0)


class FilterTable:
    """Linear interpolation of a function of distance tabulated on a uniform grid.

    A continuous filter depends on the edge length alone, so instead of running the filter
    network once per edge (hundreds of thousands per batch) it runs once per grid point
    (``GRID_POINTS`` over [0, cutoff], spacing about 0.005 Å) and each edge interpolates
    between its two grid neighbours. Gradients flow to the grid values and from there into
    the filter network, so training is unchanged up to the interpolation error (far below the
    width of the narrowest Gaussian).
    """

    GRID_POINTS = 1024

    def __init__(self, edge_dist: torch.Tensor, cutoff: float) -> None:
        step = cutoff / (self.GRID_POINTS - 1)
        pos = (edge_dist.clamp(0.0, cutoff) / step).clamp(max=self.GRID_POINTS - 1 - 1e-4)
        self.index = pos.floor().long()
        self.weight = (pos - self.index)[:, None]

    def __call__(self, table: torch.Tensor) -> torch.Tensor:
        # index_select: its backward is index_add_, far faster on CPU than indexing's index_put_
        lo = table.index_select(0, self.index)
        hi = table.index_select(0, self.index + 1)
        return torch.lerp(lo, hi, self.weight)


class CFConv(nn.Module):
    """Continuous-filter convolution block with a residual update of the atom features."""

    def __init__(self, hidden: int, n_rbf: int, avg_neighbors: float) -> None:
        super().__init__()
        self.filter = mlp(n_rbf, hidden, hidden)
        self.lin_in = nn.Linear(hidden, hidden, bias=False)
        self.update = mlp(hidden, hidden, hidden)
        self.norm = 1.0 / avg_neighbors

    def forward(
        self,
        x: torch.Tensor,
        edge_index: torch.Tensor,
        grid_basis: torch.Tensor,
        grid_envelope: torch.Tensor,
        interp: FilterTable,
    ) -> torch.Tensor:
        """One message-passing step on the atom graph.

        Args:
            x: atom features, shape (n, H).
            edge_index: source and destination atom of each edge, shape (2, E).
            grid_basis: Gaussian basis on the filter grid, shape (GRID_POINTS, n_rbf).
            grid_envelope: cutoff envelope on the filter grid, shape (GRID_POINTS, 1).
            interp: interpolation of the grid onto the edge lengths.

        Returns:
            Updated atom features ``x + update(Σ_src W(d) · lin_in(x_src) / avg_neighbors)``,
            shape (n, H).
        """
        src, dst = edge_index
        w = interp(self.filter(grid_basis) * grid_envelope)
        msg = self.lin_in(x).index_select(0, src) * w
        agg = torch.zeros_like(x).index_add_(0, dst, msg) * self.norm
        return x + self.update(agg)


class ElementalConv(nn.Module):
    """Residual update of element nodes from their structure's composition-weighted context."""

    def __init__(self, hidden: int) -> None:
        super().__init__()
        self.mlp = mlp(3 * hidden, hidden, hidden)

    def forward(
        self,
        e: torch.Tensor,
        frac: torch.Tensor,
        elem_struct: torch.Tensor,
        n_struct: int,
        phase_h: torch.Tensor,
    ) -> torch.Tensor:
        """One elemental convolution.

        Args:
            e: element-node features, shape (K, H).
            frac: atomic fraction of each node's element in its structure, shape (K,).
            elem_struct: structure index of each node, shape (K,).
            n_struct: number of structures B in the batch.
            phase_h: phase and cell-volume embedding of each structure, shape (B, H).

        Returns:
            Updated features, shape (K, H): ``e + MLP([e, Σ_k c_k e_k, phase_h])`` over the
            nodes of the same structure.
        """
        ctx = torch.zeros(n_struct, e.shape[1], dtype=e.dtype, device=e.device)
        ctx.index_add_(0, elem_struct, e * frac[:, None])
        return e + self.mlp(
            torch.cat(
                [e, ctx.index_select(0, elem_struct), phase_h.index_select(0, elem_struct)], dim=1
            )
        )


@dataclass
class ElementNodes:
    """Element nodes of a batch: features (K, H) and, per node, structure, slot and fraction."""

    features: torch.Tensor
    structure: torch.Tensor
    slot: torch.Tensor
    fraction: torch.Tensor


VOLUME_CENTER, VOLUME_SCALE = 11.5, 1.0  # Å³/atom: fixed scaling of the cell-volume input


class ECNet(nn.Module):
    """The elemental-convolution network; see the module docstring."""

    descriptors: torch.Tensor
    target_mean: torch.Tensor
    target_std: torch.Tensor

    def __init__(self, config: ECNetConfig) -> None:
        super().__init__()
        self.config = config
        h = config.hidden
        n_el = len(config.elements)
        self.embedding = nn.Embedding(n_el, h)
        desc = torch.tensor(
            descriptor_matrix(config.elements, standardize=True), dtype=torch.float32
        )
        self.register_buffer("descriptors", desc)
        self.descriptor_proj = nn.Linear(desc.shape[1], h)
        self.basis = GaussianBasis(config.n_rbf, config.cutoff)
        self.interactions = nn.ModuleList(
            CFConv(h, config.n_rbf, config.avg_neighbors) for _ in range(config.n_interactions)
        )
        self.phase_embedding = nn.Embedding(len(config.phases), h)
        # one vector per label source beyond the first (a single-source model has none)
        self.source_embedding: nn.Embedding | None = None
        if len(config.sources) > 1:
            self.source_embedding = nn.Embedding(len(config.sources), h)
            nn.init.zeros_(self.source_embedding.weight)
        # volume per atom of the cell (a structure-level input: a relaxed cell fixes V0)
        self.volume_proj = nn.Linear(1, h)
        self.elemental = nn.ModuleList(ElementalConv(h) for _ in range(config.n_elemental))
        self.heads = nn.ModuleList(mlp(h, h, 1) for _ in config.targets)
        self.register_buffer("target_mean", torch.tensor(config.target_mean, dtype=torch.float32))
        self.register_buffer("target_std", torch.tensor(config.target_std, dtype=torch.float32))

    def element_vectors(self) -> torch.Tensor:
        """The learned input vector of each element slot, shape (n_elements, H)."""
        return self.embedding.weight + self.descriptor_proj(self.descriptors)

    @staticmethod
    def cell_volume_per_atom(batch: Batch, atoms_per_struct: torch.Tensor) -> torch.Tensor:
        """Volume per atom (Å³) of each structure of a batch, shape (B,)."""
        return batch.cell_volume.reshape(-1) / atoms_per_struct

    def element_nodes(self, batch: Batch) -> ElementNodes:
        """Atom convolutions, then pooling into element nodes and the elemental convolutions."""
        slot = batch.slot
        x = self.element_vectors().index_select(0, slot)
        grid = torch.linspace(0.0, self.config.cutoff, FilterTable.GRID_POINTS, device=slot.device)
        grid_basis = self.basis(grid)
        grid_envelope = envelope(grid, self.config.cutoff)[:, None]
        interp = FilterTable(batch.edge_dist, self.config.cutoff)
        for block in self.interactions:
            x = block(x, batch.edge_index, grid_basis, grid_envelope, interp)
        n_struct = int(batch.num_graphs)
        n_slots = len(self.config.elements)
        group = batch.batch * n_slots + slot
        uniq, inverse = torch.unique(group, return_inverse=True)
        k = uniq.shape[0]
        counts = torch.bincount(inverse, minlength=k).to(x.dtype)
        e = torch.zeros(k, x.shape[1], dtype=x.dtype, device=x.device)
        e = e.index_add_(0, inverse, x) / counts[:, None]
        elem_struct = uniq // n_slots
        atoms_per_struct = torch.bincount(batch.batch, minlength=n_struct).to(x.dtype)
        frac = counts / atoms_per_struct[elem_struct]
        volume = self.cell_volume_per_atom(batch, atoms_per_struct)
        phase_h = self.phase_embedding(batch.phase) + self.volume_proj(
            ((volume - VOLUME_CENTER) / VOLUME_SCALE)[:, None]
        )
        if self.source_embedding is not None:
            phase_h = phase_h + self.source_embedding(batch.source)
        for layer in self.elemental:
            e = layer(e, frac, elem_struct, n_struct, phase_h)
        return ElementNodes(e, elem_struct, uniq % n_slots, frac)

    def forward(self, batch: Batch) -> torch.Tensor:
        """Standardised predictions, shape (n_structures, n_targets)."""
        nodes = self.element_nodes(batch)
        per_elem = torch.cat([head(nodes.features) for head in self.heads], dim=1)
        out = torch.zeros(
            int(batch.num_graphs), per_elem.shape[1], dtype=per_elem.dtype, device=per_elem.device
        )
        return out.index_add_(0, nodes.structure, per_elem * nodes.fraction[:, None])

    def to_physical(self, y: torch.Tensor) -> torch.Tensor:
        """Undo the target standardisation: ``y * target_std + target_mean``.

        Returns:
            Predictions in physical units (eV/atom for energies, μB/atom for the moment,
            Å³/atom for the volume), same shape as ``y``.
        """
        return y * self.target_std + self.target_mean
