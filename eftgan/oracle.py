"""A universal interatomic potential as a cheap labeller: relaxations and labels of any alloy.

The oracle is CHGNet (Deng et al., Nat. Mach. Intell. 5, 1031, 2023): a graph network trained
on the Materials Project's relaxation trajectories (PBE/PBE+U) that predicts energy, forces,
stress and the magnitude of each site's magnetic moment for any element up to Pu. Its
weights ship in the wheel (``pip install 'eftgan[oracle]'``), so it runs in-process on a CPU.

A relaxation moves positions and cell (ASE's FIRE on a Frechet cell filter) until the largest
force is below ``fmax`` or ``steps`` is reached; both limits and whether they were met are
recorded with every label. The labels follow the DFT table (:mod:`eftgan.dataset`):

* ``Etot``: the oracle's energy per atom of the relaxed cell;
* ``Eform = Etot - sum_i x_i E_i(ground)``: against the oracle's own relaxed pure elements in
  their lowest-energy lattice among fcc, bcc and hcp (for Mn, whose ground state is the
  58-atom alpha-Mn, that lattice is a stand-in, stated in the provenance);
* ``Emix = Etot - sum_i x_i E_i(phase)``: against the pure elements in the row's own lattice;
* ``Ms``: the mean magnitude of the site moments. CHGNet was trained on moment magnitudes, so
  this is ``sum |m_i| / N``; for a ferromagnet it is the magnetisation, for an alloy with
  antiparallel moments (Cr, Mn) it is larger than the net moment DFT reports;
* ``V0``: volume per atom; ``rmsd``: the local lattice distortion of :mod:`eftgan.lattice`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from eftgan.errors import UserError

__all__ = [
    "ORACLES",
    "Oracle",
    "Relaxed",
    "check_oracle_elements",
    "label_values",
    "load_oracle",
    "reference_energies",
]

#: oracle name -> (Python module, package, largest atomic number it covers)
ORACLES = {"chgnet": ("chgnet", "chgnet", 94)}
REFERENCE_LATTICES = ("fcc", "bcc", "hcp")
#: 1 Bohr magneton per atom in emu/g times the molar mass in g/mol (N_A mu_B, emu/mol).
MUB_EMU_PER_MOL = 6.02214076e23 * 9.2740100783e-21
_LOADED: dict[str, Oracle] = {}
#: A relaxation is stopped as failed when the volume leaves this range times the start.
VOLUME_BOUNDS = (0.5, 2.0)


@dataclass
class Relaxed:
    """One relaxation's outcome."""

    structure: Any
    energy_per_atom: float
    magmoms: np.ndarray
    steps: int
    max_force: float
    converged: bool
    seconds: float
    failed: str | None = None


@dataclass
class Oracle:
    """A loaded potential with its relaxation limits.

    Attributes:
        name: ``chgnet``.
        version: the package version.
        model: the model's own version string (``CHGNet 0.3.0``).
        fmax: force limit of a relaxation, eV/Å.
        steps: step limit of a relaxation.
    """

    name: str
    version: str
    model: str
    fmax: float = 0.1
    steps: int = 300
    _model: Any = field(default=None, repr=False)
    _calculator: Any = field(default=None, repr=False)

    @property
    def settings(self) -> dict[str, Any]:
        """What a label depends on besides the structure, for provenance and fingerprints."""
        return {
            "oracle": self.name,
            "version": self.version,
            "model": self.model,
            "fmax_ev_per_angstrom": self.fmax,
            "max_steps": self.steps,
            "optimizer": "FIRE",
            "cell_filter": "FrechetCellFilter",
        }

    def energies(self, structures: Sequence[Any], batch_size: int = 16) -> list[float]:
        """Energies (eV/atom) of the structures as they are, without relaxing them."""
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            preds = self._model.predict_structure(list(structures), task="e", batch_size=batch_size)
        preds = preds if isinstance(preds, list) else [preds]
        return [float(p["e"]) for p in preds]

    def relax(self, structure: Any) -> Relaxed:
        """Relax positions and cell; the energy, moments and limits of the final cell.

        The cell is made right-handed first (:func:`eftgan.lattice.right_handed`: CHGNet's
        stress changes sign in a left-handed cell). A relaxation whose volume leaves
        :data:`VOLUME_BOUNDS` times the start is stopped and marked ``failed``: the potential
        has no physical minimum there, and its labels are not labels.
        """
        import warnings

        from ase.filters import FrechetCellFilter
        from ase.optimize import FIRE
        from pymatgen.io.ase import AseAtomsAdaptor

        from eftgan.lattice import right_handed

        t0 = time.perf_counter()
        atoms = AseAtomsAdaptor.get_atoms(right_handed(structure))
        atoms.calc = self._calculator
        v_start = atoms.get_volume()
        opt = FIRE(FrechetCellFilter(atoms), logfile=None)

        def guard() -> None:
            ratio = atoms.get_volume() / v_start
            if not VOLUME_BOUNDS[0] < ratio < VOLUME_BOUNDS[1]:
                raise _LeftPhysics(f"volume went to {ratio:.2f} times the start")

        opt.attach(guard, interval=1)
        failed = None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                converged = bool(opt.run(fmax=self.fmax, steps=self.steps))
            except _LeftPhysics as exc:
                converged, failed = False, str(exc)
            forces = atoms.get_forces()
            energy = float(atoms.get_potential_energy()) / len(atoms)
            magmoms = np.abs(np.asarray(atoms.get_magnetic_moments(), dtype=float))
        return Relaxed(
            structure=AseAtomsAdaptor.get_structure(atoms),
            energy_per_atom=energy,
            magmoms=magmoms,
            steps=int(opt.nsteps),
            max_force=float(np.max(np.linalg.norm(forces, axis=1))) if len(forces) else 0.0,
            converged=converged,
            seconds=time.perf_counter() - t0,
            failed=failed,
        )


