"""Grain-growth runs on disk: 16-bit label snapshots, what an experimenter knows
(``observations.json``) and what only the simulation knows (``run.json``).

A run folder holds one label image per snapshot, ``grains_<step>.png`` (16-bit, each pixel
the id of its grain, ids kept for the whole run), ``observations.json`` with the snapshot
times and the pixel size (and, for a misorientation-dependent run, each grain's orientation,
as an EBSD map would give it) and ``run.json`` with every parameter and its unit.
:func:`read_observations` reads the first two and never ``run.json``: real observations come
without the true parameters.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from eftgan.errors import UserError
from eftgan.files import atomic_write_json, atomic_writer, refuse_existing
from eftgan.settings import JSONSettings

__all__ = [
    "Observed",
    "SimulationConfig",
    "mean_area_m2",
    "read_labels",
    "read_observations",
    "simulate",
    "write_labels",
]

OBSERVATIONS = "observations.json"
_SNAPSHOT = re.compile(r"^grains_(\d+)\.png$")


def write_labels(path: str | os.PathLike[str], labels: np.ndarray) -> None:
    """A label image as a 16-bit PNG, atomically (ids must be below 65536)."""
    from PIL import Image

    if labels.max() > np.iinfo(np.uint16).max:
        raise UserError(f"{path}: more than 65536 grain ids do not fit a 16-bit label image")
    with atomic_writer(path) as tmp:
        Image.fromarray(labels.astype(np.uint16)).save(tmp, format="PNG")


def read_labels(path: str | os.PathLike[str]) -> np.ndarray:
    """A label image (any integer PNG or TIFF) as int64 ids."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            if im.mode not in ("I;16", "I", "L", "I;16B", "P"):
                raise UserError(
                    f"{path} is a {im.mode} image, not a label image; give one integer grain "
                    "id per pixel (8- or 16-bit gray)"
                )
            return np.asarray(im).astype(np.int64)
    except (UnidentifiedImageError, OSError) as exc:
        raise UserError(f"{path} is not a readable image ({exc}); give a label PNG") from None


def snapshot_files(folder: Path) -> list[Path]:
    """``grains_<step>.png`` of ``folder``, in step order."""
    found = [(int(m.group(1)), p) for p in folder.iterdir() if (m := _SNAPSHOT.match(p.name))]
    return [p for _, p in sorted(found)]


@dataclass
class Observed:
    """What an experiment shows: label images at known times, a pixel size and, where
    measured (EBSD), the grains' orientations in degrees indexed by grain id."""

    labels: list[np.ndarray]
    times_s: np.ndarray
    pixel_size_m: float
    orientations_deg: np.ndarray | None = None


def read_observations(folder: str | os.PathLike[str]) -> Observed:
    """The snapshots and ``observations.json`` of ``folder``, checked: at least two
    snapshots, one time each, all of one size, each with more than one grain."""
    folder = Path(folder)
    meta_path = folder / OBSERVATIONS
    if not meta_path.is_file():
        raise UserError(
            f"{folder} has no {OBSERVATIONS}; write one with the snapshot times "
            '({"times_s": [...], "pixel_size_m": ...})'
        )
    try:
        meta = json.loads(meta_path.read_text())
        times = np.asarray(meta["times_s"], dtype=float)
        pixel = float(meta["pixel_size_m"])
    except (ValueError, KeyError, TypeError) as exc:
        raise UserError(f"{meta_path} needs times_s (a list) and pixel_size_m ({exc})") from None
    files = snapshot_files(folder)
    if len(files) < 2:
        raise UserError(
            f"{folder} holds {len(files)} snapshot(s) grains_<step>.png; the assimilation "
            "needs at least two"
        )
    if len(files) != len(times):
        raise UserError(f"{folder}: {len(files)} snapshots but {len(times)} times_s; give one each")
    if np.any(np.diff(times) <= 0):
        raise UserError(f"{meta_path}: times_s must increase")
    labels = [read_labels(p) for p in files]
    for p, lab in zip(files, labels, strict=True):
        if lab.shape != labels[0].shape:
            raise UserError(
                f"{p.name} is {lab.shape[1]}x{lab.shape[0]} but {files[0].name} is "
                f"{labels[0].shape[1]}x{labels[0].shape[0]}; snapshots must share one size"
            )
        if len(np.unique(lab)) < 2:
            raise UserError(f"{p.name} holds one grain; a grain map needs at least two")
    orient = meta.get("orientations_deg")
    top = max(int(lab.max()) for lab in labels)
    if orient is not None and len(orient) <= top:
        raise UserError(
            f"{meta_path}: orientations_deg holds {len(orient)} grains but the snapshots use "
            f"ids up to {top}; give one orientation per grain id"
        )
    return Observed(
        labels=labels,
        times_s=times,
        pixel_size_m=pixel,
        orientations_deg=None if orient is None else np.asarray(orient, dtype=float),
    )


