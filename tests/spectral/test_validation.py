"""spectral.validation: ideal detection limits and the detection bounds of what is unknown."""

from __future__ import annotations

import pytest


def test_ideal_detection_limits_are_linear_and_follow_the_noise(steel_sim) -> None:
    import copy
    import dataclasses

    from spectral.validation import ideal_detection_limits

    a = ideal_detection_limits(steel_sim, ("Eu", "Ce"), n=6, seed=1)
    b = ideal_detection_limits(steel_sim, ("Eu", "Ce"), n=6, seed=1, probe_wt_pct=0.02)
    for el in ("Eu", "Ce"):
        assert 0 < a[el]["median"] <= a[el]["p90"] < 0.1
        # trace lines are optically thin: the limit does not depend on the probe level
        assert b[el]["median"] == pytest.approx(a[el]["median"], rel=0.05)
    # with these line data europium shows at about a fifth of cerium's level
    assert a["Eu"]["median"] < a["Ce"]["median"]
    # the noise model: four times the read noise gives a noisier floor and a higher limit
    noisy = copy.copy(steel_sim)
    inst = steel_sim.instrument
    noisy.instrument = dataclasses.replace(inst, read_noise=4 * inst.read_noise)
    c = ideal_detection_limits(noisy, ("Eu",), n=6, seed=1)
    assert c["Eu"]["median"] > 1.2 * a["Eu"]["median"]
    # presence calls from the ideal estimate: every sample above the threshold is found less
    # often through more noise
    for m in (a["Eu"], a["Ce"], c["Eu"]):
        assert 0.0 < m["precision"] <= 1.0 and 0.0 < m["recall"] <= 1.0
    assert c["Eu"]["recall"] <= a["Eu"]["recall"]


def test_detection_bounds_grow_with_what_the_detector_does_not_know(steel_sim) -> None:
    from spectral.validation import detection_bounds, ideal_detection_limits

    els = ("Cr", "Mo", "Ce", "Eu")
    b = detection_bounds(steel_sim, els, n=6, seed=1)
    ideal = ideal_detection_limits(steel_sim, ("Ce", "Eu"), n=6, seed=1)
    for el in ("Ce", "Eu"):  # knowing everything, the bound is the matched filter's limit
        assert b["all_known"][el]["median"] == pytest.approx(ideal[el]["median"], rel=0.1)
    for el in els:
        # less knowledge, less information: (F^-1)_jj >= 1 / F_jj, and more so for more unknowns
        known = b["all_known"][el]
        for part in ("composition_unknown", "conditions_unknown"):
            assert b[part][el]["median"] >= known["median"] * (1 - 1e-9)
            assert b["all_unknown"][el]["median"] >= b[part][el]["median"] * (1 - 1e-9)
        assert b["all_unknown"][el]["recall"] <= known["recall"] + 1e-12
        assert 0 < known["mae"] < b["all_unknown"][el]["mae"]
    # chromium's own lines also carry the temperature and intensity: not knowing them costs it
    assert b["conditions_unknown"]["Cr"]["median"] > 1.05 * b["all_known"]["Cr"]["median"]
