"""From spectrum files to compositions: read, check, resample, predict."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np


def model_grid(config: dict[str, Any]) -> np.ndarray:
    g = config["model"]["wavelength_nm"]
    if config["model"]["instrument"] == "seed" or g["n"] == 4001:
        return np.linspace(g["first"], g["last"], g["n"])
    from spectral.instrument import get_instrument

    return get_instrument(config["model"]["instrument"]).wavelength_nm


def analyze_files(
    files: Sequence[str | os.PathLike[str]],
    model_dir: str | os.PathLike[str] | None = None,
    clip_negative: bool = False,
) -> list[dict[str, Any]]:
    """One row per file: ``file``, ``<El>_wt_pct`` and ``<El>_present`` for each element."""
    from spectral.io import read_spectrum, resample
    from spectral.train import load_saca, predict

    spectra = [read_spectrum(f, clip_negative) for f in files]  # bad files fail first
    model, config = load_saca(Path(model_dir) if model_dir else None)
    grid = model_grid(config)
    x = np.stack([resample(s, grid) for s in spectra]).astype(np.float32)
    wt, prob = predict(model, x)
    rows = []
    for f, w, p in zip(files, wt, prob, strict=True):
        row: dict[str, Any] = {"file": str(f)}
        for j, el in enumerate(model.cfg.elements):
            row[f"{el}_wt_pct"] = float(w[j])
            row[f"{el}_present"] = bool(p[j] > 0.5)
        rows.append(row)
    return rows
