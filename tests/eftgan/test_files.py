"""Atomic writers and staged output folders: a file or folder is whole or absent."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eftgan.errors import UserError
from eftgan.files import (
    atomic_write_bytes,
    atomic_write_json,
    atomic_write_text,
    atomic_writer,
    refuse_existing,
    staged_dir,
)


def _names(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()}


def test_atomic_writers_write_and_leave_no_temporary_file(tmp_path: Path) -> None:
    assert atomic_write_bytes(tmp_path / "a.bin", b"\x00\x01") == tmp_path / "a.bin"
    atomic_write_text(tmp_path / "b.txt", "Fe–Ni μB\n")
    atomic_write_json(tmp_path / "sub" / "c.json", {"x": [1, 2]})
    assert (tmp_path / "a.bin").read_bytes() == b"\x00\x01"
    assert (tmp_path / "b.txt").read_text(encoding="utf-8") == "Fe–Ni μB\n"
    assert json.loads((tmp_path / "sub" / "c.json").read_text()) == {"x": [1, 2]}
    assert _names(tmp_path) == {"a.bin", "b.txt", "sub"}
    assert _names(tmp_path / "sub") == {"c.json"}


def test_atomic_writer_keeps_the_suffix_and_replaces(tmp_path: Path) -> None:
    target = tmp_path / "x.npz"
    target.write_text("old")
    with atomic_writer(target) as tmp:
        assert tmp.parent == tmp_path and tmp.suffix == ".npz" and tmp != target
        tmp.write_text("new")
        assert target.read_text() == "old", "the target changes only when the block ends"
    assert target.read_text() == "new"
    assert _names(tmp_path) == {"x.npz"}


def test_failed_write_keeps_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "table.csv"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_writer(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("killed half-way")
    assert target.read_text() == "old"
    assert _names(tmp_path) == {"table.csv"}


def test_failed_write_of_a_new_file_leaves_nothing(tmp_path: Path) -> None:
    with pytest.raises(TypeError):
        atomic_write_json(tmp_path / "x.json", {"not json": object()})
    assert _names(tmp_path) == set()


def test_refuse_existing(tmp_path: Path) -> None:
    refuse_existing(tmp_path / "absent", force=False)
    refuse_existing(tmp_path, force=True)
    with pytest.raises(UserError, match="--force") as err:
        refuse_existing(tmp_path, force=False)
    assert "\n" not in str(err.value)


def test_force_never_replaces_the_current_folder_or_one_that_holds_it(
    tmp_path: Path, monkeypatch
) -> None:
    """``--out . --force`` (or ``..``) would delete the user's files with the folder."""
    here = tmp_path / "work"
    here.mkdir()
    (here / "keep.txt").write_text("mine")
    monkeypatch.chdir(here)
    for out in (".", "..", str(here)):
        for force in (True, False):  # without --force too: no hint to add it
            with pytest.raises(UserError, match="is the current folder or holds it"):
                with staged_dir(out, force=force) as tmp:
                    (tmp / "a.csv").write_text("1")
    assert (here / "keep.txt").read_text() == "mine" and _names(here) == {"keep.txt"}
    refuse_existing(here / "keep.txt", force=True)  # what lies inside it may be replaced


def test_staged_dir_builds_in_a_sibling_and_renames(tmp_path: Path) -> None:
    out = tmp_path / "maps"
    with staged_dir(out) as tmp:
        assert tmp.parent == tmp_path and tmp != out
        (tmp / "a.csv").write_text("1")
        assert not out.exists(), "the folder appears only when complete"
    assert _names(out) == {"a.csv"}
    assert _names(tmp_path) == {"maps"}


def test_staged_dir_refuses_an_existing_folder_before_any_work(tmp_path: Path) -> None:
    out = tmp_path / "maps"
    out.mkdir()
    (out / "keep.csv").write_text("mine")
    entered = False
    with pytest.raises(UserError, match="--force"):
        with staged_dir(out):
            entered = True
    assert not entered
    assert (out / "keep.csv").read_text() == "mine"
    assert _names(tmp_path) == {"maps"}


def test_staged_dir_with_force_replaces_only_when_complete(tmp_path: Path) -> None:
    out = tmp_path / "maps"
    out.mkdir()
    (out / "old.csv").write_text("old")
    with staged_dir(out, force=True) as tmp:
        (tmp / "new.csv").write_text("new")
        assert (out / "old.csv").exists(), "the old folder stays until the new one is complete"
    assert _names(out) == {"new.csv"}
    assert _names(tmp_path) == {"maps"}


def test_staged_dir_with_force_replaces_a_file(tmp_path: Path) -> None:
    out = tmp_path / "maps"
    out.write_text("a file in the way")
    with staged_dir(out, force=True) as tmp:
        (tmp / "a.csv").write_text("1")
    assert out.is_dir() and _names(out) == {"a.csv"}


@pytest.mark.parametrize("existing", [False, True])
def test_staged_dir_error_removes_the_sibling_and_keeps_the_old(
    tmp_path: Path, existing: bool
) -> None:
    out = tmp_path / "maps"
    if existing:
        out.mkdir()
        (out / "old.csv").write_text("old")
    with pytest.raises(KeyboardInterrupt), staged_dir(out, force=True) as tmp:
        (tmp / "half.csv").write_text("half")
        raise KeyboardInterrupt
    assert _names(tmp_path) == ({"maps"} if existing else set())
    if existing:
        assert _names(out) == {"old.csv"}


def test_a_staged_folder_gets_the_permissions_of_a_folder_made_normally(tmp_path: Path) -> None:
    import os

    from eftgan.files import staged_dir

    with staged_dir(tmp_path / "out") as tmp:
        (tmp / "a.txt").write_text("x")
    (tmp_path / "plain").mkdir()
    mode = os.stat(tmp_path / "out").st_mode & 0o777
    assert mode == os.stat(tmp_path / "plain").st_mode & 0o777
