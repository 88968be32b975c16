"""How well ``--wavelengths auto`` tells air from vacuum wavelengths, and how often it says
it cannot.

Protocol; writes benchmarks/results/spectral_frames.json:

* simulated: pure spectra of each of the ten metals of ``spectral_real.METALS`` from the
  project's simulator (self-absorption over 1 mm, the preset's response and noise; seed 0,
  one draw per metal and temperature) at 9000 and 12,000 K and n_e 1e17 cm^-3, on two
  presets (``saca2021``: 300-700 nm, 0.15 nm resolution; ``hr4000``: 200-1100 nm,
  0.5-0.9 nm), each written once on its air axis and once on that axis converted to vacuum
  wavelengths; 80 files. Each is read by ``spectral.measured.calibrate_spectrum`` with the
  ten metals as candidates, as ``analyze`` does. Counted: right and decided, right but
  undecided, wrong and undecided (flagged), and wrong and decided (the failure that the
  issue calls impossible to miss);
* measured: the reading of every measured file of ``../shared/reference`` (Aalto Fe and Ni,
  the 12 BHVO-2 spectra), whose frame is known to be vacuum from their sources;
* the decision rule is the one in ``spectral.measured`` (its offsets' ratio, size and
  standard errors); the standard-error condition was added after a first pass of these
  simulated files showed one wrong and decided reading, and both counts are reported.

    python benchmarks/spectral_frames.py
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
from _common import SHARED, machine, protocol_text, write_json
from spectral_real import METALS, METALS_BHVO2

REFERENCE = SHARED / "reference"


def outcome(truth: str, frame: str, decided: bool) -> str:
    """One of right_decided, right_undecided, wrong_undecided, wrong_decided."""
    return f"{'right' if frame == truth else 'wrong'}_{'decided' if decided else 'undecided'}"


def simulated() -> dict[str, Any]:
    from spectral.atomic import air_to_vacuum
    from spectral.instrument import Conditions, Simulator, get_instrument
    from spectral.io import Spectrum
    from spectral.measured import calibrate_spectrum, decide

    rows = []
    for preset in ("saca2021", "hr4000"):
        inst = get_instrument(preset)
        sim = Simulator(METALS, inst)
        rng = np.random.default_rng(0)
        for t_k in (9000.0, 12000.0):
            for i, el in enumerate(METALS):
                wt = np.zeros((1, len(METALS)))
                wt[0, i] = 100.0
                y = np.asarray(sim.simulate(wt, Conditions.fixed(1, t_k, 1e17), rng)[0], float)
                axes = {"air": inst.wavelength_nm, "vacuum": air_to_vacuum(inst.wavelength_nm)}
                for truth, wl in axes.items():
                    _, axis = calibrate_spectrum(Spectrum(wl, y, el), "auto", candidates=METALS)
                    # the rule without its standard-error condition, for the comparison
                    _, by_ratio = decide(axis.offset_rms_nm)
                    rows.append(
                        {
                            "preset": preset, "metal": el, "temperature_k": t_k,
                            "truth": truth, "frame": axis.frame, "decided": axis.decided,
                            "outcome": outcome(truth, axis.frame, axis.decided),
                            "outcome_without_se": outcome(truth, axis.frame, by_ratio),
                            "lines": [s.n_lines for s in axis.segments],
                        }
                    )  # fmt: skip
    counts = {
        key: {
            preset: dict(Counter(r[key] for r in rows if r["preset"] == preset))
            for preset in ("saca2021", "hr4000")
        }
        for key in ("outcome", "outcome_without_se")
    }
    return {"counts": counts["outcome"], "counts_without_se": counts["outcome_without_se"],
            "files": rows}  # fmt: skip


def measured() -> list[dict[str, Any]]:
    from spectral.io import read_spectrum
    from spectral.measured import calibrate_spectrum

    files = [(p, METALS) for p in sorted((REFERENCE / "libs_aalto").glob("*_spectrum.csv"))]
    files += [(p, METALS_BHVO2) for p in sorted((REFERENCE / "libs_bhvo2").glob("*.csv"))]
    rows = []
    for path, candidates in files:
        if not path.name.endswith("_spectrum.csv"):
            continue
        _, axis = calibrate_spectrum(
            read_spectrum(path, clip_negative=True), "auto", candidates=candidates
        )
        rows.append(
            {
                "file": f"{path.parent.name}/{path.name}", "frame": axis.frame,
                "decided": axis.decided, "outcome": outcome("vacuum", axis.frame, axis.decided),
                "offset_rms_nm": axis.offset_rms_nm,
            }
        )  # fmt: skip
    return rows


def main() -> None:
    import torch

    torch.set_num_threads(2)
    report: dict[str, Any] = {"protocol": protocol_text(__doc__), "simulated": simulated()}
    if REFERENCE.is_dir():
        report["measured"] = measured()
    report["machine"] = machine()
    print(write_json("spectral_frames.json", report))


if __name__ == "__main__":
    main()
