"""Fuzzing the readers of ``eftgan``: structures, DFT datasets, compositions, bounds, model folders.

Each reader, given a mutated or broken input, returns a valid result or raises a one-line
UserError, and writes nothing where it reads (see ``tests/fuzzing.py``).
"""

from __future__ import annotations

import io
import json
import math
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from eftgan.composition import parse_bounds, parse_composition
from eftgan.dataset import load_dataset, read_structure_file, read_structure_frames
from eftgan.errors import UserError
from tests.fuzzing import check_reader, describe, fuzz_settings, mutated, odd_text

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "data" / "examples"
POSCAR = (EXAMPLES / "CoCrNi_random.vasp").read_bytes()
CIF = (EXAMPLES / "Fe3Cr_random_bcc.cif").read_bytes()

# -- valid samples ----------------------------------------------------------------------------


def _extxyz() -> bytes:
    """Two labelled frames of extended XYZ, as ``eftgan train`` reads them."""
    from ase.io import write
    from pymatgen.io.ase import AseAtomsAdaptor

    frames = []
    for name, phase in (("CoCrNi_random.vasp", "fcc"), ("FeNiCoCrMn_sqsfcc.vasp", "fcc")):
        atoms = AseAtomsAdaptor.get_atoms(read_structure_file(EXAMPLES / name))
        atoms.info.update(
            structure=name.split(".")[0],
            phase=phase,
            energy=-250.5,
            eform_ev_per_atom=0.05,
            emix_ev_per_atom=-0.01,
            ms_mub_per_atom=0.8,
            v0_a3_per_atom=11.6,
        )
        frames.append(atoms)
    buf = io.StringIO()
    write(buf, frames, format="extxyz")
    return buf.getvalue().encode()


EXTXYZ = _extxyz()
LABELS = (
    b"structure,Etot (eV/atom),Eform (eV/atom),Emix (eV/atom),Ms (mub/atom),V0 (A3/atom),phase\n"
    b"CoCrNi_sqsfcc,-7.81,0.061,-0.012,0.31,11.39,fcc\n"
    b"FeNiCoCrMn_sqsfcc,-7.65,0.072,-0.008,0.95,11.82,\n"
)
POSCARS = {
    "CoCrNi_sqsfcc": POSCAR,
    "FeNiCoCrMn_sqsfcc": (EXAMPLES / "FeNiCoCrMn_sqsfcc.vasp").read_bytes(),
}
VASPRUN = (Path(__file__).parent / "vasprun_sample.xml").read_bytes()


# -- what a valid result is -------------------------------------------------------------------


def valid_frames(frames: Any) -> str | None:
    """None for a non-empty list of (name, usable Structure), as ``eftgan predict`` reads."""
    if not frames:
        return "no frames"
    return next((r for _, s in frames if (r := valid_structure(s))), None)


def valid_structure(s: Any) -> str | None:
    """None for a usable pymatgen Structure: atoms, a finite lattice of positive volume."""
    if len(s) == 0:
        return "no atoms"
    m = np.asarray(s.lattice.matrix)
    if not (np.isfinite(m).all() and np.isfinite(s.frac_coords).all()):
        return "non-finite lattice or coordinates"
    if not (math.isfinite(s.volume) and s.volume > 0):
        return f"volume {s.volume}"
    return None


def valid_dataset(ds: Any) -> str | None:
    """None for a dataset of valid structures whose labels are finite or NaN (never inf)."""
    if len(ds) == 0:
        return "no entries"
    for e in ds:
        problem = valid_structure(e.structure)
        if problem:
            return f"{e.name}: {problem}"
        for k, v in {**e.targets, **e.extra}.items():
            if math.isinf(v):
                return f"{e.name}: {k} is {v}"
    return None


def valid_fractions(f: dict[str, float]) -> str | None:
    """None for atomic fractions: positive, finite, summing to 1."""
    if not f:
        return "no elements"
    v = np.array(list(f.values()))
    if not (np.isfinite(v).all() and (v > 0).all() and abs(v.sum() - 1) < 1e-9):
        return f"fractions {f}"
    return None


def valid_bounds(b: dict[str, tuple[float, float]]) -> str | None:
    """None for bounds with 0 <= low <= high <= 1."""
    bad = {k: v for k, v in b.items() if not 0 <= v[0] <= v[1] <= 1}
    return f"bounds {bad}" if bad else None


