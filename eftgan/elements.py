"""The element-embedding registry shared by ``eftgan``, ``spectral`` and ``microstructure``.

Two kinds of per-element data live here:

* **Static descriptors** from pymatgen for any element (:func:`element`, :func:`descriptor_matrix`):
  atomic number, mass (u), group, period, Pauling electronegativity, atomic and metallic radius (Å),
  valence electrons, first and second ionization energies (eV).
* **Learned embeddings** (:class:`EmbeddingTable`): a named, versioned table of vectors, one
  per element, that a trained ECNet writes beside its weights (``embeddings.json``: the input
  vector of each element slot). Tables are plain JSON, so they load anywhere without torch.

The sibling packages read the static descriptors: ``spectral`` takes masses and ionization
energies (Saha balance, Doppler widths), ``microstructure`` the descriptors of Al and Si for the
conditional GANs' condition vector. A learned table covers only the elements its ECNet was
trained on (Fe, Ni, Co, Cr, Mn, Pd for the shipped model), so it carries nothing for Al-Si or
for the steel and rare-earth elements of the spectra; it is a model output, read with
:meth:`EmbeddingTable.load`, not a registry the siblings look things up in.

Example::

    >>> from eftgan import elements
    >>> elements.element("Fe").ionization_energies_ev[0]
    7.9024...
    >>> from eftgan.paths import default_model_dir
    >>> table = elements.EmbeddingTable.load(default_model_dir() / "embeddings.json")
    >>> table.vector("Ni").shape
    (32,)
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from eftgan.errors import UnknownElementError, UserError
from eftgan.files import atomic_write_text

DESCRIPTOR_NAMES: tuple[str, ...] = (
    "Z",
    "atomic_mass_u",
    "group",
    "period",
    "electronegativity_pauling",
    "atomic_radius_angstrom",
    "metallic_radius_angstrom",
    "valence_electrons",
    "ionization_energy_1_ev",
    "ionization_energy_2_ev",
)

TABLE_FORMAT_VERSION = 1


def _nan_if_none(x: Any) -> float:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return math.nan
    return v


def _valence_electrons(el: Any) -> int:
    """Electrons outside the noble-gas core; for the p block, ``group - 10`` (filled d shell)."""
    group = int(el.group)
    if 13 <= group <= 18 and el.Z > 2:
        return group - 10
    nobles = (2, 10, 18, 36, 54, 86)
    core = max((n for n in nobles if n < el.Z), default=0)
    return int(el.Z - core)


@dataclass(frozen=True)
class ElementDescriptors:
    """Static, tabulated properties of one element (units in the field names)."""

    symbol: str
    Z: int
    atomic_mass_u: float
    group: int
    period: int
    electronegativity_pauling: float
    atomic_radius_angstrom: float
    metallic_radius_angstrom: float
    valence_electrons: int
    ionization_energies_ev: tuple[float, float]

    def as_vector(self) -> np.ndarray:
        """Descriptors in the order of :data:`DESCRIPTOR_NAMES` (NaN where pymatgen has none)."""
        return np.array(
            [
                self.Z,
                self.atomic_mass_u,
                self.group,
                self.period,
                self.electronegativity_pauling,
                self.atomic_radius_angstrom,
                self.metallic_radius_angstrom,
                self.valence_electrons,
                *self.ionization_energies_ev,
            ],
            dtype=np.float64,
        )

    def as_dict(self) -> dict[str, Any]:
        """The fields as a JSON-ready dict (ionization energies as a list)."""
        d = dict(self.__dict__)
        d["ionization_energies_ev"] = list(self.ionization_energies_ev)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ElementDescriptors:
        """Inverse of :meth:`as_dict` (the ionization energies become a tuple again)."""
        d = dict(d)
        d["ionization_energies_ev"] = tuple(d["ionization_energies_ev"])
        return cls(**d)


def canonical_symbol(symbol: str) -> str:
    """Return the element symbol with canonical case, or raise :class:`UnknownElementError`."""
    from pymatgen.core.periodic_table import Element

    s = str(symbol).strip()
    cand = s[:1].upper() + s[1:].lower()
    try:
        Element(cand)
    except (ValueError, KeyError):
        raise UnknownElementError(
            f"unknown element {symbol!r}: use a chemical symbol such as Fe, Ni or Co"
        ) from None
    return cand


def _metallic_radius(el: Any) -> float:
    """pymatgen's metallic radius; NaN (without pymatgen's warning) where it has none."""
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "No data available for metallic_radius")
        return _nan_if_none(el.metallic_radius)


@cache
def element(symbol: str) -> ElementDescriptors:
    """Static descriptors of one element from pymatgen's tables; NaN where they have none
    (pymatgen's warnings about that are not shown: the NaN says it)."""
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "No (data available for|Pauling electronegativity)")
        return _element(symbol)


def _element(symbol: str) -> ElementDescriptors:
    from pymatgen.core.periodic_table import Element

    sym = canonical_symbol(symbol)
    el = Element(sym)
    ies = list(el.ionization_energies or [])
    ie = (
        _nan_if_none(ies[0]) if ies else math.nan,
        _nan_if_none(ies[1]) if len(ies) > 1 else math.nan,
    )
    return ElementDescriptors(
        symbol=sym,
        Z=int(el.Z),
        atomic_mass_u=float(el.atomic_mass),
        group=int(el.group),
        period=int(el.row),
        electronegativity_pauling=_nan_if_none(el.X),
        atomic_radius_angstrom=_nan_if_none(el.atomic_radius),
        metallic_radius_angstrom=_metallic_radius(el),
        valence_electrons=_valence_electrons(el),
        ionization_energies_ev=ie,
    )


