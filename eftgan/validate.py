"""Consistency checks of a labelled dataset: find entries that disagree with themselves.

Each check returns :class:`Flag` objects with the entry name and a readable reason:

``species``
    the structure file's composition differs from the composition its name claims;
``volume``
    ``V0`` differs from the volume per atom of the relaxed cell;
``total-energy`` / ``moment``
    per-atom and per-cell columns disagree (``Etot``, ``Ms`` against ``mb``);
``formation-energy``
    ``Etot - Eform`` is not the composition-weighted sum of elemental reference energies fitted
    (robustly) from the rest of the table; references do not depend on the phase;
``mixing-energy``
    the same for ``Emix``, whose references are the pure elements *in the same lattice*, so
    they are fitted per phase;
``lattice``
    the relaxed cell no longer looks like the lattice it started from (see
    :mod:`eftgan.lattice`): a "bcc" start that collapsed onto fcc, or the reverse. Such an entry
    does not describe the phase its label claims;
``distortion``
    the relaxed cell sheared away from the ideal cell of its starting lattice by more than
    :data:`STRAIN_MAX` lattice constants (:func:`eftgan.lattice.cell_strain`). The
    ``rmsd_angstrom`` label is the displacement of the atoms from the ideal sites of the starting
    lattice with the homogeneous strain removed; after such a shear (a Bain-like fcc-bcc
    transformation, partial or complete) it measures the transformation, not the local lattice
    distortion it stands for elsewhere. Ordinary relaxations strain the cell by < 0.05 a.

Most flags condemn the whole entry: :func:`flagged_names` lists those entries. A *target-level*
flag (the checks in :data:`TARGET_CHECKS`) condemns only some labels of an otherwise usable
entry: ``distortion`` masks ``rmsd_angstrom`` and leaves the energies, moment and volume in
use. :func:`clean` applies both kinds: it drops the flagged entries and returns the others with
their masked targets set to NaN (missing, so left out of training and scoring).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace

import numpy as np

from eftgan.composition import formula
from eftgan.dataset import Dataset, Entry
from eftgan.lattice import cell_strain, lattice_order_parameter

#: thresholds, in the units of each check
SPECIES_TOL = 0.02  # atomic fraction
VOLUME_RTOL = 0.002  # relative
ENERGY_TOL = 0.01  # eV/atom, for fitted references
TOTAL_ENERGY_TOL = 0.01  # eV per cell
MOMENT_RTOL, MOMENT_ATOL = 0.10, 1.0  # relative, mu_B per cell
ETA_FCC_MAX, ETA_BCC_MIN = 0.25, 0.75  # lattice order parameter: 0 fcc, 1 bcc
STRAIN_MAX = 0.15  # cell vectors off the ideal starting cell, in lattice constants

#: target-level checks: check -> the targets its flag masks (the entry itself stays in use)
TARGET_CHECKS: dict[str, tuple[str, ...]] = {"distortion": ("rmsd_angstrom",)}


@dataclass(frozen=True)
class Flag:
    """One inconsistency: which entry, which check, and why."""

    structure: str
    check: str
    reason: str

    def as_dict(self) -> dict[str, str]:
        """The flag as ``{"structure": ..., "check": ..., "reason": ...}``."""
        return asdict(self)


def _species_mismatch(e: Entry) -> str | None:
    claimed = e.name_fractions
    if claimed is None:
        return None
    actual = e.fractions
    keys = set(claimed) | set(actual)
    if max(abs(claimed.get(k, 0.0) - actual.get(k, 0.0)) for k in keys) <= SPECIES_TOL:
        return None
    return (
        f"species in the file ({formula(actual)}) differ from the name's composition "
        f"({formula(claimed)})"
    )


def _robust_reference_fit(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Least squares ``y ~ x @ mu`` refitted without outliers until stable; returns (mu, resid)."""
    keep = np.ones(len(y), bool)
    mu = np.zeros(x.shape[1])
    for _ in range(20):
        mu, *_ = np.linalg.lstsq(x[keep], y[keep], rcond=None)
        resid = y - x @ mu
        mad = float(np.median(np.abs(resid[keep])))
        new = np.abs(resid) <= max(ENERGY_TOL, 6 * 1.4826 * mad)
        if (new == keep).all():
            break
        keep = new
    return mu, y - x @ mu


