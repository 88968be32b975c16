"""Datasets of structures with DFT labels.

Readers (all return a :class:`Dataset`):

* the ECNet/EFTGAN DFT table: a folder with ``labels.csv`` and relaxed POSCARs in ``POSCARS/``
  (:func:`read_dft_table`; columns as in the public ECNet data, see :data:`CSV_COLUMNS`);
* extended XYZ with energies and ``info`` keys named like :data:`TARGETS` (:func:`read_extxyz`);
* VASP outputs (``vasprun.xml``, with ``OUTCAR`` beside it for the magnetisation), through
  pymatgen (:func:`read_vasp`).

Targets, units in the names (the EFTGAN paper's five, and the volume):

``etot_ev_per_atom``
    DFT total energy per atom (VASP's zero, so only differences mean anything);
``eform_ev_per_atom``
    formation energy, referenced to the pure elements in their ground-state lattice;
``emix_ev_per_atom``
    mixing energy, referenced to the pure elements *in the same lattice* (fcc or bcc);
``ms_mub_per_atom``
    magnetic moment per atom of a collinear spin-polarised calculation;
``rmsd_angstrom``
    local lattice distortion: the root-mean-square displacement of the atoms from the ideal
    sites of the lattice the relaxation started from, with the homogeneous cell strain and
    the rigid translation removed. Recomputed from the relaxed cells of the DFT table it
    matches the label to 0.002 Å (median) wherever the cell kept its lattice; in a cell that
    left it (a Bain-like shear, see :mod:`eftgan.validate`) the label measures the
    transformation instead, up to 1.3 Å;
``v0_a3_per_atom``
    volume per atom of the relaxed cell. A model that reads the structure reads this back from
    its input; only a structure-free prediction of it is skill.

A missing target is NaN and is masked out of training.
"""

from __future__ import annotations

import csv
import hashlib
import io
import math
import os
import re
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from eftgan.composition import composition_key, parse_composition
from eftgan.errors import UserError

TARGETS: tuple[str, ...] = (
    "etot_ev_per_atom",
    "eform_ev_per_atom",
    "emix_ev_per_atom",
    "ms_mub_per_atom",
    "rmsd_angstrom",
    "v0_a3_per_atom",
)
#: unit of each target, as written in tables and plots
TARGET_UNITS: dict[str, str] = {
    "etot_ev_per_atom": "eV/atom",
    "eform_ev_per_atom": "eV/atom",
    "emix_ev_per_atom": "eV/atom",
    "ms_mub_per_atom": "μB/atom",
    "rmsd_angstrom": "Å",
    "v0_a3_per_atom": "Å³/atom",
}
PHASES: tuple[str, ...] = ("fcc", "bcc")


def short_name(target: str) -> str:
    """A target's short name, the part before the first underscore: ``eform_ev_per_atom`` ->
    ``eform``."""
    return target.split("_", 1)[0]


def std_column(target: str) -> str:
    """The column of a target's spread: ``eform_ev_per_atom`` -> ``eform_std``."""
    return f"{short_name(target)}_std"


#: labels.csv column -> our key. The first block is required.
CSV_COLUMNS: dict[str, str] = {
    "structure": "structure",
    "Etot (eV/atom)": "etot_ev_per_atom",
    "Eform (eV/atom)": "eform_ev_per_atom",
    "Emix (eV/atom)": "emix_ev_per_atom",
    "Ms (mub/atom)": "ms_mub_per_atom",
    "V0 (A3/atom)": "v0_a3_per_atom",
}
CSV_OPTIONAL: dict[str, str] = {
    "Etot (eV)": "etot_ev",
    "Ms (emu/g)": "ms_emu_per_g",
    "mb (mub/cell)": "mb_mub_per_cell",
    "phase": "phase",
}
#: optional labels.csv columns that are targets (NaN where the column is absent)
CSV_OPTIONAL_TARGETS: dict[str, str] = {"rmsd (\\AA)": "rmsd_angstrom"}

_PHASE_SUFFIX = re.compile(r"_sqs(fcc|bcc)$", re.IGNORECASE)


