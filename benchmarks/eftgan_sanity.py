"""Physics sanity table: equiatomic FeNiCoCrMn and FeNiCoCrPd, predicted beside DFT.

For each alloy and phase: Eform, the bcc-fcc energy difference (which phase is preferred), the
cubic lattice constant and the magnetic moment, from the shipped EFTGAN Screener (composition
only) and from the dataset's DFT entries (lattice constant from V0). Writes
benchmarks/results/eftgan_sanity.json.

    python benchmarks/eftgan_sanity.py
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import SHARED, machine, write_json

DATA = SHARED / "datasets" / "fenicocrmnpd_dft"


def main() -> None:
    """Predict the two equiatomic alloys, pair them with DFT, write the JSON."""
    from eftgan.dataset import load_dataset
    from eftgan.explore import Screener
    from eftgan.validate import validate

    ds = load_dataset(DATA)
    flags = validate(ds)
    by = {e.name: e for e in ds}
    sc = Screener.load()
    split = sc.config["model"]["split"]  # the ensemble's train/validation/test names
    side = {n: k for k, names in split.items() for n in names}
    rows: list[dict[str, Any]] = []
    for alloy in ("FeNiCoCrMn", "FeNiCoCrPd"):
        pred = sc.predict([alloy], n_z=64)
        dft = {p: by.get(f"{alloy}_sqs{p}") for p in ("fcc", "bcc")}
        d_dft = None
        if dft["fcc"] and dft["bcc"]:
            ef = {p: e.targets["eform_ev_per_atom"] for p, e in dft.items() if e}
            d_dft = ef["bcc"] - ef["fcc"]
        for p in ("fcc", "bcc"):
            r = pred[pred["phase"] == p].iloc[0]
            e = dft[p]
            k = 4.0 if p == "fcc" else 2.0
            rows.append(
                {
                    "alloy": alloy,
                    "phase": p,
                    "eform_pred": float(r["eform_ev_per_atom"]),
                    "eform_std": float(r["eform_std"]),
                    "eform_dft": e.targets["eform_ev_per_atom"] if e else None,
                    "delta_e_bcc_fcc_pred": float(r["delta_e_bcc_fcc_ev_per_atom"]),
                    "delta_e_bcc_fcc_dft": d_dft,
                    "a_pred": float(r["a_angstrom"]),
                    "a_dft": (k * e.targets["v0_a3_per_atom"]) ** (1 / 3) if e else None,
                    "ms_pred": float(r["ms_mub_per_atom"]),
                    "ms_std": float(r["ms_std"]),
                    "ms_dft": e.targets["ms_mub_per_atom"] if e else None,
                    "dft_entry_flags": [f.check for f in flags if e and f.structure == e.name],
                    "dft_entry_split": side.get(e.name, "excluded (flagged)") if e else None,
                }
            )
    model = sc.folder.name if sc.folder else "?"
    print(write_json("eftgan_sanity.json", {"model": model, "rows": rows, "machine": machine()}))
    for r in rows:
        print(r)


if __name__ == "__main__":
    main()
