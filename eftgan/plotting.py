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
    from eftgan.files import atomic_writer

    try:
        with atomic_writer(path) as tmp:
            fig.savefig(tmp, format="png", **savefig_kw)
    finally:
        pyplot().close(fig)
    return Path(path)


def loss_curves_png(
    path: Path,
    curves: dict[str, tuple[Any, Any]],
    xlabel: str,
    ylabel: str = "loss",
    log: bool = False,
    smooth_points: int = 0,
) -> Path:
    """The training curves of any trainer as one PNG: ``curves`` maps a label to ``(x, y)``
    (``x`` None: 1, 2, ...); ``smooth_points`` > 0 plots running means over about
    ``len(y) / smooth_points`` values (for noisy per-step GAN losses)."""
    import numpy as np

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5, 3.4), dpi=120)
    for label, (x, y) in curves.items():
        y = np.asarray(y, dtype=float)
        x = np.arange(1, len(y) + 1) if x is None else np.asarray(x)
        if smooth_points > 0:  # each mean is plotted at the last step it covers
            k = max(1, len(y) // smooth_points)
            y = np.convolve(y, np.ones(k) / k, mode="valid")
            x = x[k - 1 :]
        ax.plot(x, y, label=label)
    if log:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel + (" (running mean)" if smooth_points > 0 else ""))
    ax.legend(frameon=False)
    fig.tight_layout()
    return save_png(fig, path)
