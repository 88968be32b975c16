"""Download the public ECNet/EFTGAN DFT data (github.com/xinming365/ECNet, folder HEA_Data).

The archive is downloaded to a temporary file in the cache, its SHA-256 is checked, and only
then is ``HEA_Data/`` extracted (to a staged folder, renamed into place:
:func:`eftgan.files.staged_dir`). When no checksum is
pinned or given, the first download's checksum is recorded in ``SHA256`` beside the data and
every later download must match it.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
import urllib.request
import zipfile
from pathlib import Path

from eftgan.errors import UserError
from eftgan.files import atomic_write_text, staged_dir
from eftgan.paths import eftgan_home

DEFAULT_URL = "https://github.com/xinming365/ECNet/archive/03774ad.zip"
DATA_FOLDER = "HEA_Data"


def dataset_dir() -> Path:
    """Default download folder of the DFT data: ``<eftgan_home>/datasets/ecnet-hea``."""
    return eftgan_home() / "datasets" / "ecnet-hea"


def fetch_dataset(
    url: str = DEFAULT_URL,
    sha256: str | None = None,
    dest: Path | None = None,
    force: bool = False,
    timeout: float = 60.0,
) -> Path:
    """Download, verify and extract; returns the extracted ``HEA_Data`` folder."""
    dest = dest or dataset_dir()
    target = dest / DATA_FOLDER
    if target.exists() and not force:
        raise UserError(f"{target} already exists; pass --force to download it again")
    dest.mkdir(parents=True, exist_ok=True)
    recorded = dest / "SHA256"
    expected = (sha256 or (recorded.read_text().strip() if recorded.is_file() else "")).lower()
    with tempfile.TemporaryDirectory(dir=dest, prefix=".download.") as tmp:
        archive = Path(tmp) / "archive.zip"
        digest = _download(url, archive, timeout)
        if expected and digest != expected:
            raise UserError(
                f"checksum mismatch for {url}: got {digest}, expected {expected}; the download "
                "is damaged or the source changed"
            )
        with staged_dir(target, force=True) as staging:
            _extract_folder(archive, DATA_FOLDER, staging)
    if not expected:
        atomic_write_text(recorded, digest + "\n")
    return target


def _download(url: str, path: Path, timeout: float) -> str:
    """Stream ``url`` into ``path``; returns the SHA-256 of what arrived."""
    h = hashlib.sha256()
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp, open(path, "wb") as fh:
            while chunk := resp.read(1 << 20):
                fh.write(chunk)
                h.update(chunk)
    except (OSError, ValueError) as exc:
        raise UserError(
            f"cannot download {url} ({exc}); check the address or your network"
        ) from None
    return h.hexdigest()


def _extract_folder(archive: Path, folder: str, out: Path) -> None:
    """Extract the members under ``folder/`` (at any depth of the archive) into ``out``."""
    try:
        zf = zipfile.ZipFile(archive)
    except zipfile.BadZipFile:
        raise UserError(f"the download is not a zip archive ({archive.name})") from None
    with zf:
        members = [m for m in zf.infolist() if f"/{folder}/" in f"/{m.filename}"]
        if not members:
            raise UserError(f"the archive holds no {folder}/ folder")
        for m in members:
            rel = m.filename[m.filename.index(f"{folder}/") + len(folder) + 1 :]
            dest = (out / rel).resolve()
            if not str(dest).startswith(str(out.resolve())):
                raise UserError(f"refusing archive member outside the target: {m.filename}")
            if m.is_dir():
                dest.mkdir(parents=True, exist_ok=True)
                continue
            dest.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(m) as src, open(dest, "wb") as dst:
                shutil.copyfileobj(src, dst)
