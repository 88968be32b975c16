"""Where eftgan finds what it ships and where it caches what it downloads."""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_MODEL_NAME = "ecnet-fenicocrmnpd-v1"


def eftgan_home() -> Path:
    """User cache folder: ``$EFTGAN_HOME``, default ``~/.cache/eftgan``. Never site-packages."""
    env = os.environ.get("EFTGAN_HOME")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "eftgan"


def shipped_models_dir() -> Path:
    """Folder holding the default models shipped with the package (``data/models`` in the repo)."""
    import eftgan_data

    return Path(eftgan_data.__file__).resolve().parent / "models"


def default_model_dir() -> Path:
    """Folder of the default ECNet model trained on the FeNiCoCrMn/Pd DFT dataset."""
    return shipped_models_dir() / DEFAULT_MODEL_NAME
