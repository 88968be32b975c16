"""Model folders: ``config.json`` + ``weights.safetensors`` + ``card.md`` (+ ``embeddings.json``).

Nothing here unpickles: weights are safetensors, everything else JSON or Markdown. The config
records the SHA-256 of the weights, so a damaged or edited weights file is refused, and a format
version, so a folder written by an incompatible eftgan is refused with a clear message.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save

from eftgan.elements import atomic_write_bytes, atomic_write_text
from eftgan.errors import CheckpointError

FORMAT_VERSION = 1
WEIGHTS_FILE = "weights.safetensors"
CONFIG_FILE = "config.json"


def package_versions() -> dict[str, str]:
    """Versions of the packages a result depends on (for cards and run records)."""
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for name in ("eftgan", "torch", "torch-geometric", "pymatgen", "ase", "numpy", "scikit-learn"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def state_dict_bytes(module: torch.nn.Module, metadata: dict[str, str] | None = None) -> bytes:
    tensors = {k: v.detach().contiguous().clone() for k, v in module.state_dict().items()}
    return save(tensors, metadata=metadata)


def write_model_folder(
    folder: str | os.PathLike[str],
    module: torch.nn.Module,
    kind: str,
    model_config: dict[str, Any],
    card: str,
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write weights, then card, then ``config.json`` last (its presence marks a complete model)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    blob = state_dict_bytes(module)
    atomic_write_bytes(folder / WEIGHTS_FILE, blob)
    atomic_write_text(folder / "card.md", card)
    config = {
        "format_version": FORMAT_VERSION,
        "kind": kind,
        "eftgan_version": package_versions()["eftgan"],
        "model": model_config,
        "weights": {"file": WEIGHTS_FILE, "sha256": sha256_bytes(blob)},
        **(extra or {}),
    }
    atomic_write_text(folder / CONFIG_FILE, json.dumps(config, indent=2))
    return folder


def read_model_folder(
    folder: str | os.PathLike[str], kind: str
) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """Check and read a model folder; returns ``(config, state_dict)``.

    Raises :class:`CheckpointError` with a one-line reason for a missing folder or file, a
    config that is not JSON, another format version or kind, or weights whose hash differs.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise CheckpointError(
            f"model folder {folder} does not exist; pass --model with a trained model"
        )
    cfg_path = folder / CONFIG_FILE
    if not cfg_path.is_file():
        raise CheckpointError(
            f"{folder} is not a model folder (no {CONFIG_FILE}); was the training finished?"
        )
    try:
        config = json.loads(cfg_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CheckpointError(
            f"{cfg_path} is not valid JSON ({exc}); the folder is damaged"
        ) from None
    if not isinstance(config, dict):
        raise CheckpointError(f"{cfg_path} does not hold a model configuration")
    fv = config.get("format_version")
    if fv != FORMAT_VERSION:
        raise CheckpointError(
            f"{folder} was written in model format {fv!r} (eftgan "
            f"{config.get('eftgan_version', '?')}); this eftgan reads format {FORMAT_VERSION}: "
            "retrain the model or install the eftgan version that made it"
        )
    if config.get("kind") != kind:
        raise CheckpointError(f"{folder} holds a {config.get('kind')!r} model, not {kind!r}")
    weights = config.get("weights") or {}
    wpath = folder / str(weights.get("file", WEIGHTS_FILE))
    if not wpath.is_file():
        raise CheckpointError(f"{folder} lacks its weights file {wpath.name}")
    blob = wpath.read_bytes()
    if sha256_bytes(blob) != weights.get("sha256"):
        raise CheckpointError(
            f"{wpath} does not match the SHA-256 recorded in {CONFIG_FILE}: the weights were "
            "modified or damaged; retrain or restore the folder"
        )
    try:
        from safetensors.torch import load

        state = load(blob)
    except Exception as exc:
        raise CheckpointError(f"cannot read {wpath} as safetensors ({exc})") from None
    return config, state


def half_precision_copy(src: str | os.PathLike[str], dst: str | os.PathLike[str], kind: str
                        ) -> Path:  # fmt: skip
    """Copy the model folder ``src`` to ``dst`` with its floating-point weights stored as
    float16 (half the size; they are read back into float32 models, so a value keeps about
    three significant digits and any below 6e-8 becomes 0). The configuration records the
    original weights' SHA-256 and the storage type; the card says so; the other files (loss
    curve, history) are copied as they are. ``dst`` must not exist."""
    import shutil

    src, dst = Path(src), Path(dst)
    config, state = read_model_folder(src, kind)
    if dst.exists():
        raise CheckpointError(f"{dst} exists; remove it or choose another folder")
    half = {k: v.half() if v.dtype.is_floating_point else v for k, v in state.items()}
    if not all(torch.isfinite(v).all() for v in half.values() if v.dtype.is_floating_point):
        raise CheckpointError(f"{src}: some weights overflow float16; keep them as they are")
    tmp = dst.with_name(dst.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for f in src.iterdir():
        if f.is_file() and f.name not in (CONFIG_FILE, WEIGHTS_FILE):
            shutil.copy2(f, tmp / f.name)
    blob = save({k: v.contiguous() for k, v in half.items()})
    (tmp / WEIGHTS_FILE).write_bytes(blob)
    original = config["weights"]["sha256"]
    config["weights"] = {"file": WEIGHTS_FILE, "sha256": sha256_bytes(blob), "dtype": "float16",
                         "float32_sha256": original}  # fmt: skip
    card = tmp / "card.md"
    if card.is_file():
        card.write_text(
            card.read_text().rstrip("\n") + "\n\nThe weights are stored as float16 "
            f"(trained in float32, SHA-256 `{original}`); they load into float32.\n"
        )
    (tmp / CONFIG_FILE).write_text(json.dumps(config, indent=2))
    tmp.rename(dst)
    return dst


__all__ = [
    "FORMAT_VERSION",
    "half_precision_copy",
    "package_versions",
    "read_model_folder",
    "write_model_folder",
]
