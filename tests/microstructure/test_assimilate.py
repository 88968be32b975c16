"""The ensemble Kalman filter against the Kalman filter's exact posterior, a small twin
experiment, and the observations' checks."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from eftgan.errors import UserError
from tests.conftest import killed_at


def _exact_ensemble(rng, mean, cov, n):
    """An ensemble whose sample mean and covariance are exactly ``mean`` and ``cov``."""
    z = rng.standard_normal((n, len(mean)))
    z -= z.mean(0)
    z = z @ np.linalg.inv(np.linalg.cholesky(np.cov(z.T)).T)  # whitened exactly
    return mean + z @ np.linalg.cholesky(cov).T


def test_the_etkf_gives_the_kalman_posterior_of_a_linear_gaussian_case():
    from microstructure.assimilate import etkf_update

    rng = np.random.default_rng(0)
    mean, cov = np.array([1.0, -2.0]), np.array([[2.0, 0.6], [0.6, 1.0]])
    h = rng.standard_normal((5, 2))
    r_std = np.array([0.5, 1.0, 0.3, 2.0, 0.8])
    y_obs = rng.standard_normal(5)
    x = _exact_ensemble(rng, mean, cov, 20)
    xa = etkf_update(x, x @ h.T, y_obs, r_std)
    r = np.diag(r_std**2)
    k = cov @ h.T @ np.linalg.inv(h @ cov @ h.T + r)
    assert np.allclose(xa.mean(0), mean + k @ (y_obs - h @ mean), atol=1e-10)
    assert np.allclose(np.cov(xa.T), (np.eye(2) - k @ h) @ cov, atol=1e-10)


def _twin(tmp_path: Path, ratio: float | None = None) -> Path:
    from microstructure.grainio import SimulationConfig, simulate

    cfg = SimulationConfig(
        size=96, grains=40, steps=600, snapshots=3, mobility_energy_m2_s=3e-13,
        low_angle_mobility_ratio=ratio, seed=3,
    )  # fmt: skip
    simulate(tmp_path / "run", cfg, progress=False)
    return tmp_path / "run"


def test_a_twin_experiment_recovers_m_sigma(tmp_path: Path):
    from microstructure.assimilate import AssimilationConfig, assimilate

    run = _twin(tmp_path)
    obs = json.loads((run / "observations.json").read_text())
    assert set(obs) == {"times_s", "pixel_size_m"} and len(obs["times_s"]) == 3
    r = assimilate(run, tmp_path / "a", AssimilationConfig(ensemble=8), progress=False)
    me = r["mobility_energy"]
    assert abs(me["mean"] / 3e-13 - 1) < 0.1, me
    assert (tmp_path / "a" / "convergence.png").stat().st_size > 1000
    assert not (tmp_path / "a" / "state.safetensors").exists()
    with pytest.raises(UserError, match="finished assimilation"):
        assimilate(run, tmp_path / "a", AssimilationConfig(ensemble=8), progress=False)


def test_a_collapsed_ensemble_is_reported_not_printed():
    from microstructure.assimilate import FilterDiverged, _check

    with pytest.raises(FilterDiverged, match="collapsed"):
        _check(np.ones((8, 1)), 2)
    with pytest.raises(FilterDiverged, match="not finite"):
        _check(np.array([[1.0], [np.nan]]), 1)


def test_bad_observations_are_one_line_errors(tmp_path: Path):
    from microstructure.grainio import read_observations, write_labels

    folder = tmp_path / "obs"
    folder.mkdir()
    lab = np.arange(64).reshape(8, 8) // 16
    write_labels(folder / "grains_000010.png", lab)
    (folder / "observations.json").write_text('{"times_s": [1.0], "pixel_size_m": 1e-6}')
    with pytest.raises(UserError, match="at least two"):
        read_observations(folder)
    write_labels(folder / "grains_000020.png", np.zeros((8, 10), dtype=np.int64))
    (folder / "observations.json").write_text('{"times_s": [1.0, 2.0], "pixel_size_m": 1e-6}')
    with pytest.raises(UserError, match="share one size"):
        read_observations(folder)
    write_labels(folder / "grains_000020.png", np.zeros((8, 8), dtype=np.int64))
    with pytest.raises(UserError, match="one grain"):
        read_observations(folder)


def test_a_killed_simulation_resumes_to_the_same_snapshots(tmp_path: Path, monkeypatch):
    from microstructure import grainio

    cfg = grainio.SimulationConfig(size=48, grains=12, steps=300, snapshots=3, seed=2)
    grainio.simulate(tmp_path / "whole", cfg, progress=False)
    real = grainio.write_labels
    monkeypatch.setattr(grainio, "write_labels", killed_at(real, 2))
    with pytest.raises(KeyboardInterrupt):
        grainio.simulate(tmp_path / "killed", cfg, progress=False)
    monkeypatch.setattr(grainio, "write_labels", real)
    assert (tmp_path / "killed" / "state.safetensors").exists()
    grainio.simulate(tmp_path / "killed", cfg, progress=False)  # resumes after snapshot 1
    for name in ("grains_000100.png", "grains_000200.png", "grains_000300.png"):
        a = grainio.read_labels(tmp_path / "whole" / name)
        assert (a == grainio.read_labels(tmp_path / "killed" / name)).all(), name
    whole = json.loads((tmp_path / "whole" / "observations.json").read_text())
    assert whole == json.loads((tmp_path / "killed" / "observations.json").read_text())


def test_a_killed_assimilation_resumes_to_the_same_estimate(tmp_path: Path, monkeypatch):
    from microstructure import assimilate as asm

    run = _twin(tmp_path)
    cfg = asm.AssimilationConfig(ensemble=8)
    whole = asm.assimilate(run, tmp_path / "whole", cfg, progress=False)
    real = asm._window
    monkeypatch.setattr(asm, "_window", killed_at(real, 2))
    with pytest.raises(KeyboardInterrupt):
        asm.assimilate(run, tmp_path / "killed", cfg, progress=False)
    assert (tmp_path / "killed" / "state.safetensors").exists()
    assert not (tmp_path / "killed" / "assimilation.json").exists()
    rerun = []
    monkeypatch.setattr(
        asm, "_window", lambda obs, k, *a, **kw: rerun.append(k) or real(obs, k, *a, **kw)
    )
    resumed = asm.assimilate(run, tmp_path / "killed", cfg, progress=False)
    assert rerun == [1], "only the window the kill interrupted runs again"
    for key in ("mean", "std"):
        got, want = resumed["mobility_energy"][key], whole["mobility_energy"][key]
        assert got == pytest.approx(want, rel=1e-9)
    assert [h["window"] for h in resumed["history"]] == [0, 1, 2]


def test_grains_below_the_smallest_radius_are_left_out_of_the_observation():
    from microstructure.assimilate import AssimilationConfig, observed_grains

    lab = np.zeros((120, 120), dtype=np.int64)  # grain 0 fills what the others leave
    for g in range(12):  # twelve 20 x 20 squares (400 pixels, above the 201 of 1.6 widths)
        r, c = divmod(g, 4)
        lab[30 * r : 30 * r + 20, 30 * c : 30 * c + 20] = g + 1
    lab[:8, 112:] = 13  # a grain of 64 pixels, below it
    resolved = AssimilationConfig(min_radius_widths=1.6)
    assert observed_grains(lab, 0, resolved).tolist() == list(range(13))
    assert observed_grains(lab, 0, AssimilationConfig()).tolist() == list(range(14))
    with pytest.raises(UserError, match="snapshot 3 holds 1 grains of at least 1963 pixels"):
        observed_grains(lab, 2, AssimilationConfig(min_radius_widths=5.0))


@pytest.mark.parametrize("at", ["start", "end"])
def test_the_observation_error_comes_from_the_chosen_snapshot(monkeypatch, at: str):
    from types import SimpleNamespace

    from microstructure import assimilate as asm

    start = np.repeat(np.arange(12), 12).reshape(12, 12)  # twelve rows of 12 pixels
    end = start.copy()
    end[end == 3] = 4  # grain 3 vanishes: 0 pixels at the end
    obs = SimpleNamespace(labels=[start, end], times_s=[0.0, 1.0], pixel_size_m=1e-6,
                          orientations_deg=None)  # fmt: skip
    monkeypatch.setattr(asm, "_forecast", lambda *a: np.stack([end] * 4))
    seen = {}
    monkeypatch.setattr(asm, "etkf_update", lambda x, y, y_obs, std: seen.update(std=std) or x)
    theta = np.random.default_rng(0).standard_normal((4, 1))
    asm._window(obs, 0, theta, asm.AssimilationConfig(error_area=at))
    areas = asm.grain_areas(start if at == "start" else end, np.arange(12))
    assert np.allclose(seen["std"], asm._area_error(areas, 0.25))
    assert (seen["std"][3] > 1.0) == (at == "start")  # the vanished grain's error
