"""Packages whose public names are imported from their modules on first use.

``import spectral`` or ``import microstructure`` must stay cheap (no torch, no atomic tables):
a package lists its public API as ``name -> defining module`` and gets a module-level
``__getattr__`` (PEP 562) that imports the module when a name is first read, caching the value
in the package's namespace, and a ``__dir__`` that lists the API for tab completion.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(
    package: str, exports: dict[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]], list[str]]:
    """``(__getattr__, __dir__, __all__)`` for ``package`` exporting ``exports``.

    Args:
        package: the package's ``__name__``.
        exports: public name -> dotted name of the module that defines it.
    """

    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(exports))

    return __getattr__, __dir__, sorted(exports)
