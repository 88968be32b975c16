"""microstructure.metrics: known values of the statistics; real against generated sets."""

from __future__ import annotations

import numpy as np
import pytest

from microstructure.metrics import (
    compare_sets,
    frechet_distance,
    lineal_path,
    otsu_threshold,
    two_point,
)
from microstructure.synth import synthesize


def test_statistics_known_values() -> None:
    rng = np.random.default_rng(0)
    mask = rng.random((128, 128)) < 0.3
    s2 = two_point(mask)
    assert s2[0] == pytest.approx(mask.mean())
    assert s2[10:].mean() == pytest.approx(mask.mean() ** 2, abs=0.01)
    assert np.allclose(lineal_path(np.ones((32, 32), bool)), 1.0)
    stripes = np.zeros((32, 32), bool)
    stripes[:, :16] = True  # rows: runs of 16; columns: full or empty
    lp = lineal_path(stripes, 8)
    assert lp[0] == pytest.approx(0.5) and lp[-1] < lp[0]
    img = np.where(mask, 0.2, 0.8) + rng.normal(0, 0.02, mask.shape)
    assert 0.3 < otsu_threshold(img) < 0.7
    a = rng.normal(size=(200, 3))
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)
    assert frechet_distance(a, a + 1.0) == pytest.approx(3.0, rel=0.05)


def test_compare_sets_tells_7_from_12_si() -> None:
    a = [synthesize(7.0, 128, seed=i)[0] for i in range(4)]
    b = [synthesize(7.0, 128, seed=10 + i)[0] for i in range(4)]
    c = [synthesize(12.0, 128, seed=i)[0] for i in range(4)]
    same, other = compare_sets(a, b), compare_sets(a, c)
    assert same["phase_fraction_error"] < 0.01 < other["phase_fraction_error"]
    assert same["s2_mae"] < other["s2_mae"]
    assert set(same) >= {
        "phase_fraction_real",
        "phase_fraction_fake",
        "s2_mae",
        "lineal_path_mae",
        "frechet_s2",
    }


def test_frechet_distance_of_too_few_samples_warns_nothing():
    """Two samples of 20 features: singular covariances, whose product's square root scipy
    warns about; the distance is still finite and the warning is not passed on."""
    import warnings

    rng = np.random.default_rng(0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        d = frechet_distance(rng.random((2, 20)), rng.random((6, 20)))
    assert np.isfinite(d) and d > 0
