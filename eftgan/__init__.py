"""eftgan: machine learning for alloys.

The centre is the EFTGAN pipeline for high-entropy alloys: an elemental-convolution graph
network (ECNet, :mod:`eftgan.ecnet`) trained on DFT structures, whose element-wise features feed
a generator of element features for any composition. Start with :func:`load_model`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:  # pragma: no cover
    from eftgan.model import ECNetModel


def load_model(path: Any = None) -> ECNetModel:
    """Load an ECNet model folder; without a path, the shipped default model."""
    from eftgan.model import load_model as _load

    return _load(path)


__all__ = ["__version__", "load_model"]
