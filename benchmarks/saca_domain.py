"""Is it a steel? The share of a spectrum's line signal that the elements of the shipped SACA
model explain (``lines_explained`` of ``analyze``, :func:`spectral.analyze.steel_lines_share`),
on steels and on what SACA was never meant to read.

Protocol (fixed before the run); writes benchmarks/results/saca_domain.json:

* every file goes through ``spectral.analyze.analyze_files`` (the default ``analyze`` with
  ``--clip-negative``, which the measured files need: the axis read, the spectrum put on
  the model's grid, SACA, the share);
* development, where the threshold is set: spectra from the project's simulator on the
  model's instrument (``saca2021``, 300-700 nm) at 8000 and 11,000 K and n_e 1e17 cm^-3
  (seed 0, self-absorption over 1 mm), written in air wavelengths and read so. Steels and
  the pure metals SACA's elements make (:data:`STEELS`) are the model's kind; a brass, an
  aluminium alloy, Ti-6Al-4V and a basalt (:data:`OTHERS`) are not. And the measured Aalto
  pure Fe and Ni spectra, the model's kind (read with ``--wavelengths auto``). The
  threshold is the midpoint between the lowest share of the model's kind and the highest
  of the others there, rounded to one decimal (0.3, ``MIN_LINES_EXPLAINED``: the prototype
  of this check was run on these files and the twelve BHVO-2 ones before this script);
* test: the twelve measured BHVO-2 spectra (a basalt, not the model's kind), each flagged
  or not at that threshold.

    python benchmarks/saca_domain.py
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from _common import SHARED, machine, protocol_text, write_json

REFERENCE = SHARED / "reference"
STEELS = {
    "stainless 304": {"Fe": 70, "Cr": 18, "Ni": 10, "Mn": 2},
    "stainless 316": {"Fe": 65, "Cr": 17, "Ni": 12, "Mo": 2.5, "Mn": 1.5, "Ce": 0.5},
    "duplex": {"Fe": 68, "Cr": 25, "Ni": 5, "Mo": 2},
    "manganese steel": {"Fe": 86, "Mn": 13, "Cr": 1},
    "pure Fe": {"Fe": 100},
    "pure Ni": {"Ni": 100},
}
OTHERS = {
    "brass": {"Cu": 65, "Zn": 35},
    "Al-Si-Mg": {"Al": 94, "Si": 5, "Mg": 1},
    "Ti-6Al-4V": {"Ti": 90, "Al": 6, "V": 4},
    "basalt": {"Si": 42, "Al": 13, "Fe": 15.5, "Ca": 14.7, "Mg": 7.8, "Na": 3, "Ti": 3, "K": 0.8},
}


def shares(files: list[Path], wavelengths: str) -> list[float]:
    from spectral.analyze import analyze_files

    rows = analyze_files(files, clip_negative=True, wavelengths=wavelengths)
    return [r["lines_explained"] for r in rows]


def simulated(folder: Path) -> list[dict[str, Any]]:
    from spectral.instrument import Conditions, Simulator, get_instrument
    from spectral.io import write_csv

    mixes = {**STEELS, **OTHERS}
    elements = sorted({e for mix in mixes.values() for e in mix})
    inst = get_instrument("saca2021")
    sim = Simulator(elements, inst)
    rng = np.random.default_rng(0)
    rows, files = [], []
    for t_k in (8000.0, 11000.0):
        for name, mix in mixes.items():
            wt = np.array([[mix.get(e, 0.0) for e in elements]])
            y = np.asarray(sim.simulate(wt, Conditions.fixed(1, t_k, 1e17), rng)[0], float)
            files.append(folder / f"{name.replace(' ', '_')}_{t_k:.0f}.csv")
            write_csv(files[-1], inst.wavelength_nm, {"counts": y})
            rows.append({"sample": name, "temperature_k": t_k, "steel_kind": name in STEELS})
    for row, share in zip(rows, shares(files, "air"), strict=True):
        row["lines_explained"] = share
    return rows


def measured(pattern: str, kind: bool) -> list[dict[str, Any]]:
    files = sorted(REFERENCE.glob(pattern))
    return [
        {"file": f.name, "steel_kind": kind, "lines_explained": s}
        for f, s in zip(files, shares(files, "auto"), strict=True)
    ]


def main() -> None:
    import torch

    from spectral.analyze import MIN_LINES_EXPLAINED

    torch.set_num_threads(2)
    t0 = time.perf_counter()
    report: dict[str, Any] = {"protocol": protocol_text(__doc__)}
    with tempfile.TemporaryDirectory() as tmp:
        report["simulated"] = simulated(Path(tmp))
    dev = list(report["simulated"])
    if (REFERENCE / "libs_aalto").is_dir():
        report["aalto"] = measured("libs_aalto/*_spectrum.csv", True)
        dev += report["aalto"]
    low = min(r["lines_explained"] for r in dev if r["steel_kind"])
    high = max(r["lines_explained"] for r in dev if not r["steel_kind"])
    report["threshold"] = {
        "lowest_steel_kind": low,
        "highest_other": high,
        "rule_gives": round((low + high) / 2, 1),
        "used": MIN_LINES_EXPLAINED,
    }
    if (REFERENCE / "libs_bhvo2").is_dir():
        report["bhvo2"] = measured("libs_bhvo2/*_spectrum.csv", False)
        for r in report["bhvo2"]:
            r["flagged"] = r["lines_explained"] < MIN_LINES_EXPLAINED
    for r in dev:
        r["flagged"] = r["lines_explained"] < MIN_LINES_EXPLAINED
    report["benchmark_wall_s"] = time.perf_counter() - t0
    report["machine"] = machine()
    print(write_json("saca_domain.json", report))


if __name__ == "__main__":
    main()
