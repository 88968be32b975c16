"""``spectral.refine``: the LTE fit started from a rough composition, and ``analyze --refine``."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import pytest

from tests.cli.test_cli import assert_user_error, run


def _rough(wt: np.ndarray) -> np.ndarray:
    """A start as rough as SACA's or worse: majors 3 % high or low, every rare earth 0.05."""
    start = wt.copy()
    start[:, 1:5] *= np.where(np.arange(4) % 2 == 0, 1.03, 0.97)
    start[:, 5:] = 0.05
    start[:, 0] = 100.0 - start[:, 1:].sum(1)
    return start


def test_refine_recovers_composition_and_plasma_from_a_rough_start(steel_sim) -> None:
    from spectral.dataset import PRESENCE_WT_PCT, simulate_set
    from spectral.refine import refine

    data = simulate_set(8, 31, shift_nm=0.2, drift=0.2)  # shifts beyond the training spectra's
    start = _rough(data.wt_pct.astype(np.float64))
    fit = refine(steel_sim, data.spectra, start)
    truth = data.wt_pct
    assert np.allclose(fit.wt_pct.sum(1), 100.0) and (fit.wt_pct >= 0).all()
    err = np.abs(fit.wt_pct - truth)
    assert err[:, 1:5].max() < 0.06, err[:, 1:5].max()  # the start was 0.3-0.7 wt % off
    assert err[:, 5:].mean() < 0.004, err[:, 5:].mean()  # the start was 0.02-0.05 off
    assert np.abs(fit.temperature_k - data.temperature_k).max() < 50.0
    assert np.abs(np.log(fit.ne_cm3 / data.ne_cm3)).max() < 0.02
    assert (fit.cost < 0.2 * fit.start_cost).all()
    # the standard errors are those of a fit whose model is right: errors of a few of them
    z = (fit.wt_pct - truth) / fit.sd_wt_pct
    assert (fit.sd_wt_pct > 0).all() and np.abs(z).max() < 5.0, np.abs(z).max()
    assert 0.5 < np.sqrt(np.mean(z**2)) < 2.0
    clear = (truth[:, 5:] == 0) | (truth[:, 5:] > 3 * PRESENCE_WT_PCT)  # away from the threshold
    called = fit.wt_pct[:, 5:] > PRESENCE_WT_PCT
    assert (called == (truth[:, 5:] > PRESENCE_WT_PCT))[clear].all()


def test_refine_cost_tells_a_plasma_the_model_does_not_describe(steel_sim) -> None:
    from spectral.dataset import simulate_set
    from spectral.refine import refine

    same = simulate_set(4, 5)
    longer = simulate_set(4, 5, length_m=3e-3)  # three times the optical depth
    assert np.array_equal(same.wt_pct, longer.wt_pct)
    ok = refine(steel_sim, same.spectra, _rough(same.wt_pct.astype(np.float64)))
    off = refine(steel_sim, longer.spectra, _rough(longer.wt_pct.astype(np.float64)))
    assert np.median(ok.cost) < 0.1  # about 1 / accumulated shots (10-50)
    assert off.cost.min() > 10 * ok.cost.max()


def test_refine_leaves_saturated_pixels_out(steel_sim) -> None:
    from spectral.dataset import simulate_set
    from spectral.refine import refine

    data = simulate_set(4, 9)
    full = steel_sim.instrument.full_scale
    # three times the exposure: the strongest lines clip at full scale
    over = np.minimum(data.spectra.astype(np.float64) * 3.0, full)
    assert ((over >= full).sum(1) >= 5).all()
    fit = refine(steel_sim, over, _rough(data.wt_pct.astype(np.float64)))
    assert np.abs(fit.wt_pct - data.wt_pct)[:, 1:5].max() < 0.06
    assert np.abs(fit.temperature_k - data.temperature_k).max() < 50.0
    # three times the counts carry three times the shot noise's variance for the weights
    assert np.median(fit.cost) < 0.5


def test_refine_keeps_the_balance_above_zero(steel_sim) -> None:
    from spectral.dataset import simulate_set
    from spectral.refine import MAX_CONTENTS_WT_PCT, refine

    data = simulate_set(2, 13)
    start = data.wt_pct.astype(np.float64).copy()
    start[:, 1:3] = (80.0, 60.0)  # contents summing to more than 100
    start[:, 0] = 0.0
    fit = refine(steel_sim, data.spectra, start, iterations=2)
    assert (fit.wt_pct[:, 0] >= 100.0 - MAX_CONTENTS_WT_PCT - 1e-9).all()
    assert np.allclose(fit.wt_pct.sum(1), 100.0) and (fit.wt_pct >= 0).all()


