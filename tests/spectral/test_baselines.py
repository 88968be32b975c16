"""spectral.baselines: PLS and univariate calibration on simulated steel spectra."""

from __future__ import annotations

import numpy as np


def test_pls_and_univariate_calibration_beat_the_mean(steel_sim) -> None:
    from spectral.baselines import PLSBaseline, UnivariateCalibration
    from spectral.dataset import simulate_set

    data = simulate_set(320, seed=3)
    tr, te = np.arange(240), np.arange(240, 320)
    pls = PLSBaseline((2, 5)).fit(
        data.spectra[tr], data.wt_pct[tr], data.spectra[te], data.wt_pct[te]
    )
    err = np.abs(pls.predict(data.spectra[te]) - data.wt_pct[te]).mean(0)
    assert err[1] < np.abs(data.wt_pct[te, 1] - data.wt_pct[tr, 1].mean()).mean()  # Cr
    uni = UnivariateCalibration().fit(data.spectra[tr], data.wt_pct[tr])
    assert 350 < uni.wavelengths["Cr"] < 700
    assert np.abs(uni.predict(data.spectra[te])[:, 1] - data.wt_pct[te, 1]).mean() < 4.0
