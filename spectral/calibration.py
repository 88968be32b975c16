"""Calibrating a SACA network's outputs on spectra of known composition.

A network trained on noisy, augmented spectra reads clean ones with a small, systematic bias:
its softmax composition is pulled towards the mean of the training set. A spectroscopist
corrects a calibration model the same way: a slope and an offset per element, fitted by least
squares on spectra whose composition is known, with the first element (Fe in steels) the
balance. The presence outputs, trained with cross-entropy, call a trace element only when it
is more likely present than not; a shift of each presence logit moves the call to where
precision and recall are highest together (a decision, no longer a calibrated probability).

The trainer fits both on its validation spectra after training; a user can refit them on
reference samples measured on their own spectrometer. The result is a calibrated copy whose
calibration travels with its weights (the ``cal_*`` buffers of :class:`spectral.model.SACA`).
This is kept apart from :mod:`spectral.train` because it needs no training code: only the
network and its predictions (:mod:`spectral.predict`).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from spectral.dataset import PRESENCE_WT_PCT
from spectral.model import SACA, SACAConfig
from spectral.predict import network_state, predict_logits, uncalibrated

__all__ = ["balanced_presence_bias", "calibrate"]


def calibrate(
    model: SACA, spectra: np.ndarray, wt_pct: np.ndarray, device: torch.device | None = None
) -> tuple[SACA, SACAConfig]:
    """A calibrated copy of ``model`` fitted to spectra of known composition.

    Args:
        model: a SACA network (calibrated or not: its own calibration is dropped first).
        spectra: raw spectra on the model's pixels, (N, P).
        wt_pct: their true compositions in wt %, (N, E) over ``model.cfg.elements``.
        device: where the predictions it is fitted to are computed (default: the CPU).

    Returns:
        ``(calibrated model on the CPU in eval mode, its SACAConfig)``: per element but the
        first (the balance) the least-squares slope and offset mapping the network's wt % onto
        ``wt_pct``, and per element the presence-logit shift of
        :func:`balanced_presence_bias` (present above 0.01 wt %).
    """
    plain = uncalibrated(model)  # a CPU copy; moved, not copied again, to ``device``
    pred, logit = predict_logits(plain.to(device) if device is not None else plain, spectra)
    slope, offset = np.ones(pred.shape[1]), np.zeros(pred.shape[1])
    bias = np.zeros(pred.shape[1])
    for j in range(pred.shape[1]):
        bias[j] = balanced_presence_bias(logit[:, j], wt_pct[:, j] > PRESENCE_WT_PCT)
        if j == 0:
            continue
        a = np.stack([pred[:, j], np.ones(len(pred))], 1)
        (slope[j], offset[j]), *_ = np.linalg.lstsq(a, wt_pct[:, j], rcond=None)
    cfg = dataclasses.replace(model.cfg, calibrated=True, presence_calibrated=True)
    out = SACA(cfg)
    state = network_state(model.state_dict())
    state["cal_slope"] = torch.from_numpy(slope.astype(np.float32))
    state["cal_offset"] = torch.from_numpy(offset.astype(np.float32))
    state["cal_presence_bias"] = torch.from_numpy(bias.astype(np.float32))
    out.load_state_dict(state)
    return out.eval(), cfg


def balanced_presence_bias(logit: np.ndarray, present: np.ndarray) -> float:
    """The shift of presence logits that balances precision and recall.

    Args:
        logit: presence logits of one element over N samples.
        present: whether the element is present in each sample (bool, N).

    Returns:
        The shift after which calling ``logit + shift > 0`` gives the highest
        min(precision, recall) on these samples; 0 where all or none are present.
    """
    n_pos = int(present.sum())
    if n_pos in (0, len(present)):
        return 0.0
    order = np.argsort(-logit, kind="stable")
    s = logit[order]
    tp = np.cumsum(present[order])
    k = np.arange(1, len(s) + 1)
    best = int(np.argmax(np.minimum(tp / k, tp / n_pos)))  # call the best + 1 highest
    thr = 0.5 * (s[best] + s[best + 1]) if best + 1 < len(s) else s[best] - 1.0
    return float(-thr)