def phase_from_name(name: str) -> str | None:
    """``"fcc"``/``"bcc"`` from the dataset's naming convention (``..._sqsfcc``), else None."""
    m = _PHASE_SUFFIX.search(Path(name).stem if "." in Path(name).name else name)
    return m.group(1).lower() if m else None


def composition_from_name(name: str) -> dict[str, float] | None:
    """Fractions encoded in a structure name like ``Fe31Ni31Co31Cr36Mn31_sqsbcc``, else None."""
    base = _PHASE_SUFFIX.sub("", Path(name).name)
    if not re.fullmatch(r"(?:[A-Z][a-z]?\d*(?:\.\d+)?)+", base):
        return None
    try:
        return parse_composition(base)
    except UserError:
        return None


@dataclass
class Entry:
    """One labelled structure.

    Attributes:
        name: identifier (file name without folder for the DFT table).
        structure: the (relaxed) pymatgen ``Structure``.
        phase: ``"fcc"``, ``"bcc"`` or None; the lattice the relaxation started from.
        targets: ``{key: value}`` for :data:`TARGETS`; NaN where unknown.
        extra: other labels with units in the key (``etot_ev``, ``mb_mub_per_cell``…).
        source: who made the labels: ``dft`` (the default), or an oracle's name (``chgnet``)
            from the ``source`` column of a ``data label`` table.
    """

    name: str
    structure: Any
    phase: str | None
    targets: dict[str, float]
    extra: dict[str, float] = field(default_factory=dict)
    source: str = "dft"

    @property
    def fractions(self) -> dict[str, float]:
        """Atomic fractions of the structure itself."""
        comp = self.structure.composition.fractional_composition
        return {str(el): float(v) for el, v in comp.get_el_amt_dict().items()}

    @property
    def name_fractions(self) -> dict[str, float] | None:
        """Atomic fractions that the entry's name claims, if the name is a formula."""
        return composition_from_name(self.name)

    @property
    def group_key(self) -> str:
        """Key shared by the fcc and bcc entries of one composition (used for splits)."""
        return composition_key(self.name_fractions or self.fractions, decimals=3)

    def target_vector(self) -> np.ndarray:
        """Targets in the order of :data:`TARGETS` (units in their names).

        Returns:
            Array of shape ``(len(TARGETS),)``, NaN where a target is unknown.
        """
        return np.array([self.targets.get(k, math.nan) for k in TARGETS], dtype=np.float64)


@dataclass
class Dataset:
    """A list of :class:`Entry` with where it came from and a hash of the bytes read."""

    entries: list[Entry]
    source: str
    data_hash: str

    def __len__(self) -> int:
        return len(self.entries)

    def __iter__(self) -> Iterator[Entry]:
        return iter(self.entries)

    def __getitem__(self, i: int) -> Entry:
        return self.entries[i]

    @property
    def names(self) -> list[str]:
        """Entry names, in dataset order."""
        return [e.name for e in self.entries]

    @property
    def elements(self) -> tuple[str, ...]:
        """Symbols of the elements present in any structure, sorted by atomic number."""
        from eftgan.elements import element

        found = {el for e in self.entries for el in e.fractions}
        return tuple(sorted(found, key=lambda s: element(s).Z))

    def subset(self, indices: Sequence[int]) -> Dataset:
        """The entries at ``indices`` (in that order), with the same source and data hash."""
        return Dataset([self.entries[i] for i in indices], self.source, self.data_hash)

    def without(self, names: set[str]) -> Dataset:
        """The entries whose names are not in ``names``, with the same source and data hash."""
        return Dataset(
            [e for e in self.entries if e.name not in names], self.source, self.data_hash
        )

    def targets(self) -> np.ndarray:
        """Targets as an array of shape ``(n, len(TARGETS))`` with NaN for unknown values."""
        return np.stack([e.target_vector() for e in self.entries])


def _float(value: Any) -> float:
    """A label as a float; NaN (a missing label) for an empty, unreadable or infinite value."""
    if value is None or str(value).strip() == "":
        return math.nan
    try:
        x = float(value)
    except (ValueError, TypeError):
        return math.nan
    return x if math.isfinite(x) else math.nan