def descriptor_matrix(symbols: Sequence[str], standardize: bool = False) -> np.ndarray:
    """Descriptors of several elements, shape ``(len(symbols), len(DESCRIPTOR_NAMES))``.

    With ``standardize=True`` each column is shifted and scaled to zero mean and unit variance
    over the given elements (constant columns become 0) and NaNs are replaced by 0, which is
    what a neural network input wants.
    """
    m = np.stack([element(s).as_vector() for s in symbols])
    if standardize:
        mean = np.nanmean(m, axis=0)
        std = np.nanstd(m, axis=0)
        std[~np.isfinite(std) | (std < 1e-12)] = 1.0
        m = np.nan_to_num((m - mean) / std, nan=0.0)
    return m


@dataclass
class EmbeddingTable:
    """A named, versioned table of learned element vectors.

    Attributes:
        name: registry key, e.g. ``"ecnet-fenicocrmnpd-v2"``.
        version: version of the model that made the table.
        elements: element symbols, one per row of ``vectors``.
        vectors: array of shape ``(len(elements), dim)``.
        meta: free-form provenance (model folder, data hash, what the vectors are).
    """

    name: str
    version: str
    elements: tuple[str, ...]
    vectors: np.ndarray
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.elements = tuple(canonical_symbol(e) for e in self.elements)
        self.vectors = np.asarray(self.vectors, dtype=np.float64)
        if self.vectors.ndim != 2 or self.vectors.shape[0] != len(self.elements):
            raise UserError(
                f"embedding table {self.name!r}: vectors must have one row per element "
                f"({len(self.elements)}), got shape {self.vectors.shape}"
            )
        if len(set(self.elements)) != len(self.elements):
            raise UserError(f"embedding table {self.name!r} lists an element twice")

    @property
    def dim(self) -> int:
        """Length of each element vector."""
        return int(self.vectors.shape[1])

    def __contains__(self, symbol: object) -> bool:
        return isinstance(symbol, str) and symbol in self.elements

    def vector(self, symbol: str) -> np.ndarray:
        """The vector of one element; :class:`UnknownElementError` names the ones available."""
        sym = canonical_symbol(symbol)
        if sym not in self.elements:
            raise UnknownElementError(
                f"element {sym} is not in embedding table {self.name!r}; "
                f"it has {', '.join(self.elements)}"
            )
        return self.vectors[self.elements.index(sym)].copy()

    def matrix(self, symbols: Iterable[str]) -> np.ndarray:
        """Vectors of ``symbols`` stacked in that order, shape ``(len(symbols), dim)``.

        Raises :class:`UnknownElementError` for a symbol the table lacks.
        """
        return np.stack([self.vector(s) for s in symbols])

    def as_dict(self) -> dict[str, Any]:
        """The table as a JSON-ready dict, with its format version (read by :meth:`from_dict`)."""
        return {
            "format_version": TABLE_FORMAT_VERSION,
            "name": self.name,
            "version": self.version,
            "elements": list(self.elements),
            "vectors": self.vectors.tolist(),
            "meta": self.meta,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> EmbeddingTable:
        """Build a table from :meth:`as_dict` output.

        Raises :class:`UserError` for another format version or a missing key.
        """
        if d.get("format_version") != TABLE_FORMAT_VERSION:
            raise UserError(
                f"embedding table format {d.get('format_version')!r} is not readable by this "
                f"eftgan (reads format {TABLE_FORMAT_VERSION}); re-export it with this version"
            )
        try:
            return cls(
                name=d["name"],
                version=d["version"],
                elements=tuple(d["elements"]),
                vectors=np.asarray(d["vectors"], dtype=np.float64),
                meta=dict(d.get("meta", {})),
            )
        except KeyError as exc:
            raise UserError(f"embedding table is missing the key {exc.args[0]!r}") from None

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the table as JSON, atomically (temporary file, then rename)."""
        path = Path(path)
        atomic_write_text(path, json.dumps(self.as_dict(), indent=1))
        return path

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> EmbeddingTable:
        """Read a table written by :meth:`save`.

        Raises :class:`UserError` for a missing file, invalid JSON, another format version
        or a missing key.
        """
        path = Path(path)
        try:
            d = json.loads(path.read_text())
        except FileNotFoundError:
            raise UserError(f"embedding table {path} does not exist") from None
        except json.JSONDecodeError as exc:
            raise UserError(f"embedding table {path} is not valid JSON ({exc.msg})") from None
        return cls.from_dict(d)


_REMOVED = ("get_table", "register_table", "available_tables")


def __getattr__(name: str) -> Any:
    if name in _REMOVED:
        raise UserError(
            f"eftgan.elements.{name} was removed; read a model's learned table with "
            "EmbeddingTable.load(model_folder / 'embeddings.json') (the shipped ECNet's: "
            "eftgan.paths.default_model_dir() / 'embeddings.json')"
        )
    raise AttributeError(f"module 'eftgan.elements' has no attribute {name!r}")
