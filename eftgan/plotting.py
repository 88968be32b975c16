"""Matplotlib helpers: a headless backend and atomic PNG writes."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def pyplot() -> Any:
    """``matplotlib.pyplot`` on the Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_png(fig: Any, path: Path, **savefig_kw: Any) -> Path:
    """Write ``fig`` to ``path`` through a temporary file and a rename, then close it."""
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, **savefig_kw)
    pyplot().close(fig)
    tmp.replace(path)
    return path
