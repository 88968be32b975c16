"""Bayesian data assimilation of grain-growth parameters from observed grain maps.

**What the snapshots determine.** In the phase-field model (:mod:`.phasefield`) the
Allen-Cahn rates are ``L m = 8 M sigma / ell^2`` and ``L kappa = M sigma``, so with the
boundary width fixed the whole isotropic evolution depends on ``M sigma t``: the snapshots
and their times determine the product ``M sigma`` (m^2/s) and nothing of ``M`` or
``sigma`` alone. With misorientation dependence (orientations known, as from EBSD) the
low-angle boundaries move at ``r`` times the speed a high-angle one would have (times their
Read-Shockley energy), so the low-angle mobility ratio ``r`` is determined too.

**The filter.** A parameter-estimation ensemble transform Kalman filter (ETKF, Hunt,
Kostelich and Szunyogh 2007) on ``theta = (ln M sigma[, ln r])``. Each assimilation window
runs from snapshot ``k`` to ``k + 1``: every member restarts the phase-field model from the
observed label image ``k`` (so the state is observed, not estimated) and grows it for the
observed time with its parameters. The observation operator is the area of every grain of
snapshot ``k`` at time ``t_{k+1}`` (zero for a grain that has vanished). Its error is
``obs_error_cells`` cells of boundary displacement along the grain's perimeter at snapshot
``k`` (that of a disc of its area then, at least one cell), independent between grains: a
grain that vanishes within the window has no perimeter at its end, and an error taken
there (one cell) would claim its vanishing time to a step. Restarts from label images
mismodel the smallest grains most (a restart gives every grain a flat boundary's tanh
profile, which a grain a few widths across does not have), so grains below a disc of
``min_radius_widths`` boundary widths can be left out; by default none is. Both choices
were made on validation twins (``benchmarks/polycrystal.py validation``): the error at the
window's start took the mean error of the low-angle mobility ratio from 2.3 to 2.1 % and
of ``M sigma`` from 1.7 to 0.6 %; leaving out grains below 1.6 widths widened the
posterior spread of the ratio 1.6-2 times and did worse (2.8 and 0.9 %). The analysis is the
ETKF's in the ensemble space, exact for a linear observation operator and a Gaussian prior
(tested against the Kalman filter's posterior).

**The prior.** ``ln M sigma`` is normal around the mean rate of change of the grains'
areas between the first two snapshots, ``<|dA/dt|>`` (von Neumann and Mullins:
``dA/dt = (pi/3) M sigma (n - 6)``, so it is ``M sigma`` times a factor of order one), with a
standard deviation of ``ln prior_factor``; ``ln r`` around ln 0.5, with a
standard deviation of ln 2.5.

A window whose forecasts hold NaN, or whose analysis leaves a parameter without spread or
not finite, stops the filter with an error instead of numbers.
"""

from __future__ import annotations

import hashlib
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from eftgan.errors import UserError
from eftgan.settings import JSONSettings

__all__ = ["AssimilationConfig", "assimilate", "etkf_update", "grain_areas", "observed_grains"]


@dataclass
class AssimilationConfig(JSONSettings):
    """Settings of :func:`assimilate`; the model's own (width, order parameters, energy
    law) must match the experiment's assumptions. ``min_radius_widths`` and ``error_area``
    set the observation (see the module): the smallest grain observed, as the radius of a
    disc in boundary widths, and the snapshot whose grain areas set the error, ``start``
    (of the window) or ``end`` (kept for comparison in the validation benchmark)."""

    ensemble: int = 32
    seed: int = 0
    obs_error_cells: float = 0.25
    prior_factor: float = 3.0
    ratio_prior: float = 0.5
    ratio_prior_factor: float = 2.5
    width_cells: float = 5.0
    n_params: int = 16
    recolour_every: int = 100
    min_radius_widths: float = 0.0
    error_area: str = "start"


#: The fewest grains a window's observation may hold (with fewer, the estimate would rest
#: on a handful of grains).
MIN_OBSERVED_GRAINS = 10


