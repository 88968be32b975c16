"""Which cubic lattice a (relaxed, chemically disordered) structure resembles.

The order parameter compares nearest-neighbour shells atom by atom. With the distances to the 14
nearest neighbours sorted, ``ratio = mean(d9..d12) / mean(d1..d8)`` is 1 on an fcc lattice (12
equal first neighbours) and 2/sqrt(3) = 1.1547 on a bcc lattice (8 first, then 6 second
neighbours). ``eta = (ratio - 1) / (2/sqrt(3) - 1)`` is therefore 0 for fcc and 1 for bcc; the
median over atoms is robust to the local distortions of a relaxed special quasirandom structure.
"""

from __future__ import annotations

import math

import numpy as np

BCC_RATIO = 2.0 / math.sqrt(3.0)


def lattice_order_parameter(structure) -> float:
    """Median fcc (0) to bcc (1) order parameter of a periodic structure; NaN if undefined."""
    n = len(structure)
    if n == 0:
        return math.nan
    vpa = structure.volume / n
    cutoff = 1.9 * vpa ** (1.0 / 3.0)
    center, _, _, dist = structure.get_neighbor_list(cutoff)
    order = np.lexsort((dist, center))
    center, dist = center[order], dist[order]
    counts = np.bincount(center, minlength=n)
    if counts.min() < 14:
        return math.nan
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    idx = starts[:, None] + np.arange(14)[None, :]
    d = dist[idx]
    ratio = d[:, 8:12].mean(axis=1) / d[:, :8].mean(axis=1)
    return float(np.median((ratio - 1.0) / (BCC_RATIO - 1.0)))


def classify_phase(structure) -> tuple[str | None, float]:
    """``("fcc" | "bcc", eta)`` by the nearer ideal lattice, or ``(None, nan)`` if undefined."""
    eta = lattice_order_parameter(structure)
    if not math.isfinite(eta):
        return None, eta
    return ("bcc" if eta >= 0.5 else "fcc"), eta