# -- the tests --------------------------------------------------------------------------------


def test_samples_are_valid(tmp_path: Path) -> None:
    for name, data in (("POSCAR", POSCAR), ("s.cif", CIF), ("s.extxyz", EXTXYZ)):
        (tmp_path / name).write_bytes(data)
        assert valid_structure(read_structure_file(tmp_path / name)) is None, name
    (tmp_path / "vasprun.xml").write_bytes(VASPRUN)
    _dft_folder(tmp_path / "dft", LABELS, None, b"")
    for path in (tmp_path / "s.extxyz", tmp_path / "vasprun.xml", tmp_path / "dft"):
        assert valid_dataset(load_dataset(path)) is None, path


@pytest.mark.parametrize(
    ("what", "needle"),
    [
        ("duplicate row", "labelled twice"),
        ("latin-1 labels", "not UTF-8"),
        ("huge field", "not a readable CSV"),
        ("inf label", None),
        ("singular lattice", "degenerate"),
    ],
)
def test_damaged_dft_tables_found_by_fuzzing(tmp_path: Path, what: str, needle: str | None) -> None:
    """The failures fuzzing found, one example each (each escaped or returned inf before)."""
    labels, poscar = LABELS, POSCARS["CoCrNi_sqsfcc"]
    if what == "duplicate row":
        labels += LABELS.splitlines(keepends=True)[1]
    elif what == "latin-1 labels":
        labels = labels.replace(b"fcc\n", "fcc \u00b5\n".encode("latin-1"), 1)
    elif what == "huge field":
        labels = labels.replace(b"-7.81", b"9" * 200_000)
    elif what == "inf label":
        labels = labels.replace(b"0.31", b"inf")
    else:
        poscar = poscar.replace(b"7.1399999999999997", b"0.0", 1)
    _dft_folder(tmp_path / "dft", labels, "CoCrNi_sqsfcc", poscar)
    if needle is None:
        assert math.isnan(load_dataset(tmp_path / "dft")[0].targets["ms_mub_per_atom"])
    else:
        with pytest.raises(UserError, match=needle):
            load_dataset(tmp_path / "dft")


def test_non_finite_amounts_and_energies_found_by_fuzzing(tmp_path: Path) -> None:
    for comp in ({"Fe": None}, {"Fe": math.inf, "Ni": 1}, {"Fe": math.nan}):
        with pytest.raises(UserError):
            parse_composition(comp)
    run = tmp_path / "run"
    run.mkdir()
    (run / "vasprun.xml").write_bytes(
        re.sub(rb" *<scstep>.*?</scstep>\n", b"", VASPRUN, flags=re.S)
    )
    assert math.isnan(load_dataset(run)[0].targets["etot_ev_per_atom"])  # was inf


STRUCTURES = {"POSCAR": POSCAR, "CONTCAR_Fe3Cr.cif": CIF, "frames.extxyz": EXTXYZ}


@fuzz_settings()
@given(
    st.sampled_from(sorted(STRUCTURES)).flatmap(
        lambda n: st.tuples(st.just(n), mutated(STRUCTURES[n]))
    )
)
def test_fuzz_read_structure_file(case: tuple[str, bytes]) -> None:
    name, data = case
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / name
        p.write_bytes(data)
        check_reader(
            "eftgan.read_structure_file",
            lambda: read_structure_file(p),
            Path(d),
            valid_structure,
            describe(data),
        )
        check_reader(
            "eftgan.read_structure_frames",
            lambda: read_structure_frames(p),
            Path(d),
            valid_frames,
            describe(data),
        )


def _dft_folder(folder: Path, labels: bytes, poscar: str | None, data: bytes) -> None:
    (folder / "POSCARS").mkdir(parents=True)
    (folder / "labels.csv").write_bytes(labels)
    for name, text in POSCARS.items():
        (folder / "POSCARS" / name).write_bytes(data if name == poscar else text)


@fuzz_settings()
@given(
    st.sampled_from([None, *sorted(POSCARS)]).flatmap(
        lambda which: st.tuples(
            st.just(which), mutated(LABELS if which is None else POSCARS[which])
        )
    )
)
def test_fuzz_read_dft_table(case: tuple[str | None, bytes]) -> None:
    """labels.csv or one of the POSCARs mutated."""
    which, data = case
    with tempfile.TemporaryDirectory() as d:
        folder = Path(d) / "dft"
        _dft_folder(folder, data if which is None else LABELS, which, data)
        check_reader(
            "eftgan.read_dft_table",
            lambda: load_dataset(folder),
            Path(d),
            valid_dataset,
            f"{which or 'labels.csv'}: {describe(data)}",
        )


