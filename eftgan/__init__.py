"""eftgan: machine learning for alloys.

The centre is the EFTGAN pipeline for high-entropy alloys: an elemental-convolution graph
network (ECNet, :mod:`eftgan.ecnet`) trained on DFT structures, whose element-wise features feed
a generator of element features for any composition. Start with :func:`load_model`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:  # pragma: no cover
    from eftgan.explore import Screener
    from eftgan.model import ECNetModel


def load_model(path: Any = None) -> ECNetModel:
    """Load an ECNet model folder; without a path, the shipped default model."""
    from eftgan.model import load_model as _load

    return _load(path)


def load(folder: Any) -> Any:
    """Load a model folder of any kind (ECNet, EFTGAN, SACA, DCGAN); see
    :func:`eftgan.checkpoint.load` for what each kind returns."""
    from eftgan.checkpoint import load as _load

    return _load(folder)


def __getattr__(name: str) -> Any:
    if name == "Screener":  # imported lazily: torch stays out of `import eftgan`
        from eftgan.explore import Screener

        return Screener
    raise AttributeError(f"module 'eftgan' has no attribute {name!r}")


__all__ = ["Screener", "__version__", "load", "load_model"]
