"""SACA inference: load a model folder and read compositions from raw spectra.

A SACA model folder (``kind = "saca"``, see :mod:`eftgan.checkpoint`) holds the network's
weights and its configuration: the architecture (:class:`spectral.model.SACAConfig`), the
instrument preset whose pixel grid the network reads, and that grid. The network reads each
spectrum min-max scaled (:func:`spectral.dataset.minmax`), so the counts' scale does not
matter, but the pixels must be the model's: :func:`spectral.analyze.analyze_files` resamples
files onto them.

This module imports neither the trainer nor the graph networks of :mod:`eftgan`: reading a
spectrum costs only torch and the SACA network.
"""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import torch

from spectral.dataset import minmax
from spectral.instrument import current_instrument_name
from spectral.model import SACA, SACAConfig

__all__ = ["load_saca", "network_state", "predict", "predict_logits", "uncalibrated"]


def load_saca(folder: Path | str | None = None) -> tuple[SACA, dict[str, Any]]:
    """A trained SACA model (in eval mode, on the CPU) and its folder's configuration.

    Args:
        folder: a SACA model folder; by default the shipped one
            (:func:`eftgan.paths.default_model_dir` of ``"saca"``).

    Returns:
        ``(model, config)``, ``config`` being ``config.json`` as a dictionary, with the
        instrument preset under its current name (``config["model"]["instrument"]``).

    Raises:
        eftgan.errors.CheckpointError: a missing or damaged folder, or weights that do not
            fit the recorded architecture.
    """
    from eftgan.checkpoint import building, load_weights, read_model_folder
    from eftgan.paths import default_model_dir

    folder = Path(folder) if folder is not None else default_model_dir("saca")
    config, state = read_model_folder(folder, kind="saca")
    with building(folder, "saca"):
        model_cfg = config["model"]
        model_cfg["instrument"] = current_instrument_name(model_cfg.get("instrument", "saca2021"))
        cfg = SACAConfig.from_dict(model_cfg["saca"])
        model = load_weights(lambda: SACA(cfg), state, folder)
    return model.eval(), config


@torch.no_grad()
def predict_logits(
    model: SACA, spectra: np.ndarray, batch: int = 256, device: torch.device | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Compositions and presence logits of raw spectra.

    Args:
        model: a SACA network.
        spectra: detector counts on the model's pixels, shape (N, P), any scale.
        batch: spectra per forward pass.
        device: where to compute (a copy of the model goes there); by default where the
            model is.

    Returns:
        ``(wt_pct, logits)``, both (N, E) over ``model.cfg.elements``: contents in wt % (rows
        sum to 100) and presence logits (present above 0.01 wt % where positive).
    """
    if device is not None and next(model.parameters()).device != device:
        model = copy.deepcopy(model).to(device)
    dev = next(model.parameters()).device
    model.eval()
    wts, logits = [], []
    for s in range(0, len(spectra), batch):
        x = minmax(torch.from_numpy(np.asarray(spectra[s : s + batch], dtype=np.float32)))
        assert isinstance(x, torch.Tensor)
        out = model(x.to(dev))
        wts.append(out["wt_pct"].cpu().numpy())
        logits.append(out["presence_logit"].cpu().numpy())
    return np.concatenate(wts), np.concatenate(logits)


def predict(
    model: SACA, spectra: np.ndarray, batch: int = 256, device: torch.device | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Compositions (wt %) and presence probabilities of raw spectra (N, P).

    As :func:`predict_logits`, with the logits through a sigmoid: an element is called
    present where its probability is above 0.5. Returns two (N, E) arrays.
    """
    wt, logit = predict_logits(model, spectra, batch, device)
    return wt, torch.sigmoid(torch.from_numpy(logit)).numpy()


def network_state(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A SACA state dict without its calibration buffers (``cal_*``): the network alone."""
    return {k: v for k, v in state.items() if not k.startswith("cal_")}


def uncalibrated(model: SACA) -> SACA:
    """A copy of ``model`` without its calibrations: the network's own softmax composition and
    presence logits (see :mod:`spectral.model`), in eval mode."""
    out = SACA(dataclasses.replace(model.cfg, calibrated=False, presence_calibrated=False))
    out.load_state_dict(network_state(model.state_dict()))
    return out.eval()