def mean_area_m2(labels: np.ndarray, pixel_size_m: float) -> float:
    """The mean grain area of a label image (m^2)."""
    return labels.size * pixel_size_m**2 / len(np.unique(labels))


@dataclass
class SimulationConfig(JSONSettings):
    """A grain-growth run from a periodic Voronoi start (see :mod:`.phasefield`).

    ``mobility_energy_m2_s`` is the product ``M sigma`` that sets the kinetics;
    ``low_angle_mobility_ratio`` (None: isotropic) switches misorientation dependence on,
    with random orientations. Snapshots are taken every ``steps / snapshots`` steps, the
    first after that many steps (the Voronoi start is not a grain structure anyone would
    observe)."""

    size: int = 256
    grains: int = 300
    steps: int = 2000
    snapshots: int = 5
    mobility_energy_m2_s: float = 1e-13
    low_angle_mobility_ratio: float | None = None
    sigma_j_m2: float = 0.5
    pixel_size_m: float = 1e-6
    width_cells: float = 5.0
    n_params: int = 16
    dt_s: float | None = None
    recolour_every: int = 50
    seed: int = 0

    def growth(self) -> Any:
        from microstructure.phasefield import GrainGrowth

        return GrainGrowth(
            sigma_j_m2=self.sigma_j_m2,
            mobility_m4_js=self.mobility_energy_m2_s / self.sigma_j_m2,
            dx_m=self.pixel_size_m,
            width_cells=self.width_cells,
            n_params=self.n_params,
            misorientation=self.low_angle_mobility_ratio is not None,
            low_angle_mobility_ratio=(
                1.0 if self.low_angle_mobility_ratio is None else self.low_angle_mobility_ratio
            ),
        )

    def check(self) -> None:
        if self.snapshots < 2:
            raise UserError("--snapshots must be at least 2: the assimilation compares pairs")
        if self.steps < self.snapshots:
            raise UserError("--steps must be at least --snapshots (one step per snapshot)")
        if not 2 <= self.grains <= self.size * self.size // 16:
            raise UserError(
                f"--grains must be between 2 and {self.size**2 // 16} for --size {self.size}"
            )
        positive = {
            "--mobility-energy": self.mobility_energy_m2_s,
            "--sigma": self.sigma_j_m2,
            "--pixel-size": self.pixel_size_m,
            "--dt": 1.0 if self.dt_s is None else self.dt_s,
        }
        for name, value in positive.items():
            if not value > 0:
                raise UserError(f"{name} must be positive, not {value}")
        r = self.low_angle_mobility_ratio
        if r is not None and not r >= 0:
            raise UserError(f"--anisotropy (the low-angle mobility ratio) must be >= 0, not {r}")