def _reason(exc: BaseException) -> str:
    """An exception's message on one short line (library messages may span several)."""
    return " ".join(str(exc).split())[:160] or type(exc).__name__


_PROPERTY_COUNT = re.compile(r"Properties=\S*?:(\d{4,})", re.IGNORECASE)


def _check_extxyz(path: Path) -> None:
    """Refuse the (extended) XYZ headers that make ASE's reader hang: a frame declaring more
    atoms than the file has lines, or ``Properties`` columns of thousands of values per atom."""
    lines = path.read_bytes().decode("latin-1").splitlines()
    pos = 0
    while pos < len(lines):
        if not lines[pos].strip():
            pos += 1
            continue
        try:
            natoms = int(lines[pos].split()[0])
        except ValueError:
            return  # not a count line: ASE reports what is wrong
        if natoms < 0:
            return
        if natoms > len(lines) - pos - 2:
            raise UserError(
                f"{path}, line {pos + 1}: a frame of {natoms} atoms, but the file has "
                f"{len(lines) - pos - 2} lines after it; the atom count or the file is wrong"
            )
        m = _PROPERTY_COUNT.search(lines[pos + 1])
        if m:
            raise UserError(
                f"{path}, line {pos + 2}: a Properties column of {m.group(1)} values per atom; "
                "an extended XYZ column holds a few (species:S:1:pos:R:3 ...)"
            )
        pos += natoms + 2


def _check_structure(s: Any, where: str) -> Any:
    """``s`` if it has atoms and a finite lattice of positive volume, else a UserError."""
    import numpy as np

    if len(s) == 0:
        raise UserError(f"{where} holds no atoms")
    finite = np.isfinite(s.lattice.matrix).all() and np.isfinite(s.frac_coords).all()
    if not (finite and math.isfinite(s.volume) and s.volume > 1e-6 * len(s)):
        raise UserError(
            f"{where} has a degenerate or non-finite lattice (volume {s.volume:.3g} A^3) or "
            "non-finite coordinates; check the file"
        )
    return s


def read_structure_file(path: str | os.PathLike[str], fmt: str | None = None):
    """Read one structure (CIF, POSCAR/CONTCAR under any name, extxyz…) as a pymatgen Structure.

    POSCARs are recognised by content as well as by name; other formats go through pymatgen
    and then ASE. Raises :class:`UserError` naming the file when it cannot be read.
    """
    from pymatgen.core import Structure

    path = Path(path)
    if not path.is_file():
        raise UserError(f"structure file {path} does not exist")
    text = path.read_text(errors="replace")
    suffix = path.suffix.lower()
    errors: list[str] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        candidates: list[str] = []
        if fmt:
            candidates = [fmt]
        elif suffix == ".cif":
            candidates = ["cif"]
        elif suffix in (".xyz", ".extxyz"):
            candidates = ["ase"]
        elif suffix in (".json",):
            candidates = ["json"]
        else:
            candidates = ["poscar", "ase"]
        for c in candidates:
            try:
                if c == "ase":
                    _check_extxyz(path)
                    from ase.io import read as ase_read
                    from pymatgen.io.ase import AseAtomsAdaptor

                    atoms = ase_read(str(path))
                    if isinstance(atoms, list):
                        atoms = atoms[0]
                    if not any(atoms.pbc):
                        raise ValueError("not periodic")
                    s = AseAtomsAdaptor.get_structure(atoms)
                else:
                    s = Structure.from_str(text, fmt=c)  # type: ignore[arg-type]
                return _check_structure(s, str(path))
            except Exception as exc:  # pymatgen raises many types for bad files
                errors.append(f"{c}: {_reason(exc)}")
    raise UserError(
        f"cannot read structure file {path} ({'; '.join(errors)[:200]}); "
        "give a CIF, POSCAR/CONTCAR or extxyz file"
    )


