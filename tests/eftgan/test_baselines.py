from __future__ import annotations

import numpy as np

from eftgan.baselines import CompositionRidge, DescriptorForest, quadratic_features


def test_quadratic_features_shape() -> None:
    x = quadratic_features([{"Fe": 0.5, "Ni": 0.5}], ("Fe", "Ni", "Co"))
    assert x.shape == (1, 3 + 6)
    assert x[0, :3].tolist() == [0.5, 0.5, 0.0]


def test_ridge_recovers_a_quadratic_law_and_forest_learns_something() -> None:
    rng = np.random.default_rng(0)
    els = ("Fe", "Ni", "Co")
    fr = [dict(zip(els, rng.dirichlet(np.ones(3)), strict=True)) for _ in range(80)]
    ph = ["fcc" if i % 2 else "bcc" for i in range(80)]
    y = np.array(
        [
            [f["Fe"] * f["Ni"] - 0.1 * f["Co"] + (0.05 if p == "bcc" else 0)]
            for f, p in zip(fr, ph, strict=True)
        ]
    )
    ridge = CompositionRidge(els).fit(fr[:60], ph[:60], y[:60])
    assert np.abs(ridge.predict(fr[60:], ph[60:]) - y[60:]).max() < 1e-3
    rf = DescriptorForest(els, n_estimators=50).fit(fr[:60], ph[:60], y[:60])
    err = np.abs(rf.predict(fr[60:], ph[60:]) - y[60:]).mean()
    assert err < np.abs(y[60:] - y[:60].mean()).mean()