def simulate(
    out: str | os.PathLike[str],
    cfg: SimulationConfig,
    force: bool = False,
    progress: bool = True,
    device: str = "cpu",
) -> dict[str, Any]:
    """Run grain growth and write its snapshots, ``observations.json``, ``run.json`` and
    ``growth.png`` to ``out``; resumes from the last snapshot after a kill."""
    from tqdm import tqdm

    from eftgan.checkpoint import package_versions
    from eftgan.devices import device_name, resolve_device
    from eftgan.runstate import RunState
    from microstructure.phasefield import PhaseField, voronoi_labels

    cfg.check()
    dev = resolve_device(device)
    rng = np.random.default_rng(cfg.seed)
    start = voronoi_labels(cfg.size, cfg.grains, seed=cfg.seed)
    orient = rng.uniform(0, 90, cfg.grains) if cfg.low_angle_mobility_ratio is not None else None
    pf = PhaseField.from_labels(
        start, cfg.growth(), device=str(dev), orientations_deg=orient, dt_s=cfg.dt_s
    )  # checks the time step before anything is removed or written
    out = Path(out)
    if force and out.exists():
        refuse_existing(out, force)  # never the current folder or one that holds it
        shutil.rmtree(out)
    if out.exists() and (out / "run.json").exists():
        raise UserError(
            f"{out} holds a finished run; pass --force to replace it or choose another --out"
        )
    state = RunState(out, cfg.as_dict(), force=False)
    saved = state.restore()
    done, times, wall = 0, [], 0.0
    if saved:
        done, times, wall = saved.scalars["step"], saved.scalars["times_s"], saved.scalars["wall_s"]
        pf.eta = saved.tensors["field"]["eta"].to(dev)
        pf.ids = saved.tensors["field"]["ids"].to(dev)
        pf.time_s = saved.scalars["time_s"]
    every = cfg.steps // cfg.snapshots
    bar = tqdm(total=every * cfg.snapshots, initial=done, desc="grains", disable=not progress)
    while done < every * cfg.snapshots:
        t0 = time.perf_counter()
        pf.run(every, recolour_every=cfg.recolour_every)
        wall += time.perf_counter() - t0
        done += every
        times.append(pf.time_s)
        write_labels(out / f"grains_{done:06d}.png", pf.labels()[0].cpu().numpy())
        state.save(
            {"step": done, "times_s": times, "wall_s": wall, "time_s": pf.time_s},
            field={"eta": pf.eta, "ids": pf.ids},
        )
        bar.update(every)
    bar.close()
    obs: dict[str, Any] = {"times_s": times, "pixel_size_m": cfg.pixel_size_m}
    if orient is not None:
        obs["orientations_deg"] = orient.tolist()
    atomic_write_json(out / OBSERVATIONS, obs)
    run = _run_record(cfg, pf, wall, done, package_versions())
    run["device"] = device_name(dev)
    _growth_png(out / "growth.png", times, [read_labels(p) for p in snapshot_files(out)], cfg)
    atomic_write_json(out / "run.json", run)
    state.finish()
    return run


def _run_record(cfg: SimulationConfig, pf: Any, wall: float, steps: int, versions: dict) -> dict:
    """``run.json``: every parameter with its unit, the time step and the speed."""
    m, kappa, ell_l = pf.p.coefficients()
    return {
        "config": cfg.as_dict(),
        "units": {
            "mobility_energy_m2_s": "m^2/s (M sigma)",
            "sigma_j_m2": "J/m^2",
            "mobility_m4_js": "m^4/(J s)",
            "pixel_size_m": "m",
            "dt_s": "s",
        },
        "mobility_m4_js": pf.p.mobility_m4_js,
        "dt_s": pf.dt_s,
        "stable_dt_s": pf.p.stable_dt_s(),
        "model": {"m_j_m3": m, "kappa_j_m": kappa, "L_m3_js": ell_l, "gamma": 1.5},
        "steps": steps,
        "wall_s": wall,
        "seconds_per_step": wall / max(steps, 1),
        "versions": versions,
    }


def _growth_png(
    path: Path, times: list[float], labels: list[np.ndarray], cfg: SimulationConfig
) -> None:
    """The mean grain area against time."""
    from eftgan.plotting import pyplot, save_png

    plt = pyplot()
    area = [mean_area_m2(lab, cfg.pixel_size_m) * 1e12 for lab in labels]
    fig, ax = plt.subplots(figsize=(4.5, 3.2), dpi=120)
    ax.plot(times, area, "o-")
    ax.set_xlabel("time (s)")
    ax.set_ylabel("mean grain area (µm²)")
    ax.set_title("normal grain growth")
    fig.tight_layout()
    save_png(fig, path)
