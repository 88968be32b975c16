"""spectral: SACA against PLS and univariate calibration on held-out simulated spectra.

Writes benchmarks/results/spectral.json. In one run:

* ``models``: per element MAE, RMSE, R² (wt %) and presence precision/recall (above 0.01
  wt %) on ``--n-test`` held-out simulated spectra (seed 12345, never used in training), for
  the shipped compact SACA, the seed-size SACA when a trained one is given (``--seed-model``),
  PLS and univariate calibration. PLS and the calibration curves are fitted on the training
  split of the same simulated set the compact SACA was trained on (regenerated from its
  recorded seed, and checked against its recorded SHA-256; a mismatch, as another CPU gives
  with the same code and package versions, is reported in ``settings``).
  ``saca_compact_refined`` is the LTE fit of :mod:`spectral.refine` started from the compact
  SACA's composition, its presence calls the fitted contents above 0.01 wt %.
* ``robustness``: the same on spectra with wavelength shifts up to +-0.2 nm and intensity
  tilts up to +-20 % (training saw +-0.05 nm and +-5 %).
* ``mismatch``: the compact SACA and the fit on spectra of plasmas twice as long as the
  training spectra's and the fit model's (more self-absorption), physics neither has seen;
  and the fit's cost (weighted residual per pixel) on the three sets, which tells a spectrum
  the model describes from one it does not.
* ``refine_standard_errors``: whether the fit's standard errors are right, the mean and spread
  of error / standard error per element and set (0 and 1 where they are).
* ``speed``: simulated spectra per second (batches of 256, 300-700 nm at 0.1 nm, noise
  included), SACA forward passes per second (batch 64, both sizes), end-to-end ``analyze`` of
  64 CSV files, the LTE fit's seconds per spectrum, and libskit's LTE model per spectrum on
  the same grid.
* ``libskit``: cross-check of our pure-Fe spectrum with libskit's at the same plasma.
* ``reference``: the simulator against the measured Fe and Ni LIBS spectra of ../shared, and
  what SACA and the LTE fit read from those spectra (``analyzed``).

    python benchmarks/spectral_benchmark.py [--n-test 2000] [--model DIR]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import SHARED, machine, write_json

#: The seed paper's per-element precision / recall as quoted in the issue (the rest of its
#: Table 1 is not available here) and its average accuracy.
SEED_REPORTED = {
    "Fe": {"precision": 0.995, "recall": 0.992},
    "Eu": {"precision": 0.895, "recall": 0.887},
    "average_accuracy": 0.987,
    "seconds_per_sample": 0.5,
}


def _rate(fn: Any, n: int, repeats: int = 3) -> float:
    fn()
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return n / best


#: Concentration bands (wt %) of the rare-earth recall table.
RECALL_BANDS = ((0.01, 0.02), (0.02, 0.05), (0.05, 1.0))


def recall_by_band(called: np.ndarray, wt: np.ndarray, elements: tuple[str, ...],
                   which: tuple[str, ...]) -> dict[str, dict[str, Any]]:  # fmt: skip
    """Share of the samples in each :data:`RECALL_BANDS` band that are called present."""
    out = {}
    for el in which:
        j = elements.index(el)
        row = {}
        for lo, hi in RECALL_BANDS:
            sel = (wt[:, j] > lo) & (wt[:, j] <= hi)
            row[f"{lo}-{hi}"] = {"recall": float(called[sel, j].mean()) if sel.any() else None,
                                 "n": int(sel.sum())}  # fmt: skip
        out[el] = row
    return out


def false_positive_rate(called: np.ndarray, wt: np.ndarray, elements: tuple[str, ...],
                        which: tuple[str, ...]) -> dict[str, float]:  # fmt: skip
    """Share of the samples with at most 0.005 wt % (half the threshold) called present."""
    out = {}
    for el in which:
        j = elements.index(el)
        sel = wt[:, j] <= 0.005
        out[el] = float(called[sel, j].mean())
    return out


def side_by_side(aalto: Path) -> dict[str, Any]:
    """Our simulator and libskit's LTE model against the measured Fe and Ni spectra.

    Both at 10,000 K and n_e 1e17 cm^-3 with a 0.12 nm FWHM Gaussian instrument, on the
    measured pixels (vacuum wavelengths for libskit, which works in vacuum; air for ours),
    scored by :func:`spectral.validation.peak_heights_against_measured` at the 20 strongest
    measured peaks.
    """
    import pandas as pd

    from spectral.atomic import vacuum_to_air
    from spectral.instrument import Conditions, Instrument, Simulator
    from spectral.validation import peak_heights_against_measured

    out: dict[str, Any] = {}
    for el, win in (("Fe", (250.0, 460.0)), ("Ni", (295.0, 460.0))):
        df = pd.read_csv(aalto / f"{el}_spectrum.csv")
        vac, y = df["wavelength"].to_numpy(), df["spectrum"].to_numpy()
        m = (vac > win[0] - 2) & (vac < win[1] + 2)
        vac, y = vac[m], y[m]
        inst = Instrument("measured", vacuum_to_air(vac), (0.12, 0.12), 1e12, 0.0, 500.0, 1e9,
                          0.0)  # fmt: skip
        ours = Simulator((el,), inst).noiseless(
            np.array([[100.0]]), Conditions.fixed(1, 10000.0, 1e17)
        )[0].numpy()  # fmt: skip
        row = {"ours": peak_heights_against_measured(vac, y, ours, win)}
        try:
            import libskit

            model = libskit.LTEModel({el: 1.0}, 10000.0, 1e23, 1e-3)
            spec = libskit.GenericSpectrometer(0.12 / 2.3548, 0.001)
            theirs = np.asarray(spec.calculate_spectrum(vac, model))
            row["libskit"] = peak_heights_against_measured(vac, y, theirs, win)
        except ImportError:
            row["libskit"] = "libskit not installed"
        out[el] = row
    return out


def analyze_measured(aalto: Path, model_dir: Path | None) -> dict[str, Any]:
    """``eftgan spectral analyze --vacuum`` without and with ``--refine`` on the measured pure
    Fe and Ni spectra (vacuum wavelengths, resampled onto the model's 300-700 nm grid): the
    three largest contents SACA compact and the LTE fit read, and the fit's temperature,
    density and cost."""
    from spectral.analyze import analyze_files
    from spectral.dataset import STEEL_ELEMENTS

    files = [aalto / f"{el}_spectrum.csv" for el in ("Fe", "Ni")]
    plain = analyze_files(files, model_dir, vacuum=True)
    fitted = analyze_files(files, model_dir, refine=True, vacuum=True)

    def top(row: dict[str, Any]) -> dict[str, float]:
        wt = {el: row[f"{el}_wt_pct"] for el in STEEL_ELEMENTS}
        return dict(sorted(wt.items(), key=lambda kv: -kv[1])[:3])

    return {el: {"saca_compact": top(a), "saca_compact_refined": top(b),
                 **{k: b[k] for k in ("temperature_k", "ne_cm3", "fit_cost")}}
            for el, a, b in zip(("Fe", "Ni"), plain, fitted, strict=True)}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n-test", type=int, default=2000)
    ap.add_argument("--model", type=Path, default=None, help="compact SACA (default: shipped)")
    ap.add_argument(
        "--seed-model",
        type=Path,
        default=None,
        help="the seed-size SACA as printed (default: shipped saca-seed-steel-v1)",
    )
    ap.add_argument(
        "--wide-model",
        type=Path,
        default=None,
        help="the wide SACA (default: shipped saca-wide-steel-v3)",
    )
    args = ap.parse_args()
    torch.set_num_threads(2)
    from spectral.baselines import PLSBaseline, UnivariateCalibration
    from spectral.dataset import PLASMA_LENGTH_M, RARE_EARTHS, STEEL_ELEMENTS, simulate_set
    from spectral.dataset import PRESENCE_WT_PCT as PRESENCE
    from spectral.model import SACA, SACAConfig, n_parameters
    from spectral.predict import load_saca, predict, uncalibrated
    from spectral.train import composition_metrics, split_indices

    t_start = time.perf_counter()
    model, cfg = load_saca(args.model)
    data_cfg = cfg.get("data", {})
    train = simulate_set(int(data_cfg["n_spectra"]), int(data_cfg["seed"]), progress=True)
    # The SHA-256 is of the float32 spectra, bit for bit: the same code and package versions
    # gave another one on another CPU (an AMD EPYC, where the models were trained on an Intel
    # Xeon). A mismatch is recorded and reported, not fatal: PLS and the calibration curves
    # are then fitted to the spectra regenerated from the same recipe and seed.
    train_sha = train.sha256()
    sha_matches = train_sha == cfg["fingerprint"]["data_sha256"]
    if not sha_matches:
        print("warning: regenerated training spectra differ bit for bit from the model's "
              "recorded SHA-256 (as on another CPU with the same code); going on",
              file=sys.stderr)  # fmt: skip
    tr, va, _ = split_indices(len(train.spectra), int(data_cfg["seed"]))
    test = simulate_set(args.n_test, 12345, progress=True)
    robust = simulate_set(args.n_test, 54321, shift_nm=0.2, drift=0.2, progress=True)

    t0 = time.perf_counter()
    pls = PLSBaseline().fit(train.spectra[tr], train.wt_pct[tr], train.spectra[va],
                            train.wt_pct[va])  # fmt: skip
    pls_fit_s = time.perf_counter() - t0
    uni = UnivariateCalibration().fit(train.spectra[tr], train.wt_pct[tr])

    from eftgan.paths import shipped_models_dir

    def optional(path: Path | None, shipped: str) -> Any:
        path = path or shipped_models_dir() / shipped
        return load_saca(path)[0] if (path / "config.json").is_file() else None

    seed_model = optional(args.seed_model, "saca-seed-steel-v1")
    wide_model = optional(args.wide_model, "saca-wide-steel-v3")

    from spectral.dataset import simulator as steel_simulator
    from spectral.refine import refine

    refine_s: list[float] = []

    def refined(ds: Any, w: np.ndarray) -> tuple[dict[str, Any], np.ndarray, Any]:
        """The LTE fit started from SACA compact's composition ``w``: its metrics (presence
        above 0.01 wt % of the fitted content), its calls, and the fit."""
        t0 = time.perf_counter()
        fit = refine(steel_simulator("saca2021"), ds.spectra, w, progress=True)
        refine_s.append((time.perf_counter() - t0) / len(ds.spectra))
        called = fit.wt_pct > PRESENCE
        return composition_metrics(fit.wt_pct, ds.wt_pct, STEEL_ELEMENTS, called), called, fit

    def evaluate(ds: Any) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """Metrics of every model on ``ds``, and the presence calls of SACA and PLS."""
        out: dict[str, Any] = {}
        w, p = predict(model, ds.spectra)
        calls = {"saca_compact": p > 0.5}
        out["saca_compact"] = composition_metrics(w, ds.wt_pct, STEEL_ELEMENTS, p > 0.5)
        out["saca_compact_refined"], calls["saca_compact_refined"], fit = refined(ds, w)
        fits.append((fit, ds.wt_pct))
        if model.cfg.calibrated:  # the same network without its calibrations
            w, p = predict(uncalibrated(model), ds.spectra)
            out["saca_compact_uncalibrated"] = composition_metrics(w, ds.wt_pct, STEEL_ELEMENTS,
                                                                   p > 0.5)  # fmt: skip
        if seed_model is not None:
            w, p = predict(seed_model, ds.spectra)
            out["saca"] = composition_metrics(w, ds.wt_pct, STEEL_ELEMENTS, p > 0.5)
        if wide_model is not None:
            w, p = predict(wide_model, ds.spectra)
            calls["saca_wide"] = p > 0.5
            out["saca_wide"] = composition_metrics(w, ds.wt_pct, STEEL_ELEMENTS, p > 0.5)
        w = pls.predict(ds.spectra)
        calls["pls"] = w > PRESENCE
        out["pls"] = composition_metrics(w, ds.wt_pct, STEEL_ELEMENTS)
        out["univariate"] = composition_metrics(uni.predict(ds.spectra), ds.wt_pct,
                                                STEEL_ELEMENTS)  # fmt: skip
        return out, calls

    fits: list[tuple[Any, np.ndarray]] = []  # the LTE fits and the true contents, per set
    models, calls = evaluate(test)
    robustness, _ = evaluate(robust)
    # physics the models do not know: a plasma twice as long (twice the optical depth, more
    # self-absorption) than every training spectrum's and than the fit's model
    longer = simulate_set(args.n_test, 24680, length_m=2 * PLASMA_LENGTH_M, progress=True)
    w, p = predict(model, longer.spectra)
    mismatch: dict[str, Any] = {
        "plasma_length_m": 2 * PLASMA_LENGTH_M,
        "trained_and_fitted_length_m": PLASMA_LENGTH_M,
        "seed": 24680,
        "saca_compact": composition_metrics(w, longer.wt_pct, STEEL_ELEMENTS, p > 0.5),
    }
    mismatch["saca_compact_refined"], _, fit = refined(longer, w)
    fits.append((fit, longer.wt_pct))
    q = (0.5, 0.9, 0.99)
    names = ("test", "robustness", "mismatch")
    mismatch["fit_cost_quantiles"] = {
        name: dict(zip(("median", "p90", "p99"), map(float, np.quantile(f.cost, q)), strict=True))
        for name, (f, _) in zip(names, fits, strict=True)
    }
    # are the fit's standard errors right? (error / standard error) over the samples that hold
    # the element: mean and spread, 0 and 1 for errors as large as the fit says
    refine_z: dict[str, Any] = {}
    for name, (f, truth) in zip(names, fits, strict=True):
        refine_z[name] = {}
        for j, el in enumerate(STEEL_ELEMENTS):
            sel = truth[:, j] > 0
            z = (f.wt_pct[sel, j] - truth[sel, j]) / np.maximum(f.sd_wt_pct[sel, j], 1e-12)
            sd_median = float(np.median(f.sd_wt_pct[:, j]))
            refine_z[name][el] = {"mean": float(z.mean()), "sd": float(z.std()),
                                  "median_sd_wt_pct": sd_median}  # fmt: skip
    # rare-earth detection: recall by concentration band, beside the floor that an ideal
    # matched filter (one that knows everything but the trace element) would reach
    from spectral.validation import detection_bounds, ideal_detection_limits

    ideal = ideal_detection_limits(steel_simulator("saca2021"), RARE_EARTHS + ("Mo",), n=1000)
    # the same 1000 steels: what not knowing the matrix and the plasma costs any detector
    bounds = detection_bounds(steel_simulator("saca2021"), STEEL_ELEMENTS[1:], n=1000)
    detection: dict[str, Any] = {
        "ideal_lod_wt_pct": ideal,
        "ideal_n_samples": 1000,
        "cramer_rao": bounds,
        "bands_wt_pct": [list(b) for b in RECALL_BANDS],
        "recall_by_band": {
            k: recall_by_band(c, test.wt_pct, STEEL_ELEMENTS, RARE_EARTHS) for k, c in calls.items()
        },
        "false_positive_rate_below_0.005": {
            k: false_positive_rate(c, test.wt_pct, STEEL_ELEMENTS, RARE_EARTHS)
            for k, c in calls.items()
        },
    }
    if "saca" not in models:
        note = ("not measured: the shipped saca-seed-steel-v1 (trained on a GPU) is missing "
                "and --seed-model was not given")  # fmt: skip
        models["saca"] = robustness["saca"] = {"not_trained": note}  # type: ignore[assignment]

    def goals(m: dict[str, Any], name: str = "saca_compact") -> dict[str, Any]:
        s, p = m[name], m["pls"]
        rel = {el: 1 - s[el]["rmse"] / p[el]["rmse"] for el in STEEL_ELEMENTS}
        return {
            "cr_mae_lt_0.2": s["Cr"]["mae"] < 0.2,
            "ni_mae_lt_0.2": s["Ni"]["mae"] < 0.2,
            "mo_mae_lt_0.05": s["Mo"]["mae"] < 0.05,
            "rare_earth_precision_recall_ge_0.97": all(
                s[el]["precision"] >= 0.97 and s[el]["recall"] >= 0.97 for el in RARE_EARTHS
            ),
            "rmse_reduction_vs_pls": rel,
            "rmse_reduction_vs_pls_mean": float(np.mean(list(rel.values()))),
            "saca_30pct_lower_rmse_than_pls_all_elements": all(v >= 0.3 for v in rel.values()),
        }

    # speed
    from spectral.dataset import simulator
    from spectral.instrument import Conditions

    sim = simulator("saca2021")
    rng = np.random.default_rng(0)
    wt = test.wt_pct[np.arange(256) % len(test.wt_pct)].astype(np.float64)
    cond = Conditions.sample(256, rng)
    simulate_per_s = _rate(lambda: sim.simulate(wt, cond, rng), 256, repeats=7)
    x64 = torch.rand(64, 4001)
    speed: dict[str, Any] = {"simulate_per_s": simulate_per_s, "threads": 2}
    with torch.no_grad():
        speed["analyze_per_s"] = _rate(lambda: model(x64), 64)
        seed_size = SACA(SACAConfig.variant("paper", STEEL_ELEMENTS)).eval()
        speed["saca_seed_size_forward_per_s"] = _rate(lambda: seed_size(x64), 64, repeats=2)
    speed["analyze_ms_per_spectrum"] = 1e3 / speed["analyze_per_s"]
    # the LTE fit's wall time per spectrum, on the held-out, robustness and mismatch sets
    speed["refine_s_per_spectrum"] = refine_s
    speed["saca_seed_size_ms_per_spectrum"] = 1e3 / speed["saca_seed_size_forward_per_s"]
    speed["parameters"] = {"compact": n_parameters(model), "seed": n_parameters(seed_size)}
    from spectral.analyze import analyze_files
    from spectral.io import write_csv

    with tempfile.TemporaryDirectory() as tmp:
        files = []
        for i in range(64):
            f = Path(tmp) / f"s{i}.csv"
            write_csv(f, sim.instrument.wavelength_nm, {"counts": test.spectra[i]})
            files.append(f)
        speed["analyze_files_per_s"] = _rate(
            lambda: analyze_files(files, args.model), 64, repeats=2
        )
    lib: dict[str, Any] = {}
    try:
        import libskit

        from spectral.atomic import air_to_vacuum
        from spectral.instrument import INSTRUMENTS, Simulator

        wl = INSTRUMENTS["saca2021"].wavelength_nm
        steel = {"Fe": 0.68, "Cr": 0.18, "Ni": 0.10, "Mo": 0.02, "Mn": 0.02}  # mass ratios
        lm = libskit.LTEModel(steel, 9000.0, 1e23, 1e-3)
        spec = libskit.GenericSpectrometer(0.15 / 2.3548, 0.001)
        speed["libskit_per_s"] = _rate(lambda: spec.calculate_spectrum(air_to_vacuum(wl), lm), 1)
        fe = libskit.LTEModel({"Fe": 1.0}, 10000.0, 1e23, 1e-3)
        theirs = np.asarray(spec.calculate_spectrum(air_to_vacuum(wl), fe))
        ours_sim = Simulator(("Fe",), INSTRUMENTS["saca2021"])
        ours = ours_sim.noiseless(np.array([[100.0]]), Conditions.fixed(1, 10000.0, 1e17))
        ours_np = ours[0].numpy()
        lib = {
            "pure_fe_10000K_1e17_pearson_r": float(np.corrcoef(ours_np, theirs)[0, 1]),
            "pure_fe_log_pearson_r": float(
                np.corrcoef(
                    np.log1p(ours_np / ours_np.max() * 1e4), np.log1p(theirs / theirs.max() * 1e4)
                )[0, 1]
            ),
            "strongest_pixel_nm": {
                "ours": float(wl[np.argmax(ours_np)]),
                "libskit": float(wl[np.argmax(theirs)]),
            },
            "note": "libskit: its own NIST data, Stark and partition functions, on vacuum "
            "wavelengths of our air grid; both with a 0.15 nm FWHM Gaussian instrument",
        }
    except ImportError:
        speed["libskit_per_s"] = "libskit not installed"
    reference: dict[str, Any] = {}
    aalto = SHARED / "reference" / "libs_aalto"
    if (aalto / "Fe_spectrum.csv").is_file():
        import pandas as pd

        from spectral.atomic import vacuum_to_air
        from spectral.validation import compare_with_measured

        for el, win in (
            ("Fe", (250.0, 460.0)),
            ("Ni", (295.0, 460.0)),
            ("Ni_full", (250.0, 460.0)),
        ):
            name = el.split("_")[0]
            df = pd.read_csv(aalto / f"{name}_spectrum.csv")
            reference[el] = compare_with_measured(
                vacuum_to_air(df["wavelength"].to_numpy()), df["spectrum"].to_numpy(), name, win
            )
        reference["side_by_side"] = side_by_side(aalto)
        reference["analyzed"] = analyze_measured(aalto, args.model)
    report = {
        "models": models,
        "robustness": robustness,
        "goals": goals(models),
        "goals_robustness": goals(robustness),
        "goals_wide": goals(models, "saca_wide") if "saca_wide" in models else None,
        "goals_refined": goals(models, "saca_compact_refined"),
        "mismatch": mismatch,
        "refine_standard_errors": refine_z,
        "seed_reported": SEED_REPORTED,
        "detection": detection,
        "speed": speed,
        "libskit": lib,
        "reference": reference,
        "settings": {
            "n_test": args.n_test,
            "test_seed": 12345,
            "robust_seed": 54321,
            "robust_shift_nm": 0.2,
            "robust_drift": 0.2,
            "training": data_cfg,
            "training_sha256": train_sha,
            "training_sha256_matches_model": sha_matches,
            "pls_components": pls.n_components,
            "pls_fit_s": pls_fit_s,
            "univariate_lines_nm": uni.wavelengths,
            "model": str(args.model or "shipped default"),
            "seed_model": str(args.seed_model or "shipped saca-seed-steel-v1"),
            "wide_model": str(args.wide_model or "shipped saca-wide-steel-v3"),
        },
        "benchmark_wall_s": time.perf_counter() - t_start,
        "machine": machine(),
    }
    print(write_json("spectral.json", report))
    print(json.dumps({"goals": report["goals"], "speed": speed, "libskit": lib}, indent=1))


if __name__ == "__main__":
    main()