@fuzz_settings()
@given(mutated(EXTXYZ))
def test_fuzz_read_extxyz(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "train.extxyz"
        p.write_bytes(data)
        check_reader(
            "eftgan.read_extxyz", lambda: load_dataset(p), Path(d), valid_dataset, describe(data)
        )


@fuzz_settings()
@given(mutated(VASPRUN))
def test_fuzz_read_vasp(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as d:
        run = Path(d) / "FeNi_sqsbcc"
        run.mkdir()
        (run / "vasprun.xml").write_bytes(data)
        check_reader(
            "eftgan.read_vasp",
            lambda: load_dataset(Path(d)),
            Path(d),
            valid_dataset,
            describe(data),
        )


_AMOUNT = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-(10**30), 10**30),
    st.sampled_from(["0.5", "x", "", None, [], {}]),
)


@fuzz_settings()
@given(
    st.one_of(
        odd_text(),
        st.dictionaries(st.one_of(odd_text(), st.sampled_from(["Fe", "Ni", "fe", "Xx"])), _AMOUNT),
        st.sampled_from([None, 3, 2.5, b"FeNi", ["Fe", "Ni"]]),
    )
)
def test_fuzz_parse_composition(comp: Any) -> None:
    check_reader(
        "eftgan.parse_composition",
        lambda: parse_composition(comp),
        None,
        valid_fractions,
        repr(comp),
    )


@fuzz_settings()
@given(
    st.one_of(
        odd_text(),
        st.lists(
            st.tuples(
                st.sampled_from(["Fe", "Ni", "Mn", "mn", "Xx", "", " Cr"]),
                st.sampled_from(["0", "0.1", "0.35", "1", "-0.1", "2", "nan", "inf", "1e999", ""]),
                st.sampled_from(["0", "0.2", "1", "nan", "inf", "-inf", "", "0.5-0.6"]),
            ),
            max_size=4,
        ).map(lambda parts: ",".join(f"{e}:{lo}-{hi}" for e, lo, hi in parts)),
    )
)
def test_fuzz_parse_bounds(text: str) -> None:
    check_reader(
        "eftgan.parse_bounds",
        lambda: parse_bounds(text, ("Fe", "Ni", "Co", "Cr", "Mn")),
        None,
        valid_bounds,
        repr(text),
    )


# -- model folders ----------------------------------------------------------------------------

MODELS = REPO / "data" / "models"


def _json_mutation(draw: Any, config: dict[str, Any]) -> dict[str, Any]:
    """The config with one value somewhere replaced, or one key removed."""
    config = json.loads(json.dumps(config))
    node: Any = config
    while True:
        keys = list(node) if isinstance(node, dict) else list(range(len(node)))
        if not keys:
            return config
        key = draw(st.sampled_from(keys))
        child = node[key]
        if isinstance(child, dict | list) and child and draw(st.booleans()):
            node = child
            continue
        if isinstance(node, dict) and draw(st.integers(0, 3)) == 0:
            del node[key]
        else:
            node[key] = draw(
                st.sampled_from(
                    [None, "", "x", -1, 0, 1.5, 1e308, math.nan, math.inf, [], {}, [1, 2], True]
                )
            )
        return config


