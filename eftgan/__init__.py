"""eftgan: machine learning for alloys.

The centre is the EFTGAN pipeline for high-entropy alloys: an elemental-convolution graph
network (ECNet, :mod:`eftgan.ecnet`) trained on DFT structures, whose element-wise features feed
a generator of element features for any composition. Start with :func:`load_model`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from eftgan.lazy import lazy_exports

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


# Screener needs torch: imported on first use, so that `import eftgan` stays light.
__getattr__, __dir__, _lazy = lazy_exports(__name__, {"Screener": "eftgan.explore"})
__all__ = ["Screener", "__version__", "load", "load_model"]
