"""Simulated pure metals through ``analyze --method cflibs``: how well ``--wavelengths auto``
tells air from vacuum wavelengths (and how often it says it cannot), and whether each metal
reads as itself among fourteen candidates.

Protocol; writes benchmarks/results/spectral_pure_metals.json:

* candidates: :data:`CANDIDATES`, the ten metals of ``spectral_real.METALS`` and the four
  other pure elements of the Aalto library (Mg, Pb, Sn, Zn; the library holds Al, Co, Cr, Cu,
  Fe, Mg, Mn, Ni, Pb, Sn, Ti, V and Zn, as its redistributor CF-LIBS-improved lists them):
  its eleven spectra besides Fe and Ni are the issue's blind check, whose candidate list must
  hold each right element;
* files: pure spectra of each of the candidates from the
  project's simulator (self-absorption over 1 mm, the preset's response and noise; seed 0,
  one draw per metal and temperature) at 9000 and 12,000 K and n_e 1e17 cm^-3, on two
  presets (``saca2021``: 300-700 nm, 0.15 nm resolution; ``hr4000``: 200-1100 nm,
  0.5-0.9 nm), each written once on its air axis and once on that axis converted to vacuum
  wavelengths; 112 files. The simulator's physics is the fit's in its parts (the same
  NIST lines, LTE and curve of growth) but not in its sums (its own line widths, response,
  baseline and noise), so this checks the analysis, not its truth on real plasmas;
* frames: each file read by ``spectral.measured.calibrate_spectrum`` with the candidates,
  as ``analyze`` does. Counted: right and decided, right but undecided, wrong
  and undecided (flagged), and wrong and decided (the failure that the issue calls
  impossible to miss). The standard-error condition of the decision was added after a first
  pass of these files showed one wrong and decided reading; the counts without it are
  reported beside;
* analysis: ``fit_cflibs`` of each file with the candidates and O, N, H as nuisance, the
  frame read as ``auto``: the right metal's wt %, ``model_ok`` and the cost. The issue's
  goal on measured pure metals (>= 90 wt % of the right one on at least 9 of 11, and never
  ``model_ok`` on a wrong answer) is counted the same way here;
* stress (``simulated_stress``; ``--part stress`` runs it alone and merges it into the
  recorded file; added later, nothing is chosen from it): the same analysis of pure
  spectra the fit's model describes less well, on both presets in air wavelengths at
  10,000 K and 1e17 cm^-3 (seed 1): a plasma three times as long (3 mm: stronger
  self-absorption of the resonance lines), two zones (the spectrum at 11,000 K plus half
  of one at 6000 K: a hot core and a cool rim, which the default single zone cannot fit)
  and a response the preset lacks (the counts times a ramp from 0.3 to 1 across the
  range). Counted as above: right, ``model_ok`` and wrong but ``model_ok``;
* measured: the frame reading of every measured file of ``../shared/reference`` (Aalto Fe
  and Ni, the 12 BHVO-2 spectra), whose frame is vacuum by their sources; the two Aalto
  spectra also analysed as the simulated files are, with the candidates (their
  ``spectral_real`` figures are with the ten metals alone).

    python benchmarks/spectral_pure_metals.py
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import numpy as np
from _common import SHARED, machine, protocol_text, write_json
from spectral_real import AIR, METALS, METALS_BHVO2

REFERENCE = SHARED / "reference"
PRESETS = ("saca2021", "hr4000")
RIGHT_WT_PCT = 90.0
CANDIDATES = (*METALS, "Mg", "Pb", "Sn", "Zn")


def outcome(truth: str, frame: str, decided: bool) -> str:
    """One of right_decided, right_undecided, wrong_undecided, wrong_decided."""
    return f"{'right' if frame == truth else 'wrong'}_{'decided' if decided else 'undecided'}"


def analysis(spec: Any, metal: str) -> dict[str, Any]:
    """``fit_cflibs`` of a pure-metal spectrum with the candidates: the right metal's wt %,
    the top one, ``model_ok`` and the cost."""
    from spectral.cflibs import fit_cflibs

    t0 = time.perf_counter()
    res = fit_cflibs(spec, list(CANDIDATES), AIR)
    wt = dict(zip(res.elements, (float(w) for w in res.wt_pct), strict=True))
    right = wt[metal] >= RIGHT_WT_PCT
    return {
        "right_wt_pct": wt[metal], "top": max(wt, key=wt.get), "model_ok": res.model_ok,
        "fit_cost": res.cost, "right": right, "wrong_but_model_ok": res.model_ok and not right,
        "seconds": time.perf_counter() - t0,
    }  # fmt: skip


def one_file(spec: Any, metal: str, truth: str) -> dict[str, Any]:
    """The frame reading and the analysis of one simulated pure-metal file."""
    from spectral.measured import calibrate_spectrum, decide

    _, axis = calibrate_spectrum(spec, "auto", candidates=CANDIDATES)
    _, by_ratio = decide(axis.offset_rms_nm)  # the rule without its standard-error condition
    return {
        "truth": truth, "frame": axis.frame, "decided": axis.decided,
        "outcome": outcome(truth, axis.frame, axis.decided),
        "outcome_without_se": outcome(truth, axis.frame, by_ratio),
        "lines": [s.n_lines for s in axis.segments], **analysis(spec, metal),
    }  # fmt: skip


def simulated() -> dict[str, Any]:
    from spectral.atomic import air_to_vacuum
    from spectral.instrument import Conditions, Simulator, get_instrument
    from spectral.io import Spectrum

    rows = []
    for preset in PRESETS:
        inst = get_instrument(preset)
        sim = Simulator(CANDIDATES, inst)
        rng = np.random.default_rng(0)
        for t_k in (9000.0, 12000.0):
            for i, el in enumerate(CANDIDATES):
                wt = np.zeros((1, len(CANDIDATES)))
                wt[0, i] = 100.0
                y = np.asarray(sim.simulate(wt, Conditions.fixed(1, t_k, 1e17), rng)[0], float)
                axes = {"air": inst.wavelength_nm, "vacuum": air_to_vacuum(inst.wavelength_nm)}
                for truth, wl in axes.items():
                    row = one_file(Spectrum(wl, y, el), el, truth)
                    rows.append({"preset": preset, "metal": el, "temperature_k": t_k, **row})
                    print(preset, el, t_k, truth, row["outcome"], f"{row['right_wt_pct']:.1f}")
    return {
        "frames": {
            key: {p: dict(Counter(r[key] for r in rows if r["preset"] == p)) for p in PRESETS}
            for key in ("outcome", "outcome_without_se")
        },
        "analysis": {
            p: {
                "files": sum(r["preset"] == p for r in rows),
                "right": sum(r["right"] for r in rows if r["preset"] == p),
                "model_ok": sum(r["model_ok"] for r in rows if r["preset"] == p),
                "wrong_but_model_ok": sum(
                    r["wrong_but_model_ok"] for r in rows if r["preset"] == p
                ),
                "lowest_right_wt_pct": min(r["right_wt_pct"] for r in rows if r["preset"] == p),
                "median_s": float(np.median([r["seconds"] for r in rows if r["preset"] == p])),
            }
            for p in PRESETS
        },
        "files": rows,
    }


def stressed(preset: str, rng: np.random.Generator) -> dict[str, list[tuple[str, Any]]]:
    """The stress files of one preset (see the protocol): per condition, (metal, spectrum)."""
    from spectral.instrument import Conditions, Simulator, get_instrument
    from spectral.io import Spectrum

    inst = get_instrument(preset)
    sims = {"1mm": Simulator(CANDIDATES, inst), "3mm": Simulator(CANDIDATES, inst, length_m=3e-3)}
    ramp = np.linspace(0.3, 1.0, len(inst.wavelength_nm))
    out: dict[str, list[tuple[str, Any]]] = {"long_plasma": [], "two_zones": [], "tilt": []}
    for i, el in enumerate(CANDIDATES):
        wt = np.zeros((1, len(CANDIDATES)))
        wt[0, i] = 100.0

        def counts(sim: Any, t_k: float, wt: np.ndarray = wt) -> np.ndarray:
            return np.asarray(sim.simulate(wt, Conditions.fixed(1, t_k, 1e17), rng)[0], float)

        ys = {
            "long_plasma": counts(sims["3mm"], 10000.0),
            "two_zones": counts(sims["1mm"], 11000.0) + 0.5 * counts(sims["1mm"], 6000.0),
            "tilt": counts(sims["1mm"], 10000.0) * ramp,
        }
        for cond, y in ys.items():
            out[cond].append((el, Spectrum(inst.wavelength_nm, y, el)))
    return out


def stress() -> dict[str, Any]:
    rng = np.random.default_rng(1)
    report: dict[str, Any] = {}
    for preset in PRESETS:
        for cond, files in stressed(preset, rng).items():
            rows = [{"metal": el, **analysis(spec, el)} for el, spec in files]
            for r in rows:
                print(preset, cond, r["metal"], f"{r['right_wt_pct']:.1f}", r["top"], r["model_ok"])
            report.setdefault(cond, {})[preset] = {
                "files": len(rows), "right": sum(r["right"] for r in rows),
                "model_ok": sum(r["model_ok"] for r in rows),
                "wrong_but_model_ok": sum(r["wrong_but_model_ok"] for r in rows),
                "wrong": [f"{r['metal']} read as {r['top']} ({r['right_wt_pct']:.1f} wt % "
                          f"{r['metal']}, model_ok {r['model_ok']})"
                          for r in rows if not r["right"]],
                "lowest_right_wt_pct": min(r["right_wt_pct"] for r in rows),
                "rows": rows,
            }  # fmt: skip
    return report


def measured() -> list[dict[str, Any]]:
    from spectral.io import read_spectrum
    from spectral.measured import calibrate_spectrum

    files = [(p, CANDIDATES) for p in sorted((REFERENCE / "libs_aalto").glob("*_spectrum.csv"))]
    files += [(p, METALS_BHVO2) for p in sorted((REFERENCE / "libs_bhvo2").glob("*_spectrum.csv"))]
    rows = []
    for path, candidates in files:
        spec = read_spectrum(path, clip_negative=True)
        _, axis = calibrate_spectrum(spec, "auto", candidates=candidates)
        rows.append(
            {
                "file": f"{path.parent.name}/{path.name}", "frame": axis.frame,
                "decided": axis.decided, "outcome": outcome("vacuum", axis.frame, axis.decided),
                "offset_rms_nm": axis.offset_rms_nm,
            }
        )  # fmt: skip
        if path.parent.name == "libs_aalto":  # a pure metal, named by its file
            metal = path.stem.split("_")[0]
            rows[-1]["analysis"] = {"metal": metal, **analysis(spec, metal)}
            print(path.name, rows[-1]["analysis"])
    return rows


def main() -> None:
    import argparse
    import json

    import torch
    from _common import RESULTS

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--part", choices=("all", "stress"), default="all")
    args = ap.parse_args()
    torch.set_num_threads(2)
    t0 = time.perf_counter()
    report: dict[str, Any]
    if args.part == "stress":  # merged into the recorded run
        report = json.loads((RESULTS / "spectral_pure_metals.json").read_text())
    else:
        report = {"simulated": simulated()}
        if REFERENCE.is_dir():
            report["measured"] = measured()
    t1 = time.perf_counter()
    report["simulated_stress"] = stress() | {
        "wall_s": time.perf_counter() - t1, "machine": machine(),
    }  # fmt: skip
    report["protocol"] = protocol_text(__doc__)
    if args.part == "all":
        report["benchmark_wall_s"] = time.perf_counter() - t0
        report["machine"] = machine()
    print(write_json("spectral_pure_metals.json", report))


if __name__ == "__main__":
    main()