def _reference_flags(
    entries: list[Entry], target: str, check: str, label: str, skip: set[str]
) -> list[Flag]:
    rows = [
        e
        for e in entries
        if e.name not in skip
        and math.isfinite(e.targets.get(target, math.nan))
        and math.isfinite(e.targets.get("etot_ev_per_atom", math.nan))
    ]
    if not rows:
        return []
    els = sorted({k for e in rows for k in (e.name_fractions or e.fractions)})
    if len(rows) < len(els) + 3:
        return []
    x = np.array([[(e.name_fractions or e.fractions).get(k, 0.0) for k in els] for e in rows])
    y = np.array([e.targets["etot_ev_per_atom"] - e.targets[target] for e in rows])
    _, resid = _robust_reference_fit(x, y)
    flags = []
    for e, r in zip(rows, resid, strict=True):
        if abs(r) > ENERGY_TOL:
            flags.append(
                Flag(
                    e.name,
                    check,
                    f"{label} is off by {-r:+.3f} eV/atom from the elemental references "
                    "fitted to the rest of the table",
                )
            )
    return flags


def _volume_mismatch(e: Entry) -> str | None:
    v0 = e.targets.get("v0_a3_per_atom", math.nan)
    vcell = e.structure.volume / len(e.structure)
    if not math.isfinite(v0) or abs(vcell - v0) <= VOLUME_RTOL * v0:
        return None
    return (
        f"V0 = {v0:.3f} A3/atom but the relaxed cell holds {vcell:.3f} A3/atom "
        f"({100 * (vcell - v0) / v0:+.1f} %)"
    )


def _total_energy_mismatch(e: Entry) -> str | None:
    n = len(e.structure)
    etot = e.targets.get("etot_ev_per_atom", math.nan)
    etot_cell = e.extra.get("etot_ev", math.nan)
    if not (math.isfinite(etot) and math.isfinite(etot_cell)):
        return None
    if abs(etot * n - etot_cell) <= TOTAL_ENERGY_TOL:
        return None
    return f"Etot per atom x {n} atoms = {etot * n:.3f} eV but Etot per cell = {etot_cell:.3f} eV"


def _moment_mismatch(e: Entry) -> str | None:
    n = len(e.structure)
    ms = e.targets.get("ms_mub_per_atom", math.nan)
    mb = e.extra.get("mb_mub_per_cell", math.nan)
    if not (math.isfinite(ms) and math.isfinite(mb)):
        return None
    if abs(ms * n - mb) <= max(MOMENT_ATOL, MOMENT_RTOL * abs(mb)):
        return None
    return f"Ms x {n} atoms = {ms * n:.2f} mu_B but the cell moment mb = {mb:.2f} mu_B"


def _lattice_mismatch(e: Entry) -> str | None:
    if e.phase not in ("fcc", "bcc"):
        return None
    eta = lattice_order_parameter(e.structure)
    if not math.isfinite(eta):
        return None
    looks = "fcc" if eta < ETA_FCC_MAX else "bcc" if eta > ETA_BCC_MIN else None
    if looks is None or looks == e.phase:
        return None
    return (
        f"started {e.phase} but relaxed onto a {looks}-like lattice (order parameter "
        f"{eta:.2f}; 0 = fcc, 1 = bcc)"
    )