class FilterDiverged(UserError):
    """The filter collapsed or produced non-finite numbers; no estimate is reported."""


def etkf_update(x: np.ndarray, y: np.ndarray, y_obs: np.ndarray, obs_std: np.ndarray) -> np.ndarray:
    """The ETKF analysis of an ensemble ``x`` (N, p) whose predicted observations are
    ``y`` (N, m), given the observation ``y_obs`` (m,) with independent errors ``obs_std``
    (m,). The analysis mean and covariance are the Kalman filter's for a linear operator."""
    n = len(x)
    xm, ym = x.mean(0), y.mean(0)
    xa, ya = x - xm, (y - ym) / obs_std  # anomalies; observations whitened
    innov = (y_obs - ym) / obs_std
    c = (n - 1) * np.eye(n) + ya @ ya.T
    vals, vecs = np.linalg.eigh(c)
    pa = (vecs / vals) @ vecs.T  # [(n-1) I + Y Y^T]^-1
    w_mean = pa @ (ya @ innov)
    w = vecs @ np.diag(np.sqrt((n - 1) / vals)) @ vecs.T  # symmetric square root
    return xm + (w_mean[:, None] + w).T @ xa


def grain_areas(labels: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """The area (pixels) of each grain id of ``ids`` in the label image(s) ``labels``."""
    counts = np.bincount(labels.ravel(), minlength=int(ids.max()) + 1)
    return counts[ids].astype(float)


def _area_error(area: np.ndarray, cells: float) -> np.ndarray:
    """The observation error (pixels) of a grain area: ``cells`` of displacement along the
    perimeter of a disc of that area, at least one pixel."""
    return np.maximum(cells * np.sqrt(4 * np.pi * np.maximum(area, 1.0)), 1.0)


def _forecast(
    start: np.ndarray,
    duration_s: float,
    theta: np.ndarray,
    pixel_m: float,
    orient: np.ndarray | None,
    cfg: AssimilationConfig,
) -> np.ndarray:
    """Each member's label image after ``duration_s`` from ``start``, (N, H, W). The start
    fields (colouring, profiles, ids) are built once and copied to every member."""
    from microstructure.phasefield import GrainGrowth, PhaseField

    shape = GrainGrowth(
        width_cells=cfg.width_cells, n_params=cfg.n_params, misorientation=orient is not None
    )
    first = PhaseField.from_labels(start, shape, orientations_deg=orient)
    out = []
    for member in theta:
        growth = GrainGrowth(
            sigma_j_m2=1.0,  # only M sigma matters
            mobility_m4_js=math.exp(member[0]),
            dx_m=pixel_m,
            width_cells=cfg.width_cells,
            n_params=cfg.n_params,
            misorientation=orient is not None,
            low_angle_mobility_ratio=math.exp(member[1]) if orient is not None else 1.0,
        )
        steps = max(1, math.ceil(duration_s / (0.5 * growth.stable_dt_s())))
        pf = PhaseField(
            growth,
            first.eta.clone(),
            dt_s=duration_s / steps,
            ids=first.ids.clone(),
            orientations_deg=first.orient,
        )
        pf.run(steps, recolour_every=cfg.recolour_every)
        out.append(pf.labels()[0].numpy())
    return np.stack(out)


def _prior(obs: Any, anisotropic: bool, cfg: AssimilationConfig) -> np.ndarray:
    """The prior ensemble of ``theta`` (see the module)."""
    first, second = obs.labels[:2]
    ids = np.unique(first)
    change = np.abs(grain_areas(second, ids) - grain_areas(first, ids)).mean()
    rate = change * obs.pixel_size_m**2 / (obs.times_s[1] - obs.times_s[0])
    if rate <= 0:
        raise UserError(
            "no grain changes between the first two snapshots; give snapshots further apart"
        )
    rng = np.random.default_rng(cfg.seed)
    cols = [math.log(rate) + math.log(cfg.prior_factor) * rng.standard_normal(cfg.ensemble)]
    if anisotropic:
        cols.append(
            math.log(cfg.ratio_prior)
            + math.log(cfg.ratio_prior_factor) * rng.standard_normal(cfg.ensemble)
        )
    return np.stack(cols, 1)


def _check(theta: np.ndarray, window: int) -> None:
    if not np.isfinite(theta).all():
        raise FilterDiverged(
            f"the filter diverged at window {window}: a parameter is not finite; no estimate"
        )
    if (theta.std(0) < 1e-6).any():
        raise FilterDiverged(
            f"the ensemble collapsed at window {window} (no spread left); no estimate - "
            "try a larger --ensemble or a larger observation error"
        )


def _data_hash(obs: Any) -> str:
    h = hashlib.sha256()
    for lab, t in zip(obs.labels, obs.times_s, strict=True):
        h.update(lab.astype(np.int64).tobytes())
        h.update(repr(float(t)).encode())
    h.update(repr(obs.pixel_size_m).encode())
    if obs.orientations_deg is not None:
        h.update(obs.orientations_deg.tobytes())
    return h.hexdigest()


def assimilate(
    folder: str | os.PathLike[str],
    out: str | os.PathLike[str],
    cfg: AssimilationConfig,
    force: bool = False,
    progress: bool = True,
) -> dict[str, Any]:
    """Estimate ``M sigma`` (and the low-angle mobility ratio, when the observations carry
    orientations) from the snapshots of ``folder``; writes ``out/assimilation.json`` and
    ``out/convergence.png`` and resumes after a kill (the ensemble is saved per window)."""
    import torch
    from tqdm import tqdm

    from eftgan.checkpoint import package_versions
    from eftgan.files import atomic_write_json
    from eftgan.runstate import RunState
    from microstructure.grainio import read_observations

    obs = read_observations(folder)
    if cfg.ensemble < 4:
        raise UserError("--ensemble must be at least 4")
    if cfg.error_area not in ("start", "end"):
        raise UserError(f"error_area must be 'start' or 'end', not {cfg.error_area!r}")
    anisotropic = obs.orientations_deg is not None
    out = Path(out)
    if (out / "assimilation.json").exists() and not force:
        raise UserError(f"{out} holds a finished assimilation; pass --force to redo it")
    state = RunState(out, {**cfg.as_dict(), "data": _data_hash(obs)}, force=force)
    theta = _prior(obs, anisotropic, cfg)
    history = [_summary(theta, 0, None)]
    saved = state.restore()
    wall = 0.0
    if saved:
        theta = saved.tensors["ensemble"]["theta"].numpy()
        history, wall = saved.scalars["history"], saved.scalars["wall_s"]
    windows = len(obs.labels) - 1
    for k in range(windows):  # every window can be observed, before any work
        observed_grains(obs.labels[k], k, cfg)
    for k in tqdm(range(len(history) - 1, windows), desc="assimilate", disable=not progress):
        t0 = time.perf_counter()
        theta, innov = _window(obs, k, theta, cfg)
        wall += time.perf_counter() - t0
        history.append(_summary(theta, k + 1, innov))
        state.save(
            {"history": history, "wall_s": wall}, ensemble={"theta": torch.from_numpy(theta)}
        )
    result = _result(theta, history, anisotropic, cfg, wall, obs)
    result["versions"] = package_versions()
    convergence_png(out / "convergence.png", history, anisotropic)
    atomic_write_json(out / "assimilation.json", result)
    state.finish()
    return result


def _window(
    obs: Any, k: int, theta: np.ndarray, cfg: AssimilationConfig
) -> tuple[np.ndarray, float]:
    """One forecast from snapshot ``k`` and its analysis against snapshot ``k + 1``; returns
    the analysed ensemble and the mean squared whitened innovation."""
    start, target = obs.labels[k], obs.labels[k + 1]
    ids = observed_grains(start, k, cfg)
    pred = _forecast(
        start, obs.times_s[k + 1] - obs.times_s[k], theta, obs.pixel_size_m,
        obs.orientations_deg, cfg,
    )  # fmt: skip
    y = np.stack([grain_areas(p, ids) for p in pred])
    if not np.isfinite(y).all():
        raise FilterDiverged(f"the forecasts of window {k + 1} are not finite; no estimate")
    y_obs = grain_areas(target, ids)
    std = _area_error(
        grain_areas(start if cfg.error_area == "start" else target, ids), cfg.obs_error_cells
    )
    innov = float(np.mean(((y_obs - y.mean(0)) / std) ** 2))
    theta = etkf_update(theta, y, y_obs, std)
    _check(theta, k + 1)
    return theta, innov


def observed_grains(start: np.ndarray, k: int, cfg: AssimilationConfig) -> np.ndarray:
    """The ids of the grains of snapshot ``k`` (labels ``start``) that enter its window's
    observation: those of at least a disc of ``cfg.min_radius_widths`` boundary widths."""
    ids = np.unique(start)
    least = math.pi * (cfg.min_radius_widths * cfg.width_cells) ** 2
    keep = ids[grain_areas(start, ids) >= least]
    if len(keep) < MIN_OBSERVED_GRAINS:
        which = f" of at least {least:.0f} pixels" if least > 0 else ""
        raise UserError(
            f"snapshot {k + 1} holds {len(keep)} grains{which} and the filter needs "
            f"{MIN_OBSERVED_GRAINS}; give larger images, or images of more pixels per grain"
        )
    return keep


def _summary(theta: np.ndarray, window: int, innov: float | None) -> dict[str, Any]:
    vals = np.exp(theta)
    row: dict[str, Any] = {
        "window": window,
        "mobility_energy_mean": float(vals[:, 0].mean()),
        "mobility_energy_std": float(vals[:, 0].std(ddof=1)),
        "innovation_chi2_per_obs": innov,
    }
    if theta.shape[1] > 1:
        row["ratio_mean"] = float(vals[:, 1].mean())
        row["ratio_std"] = float(vals[:, 1].std(ddof=1))
    return row


def _result(
    theta: np.ndarray,
    history: list[dict[str, Any]],
    anisotropic: bool,
    cfg: AssimilationConfig,
    wall: float,
    obs: Any,
) -> dict[str, Any]:
    last = history[-1]
    result: dict[str, Any] = {
        "mobility_energy": {
            "mean": last["mobility_energy_mean"],
            "std": last["mobility_energy_std"],
            "unit": "m^2/s (M sigma)",
        },
    }
    least = f" of at least {cfg.min_radius_widths:g} boundary widths in radius"
    least = least if cfg.min_radius_widths > 0 else ""
    if anisotropic:
        result["low_angle_mobility_ratio"] = {"mean": last["ratio_mean"], "std": last["ratio_std"]}
    result.update(
        ensemble=cfg.ensemble,
        windows=len(history) - 1,
        snapshots=len(obs.labels),
        wall_s=wall,
        history=history,
        config=cfg.as_dict(),
        observation_operator=f"area (pixels) at t_{{k+1}} of every grain of snapshot k{least}",
    )
    return result


def convergence_png(path: Path, history: list[dict[str, Any]], anisotropic: bool) -> None:
    """The posterior mean +- one standard deviation of each parameter against the window."""
    from eftgan.plotting import pyplot, save_png

    plt = pyplot()
    keys = [("mobility_energy", "M σ (m²/s)")] + (
        [("ratio", "low-angle ratio r")] if anisotropic else []
    )
    fig, axes = plt.subplots(1, len(keys), figsize=(4.2 * len(keys), 3.2), dpi=120, squeeze=False)
    w = [h["window"] for h in history]
    for ax, (key, name) in zip(axes[0], keys, strict=True):
        mean = np.array([h[f"{key}_mean"] for h in history])
        std = np.array([h[f"{key}_std"] for h in history])
        ax.errorbar(w, mean, yerr=std, fmt="o-", capsize=3)
        ax.set_xlabel("assimilated snapshots")
        ax.set_ylabel(name)
        ax.set_xticks(w)
    fig.suptitle("ensemble Kalman filter: posterior mean ± std")
    fig.tight_layout()
    save_png(fig, path)
