"""spectral on measured spectra: ``analyze --method cflibs`` on real LIBS data in ../shared.

Protocol (fixed before the run; no numeric setting of the fit was tuned on BHVO-2, the
Aalto pure-metal spectra were used while building it, and what was seen of BHVO-2 is listed
below); writes benchmarks/results/spectral_real.json:

* ``aalto``: the pure Fe and Ni spectra (Aalto University), fitted with the ten metals of
  :data:`METALS` and the ambient gas O, N, H as nuisance species; per spectrum the content of
  the right element, ``model_ok``, the fit cost with and without self-absorption, and the
  plasma found. Goal: >= 95 wt % of the right element. Also each of the two with the
  instrument (response and widths) calibrated on the other (``spectral calibrate``).
* ``bhvo2``: the 12 spectra of the USGS basalt BHVO-2 (ChemCam, SuperCam, CSA), fitted with
  the ten certified elements plus the absent candidates :data:`ABSENT` (all below 0.05 wt %
  in BHVO-2) and O, N, H, C as nuisance species (the rock's oxygen, air or CO2). The
  reference is the certified composition without oxygen, normalised to 100 over its ten
  elements; the RMSE is over those ten, with the fitted contents normalised over the same
  ten. Presence: called above 0.5 wt %, truly present where the reference is above 0.5 wt %
  (Si, Ti, Al, Fe, Mg, Ca, Na, K), over all :data:`METALS_BHVO2` candidates. Per
  instrument: the median RMSE over its spectra and the pooled precision and recall. Goal:
  median RMSE <= 2.5 wt %, recall >= 0.8 at precision >= 0.95. The published CF-LIBS-improved
  figures on the ChemCam files sit beside ours. Their RMSE is on another scale: the whole
  rock, oxygen included (their cations from an oxide closure against the certified element
  mass fractions, which sum to 55.6 %), so each spectrum's RMSE is also given on that scale
  (``rmse_whole_rock_wt_pct``: our ten contents through :func:`spectral.oxides.oxide_closure`
  against the certified mass fractions); it is about 0.55 times the oxygen-free one.
* ``bhvo2_two_zones``: the same BHVO-2 fits with a second plasma zone (``--zones 2``), per
  instrument, with each spectrum's cost, zone temperature and weight: what the one-zone
  default rests on.
* ``bhvo2_certificate_cost``: each BHVO-2 spectrum fitted again with the contents held at
  the certificate (``fit_cflibs(composition=)``: plasma, widths, axis, response,
  self-absorption and ambient gas fitted as in the free fit); its cost beside the free
  fit's. Lower at the certificate means the search missed it, higher that the model
  prefers another composition. Per instrument: the median ratio of the two costs. Also
  the cost with the contents held at two other certified rocks, the diabase W-2 and the
  shale SGR-1 (USGS certificates; their RMSE from BHVO-2 on the ``bhvo2`` scale is
  recorded), over the certificate's: how far the cost tells a wrong rock from the right
  one.
* ``bhvo2_reference_instrument``: each BHVO-2 spectrum analysed with the instrument
  (frame, widths, response) learned, as ``spectral calibrate`` learns it (Gaussian
  profiles, contents held), from the next spectrum of the same instrument in file order
  (the last from the first), held at the certificate; scored as ``bhvo2``. What a
  matrix-matched reference of the same instrument would take away of the error (the CLI
  refuses these references: no BHVO-2 fit is ``model_ok``). Not comparable with the
  calibration-free figures, and not the issue's goal.
* ``bhvo2_readings``: the consistency of the free BHVO-2 fits
  (:func:`spectral.cflibs.partial_readings`, also in every spectrum's row): each element's
  content read from its neutral lines alone, from its ionic lines alone and from each
  segment (spectrometer) alone, at the fitted plasma, widths and response. Per instrument,
  the median cost with the stages (segments) split over the fit's, and per truly present
  element the median of each reading over the certificate. Where a reading and the fit
  agree and both miss the certificate, the miss is common to all of the element's lines.
* ``diagnose``: ``spectral diagnose`` on the first ChemCam spectrum (the certified
  elements): Boltzmann and Saha-Boltzmann temperatures and n_e from H-alpha, beside the
  temperature the fit settles at.
* Looked at during development, and disclosed: variants of the fit were tried on the first
  ChemCam spectrum and rejected (a fixed response, flat or in photon units; two temperature
  zones; a fixed temperature; other line cutoffs and model errors; more response rounds;
  later, the temperature of the first two ChemCam spectra held at their Saha-Boltzmann
  one, without and with n_e held at H-alpha's (RMSE 6.3 and 4.7 wt %, and 8.3 and 5.3,
  against 6.5 and 5.7; Fe still 27-34 wt % against 15.5), a line cutoff of 1e-3 (8.5 and
  7.0) and, for speed, a Levenberg-Marquardt polish of the plasma in place of
  Nelder-Mead; the last two were also run on a simulated steel, the Aalto spectra and the
  first SuperCam and 200-pulse CSA spectra, whose fits were seen; none was kept); before
  the two held-composition records were added, on the first ChemCam spectrum: its cost at
  the certificate (10.44 against 8.82 free), the second spectrum read with the first's
  instrument (RMSE 3.87 wt %), Huber weights from a first fit's residuals (RMSE 6.84) and
  the pixels of every line with an escape factor below 0.7 left out (RMSE 6.28, Ca and Mg
  still 0.24 and 0.42 times the certificate), the last two not kept; after that run, on
  the same spectrum: oxygen dropped from the nuisance species (RMSE 5.5, cost 9.35
  against 8.82), response knots every 160, 400 or 2000 nm (RMSE 6.4, 6.6, 5.5) and a cool
  absorbing rim in front of the fitted plasma (48 rims, no lower cost), none kept; and the
  first ChemCam and the 200-pulse CSA spectra held at the andesite AGV-2's composition
  (from memory, so not recorded: cost 10.72 and 4.01 against 10.44 and 3.81 at the
  certificate), which led to the two other rocks above; before the ``bhvo2_readings``
  record, on all twelve spectra by hand, the same split with the response fitted again
  (the costs fell 1-3 % on ChemCam and CSA and 10-15 % on SuperCam, and the neutral-only
  and ionic-only compositions were no closer to the certificate), and on the first
  ChemCam spectrum the neutral partition functions cut at 0.1, 0.5 and 1 eV below the
  ionisation energy (the fit within 0.1 wt % of each content: the elements are mostly
  ionised at the fitted plasma); after it, on the same spectrum, the plasma length held at
  3 mm, 1 cm and 3 cm (RMSE 5.45 and 5.01 wt %, costs 8.88 and 9.04 against 8.82 at the
  1 mm the fit keeps; at 3 cm no length lowered the thin cost), not kept;
  the in-fit axis correction and the per-spectrometer widths were added after looking at
  that spectrum's residuals, and the widths kept after this benchmark showed they lower
  every BHVO-2 cost (their RMSE was seen too); within a fit both are chosen by the cost
  alone. The Voigt profiles with Stark widths were added for the same reason (broad and
  narrow lines in one ChemCam spectrometer) and kept because they lower the cost on all
  14 spectra; the RMSE and precision they give on BHVO-2 were seen in that comparison and
  are reported as they came out (a first version, which scaled every profile to a peak of
  1, was run and fixed after a review). The second zone was first run as the default where
  one zone's cost is above 3 (``auto``); one zone was made the default after that run
  showed the cost it removes and the RMSE it gives. The plasma fitted again under each
  plasma length's self-absorption (``spectral.cflibs._self_absorption``) was added because
  the fit failed on spectra simulated with its own self-absorbed model (a basalt: RMSE 6.3
  wt %, n_e at its bound); before this run, a prototype of it was run on the first ChemCam
  and SuperCam spectra (cost 9.06 to 8.82 and 6.79 to 6.72, RMSE 6.24 to 6.51 and 5.33 to
  5.25 wt %) and on the Aalto spectra (cost down by 23 and 14 %), and it is kept for the
  simulated recovery and the lower costs, whatever this run's RMSE. The instrument
  function's Lorentzian wings (``spectral.cflibs.WINGS``) were added after the fitted
  Gaussian widths were seen to be 1.8-4.4 times the widths of the measured peaks
  themselves (Aalto, ChemCam VNIR, CSA); before this run they were tried on the Aalto
  spectra alone (cost 1.172 to 1.168 on Fe, 1.437 to 1.118 on Ni, by hand) and on the
  simulated steel (unchanged: no wings chosen), and they are kept for the lower costs,
  written here before this run, whatever its BHVO-2 figures. ``--elements auto``
  (not used here) is measured by ``benchmarks/spectral_identify.py``: its threshold was
  set on the Aalto spectra, after a prototype's selection paths on these files were seen.
  The search for whole-pixel offsets of a segment's axis
  (``spectral.cflibs.coarse_offsets``) was added after the residual of the 1000-pulse CSA
  fit showed its 266-294 nm spectrometer 0.3 nm (six pixels) off, beyond the axis
  reading's matching and the in-fit correction's pixel; before this run it was tried on
  that spectrum (cost 3.54 to 3.26, that segment's fitted width 0.69 to 0.23 nm, Na 52 to
  39 wt %), the first ChemCam spectrum and the Aalto spectra (unchanged: no segment
  moved), and on a simulated two-spectrometer steel with one part 0.3 nm off (the offset
  found within 0.02 nm; the test suite holds it). It is kept because it is applied only
  where it lowers the cost, segment by segment, whatever this run gives. The widening of
  self-absorbed lines by their saturation (``spectral.plasma.saturation_broadening``,
  kept where it lowers the cost) was added after a plot of the 1000-pulse CSA fit showed
  its 617-911 nm spectrometers' strong lines missing from the model. A first version
  (Voigt profiles only, tried at the plasma already polished without it) was tried on the
  Aalto spectra (Fe keeps Gaussian profiles, so not tried; Ni: kept, cost 1.118 unchanged
  to three decimals), three simulated steels (never kept; their simulator leaves
  self-absorbed lines their thin profiles), the first ChemCam spectrum (kept: cost 8.52
  to 8.15, its widths 0.14 / 0.19 / 1.29 to 0.12 / 0.16 / 1.07 nm, Fe 31.6 to 32.2 wt %),
  that CSA spectrum (not kept; forced on: cost 3.263 to 3.245, Na 39 to 45 wt %), and then
  in a full run of this benchmark (kept on 7 of 12 BHVO-2 spectra, their costs 2-4 %
  lower; median RMSE ChemCam 5.33 and CSA 18.58 unchanged, SuperCam 7.86 to 7.93,
  precision 0.94 to 0.98). A test on a simulated basalt with saturated lines then showed
  that version missing the widening (the plasma polished without it had moved to make up
  for it), so it became a plasma polished with the widening from the optically thin
  fit's, at the length chosen, beside the one without, for either profile family. A full
  run of that (kept on all 12 BHVO-2 spectra, costs 1-6 % lower; median RMSE 5.33 to 5.41,
  7.86 unchanged and 18.58 to 19.41 wt %, CSA precision 0.94 to 1.00; Aalto Ni kept, Ni
  96.41 wt %) took the simulated steel of the speed figure from 0.88 to 1.17 s, for a
  polish the steel never keeps; so what this run measures tries it only where lines
  widened over fivefold carry a tenth of the line emission (``SATURATED_SHARE``, set
  between the simulated steel's 0.03 and the test basalt's 0.26), and that too was run
  here (speed 0.83 s; BHVO-2 as the ungated one). A review then found that with Gaussian
  profiles it added the whole hydrogenic Stark width times the factor to a Gaussian that
  already holds the thin Stark width (counted twice, and a step where a line's factor
  crosses 1.05), that it also widened fits asked for Gaussian profiles (``stark`` off,
  the instrument calibration) and that the stage readings used the thin profiles; what
  this run measures has those mended (Gaussian profiles: the Stark width times the factor
  less one). Kept because each fit takes it only where it lowers the cost, whatever this
  run gives. After that run, the profile family's choice on the optically thin fit was
  made to rank an arm whose plasma sits at a bound of the search below one within them
  (``spectral.cflibs._at_bound``), because a basalt simulated with Voigt profiles and
  self-absorption was read as Si 39 / Fe 32 wt % for 50 / 20, with ``model_ok``, by a
  Gaussian arm at n_e's upper bound (now 49 / 20, a test); tried before this run on that
  basalt and three simulated steels (unchanged) only. Kept for that, whatever this run
  gives.
* ``speed``: seconds per spectrum for a simulated 4001-pixel steel spectrum with ten
  elements, median of five runs after a warm-up, and for the Aalto Fe spectrum; where the
  steel fit's time goes (``time_shares``, one run under cProfile); and the wall time of
  ``analyze`` on the four ChemCam files with ``--jobs`` 1 and 2.

    python benchmarks/spectral_real.py [--speed-only]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
from _common import RESULTS, SHARED, machine, protocol_text, write_json

AALTO = SHARED / "reference" / "libs_aalto"
BHVO2 = SHARED / "reference" / "libs_bhvo2"
METALS = ("Fe", "Ni", "Cr", "Mn", "Co", "Cu", "Ti", "V", "Mo", "Al")
AIR = ("O", "N", "H")
CERTIFIED = {
    "Si": 0.2333, "Ti": 0.0164, "Al": 0.0714, "Fe": 0.0861, "Mn": 0.0013,
    "Mg": 0.0436, "Ca": 0.0815, "Na": 0.0165, "K": 0.0043, "P": 0.0012,
}  # fmt: skip
ABSENT = ("Cr", "Ni", "Cu", "Zn", "Li", "Sr", "Ba", "Co", "V")
#: Two other USGS rocks' certified oxides (wt %; total iron as Fe2O3, Mn of SGR-1 from its
#: 267 ug/g), to hold the BHVO-2 spectra at: the diabase W-2 (certificate revised 1995) and
#: the Green River shale SGR-1 (revised 2014), crustal.usgs.gov/geochemical_reference_standards.
OTHER_ROCKS_OXIDES = {
    "W-2": {
        "Si": 52.68, "Ti": 1.06, "Al": 15.45, "Fe": 10.83, "Mn": 0.167, "Mg": 6.37,
        "Ca": 10.86, "Na": 2.20, "K": 0.626, "P": 0.14,
    },
    "SGR-1": {
        "Si": 28.2, "Ti": 0.253, "Al": 6.52, "Fe": 3.03, "Mn": 0.0345, "Mg": 4.44,
        "Ca": 8.38, "Na": 2.99, "K": 1.66, "P": 0.328,
    },
}  # fmt: skip
METALS_BHVO2 = (*CERTIFIED, *ABSENT)
PRESENT_WT_PCT = 0.5
PUBLISHED = {
    "method": "CF-LIBS-improved (TheFermiSea/CF-LIBS-improved scoreboard, 2026-06-10)",
    "chemcam": {"precision": 1.0, "recall": 0.575, "rmse_whole_rock_wt_pct_median": 2.52},
    "scale": "whole rock, oxygen included (certified element mass fractions, sum 55.6 %)",
}


def fit(path: Path, elements, nuisance, **options) -> Any:
    """``fit_cflibs`` on a file, timed (``options``: its keyword arguments)."""
    from spectral.cflibs import fit_cflibs
    from spectral.io import read_spectrum

    t0 = time.perf_counter()
    spec = read_spectrum(path, clip_negative=True)
    res = fit_cflibs(spec, list(elements), nuisance, **options)
    res.seconds = time.perf_counter() - t0
    return res


def summary_row(res: Any) -> dict[str, Any]:
    return {
        "wt_pct": {e: round(float(w), 3) for e, w in zip(res.elements, res.wt_pct, strict=True)},
        "sd_wt_pct": {
            e: round(float(s), 3) for e, s in zip(res.elements, res.sd_wt_pct, strict=True)
        },
        "model_ok": res.model_ok,
        "fit_cost": res.cost,
        "fit_cost_optically_thin": res.thin_cost,
        "plasma_length_m": res.length_m,
        "temperature_k": res.temperature_k,
        "ne_cm3": res.ne_cm3,
        "stark_scale": res.stark_scale,
        "wings": res.wings,
        "saturation": res.saturation,
        "second_zone": list(res.second_zone) if res.second_zone else None,
        "fit_cost_one_zone": res.one_zone_cost,
        "wavelengths": res.frame,
        "fwhm_nm": [round(float(w), 4) for w in res.fwhm_nm],
        "axis_correction_nm": [[round(a, 4), round(b, 4)] for a, b in res.axis_correction],
        "seconds": res.seconds,
        **readings_row(res),
    }


def readings_row(res: Any) -> dict[str, Any]:
    """The contents read from each stage and each segment alone
    (:func:`spectral.cflibs.partial_readings`), null where a part has no line of weight."""
    r = res.readings
    if r is None:
        return {}

    def wt(values: np.ndarray) -> dict[str, float | None]:
        return {
            e: None if np.isnan(v) else round(float(v), 3)
            for e, v in zip(res.elements, values, strict=True)
        }

    return {
        "fit_cost_by_stage": r.cost_by_stage,
        "fit_cost_by_segment": r.cost_by_segment,
        "wt_pct_neutral_lines": wt(r.by_stage[0]),
        "wt_pct_ionic_lines": wt(r.by_stage[1]),
        "wt_pct_by_segment": [wt(seg) for seg in r.by_segment],
    }


def aalto() -> dict[str, Any]:
    out = {}
    for el in ("Fe", "Ni"):
        res = fit(AALTO / f"{el}_spectrum.csv", METALS, AIR)
        row = summary_row(res)
        row["wt_pct_right"] = row["wt_pct"][el]
        row["goal_met"] = row["wt_pct_right"] >= 95.0
        out[el] = row
    return out


def aalto_cross() -> dict[str, Any]:
    """Each pure metal analysed with the instrument calibrated on the other."""
    from spectral.cflibs import calibrate_instrument, fit_cflibs
    from spectral.io import read_spectrum

    spectra = {el: read_spectrum(AALTO / f"{el}_spectrum.csv", True) for el in ("Fe", "Ni")}
    out = {}
    for ref, el in (("Fe", "Ni"), ("Ni", "Fe")):
        inst = calibrate_instrument(spectra[ref], {ref: 100.0}, AIR)
        res = fit_cflibs(spectra[el], list(METALS), AIR, instrument=inst)
        res.seconds = float("nan")
        row = summary_row(res)
        row["wt_pct_right"] = row["wt_pct"][el]
        row["calibrated_on"] = ref
        out[el] = row
    return out


def bhvo2(zones: int = 1) -> dict[str, Any]:
    """The twelve BHVO-2 spectra fitted free (the protocol's ``bhvo2``)."""
    files = sorted(BHVO2.glob("*_spectrum.csv"))
    return scored({f: fit(f, METALS_BHVO2, (*AIR, "C"), zones=zones) for f in files})


def scored(fits: dict[Path, Any], extra: dict[str, dict] | None = None) -> dict[str, Any]:
    """BHVO-2 fits (by file) scored against the certificate, per instrument; ``extra``
    entries (by file name) join their spectrum's row."""
    from spectral.oxides import oxide_closure

    ref_total = sum(CERTIFIED.values())
    ref = {e: 100 * v / ref_total for e, v in CERTIFIED.items()}
    truth = {e for e in METALS_BHVO2 if ref.get(e, 0.0) > PRESENT_WT_PCT}
    per_inst: dict[str, list[dict[str, Any]]] = {}
    for path, res in fits.items():
        row = summary_row(res)
        wt = row["wt_pct"]
        row["rmse_wt_pct"] = rmse_from_certificate(wt)
        rock = oxide_closure({e: wt[e] for e in CERTIFIED})[0]
        err_rock = [rock[e] - 100 * CERTIFIED[e] for e in CERTIFIED]
        row["rmse_whole_rock_wt_pct"] = float(np.sqrt(np.mean(np.square(err_rock))))
        row["called"] = sorted(e for e in METALS_BHVO2 if wt[e] > PRESENT_WT_PCT)
        row["file"] = path.name
        row.update((extra or {}).get(path.name, {}))
        per_inst.setdefault(instrument_of(path), []).append(row)
    out: dict[str, Any] = {"reference_wt_pct": ref, "truly_present": sorted(truth)}
    for inst, rows in per_inst.items():
        called = [set(r["called"]) for r in rows]
        tp = sum(len(c & truth) for c in called)
        out[inst] = {
            "rmse_wt_pct": float(np.median([r["rmse_wt_pct"] for r in rows])),
            "rmse_whole_rock_wt_pct": float(np.median([r["rmse_whole_rock_wt_pct"] for r in rows])),
            "precision": tp / max(sum(len(c) for c in called), 1),
            "recall": tp / (len(truth) * len(rows)),
            "model_ok": sum(r["model_ok"] for r in rows),
            "n_spectra": len(rows),
            "spectra": rows,
        }
        out[inst]["goal_met"] = (
            out[inst]["rmse_wt_pct"] <= 2.5
            and out[inst]["recall"] >= 0.8
            and out[inst]["precision"] >= 0.95
        )
    return out


def instrument_of(path: Path) -> str:
    return path.name.split("_")[0]


def instruments(rock: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The per-instrument entries of a :func:`scored` record (those with spectra)."""
    return [(k, v) for k, v in rock.items() if isinstance(v, dict) and "spectra" in v]


def certificate_costs(rock: dict[str, Any]) -> dict[str, Any]:
    """Each BHVO-2 spectrum fitted again with its contents held at the certificate (the
    plasma, instrument and ambient gas fitted as in the free fit): the cost the model gives
    the right answer, beside the free fit's. Lower at the certificate: the search missed
    it; higher: the model itself prefers the free fit's composition. The same with the
    contents held at two other certified rocks (:data:`OTHER_ROCKS_OXIDES`): how much the
    cost rises for a composition known to be wrong."""
    comp = {e: 100 * v for e, v in CERTIFIED.items()}
    others = {name: cations(oxides) for name, oxides in OTHER_ROCKS_OXIDES.items()}
    distance = {name: rmse_from_certificate(wt) for name, wt in others.items()}
    out: dict[str, Any] = {"other_rocks_rmse_from_certificate_wt_pct": distance}
    for inst, v in instruments(rock):
        rows = []
        for s in v["spectra"]:
            path = BHVO2 / s["file"]
            res = fit(path, METALS_BHVO2, (*AIR, "C"), composition=comp)
            rows.append(
                {
                    "file": s["file"],
                    "fit_cost_free": s["fit_cost"],
                    "fit_cost_certificate": res.cost,
                    "temperature_k": res.temperature_k,
                    "ne_cm3": res.ne_cm3,
                    "plasma_length_m": res.length_m,
                    "fit_cost_other_rocks": {
                        name: fit(path, METALS_BHVO2, (*AIR, "C"), composition=wt).cost
                        for name, wt in others.items()
                    },
                }
            )
        ratios = [r["fit_cost_certificate"] / r["fit_cost_free"] for r in rows]
        out[inst] = {
            "cost_ratio_median": float(np.median(ratios)),
            "cost_ratio_range": [float(min(ratios)), float(max(ratios))],
            "certificate_cheaper": int(sum(q < 1 for q in ratios)),
            "other_rock_over_certificate_median": {
                name: float(
                    np.median(
                        [r["fit_cost_other_rocks"][name] / r["fit_cost_certificate"] for r in rows]
                    )
                )
                for name in others
            },
            "spectra": rows,
        }
    return out


def readings_summary(rock: dict[str, Any]) -> dict[str, Any]:
    """Per instrument, from the free BHVO-2 fits' readings: the medians over its spectra of
    the cost with each element's stages (segments) given their own amplitudes over the
    whole fit's, and per certified element of its contents read from the neutral lines,
    the ionic lines, the fit itself and each segment, over the certificate (segments by
    position: an instrument's files here have the same segments)."""
    ref = rock["reference_wt_pct"]
    out: dict[str, Any] = {}
    for inst, v in instruments(rock):
        rows = v["spectra"]
        parts = {
            "fit": [r["wt_pct"] for r in rows],
            "neutral_lines": [r["wt_pct_neutral_lines"] for r in rows],
            "ionic_lines": [r["wt_pct_ionic_lines"] for r in rows],
        }
        n_seg = min(len(r["wt_pct_by_segment"]) for r in rows)
        parts.update(
            (f"segment_{k + 1}", [r["wt_pct_by_segment"][k] for r in rows]) for k in range(n_seg)
        )
        out[inst] = {
            "cost_by_stage_over_fit_median": _median_ratio(rows, "fit_cost_by_stage"),
            "cost_by_segment_over_fit_median": _median_ratio(rows, "fit_cost_by_segment"),
            "over_certificate_median": {
                e: {name: _median_over(readings, e, ref[e]) for name, readings in parts.items()}
                for e in CERTIFIED
                if ref[e] > PRESENT_WT_PCT
            },
        }
    return out


def _median_ratio(rows: list[dict[str, Any]], key: str) -> float:
    return float(np.median([r[key] / r["fit_cost"] for r in rows]))


def _median_over(readings: list[dict[str, Any]], element: str, ref: float) -> float | None:
    """The median of an element's readings over ``ref``, None where no spectrum has one."""
    got = [r[element] / ref for r in readings if r.get(element) is not None]
    return round(float(np.median(got)), 3) if got else None


def cations(oxides: dict[str, float]) -> dict[str, float]:
    """Element wt % of the whole rock from its oxides' wt % (keyed by the cation)."""
    from spectral.oxides import oxide_factor

    return {e: w / oxide_factor(e) for e, w in oxides.items()}


def rmse_from_certificate(wt: dict[str, float]) -> float:
    """RMSE (wt %) of a composition from BHVO-2's, both normalised over the ten certified
    elements without oxygen (the ``bhvo2`` scale)."""
    ref_total, total = sum(CERTIFIED.values()), sum(wt[e] for e in CERTIFIED) or 1.0
    err = [100 * wt[e] / total - 100 * CERTIFIED[e] / ref_total for e in CERTIFIED]
    return float(np.sqrt(np.mean(np.square(err))))


def reference_instrument() -> dict[str, Any]:
    """Each BHVO-2 spectrum analysed with the instrument (frame, widths, response) learned
    from the next spectrum of the same instrument (in file order, the last from the first)
    with its contents held at the certificate, as ``spectral calibrate`` learns it; scored
    as ``bhvo2``. ``calibrate`` itself refuses these references (no BHVO-2 fit is
    ``model_ok``), so the instrument record is made from the held fit directly: how much of
    the error a matrix-matched reference of the same instrument takes away."""
    from spectral.cflibs import fit_cflibs, instrument_record
    from spectral.io import read_spectrum

    comp = {e: 100 * v for e, v in CERTIFIED.items()}
    files = sorted(BHVO2.glob("*_spectrum.csv"))
    fits, refs = {}, {}
    for inst in dict.fromkeys(instrument_of(f) for f in files):
        group = [f for f in files if instrument_of(f) == inst]
        for f, ref in zip(group, group[1:] + group[:1], strict=True):
            spec = read_spectrum(ref, clip_negative=True)
            held = fit_cflibs(spec, list(CERTIFIED), (*AIR, "C"), stark=False, composition=comp)
            record = instrument_record(held, comp, ref.name)
            fits[f] = fit(f, METALS_BHVO2, (*AIR, "C"), instrument=record)
            refs[f.name] = {"reference": ref.name, "reference_fit_cost": held.cost}
    return scored(fits, refs)


def two_zones(rock: dict[str, Any]) -> dict[str, Any]:
    """The BHVO-2 figures with a second plasma zone (``zones=2``), per instrument, and each
    spectrum's zone: the comparison the default (one zone) rests on."""
    out = {}
    for inst, v in instruments(rock):
        out[inst] = {
            k: v[k] for k in ("rmse_wt_pct", "rmse_whole_rock_wt_pct", "precision", "recall")
        }
        out[inst]["spectra"] = [
            {
                k: s[k]
                for k in ("file", "fit_cost", "fit_cost_one_zone", "second_zone", "temperature_k")
            }
            for s in v["spectra"]
        ]
    return out


def diagnose_chemcam() -> dict[str, Any]:
    """``spectral diagnose`` on the first ChemCam BHVO-2 spectrum."""
    from spectral.diagnose import diagnose
    from spectral.io import read_spectrum

    path = BHVO2 / "chemcam_bhvo2_loc1_spectrum.csv"
    report = diagnose(read_spectrum(path, clip_negative=True), list(CERTIFIED))
    return {
        "file": path.name,
        "ne_cm3": report["ne_cm3"],
        "ne_source": report["ne_source"],
        "saha_boltzmann": report["saha_boltzmann"],
        "boltzmann": {
            f"{s['element']} {'I' * s['stage']}": {
                "temperature_k": s["temperature_k"],
                "sd_temperature_k": s["sd_temperature_k"],
                "lines": len(s["y"]),
            }
            for s in report["species"]
        },
    }


def speed() -> dict[str, Any]:
    from spectral.cflibs import fit_cflibs
    from spectral.dataset import simulator
    from spectral.instrument import Conditions
    from spectral.io import Spectrum

    sim = simulator("saca2021")
    wt = np.array(
        [[{"Fe": 70.0, "Cr": 18.0, "Ni": 10.0, "Mn": 2.0}.get(e, 0.0) for e in sim.elements]]
    )
    y = sim.simulate(wt, Conditions.fixed(1, 9000.0, 1e17), np.random.default_rng(1))[0]
    spec = Spectrum(sim.instrument.wavelength_nm, np.asarray(y, float), "sim")
    els = list(METALS)

    def timed(f):
        f()
        ts = []
        for _ in range(5):
            t0 = time.perf_counter()
            f()
            ts.append(time.perf_counter() - t0)
        return ts

    sim_ts = timed(lambda: fit_cflibs(spec, els, frame="air"))
    out: dict[str, Any] = {
        "cflibs_s_per_spectrum": float(np.median(sim_ts)),
        "cflibs_s_all_runs": [round(t, 3) for t in sim_ts],
        "pixels": len(spec.wavelength),
        "elements": len(els),
        "time_shares": time_shares(lambda: fit_cflibs(spec, els, frame="air")),
    }
    if AALTO.is_dir():
        from spectral.io import read_spectrum

        fe = read_spectrum(AALTO / "Fe_spectrum.csv", clip_negative=True)
        ts = timed(lambda: fit_cflibs(fe, els, AIR))
        out["aalto_fe_s_per_spectrum"] = float(np.median(ts))
        out["aalto_fe_pixels"] = len(fe.wavelength)
    if BHVO2.is_dir():
        out["analyze_jobs"] = jobs_speed()
    out["goal_s"] = 1.0
    return out


def time_shares(fit) -> dict[str, Any]:
    """Where one fit's time goes (under cProfile, which slows it): the shares of the whole
    spent building line profiles (``LineModel.set_widths``), in the linear fits
    (``_Problem.fit``), in the escape factors and in the rest of the model evaluations
    (``LineModel.basis`` without the profile builds it triggers), and how many of each."""
    import cProfile
    import pstats

    prof = cProfile.Profile()
    prof.enable()
    fit()
    prof.disable()
    stats = pstats.Stats(prof).stats  # (file, line, name) -> (calls, _, own, cumulative, callers)

    def entry(name: str) -> tuple:
        return next(v for k, v in stats.items() if k[0].endswith("cflibs.py") and k[2] == name)

    total = max(v[3] for k, v in stats.items() if k[2] == "fit_cflibs")
    basis, builds = entry("basis"), entry("set_widths")
    from_basis = sum(ct for k, (_, _, _, ct) in builds[4].items() if k[2] == "basis")
    return {
        "profile_builds": builds[3] / total,
        "linear_fits": entry("fit")[3] / total,
        "escape_factors": entry("escape")[3] / total,
        "intensities_and_products": (basis[3] - from_basis) / total,
        "profiled_s": total,
        "model_evaluations": basis[1],
        "profile_matrices_built": entry("_assemble_parts")[1],
        "linear_fits_count": entry("fit")[1],
    }


def jobs_speed() -> dict[str, Any]:
    """``analyze --jobs``: the four ChemCam files, one at a time and two at a time."""
    from spectral.analyze import analyze_cflibs

    files = sorted(BHVO2.glob("chemcam_*_spectrum.csv"))
    out: dict[str, Any] = {"files": [f.name for f in files]}
    for jobs in (1, 2):
        t0 = time.perf_counter()
        analyze_cflibs(files, list(METALS_BHVO2), (*AIR, "C"), True, jobs=jobs)
        out[f"wall_s_jobs{jobs}"] = time.perf_counter() - t0
    out["speedup"] = out["wall_s_jobs1"] / out["wall_s_jobs2"]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--speed-only", action="store_true", help="re-measure only the speed")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(2)
    path = RESULTS / "spectral_real.json"
    if args.speed_only:
        report = json.loads(path.read_text())
    else:
        if not (AALTO.is_dir() and BHVO2.is_dir()):
            raise SystemExit(f"measured spectra not found under {SHARED / 'reference'}")
        t0 = time.perf_counter()
        report = {
            "protocol": protocol_text(__doc__),
            "aalto": aalto(),
            "aalto_calibrated_on_the_other": aalto_cross(),
            "bhvo2": bhvo2(),
            "bhvo2_two_zones": two_zones(bhvo2(zones=2)),
            "bhvo2_reference_instrument": reference_instrument(),
            "published": PUBLISHED,
            "diagnose": diagnose_chemcam(),
        }
        report["bhvo2_certificate_cost"] = certificate_costs(report["bhvo2"])
        report["bhvo2_readings"] = readings_summary(report["bhvo2"])
        report["benchmark_wall_s"] = time.perf_counter() - t0
    report["speed"] = speed() | {"machine": machine()}  # --speed-only may run elsewhere
    if not args.speed_only:
        report["machine"] = machine()
    print(write_json("spectral_real.json", report))


if __name__ == "__main__":
    main()
