"""spectral.calibration: slope, offset and presence shift fitted on known compositions."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from spectral.dataset import STEEL_ELEMENTS
from spectral.model import SACA, SACAConfig


def test_calibration_fits_slope_and_offset_with_iron_the_balance() -> None:
    from spectral.calibration import calibrate
    from spectral.predict import predict, uncalibrated

    torch.manual_seed(1)
    model = SACA(SACAConfig.variant("compact", STEEL_ELEMENTS)).eval()
    spectra = np.random.default_rng(0).random((200, 4001)).astype(np.float32) ** 8
    raw, _ = predict(model, spectra)
    truth = raw.copy()
    truth[:, 1:] = 1.5 * raw[:, 1:] - 0.01  # a network that reads every element too flat
    truth[:, 0] = 100 - truth[:, 1:].sum(1)
    cal, cfg = calibrate(model, spectra, truth)
    assert cfg.calibrated and not model.cfg.calibrated
    got, _ = predict(cal, spectra)
    assert np.allclose(got, truth, atol=2e-3)
    assert np.allclose(got.sum(1), 100.0, atol=1e-3)
    assert torch.allclose(cal.cal_slope[1:], torch.full((10,), 1.5), atol=1e-3)
    again = SACA(cfg)
    again.load_state_dict(cal.state_dict())  # the slopes travel with the weights
    assert np.allclose(predict(again, spectra)[0], got)
    assert np.array_equal(predict(uncalibrated(cal), spectra)[0], raw)


def test_presence_calibration_balances_precision_and_recall() -> None:
    from spectral.calibration import balanced_presence_bias, calibrate
    from spectral.predict import predict_logits

    # separable: the cut falls between the last absent and the first present sample
    logit = np.arange(10.0) - 2.0
    assert balanced_presence_bias(logit, logit > 3.5) == pytest.approx(-3.5)
    assert balanced_presence_bias(logit, np.ones(10, bool)) == 0.0
    # a shy detector (calls only the clearest cases): the shift lowers its bar
    rng = np.random.default_rng(0)
    present = rng.random(2000) < 0.5
    score = present + 0.6 * rng.standard_normal(2000) - 1.0  # centred below the 0.5 mark

    def pr(called: np.ndarray) -> float:
        tp = (called & present).sum()
        return min(tp / called.sum(), tp / present.sum())

    shift = balanced_presence_bias(score, present)
    assert shift > 0.3 and pr(score + shift > 0) > pr(score > 0) + 0.1
    # in the model: the presence logits move by the fitted shift, the composition does not
    torch.manual_seed(1)
    model = SACA(SACAConfig.variant("compact", STEEL_ELEMENTS)).eval()
    spectra = rng.random((200, 4001)).astype(np.float32) ** 8
    raw_wt, raw_logit = predict_logits(model, spectra)
    truth = raw_wt.copy()
    truth[:, 5] = np.where(raw_logit[:, 5] > np.median(raw_logit[:, 5]), 0.1, 0.0)
    truth[:, 0] = 100 - truth[:, 1:].sum(1)
    cal, cfg = calibrate(model, spectra, truth)
    assert cfg.presence_calibrated
    _, logit = predict_logits(cal, spectra)
    assert np.allclose(logit - raw_logit, cal.cal_presence_bias.numpy(), atol=1e-5)
    called = logit[:, 5] > 0
    assert np.array_equal(called, truth[:, 5] > 0.01)