def _distortion_mismatch(e: Entry) -> str | None:
    rmsd = e.targets.get("rmsd_angstrom", math.nan)
    if not math.isfinite(rmsd) or e.phase not in ("fcc", "bcc"):
        return None
    strain = cell_strain(e.structure, e.phase)
    if not strain > STRAIN_MAX:
        return None
    return (
        f"the cell sheared {strain:.2f} a away from its starting {e.phase} lattice; its rmsd "
        f"({rmsd:.2f} Å) measures that transformation, not a local distortion"
    )


#: per-entry checks: name -> function returning a reason or None
ENTRY_CHECKS = {
    "species": _species_mismatch,
    "volume": _volume_mismatch,
    "total-energy": _total_energy_mismatch,
    "moment": _moment_mismatch,
    "lattice": _lattice_mismatch,
    "distortion": _distortion_mismatch,
}


def _source_reference_flags(entries: list[Entry], skip: set[str]) -> list[Flag]:
    """Reference-consistency flags of one label source: DFT and an oracle have elemental
    references of their own, so a fit across sources would flag every row of the smaller one."""
    flags = _reference_flags(entries, "eform_ev_per_atom", "formation-energy", "Eform", skip)
    for phase in ("fcc", "bcc"):
        flags += _reference_flags(
            [e for e in entries if e.phase == phase],
            "emix_ev_per_atom",
            "mixing-energy",
            f"Emix ({phase} references)",
            skip,
        )
    return flags


def validate(dataset: Dataset) -> list[Flag]:
    """All flags for a dataset, in dataset order (an entry may have several)."""
    flags: list[Flag] = []
    for e in dataset:
        for check, find in ENTRY_CHECKS.items():
            reason = find(e)
            if reason:
                flags.append(Flag(e.name, check, reason))
    species_bad = {f.structure for f in flags if f.check == "species"}
    for source in dict.fromkeys(e.source for e in dataset):
        flags += _source_reference_flags([e for e in dataset if e.source == source], species_bad)
    order = {name: i for i, name in enumerate(dataset.names)}
    flags.sort(key=lambda f: order.get(f.structure, len(order)))
    return flags


def flagged_names(flags: Sequence[Flag]) -> set[str]:
    """Names of the entries with at least one entry-level flag (target-level flags ignored)."""
    return {f.structure for f in flags if f.check not in TARGET_CHECKS}


def masked_labels(flags: Sequence[Flag]) -> dict[str, list[str]]:
    """Target -> names of the entries that stay in use but lose that label (dataset order).

    Entries that an entry-level flag removes anyway are not listed.
    """
    dropped = flagged_names(flags)
    out: dict[str, list[str]] = {}
    for f in flags:
        if f.structure in dropped:
            continue
        for target in TARGET_CHECKS.get(f.check, ()):
            names = out.setdefault(target, [])
            if f.structure not in names:
                names.append(f.structure)
    return out


def clean(dataset: Dataset, flags: Sequence[Flag] | None = None) -> Dataset:
    """The dataset without its flagged entries and with the labels that flags mask set to NaN.

    Args:
        dataset: the dataset to clean; it is not modified.
        flags: findings for it (default: :func:`validate` of it).

    Returns:
        A new :class:`Dataset` with the same source and data hash: entries with an entry-level
        flag are dropped; entries with only target-level flags (:data:`TARGET_CHECKS`) are kept
        as new :class:`Entry` objects whose masked targets are NaN (missing).
    """
    if flags is None:
        flags = validate(dataset)
    dropped = flagged_names(flags)
    masked: dict[str, set[str]] = {}
    for target, names in masked_labels(flags).items():
        for name in names:
            masked.setdefault(name, set()).add(target)
    entries = []
    for e in dataset:
        if e.name in dropped:
            continue
        if e.name in masked:
            targets = {k: (math.nan if k in masked[e.name] else v) for k, v in e.targets.items()}
            e = replace(e, targets=targets, extra=dict(e.extra))
        entries.append(e)
    return Dataset(entries, dataset.source, dataset.data_hash)
