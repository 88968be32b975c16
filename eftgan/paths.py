"""Where eftgan finds what it ships and where it caches what it downloads.

Every default model name lives here, one per task, so that the library, the command line and
the tests agree on which shipped folder is "the" model of a kind.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = [
    "DEFAULT_MODELS",
    "DEFAULT_MODEL_NAME",
    "START_MODELS",
    "default_model_dir",
    "eftgan_home",
    "shipped_models_dir",
]

#: The shipped default model folder of each model kind (``config.json``'s ``kind``).
DEFAULT_MODELS: dict[str, str] = {
    "ecnet": "ecnet-fenicocrmnpd-v2",
    "eftgan": "eftgan-fenicocrmnpd-v3",
    "saca": "saca-compact-steel-v10",
    "dcgan": "sngan-alsi-conditional-v1",
    "unet-grains": "unet-grains-synthetic-v3",
    "unet-phases": "unet-phases-super1-v1",
}
#: The shipped model a training run of a kind starts from, instead of random weights, where
#: the run trains its architecture (``micro train``'s ``--init auto``): a GAN that already
#: draws real SEM micrographs, fine-tuned on the user's.
START_MODELS: dict[str, str] = {"dcgan": "sngan-super1-v1"}
#: The default ECNet, the model ``eftgan.load_model()`` and ``eftgan predict`` use.
DEFAULT_MODEL_NAME = DEFAULT_MODELS["ecnet"]


def eftgan_home() -> Path:
    """User cache folder: ``$EFTGAN_HOME``, default ``~/.cache/eftgan``. Never site-packages."""
    env = os.environ.get("EFTGAN_HOME")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "eftgan"


def shipped_models_dir() -> Path:
    """Folder holding the default models shipped with the package (``data/models`` in the repo)."""
    import eftgan_data

    return Path(eftgan_data.__file__).resolve().parent / "models"


def default_model_dir(kind: str = "ecnet") -> Path:
    """Folder of the shipped default model of ``kind`` (ecnet, eftgan, saca, dcgan,
    unet-grains, unet-phases)."""
    if kind not in DEFAULT_MODELS:
        from eftgan.errors import UserError

        raise UserError(f"no shipped model of kind {kind!r}; kinds: {', '.join(DEFAULT_MODELS)}")
    return shipped_models_dir() / DEFAULT_MODELS[kind]
