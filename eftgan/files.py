"""Files that are whole or absent: atomic writes and staged output folders.

A reader that opens one of our outputs, or a run killed half-way through writing it, must never
see a half-written file. Every writer here first writes a temporary sibling in the same folder
(so that the final step is a rename within one file system, which POSIX makes atomic) and then
renames it into place; on any error the temporary file or folder is removed.

- :func:`atomic_write_bytes` / :func:`atomic_write_text` / :func:`atomic_write_json`: one file.
- :func:`atomic_writer`: a path to write to with any library (``np.savez``, ``fig.savefig``),
  renamed into place when the block ends without error.
- :func:`staged_dir`: a whole output folder (maps, tables, images) built in a temporary sibling
  and renamed into place at the end; an existing folder is replaced only with ``force``.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from eftgan.errors import UserError

__all__ = [
    "atomic_write_bytes",
    "atomic_write_json",
    "atomic_write_text",
    "atomic_writer",
    "refuse_existing",
    "staged_dir",
]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextmanager
def atomic_writer(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` when the block succeeds.

    The temporary name keeps ``path``'s suffix, so libraries that choose a format by suffix
    (matplotlib, numpy's ``.npz``) write the right one. Permissions follow the umask, as for a
    file opened normally.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.stem}.", suffix=f".tmp{path.suffix}"
    )
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary sibling and a rename; returns the path."""
    with atomic_writer(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically; returns the path."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike[str], payload: Any, indent: int = 1) -> Path:
    """Write ``payload`` as JSON to ``path`` atomically; returns the path."""
    return atomic_write_text(path, json.dumps(payload, indent=indent) + "\n")


def refuse_existing(out: str | os.PathLike[str], force: bool, what: str = "--out") -> None:
    """A :class:`UserError` when ``out`` exists and ``force`` is not given, and, even with
    ``force``, when ``out`` is the current folder or one that holds it: replacing it would
    delete the user's files with it (``--out .``)."""
    out = Path(out)
    if not out.exists():
        return
    here, target = Path.cwd().resolve(), out.resolve()
    if target == here or target in here.parents:
        raise UserError(
            f"{what} {out} is the current folder or holds it, which --force would delete "
            "with everything in it; give a new folder"
        )
    if not force:
        raise UserError(
            f"{out} already exists; pass --force to replace it or choose another {what}"
        )


@contextmanager
def staged_dir(out: str | os.PathLike[str], force: bool = False) -> Iterator[Path]:
    """Build an output folder in a temporary sibling; rename it onto ``out`` at the end.

    An existing ``out`` is refused unless ``force`` (checked before any work, so a refused run
    costs nothing); with ``force`` it is replaced only once the new folder is complete. On any
    error, a kill excepted, the temporary folder is removed and ``out`` is left as it was.
    """
    out = Path(out)
    refuse_existing(out, force)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.tmp-"))
    try:
        yield tmp
        os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes it private; an output folder is not
        if out.exists():
            shutil.rmtree(out) if out.is_dir() else out.unlink()
        tmp.rename(out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