class _LeftPhysics(Exception):
    """Raised inside a relaxation whose cell left the physical range."""


def load_oracle(name: str = "chgnet", fmax: float = 0.1, steps: int = 300) -> Oracle:
    """The oracle ``name``, loaded once per process (its weights ship in its package)."""
    if name not in ORACLES:
        raise UserError(f"unknown oracle {name!r}; available: {', '.join(ORACLES)}")
    key = f"{name}:{fmax}:{steps}"
    if key not in _LOADED:
        _LOADED[key] = _load_chgnet(fmax, steps)
    return _LOADED[key]


def _load_chgnet(fmax: float, steps: int) -> Oracle:
    import contextlib
    import io
    import warnings
    from importlib.metadata import version

    try:
        from chgnet.model import CHGNet
        from chgnet.model.dynamics import CHGNetCalculator
    except ImportError:
        raise UserError(
            "the chgnet oracle is not installed; install it with pip install 'eftgan[oracle]'"
        ) from None
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        model = CHGNet.load(verbose=False)
        calculator = CHGNetCalculator(model)
    return Oracle(
        name="chgnet",
        version=version("chgnet"),
        model=f"CHGNet {model.version}",
        fmax=fmax,
        steps=steps,
        _model=model,
        _calculator=calculator,
    )


def check_oracle_elements(elements: Sequence[str], name: str = "chgnet") -> list[str]:
    """Canonical symbols of ``elements``, refused where the oracle does not cover them."""
    from pymatgen.core import Element

    from eftgan.elements import canonical_symbol

    if name not in ORACLES:
        raise UserError(f"unknown oracle {name!r}; available: {', '.join(ORACLES)}")
    z_max = ORACLES[name][2]
    out: list[str] = []
    for e in elements:
        symbol = canonical_symbol(e)
        if symbol in out:
            raise UserError(f"element {symbol} is given twice; list each element once")
        z = Element(symbol).Z
        if z > z_max:
            raise UserError(
                f"element {symbol} (Z={z}) is outside what the {name} oracle covers "
                f"(Z <= {z_max}); drop it from --elements"
            )
        out.append(symbol)
    return out


def pure_cell(element: str, lattice: str, volume: float) -> Any:
    """The primitive cell of a pure ``element`` on ``lattice`` at ``volume`` Å^3 per atom."""
    from ase.build import bulk
    from pymatgen.io.ase import AseAtomsAdaptor

    if lattice == "fcc":
        atoms = bulk(element, "fcc", a=(4 * volume) ** (1 / 3))
    elif lattice == "bcc":
        atoms = bulk(element, "bcc", a=(2 * volume) ** (1 / 3))
    else:
        a = (2 * volume / (math.sqrt(3) / 2 * 1.633)) ** (1 / 3)
        atoms = bulk(element, "hcp", a=a, c=1.633 * a)
    return AseAtomsAdaptor.get_structure(atoms)


def _volume_guess(element: str) -> float:
    """Volume per atom of close-packed spheres of the metallic radius, Å^3."""
    from eftgan.elements import element as descriptors

    r = descriptors(element).metallic_radius_angstrom
    return 4 * math.sqrt(2) * r**3 if r == r and r > 0 else 15.0


def reference_energies(oracle: Oracle, elements: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Per element: the relaxed energy (eV/atom) and volume (Å^3/atom) on fcc, bcc and hcp,
    and ``ground``, the lowest of the three."""
    refs: dict[str, dict[str, Any]] = {}
    for e in elements:
        per: dict[str, Any] = {}
        for lat in REFERENCE_LATTICES:
            r = oracle.relax(pure_cell(e, lat, _volume_guess(e)))
            per[lat] = {
                "energy_ev_per_atom": r.energy_per_atom,
                "volume_a3_per_atom": r.structure.volume / len(r.structure),
                "converged": r.converged,
            }
        per["ground"] = min(REFERENCE_LATTICES, key=lambda k: per[k]["energy_ev_per_atom"])
        refs[e] = per
    return refs


def label_values(
    relaxed: Relaxed,
    fractions: Mapping[str, float],
    phase: str,
    refs: Mapping[str, Mapping[str, Any]],
) -> dict[str, float]:
    """The DFT table's columns for one relaxed structure (see the module docstring)."""
    from eftgan.lattice import local_distortion

    s = relaxed.structure
    n = len(s)
    e = relaxed.energy_per_atom
    ground = sum(
        x * refs[el][refs[el]["ground"]]["energy_ev_per_atom"] for el, x in fractions.items()
    )
    same = sum(x * refs[el][phase]["energy_ev_per_atom"] for el, x in fractions.items())
    ms = float(np.mean(relaxed.magmoms)) if len(relaxed.magmoms) else math.nan
    molar_mass = float(s.composition.weight) / n
    return {
        "Etot (eV/atom)": e,
        "Etot (eV)": e * n,
        "Emix (eV/atom)": e - same,
        "Eform (eV/atom)": e - ground,
        "Ms (emu/g)": ms * MUB_EMU_PER_MOL / molar_mass,
        "Ms (mub/atom)": ms,
        "mb (mub/cell)": ms * n,
        "rmsd (\\AA)": float(local_distortion(s, phase)),
        "V0 (A3/atom)": float(s.volume) / n,
    }