def _model_folder(draw: Any, d: Path) -> tuple[Path, str, str]:
    """A copy of a shipped model folder with one part damaged; returns (folder, kind, note)."""
    from eftgan.checkpoint import CONFIG_FILE, WEIGHTS_FILE, sha256_bytes
    from eftgan.paths import DEFAULT_MODELS

    kind = draw(st.sampled_from(sorted(DEFAULT_MODELS)))
    src = MODELS / DEFAULT_MODELS[kind]
    folder = d / src.name
    folder.mkdir()
    for f in src.iterdir():  # links, not copies: the damaged file is written, the rest linked
        (folder / f.name).symlink_to(f)
    config = json.loads((src / CONFIG_FILE).read_text())
    what = draw(
        st.sampled_from(
            ["config bytes", "config value", "weights", "weights rehashed", "missing file", "kind"]
        )
    )
    if what == "missing file":
        (folder / draw(st.sampled_from([CONFIG_FILE, WEIGHTS_FILE]))).unlink()
        return folder, kind, what
    if what == "kind":
        config["kind"] = draw(st.sampled_from([*sorted(DEFAULT_MODELS), "x", None, 3]))
        _replace(folder / CONFIG_FILE, json.dumps(config).encode())
        return folder, kind, f"{what} {config['kind']!r}"
    if what.startswith("weights"):
        data = draw(mutated((src / WEIGHTS_FILE).read_bytes(), huge=False))
        _replace(folder / WEIGHTS_FILE, data)
        if what == "weights rehashed":
            config["weights"]["sha256"] = sha256_bytes(data)
            _replace(folder / CONFIG_FILE, json.dumps(config).encode())
        return folder, kind, f"{what}: {describe(data)}"
    if what == "config value":
        data = json.dumps(_json_mutation(draw, config)).encode()
    else:
        data = draw(mutated((src / CONFIG_FILE).read_bytes()))
    _replace(folder / CONFIG_FILE, data)
    return folder, kind, f"{what}: {describe(data)}"


def _replace(link: Path, data: bytes) -> None:
    link.unlink()
    link.write_bytes(data)


def valid_load(result: Any) -> str | None:
    """None for what a typed loader returns: a model object, or (network, config)."""
    if isinstance(result, tuple):
        net, config = result
        if not (hasattr(net, "forward") and isinstance(config, dict)):
            return f"loader returned {type(net).__name__}, {type(config).__name__}"
    return None if result is not None else "loader returned None"


@fuzz_settings()
@given(st.data())
def test_fuzz_model_folders(data: st.DataObject) -> None:
    """eftgan.load and read_model_folder on damaged copies of the four shipped models."""
    import eftgan
    from eftgan.checkpoint import read_model_folder

    with tempfile.TemporaryDirectory() as d:
        folder, kind, note = _model_folder(data.draw, Path(d))
        check_reader("eftgan.load", lambda: eftgan.load(folder), Path(d), valid_load, note)
        check_reader(
            "eftgan.read_model_folder", lambda: read_model_folder(folder, kind), Path(d), None, note
        )


@pytest.mark.parametrize("damage", ["kind swapped", "deep nesting", "weights a list"])
def test_damaged_model_folders_found_by_fuzzing(tmp_path: Path, damage: str) -> None:
    """Each escaped as KeyError, RecursionError or AttributeError before."""
    import eftgan
    from eftgan.checkpoint import CheckpointError, read_model_folder

    src = MODELS / "ecnet-fenicocrmnpd-v2"
    folder = tmp_path / "m"
    shutil.copytree(src, folder)
    config = json.loads((src / "config.json").read_text())
    if damage == "kind swapped":
        config["kind"] = "dcgan"
        text = json.dumps(config)
    elif damage == "deep nesting":
        text = "[" * 100_000
    else:
        config["weights"] = [1, 2]
        text = json.dumps(config)
    (folder / "config.json").write_text(text)
    with pytest.raises(CheckpointError):
        eftgan.load(folder)
    if damage != "kind swapped":
        with pytest.raises(CheckpointError):
            read_model_folder(folder, "ecnet")


def test_an_extxyz_declaring_millions_of_columns_is_refused_at_once(tmp_path: Path) -> None:
    """ASE read such a file for minutes (found by the long fuzz run)."""
    p = tmp_path / "h.extxyz"
    p.write_text('1\nLattice="3 0 0 0 3 0 0 0 3" Properties=species:S:99999999:pos:R:3\nFe 0 0 0\n')
    for read in (load_dataset, read_structure_file):
        with pytest.raises(UserError, match="99999999"):
            read(p)


def test_an_extxyz_declaring_more_atoms_than_lines_is_refused_at_once(tmp_path: Path) -> None:
    """ASE read a frame count of 10^23 for minutes (found by the long fuzz run)."""
    p = tmp_path / "h.extxyz"
    p.write_bytes(b"99999999999999999999999\n" + EXTXYZ.split(b"\n", 1)[1])
    for read in (load_dataset, read_structure_file):
        with pytest.raises(UserError, match="99999999999999999999999 atoms"):
            read(p)
    p.write_bytes(b"-5\n" + EXTXYZ.split(b"\n", 1)[1])
    with pytest.raises(UserError):
        load_dataset(p)