def test_refine_rejects_mismatched_shapes(steel_sim) -> None:
    from spectral.refine import refine

    with pytest.raises(ValueError, match="counts must be"):
        refine(steel_sim, np.ones((2, 100)), np.ones((2, 11)))
    with pytest.raises(ValueError, match="wt_start must be"):
        refine(steel_sim, np.ones((2, 4001)), np.ones((2, 5)))


def test_analyze_refine_adds_the_fitted_plasma(capsys, tmp_path: Path, steel_sim) -> None:
    from spectral.dataset import simulate_set
    from spectral.io import write_csv

    data = simulate_set(2, 77)
    files = []
    for i, counts in enumerate(data.spectra):
        f = tmp_path / f"s{i}.csv"
        write_csv(f, steel_sim.instrument.wavelength_nm, {"counts": counts})
        files.append(str(f))
    code, out, _ = run(capsys, "spectral", "analyze", *files, "--refine", "--format", "csv")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert len(rows) == 2
    for row, wt, t in zip(rows, data.wt_pct, data.temperature_k, strict=True):
        assert abs(float(row["temperature_k"]) - t) < 100.0
        assert float(row["fit_cost"]) < 0.2
        assert abs(float(row["Cr_wt_pct"]) - wt[1]) < 0.1
        assert 0 < float(row["Cr_sd_wt_pct"]) < 0.05
        assert (row["Eu_present"] == "True") == (wt[10] > 0.01) or 0.005 < wt[10] < 0.02
    code, out, _ = run(capsys, "spectral", "analyze", files[0], "--refine")
    assert code == 0 and "T (K)" in out and "fit cost" in out
    code, _, err = run(capsys, "spectral", "analyze", files[0], "--wavelengths", "vacuum")
    assert_user_error(code, err, "but the model needs", "(its wavelengths read as vacuum ones)")
    radiance = tmp_path / "radiance.csv"  # a calibrated file: far above the counts' scale
    write_csv(radiance, steel_sim.instrument.wavelength_nm, {"r": 1e9 * data.spectra[0]})
    code, _, err = run(capsys, "spectral", "analyze", str(radiance), "--refine")
    assert_user_error(code, err, "of its pixels are at or above the saca2021", "--method cflibs")


def test_a_vacuum_file_is_read_as_its_air_twin(capsys, tmp_path: Path, steel_sim) -> None:
    from spectral.atomic import air_to_vacuum
    from spectral.dataset import simulate_set
    from spectral.io import write_csv

    counts = simulate_set(1, 21).spectra[0]
    wl = steel_sim.instrument.wavelength_nm
    # a margin, so that the vacuum grid (about 0.1 nm longer) still covers 300-700 nm in air
    wide = np.concatenate([[wl[0] - 1.0], wl, [wl[-1] + 1.0]])
    padded = np.concatenate([[counts[0]], counts, [counts[-1]]])
    air, vac = tmp_path / "air.csv", tmp_path / "vac.csv"
    write_csv(air, wide, {"counts": padded})
    write_csv(vac, air_to_vacuum(wide), {"counts": padded})
    rows = {}
    for name, args in (
        ("air", [str(air)]),
        ("vac", [str(vac), "--vacuum"]),
        ("vac_auto", [str(vac)]),
        ("vac_as_air", [str(vac), "--wavelengths", "air"]),
    ):
        code, out, _ = run(capsys, "spectral", "analyze", *args, "--format", "csv")
        assert code == 0
        rows[name] = next(csv.DictReader(io.StringIO(out)))
    assert [rows[k]["wavelengths"] for k in rows] == ["air", "vacuum", "vacuum", "air"]
    assert rows["air"]["wavelengths_decided"] == rows["vac_auto"]["wavelengths_decided"] == "True"
    cr = {k: float(v["Cr_wt_pct"]) for k, v in rows.items()}
    assert abs(cr["vac"] - cr["air"]) < 0.02 and abs(cr["vac_auto"] - cr["air"]) < 0.02
