"""eftgan.fetch on a local archive (a file:// address): verified, staged, never half-written."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from eftgan.errors import UserError
from eftgan.fetch import DATA_FOLDER, fetch_dataset


def _archive(path: Path, text: str) -> str:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("ECNet-03774ad/README.md", "not data")
        zf.writestr(f"ECNet-03774ad/{DATA_FOLDER}/labels.csv", text)
        zf.writestr(f"ECNet-03774ad/{DATA_FOLDER}/POSCARS/a.vasp", "poscar")
    return path.resolve().as_uri()


def test_fetch_extracts_the_data_folder_and_records_its_checksum(tmp_path: Path) -> None:
    url = _archive(tmp_path / "a.zip", "v1")
    target = fetch_dataset(url, dest=tmp_path / "cache")
    assert target == tmp_path / "cache" / DATA_FOLDER
    assert (target / "labels.csv").read_text() == "v1"
    assert (target / "POSCARS" / "a.vasp").is_file() and not (target / "README.md").exists()
    assert len((tmp_path / "cache" / "SHA256").read_text().strip()) == 64
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == [DATA_FOLDER, "SHA256"]
    with pytest.raises(UserError, match="--force"):
        fetch_dataset(url, dest=tmp_path / "cache")


def test_a_changed_source_is_refused_and_the_data_kept(tmp_path: Path) -> None:
    fetch_dataset(_archive(tmp_path / "a.zip", "v1"), dest=tmp_path / "cache")
    changed = _archive(tmp_path / "b.zip", "v2")
    with pytest.raises(UserError, match="checksum mismatch"):
        fetch_dataset(changed, dest=tmp_path / "cache", force=True)
    assert (tmp_path / "cache" / DATA_FOLDER / "labels.csv").read_text() == "v1"
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == [DATA_FOLDER, "SHA256"]


def test_an_archive_without_the_data_folder_is_a_user_error(tmp_path: Path) -> None:
    with zipfile.ZipFile(tmp_path / "c.zip", "w") as zf:
        zf.writestr("other/x.txt", "x")
    with pytest.raises(UserError, match=f"no {DATA_FOLDER}/ folder"):
        fetch_dataset((tmp_path / "c.zip").as_uri(), dest=tmp_path / "cache")
    assert not (tmp_path / "cache" / DATA_FOLDER).exists()