def read_structure_frames(path: str | os.PathLike[str]) -> list[tuple[str, Any]]:
    """``(name, Structure)`` of every structure in a file: each frame of an extxyz (named by
    its ``structure`` info key, else ``file:index``), or the one structure of a CIF/POSCAR.

    The same checks as :func:`read_structure_file` (headers that would hang ASE, degenerate
    lattices); a :class:`UserError` naming the file otherwise.
    """
    path = Path(path)
    if path.suffix.lower() not in (".xyz", ".extxyz"):
        return [(path.name, read_structure_file(path))]
    if not path.is_file():
        raise UserError(f"structure file {path} does not exist")
    from ase.io import read as ase_read
    from pymatgen.io.ase import AseAtomsAdaptor

    _check_extxyz(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            frames = ase_read(str(path), index=":")
        frames = frames if isinstance(frames, list) else [frames]
        structures = [AseAtomsAdaptor.get_structure(a) for a in frames]
    except Exception as exc:  # ASE and pymatgen raise many types for bad files
        raise UserError(f"cannot read {path} as extxyz ({_reason(exc)})") from None
    if not structures:
        raise UserError(f"{path} holds no structure; give an extxyz file with at least one frame")
    out = []
    for i, (atoms, s) in enumerate(zip(frames, structures, strict=True)):
        default = f"{path.name}:{i}" if len(frames) > 1 else path.name
        name = str(atoms.info.get("structure", default))
        out.append((name, _check_structure(s, f"{path} frame {i}")))
    return out


def _hash_files(paths: Sequence[Path]) -> str:
    h = hashlib.sha256()
    for p in paths:
        h.update(p.name.encode())
        h.update(p.read_bytes())
    return h.hexdigest()


def read_dft_table(folder: str | os.PathLike[str]) -> Dataset:
    """Read the ECNet/EFTGAN DFT table format: ``labels.csv`` plus ``POSCARS/<structure>``."""
    folder = Path(folder)
    labels = folder / "labels.csv"
    if not labels.is_file():
        raise UserError(f"{folder} has no labels.csv: expected labels.csv and a POSCARS/ folder")
    poscar_dir = folder / "POSCARS"
    if not poscar_dir.is_dir():
        poscar_dir = folder
    try:
        raw = labels.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UserError(
            f"{labels} is not UTF-8 text ({_reason(exc)}); save it as a UTF-8 CSV"
        ) from None
    try:
        return _read_labels(folder, labels, poscar_dir, raw)
    except csv.Error as exc:
        raise UserError(f"{labels} is not a readable CSV file ({_reason(exc)})") from None
    except OSError as exc:  # a structure name no file system accepts (too long, ...)
        raise UserError(
            f"{labels} names a structure file that cannot be opened ({_reason(exc)})"
        ) from None


def _read_labels(folder: Path, labels: Path, poscar_dir: Path, raw: str) -> Dataset:
    """The entries of a DFT table, from the text of its ``labels.csv``."""
    reader = csv.DictReader(io.StringIO(raw))
    header = reader.fieldnames or []
    missing = [c for c in CSV_COLUMNS if c not in header]
    if missing:
        raise UserError(
            f"{labels} lacks the column(s) {', '.join(repr(c) for c in missing)}; "
            f"it needs {', '.join(repr(c) for c in CSV_COLUMNS)}"
        )
    entries: list[Entry] = []
    files: list[Path] = [labels]
    seen: dict[str, int] = {}
    for lineno, row in enumerate(reader, start=2):
        name = str(row.get("structure") or "").strip()
        if not name:
            raise UserError(f"{labels}, line {lineno}: empty 'structure' cell")
        if name in seen:
            raise UserError(
                f"{labels}, line {lineno}: structure {name} is labelled twice (first on line "
                f"{seen[name]}); remove one of the rows"
            )
        seen[name] = lineno
        path = poscar_dir / name
        if not path.is_file() and (poscar_dir / f"POSCAR_{name}").is_file():
            path = poscar_dir / f"POSCAR_{name}"
        if not path.is_file():
            raise UserError(f"{labels}, line {lineno}: structure file {path} does not exist")
        structure = read_structure_file(path, fmt="poscar")
        files.append(path)
        values = {
            key: _float(row.get(col)) for col, key in CSV_COLUMNS.items() if key != "structure"
        }
        values.update({key: _float(row.get(col)) for col, key in CSV_OPTIONAL_TARGETS.items()})
        extra = {key: _float(row.get(col)) for col, key in CSV_OPTIONAL.items() if key != "phase"}
        phase = str(row.get("phase") or "").strip().lower() or phase_from_name(name)
        if phase not in PHASES:
            phase = phase_from_name(name)
        source = str(row.get("source") or "").strip().lower() or "dft"
        entries.append(Entry(name, structure, phase, values, extra, source))
    if not entries:
        raise UserError(f"{labels} has a header but no rows")
    return Dataset(entries, str(folder), _hash_files(files))


def read_extxyz(path: str | os.PathLike[str]) -> Dataset:
    """Read an extended-XYZ file; labels come from each frame's ``info`` (keys as TARGETS).

    ``energy`` (total, eV) from the frame's calculator or ``info`` gives
    ``etot_ev_per_atom`` unless ``info`` names it; ``phase`` and ``structure`` (a name) are
    read from ``info`` if present.
    """
    from ase.io import read as ase_read
    from pymatgen.io.ase import AseAtomsAdaptor

    path = Path(path)
    if path.is_file():
        _check_extxyz(path)
    try:
        frames = ase_read(str(path), index=":", format="extxyz")
    except Exception as exc:
        raise UserError(f"cannot read {path} as extended XYZ ({_reason(exc)})") from None
    if not isinstance(frames, list):
        frames = [frames]
    entries = []
    for i, atoms in enumerate(frames):
        info = dict(atoms.info)
        name = str(info.get("structure", f"{path.stem}:{i}"))
        energy = math.nan
        try:
            if atoms.calc is not None:
                energy = float(atoms.get_potential_energy())
        except Exception:
            energy = math.nan
        if not math.isfinite(energy):
            energy = _float(info.get("energy"))
        targets = {k: _float(info.get(k)) for k in TARGETS}
        try:
            structure = AseAtomsAdaptor.get_structure(atoms)
        except Exception as exc:  # a singular or missing lattice, an unknown symbol
            raise UserError(
                f"{path}, frame {i}: not a periodic structure ({_reason(exc)}); give each frame "
                "a Lattice"
            ) from None
        _check_structure(structure, f"{path}, frame {i}")
        if not math.isfinite(targets["v0_a3_per_atom"]):
            targets["v0_a3_per_atom"] = structure.volume / len(structure)
        if not math.isfinite(targets["etot_ev_per_atom"]):
            targets["etot_ev_per_atom"] = energy / len(atoms)
        phase = str(info.get("phase", "")).lower() or phase_from_name(name)
        entries.append(
            Entry(
                name=name,
                structure=structure,
                phase=phase if phase in PHASES else None,
                targets=targets,
            )
        )
    if not entries:
        raise UserError(f"{path} holds no structures")
    return Dataset(entries, str(path), _hash_files([path]))


def read_vasp(path: str | os.PathLike[str]) -> Dataset:
    """Read ``vasprun.xml`` files (one, or all under a folder) through pymatgen.

    The final structure and energy are read; ``OUTCAR`` beside a vasprun gives the total
    magnetisation. Formation and mixing energies need elemental references and are left NaN.
    """
    from pymatgen.io.vasp.outputs import Outcar, Vasprun

    path = Path(path)
    files = sorted(path.rglob("vasprun*.xml")) if path.is_dir() else [path]
    if not files:
        raise UserError(f"{path} holds no vasprun.xml files")
    entries = []
    for f in files:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                vr = Vasprun(str(f), parse_dos=False, parse_eigen=False, parse_potcar_file=False)
        except Exception as exc:
            raise UserError(f"cannot read {f} as a VASP vasprun.xml ({_reason(exc)})") from None
        s = _check_structure(vr.final_structure, str(f))
        n = len(s)
        ms = math.nan
        outcar = f.parent / "OUTCAR"
        if outcar.is_file():
            try:
                tm = Outcar(str(outcar)).total_mag
                ms = abs(float(tm)) / n if tm is not None else math.nan
            except Exception:
                ms = math.nan
        name = f.parent.name if f.name == "vasprun.xml" else f.stem
        entries.append(
            Entry(
                name=name,
                structure=s,
                phase=phase_from_name(name),
                targets={
                    "etot_ev_per_atom": _float(vr.final_energy) / n,
                    "eform_ev_per_atom": math.nan,
                    "emix_ev_per_atom": math.nan,
                    "ms_mub_per_atom": ms,
                    "rmsd_angstrom": math.nan,
                    "v0_a3_per_atom": s.volume / n,
                },
            )
        )
    return Dataset(entries, str(path), _hash_files(files))


def load_dataset(path: str | os.PathLike[str]) -> Dataset:
    """Read a dataset in whichever supported format ``path`` holds."""
    p = Path(path)
    if not p.exists():
        raise UserError(f"dataset path {p} does not exist")
    if p.is_dir():
        if (p / "labels.csv").is_file():
            return read_dft_table(p)
        if any(p.rglob("vasprun*.xml")):
            return read_vasp(p)
        xyz = sorted(list(p.glob("*.extxyz")) + list(p.glob("*.xyz")))
        if len(xyz) == 1:
            return read_extxyz(xyz[0])
        raise UserError(
            f"folder {p} holds no structures: expected labels.csv with POSCARS/, one .extxyz "
            "file, or vasprun.xml files"
        )
    if p.suffix.lower() in (".xyz", ".extxyz"):
        return read_extxyz(p)
    if p.name.startswith("vasprun") and p.suffix.lower() == ".xml":
        return read_vasp(p)
    if p.name == "labels.csv":
        return read_dft_table(p.parent)
    raise UserError(
        f"cannot tell the format of {p}: give a folder with labels.csv, an .extxyz file or a "
        "vasprun.xml"
    )


def load_datasets(paths: Sequence[str | os.PathLike[str]]) -> Dataset:
    """Several datasets read by :func:`load_dataset` and joined by :func:`combine_datasets`."""
    return combine_datasets([load_dataset(p) for p in paths])


def combine_datasets(datasets: Sequence[Dataset]) -> Dataset:
    """One dataset of several (DFT and oracle tables, say); names must not repeat.

    The data hash is the SHA-256 of the parts' hashes, so it changes with any of them.
    """
    if len(datasets) == 1:
        return datasets[0]
    seen: dict[str, str] = {}
    entries: list[Entry] = []
    for ds in datasets:
        for e in ds:
            if e.name in seen:
                raise UserError(
                    f"entry {e.name} is in both {seen[e.name]} and {ds.source}; rename one"
                )
            seen[e.name] = ds.source
            entries.append(e)
    digest = hashlib.sha256("".join(ds.data_hash for ds in datasets).encode()).hexdigest()
    return Dataset(entries, " + ".join(ds.source for ds in datasets), digest)


def label_sources(dataset: Dataset) -> tuple[str, ...]:
    """The label sources of a dataset, ``dft`` first where present, then the others sorted."""
    found = {e.source for e in dataset}
    return tuple(sorted(found, key=lambda s: (s != "dft", s)))


def split_by_composition(
    dataset: Dataset,
    fractions: tuple[float, float, float] = (0.8, 0.1, 0.1),
    seed: int = 0,
) -> tuple[list[int], list[int], list[int]]:
    """Seeded train/validation/test indices; all entries of one composition share a side.

    Compositions (not entries) are shuffled and cut at the given fractions, so the fcc and
    bcc structures of a composition never straddle a split.
    """
    if abs(sum(fractions) - 1.0) > 1e-6 or min(fractions) < 0:
        raise UserError(f"split fractions {fractions} must be non-negative and sum to 1")
    keys = sorted({e.group_key for e in dataset})
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(keys))
    n = len(keys)
    n_train = int(round(fractions[0] * n))
    n_val = int(round(fractions[1] * n))
    side: dict[str, int] = {}
    for rank, k in enumerate(order):
        side[keys[k]] = 0 if rank < n_train else (1 if rank < n_train + n_val else 2)
    out: tuple[list[int], list[int], list[int]] = ([], [], [])
    for i, e in enumerate(dataset):
        out[side[e.group_key]].append(i)
    return out
