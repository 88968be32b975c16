"""From spectrum files to compositions: read, check, resample, predict."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from eftgan.errors import UserError


def model_grid(config: dict[str, Any]) -> np.ndarray:
    """The pixel grid (nm, air) a SACA model reads, from its folder's ``config``: evenly
    spaced as recorded for the ``saca2021`` preset's 4001 points, else the preset's own grid
    (the ``hr4000`` one is not evenly spaced)."""
    from spectral.instrument import current_instrument_name, get_instrument

    g = config["model"]["wavelength_nm"]
    name = current_instrument_name(config["model"]["instrument"])
    if name == "saca2021" or g["n"] == 4001:
        return np.linspace(g["first"], g["last"], g["n"])
    return get_instrument(name).wavelength_nm


def analyze_files(
    files: Sequence[str | os.PathLike[str]],
    model_dir: str | os.PathLike[str] | None = None,
    clip_negative: bool = False,
    refine: bool = False,
    progress: bool = False,
    wavelengths: str = "auto",
) -> list[dict[str, Any]]:
    """One row per file: ``file``, ``<El>_wt_pct`` and ``<El>_present`` for each element,
    ``lines_explained`` (:func:`steel_lines_share`: whether the file is of the kind the
    model reads at all), ``reading_cost_ratio`` (:func:`reading_cost_ratio`: whether its
    lines allow the composition read) and ``reading_ok``, the verdict of the two (at
    least :data:`MIN_LINES_EXPLAINED` and at most :data:`MAX_READING_COST_RATIO`).

    With ``refine``, SACA's composition is the start of a fit of the LTE model to the
    spectrum (:func:`spectral.refine.refine`): the composition is the fit's, an element is
    present above 0.01 wt % of it, and the row adds each content's standard error
    (``<El>_sd_wt_pct``), the fitted ``temperature_k`` and ``ne_cm3``, and ``fit_cost``,
    the weighted residual per pixel (about 1 / accumulated shots where the model describes
    the spectrum; much more where it does not). The weights assume the file holds detector
    counts on the model instrument's scale.

    Each file's axis is read and calibrated first (:func:`spectral.measured.calibrate_spectrum`
    among the model's elements): ``wavelengths`` says whether it is in ``air`` or ``vacuum``, or
    ``auto`` reads that from the line positions; the row says what was used
    (``wavelengths``) and whether the lines decided it (``wavelengths_decided``). The
    segment offsets are not applied here: resampling by a fraction of a pixel would smooth
    the lines, and the LTE fit has a shift of its own."""
    from spectral.io import read_spectrum
    from spectral.measured import calibrate_spectrum
    from spectral.predict import load_saca, predict

    spectra = [read_spectrum(f, clip_negative) for f in files]  # bad files fail first
    model, config = load_saca(Path(model_dir) if model_dir else None)
    axes = []
    for i, s in enumerate(spectra):
        spectra[i], axis = calibrate_spectrum(
            s, wavelengths, candidates=model.cfg.elements, offsets=False
        )
        axes.append(axis)
    grid = model_grid(config)
    x = np.stack([_on_grid(s, grid, a) for s, a in zip(spectra, axes, strict=True)])
    wt, prob = predict(model, x)
    explained = steel_lines_share(x, grid, config, model.cfg.elements)
    present = prob > 0.5
    fit = _refined(files, x, wt, config, model.cfg.elements, progress) if refine else None
    if fit is not None:
        from spectral.dataset import PRESENCE_WT_PCT

        wt, present = fit.wt_pct, fit.wt_pct > PRESENCE_WT_PCT
    ratio = reading_cost_ratio(x, grid, config, model.cfg.elements, wt)
    rows = []
    for i, f in enumerate(files):
        row: dict[str, Any] = {"file": str(f), "wavelengths": axes[i].frame}
        row["wavelengths_decided"] = axes[i].decided
        row["wavelengths_lines"] = axes[i].lines_frame or ""
        row["lines_explained"] = float(explained[i])
        row["reading_cost_ratio"] = float(ratio[i])
        row["reading_ok"] = bool(
            explained[i] >= MIN_LINES_EXPLAINED and ratio[i] <= MAX_READING_COST_RATIO
        )
        for j, el in enumerate(model.cfg.elements):
            row[f"{el}_wt_pct"] = float(wt[i, j])
            row[f"{el}_present"] = bool(present[i, j])
        if fit is not None:
            for j, el in enumerate(model.cfg.elements):
                row[f"{el}_sd_wt_pct"] = float(fit.sd_wt_pct[i, j])
            row["temperature_k"] = float(fit.temperature_k[i])
            row["ne_cm3"] = float(fit.ne_cm3[i])
            row["fit_cost"] = float(fit.cost[i])
        rows.append(row)
    return rows


#: Below this share of its line signal explained by the model's elements, a file is not of
#: the kind SACA reads, and ``analyze`` says so (:func:`steel_lines_share`).
MIN_LINES_EXPLAINED = 0.3


def steel_lines_share(
    x: np.ndarray, grid: np.ndarray, config: dict[str, Any], elements: Sequence[str]
) -> np.ndarray:
    """Per spectrum on the model's grid, the share of its line signal that the lines of the
    model's elements explain (:func:`spectral.cflibs.explained_share`, at the model
    instrument's median resolution). SACA reads any spectrum as a steel; this says when
    the spectrum is not one: 0.64-0.90 for simulated steels and pure Fe and Ni, 0.37 and
    0.43 for the measured Aalto Ni and Fe, at most 0.25 for a simulated basalt, brass, Al
    and Ti alloy, 0.04-0.07 for the measured BHVO-2 basalt (``benchmarks/saca_domain.py``).
    It costs the model's line profiles once and five linear fits per file."""
    from spectral.cflibs import explained_share

    return explained_share(grid, x, elements, _model_fwhm(grid, config))


#: Above this :func:`reading_cost_ratio`, the composition read does not fit the file's lines,
#: and ``analyze`` says so (the largest ratio of SACA's readings of 300 simulated steels,
#: 1.14, rounded up: ``benchmarks/saca_domain.py``).
MAX_READING_COST_RATIO = 1.15


def reading_cost_ratio(
    x: np.ndarray,
    grid: np.ndarray,
    config: dict[str, Any],
    elements: Sequence[str],
    wt_pct: np.ndarray,
) -> np.ndarray:
    """Per spectrum on the model's grid, how much worse its lines are fitted with the
    contents held at the composition read (``wt_pct``) than free
    (:func:`spectral.cflibs.held_cost_ratio`, at the model instrument's median resolution).
    SACA reads the measured pure Ni as Fe 75 / Cr 22 wt %: the steel elements' lines
    explain the spectrum, so :func:`steel_lines_share` lets it pass, but the Ni lines are
    there and the Cr lines are not (ratio 1.59; the pure Fe, read as Fe 85 / Cr 14, 1.25).
    It misreads simulated pure Fe, pure Ni and a manganese steel too, outside the
    compositions it was trained on (1.45-5.3). About 0.03 s per file. The threshold was set
    on the ``saca2021`` model's grid; for a model of another instrument it is uncalibrated."""
    from spectral.cflibs import held_cost_ratio

    return held_cost_ratio(grid, x, elements, _model_fwhm(grid, config), wt_pct)


def _model_fwhm(grid: np.ndarray, config: dict[str, Any]) -> float:
    """The median instrument width (nm) of a SACA model's instrument over its grid."""
    from spectral.instrument import current_instrument_name, get_instrument

    inst = get_instrument(current_instrument_name(config["model"]["instrument"]))
    return float(np.median(np.interp(grid, inst.wavelength_nm, inst.fwhm())))


def _refined(
    files: Sequence[Any],
    x: np.ndarray,
    wt: np.ndarray,
    config: dict[str, Any],
    elements: Sequence[str],
    progress: bool,
) -> Any:
    """The LTE fit (:func:`spectral.refine.refine`) of the spectra ``x`` on the model's grid,
    from SACA's contents ``wt``; the model must read the simulator's steel elements and the
    files must be in counts of its instrument."""
    from spectral.dataset import simulator
    from spectral.refine import refine

    sim = simulator(config["model"]["instrument"])
    if tuple(sim.elements) != tuple(elements):
        raise UserError(
            f"--refine needs a model of the steel elements {sim.elements}; this one reads "
            f"{elements}"
        )
    _require_counts(files, x, sim.instrument)
    return refine(sim, x, wt, progress=progress)


def _on_grid(spec: Any, grid: np.ndarray, axis: Any) -> np.ndarray:
    """The spectrum on the model's grid (float32); a file that misses it is refused, with
    the frame it was read in where that moved its ends (vacuum to air: 0.1-0.2 nm)."""
    from spectral.io import resample

    try:
        return resample(spec, grid).astype(np.float32)
    except UserError as err:
        if axis.frame != "vacuum":
            raise
        fix = "" if axis.given else "; give --wavelengths air if they are in air"
        raise UserError(f"{err} (its wavelengths read as vacuum ones{fix})") from None


def _require_counts(files: Sequence[Any], x: np.ndarray, instrument: Any) -> None:
    """Refuse, before the fit, a file that is not in counts of the model's instrument: the
    fit leaves out pixels at its full scale as saturated, and one with most pixels there (a
    calibrated radiance of 1e12, say) would be fitted on none."""
    full = float(instrument.full_scale)
    for f, row in zip(files, x, strict=True):
        share = float((row >= full).mean())
        if share > 0.5:
            raise UserError(
                f"{f}: {share:.0%} of its pixels are at or above the {instrument.name} "
                f"instrument's full scale ({full:g} counts), so --refine, which fits counts "
                "of that instrument, has nothing to fit; use --method cflibs for this file"
            )


#: Species fitted as the ambient gas by ``--method cflibs`` unless told otherwise.
DEFAULT_NUISANCE = ("O", "N", "H")


def auto_elements(
    spec: Any, nuisance: Sequence[str], instrument: dict[str, Any] | None = None
) -> list[str]:
    """The elements :func:`spectral.cflibs.select_elements` finds in an air-calibrated
    spectrum, the ambient gas of ``nuisance`` competing with them and left out (with the
    widths and response of ``instrument``, where one is given)."""
    from spectral.cflibs import select_elements

    found = select_elements(spec, nuisance=nuisance, instrument=instrument).elements
    if not found:
        raise UserError(f"{spec.source}: no element identified; give --elements")
    return list(found)


def analyze_cflibs(
    files: Sequence[str | os.PathLike[str]],
    elements: Sequence[str] | None,
    nuisance: Sequence[str] = DEFAULT_NUISANCE,
    clip_negative: bool = False,
    wavelengths: str = "auto",
    plot_dir: Path | None = None,
    instrument: dict[str, Any] | None = None,
    oxides: bool = False,
    zones: int | str = 1,
    jobs: int = 1,
    progress: bool = False,
) -> list[dict[str, Any]]:
    """One row per file from :func:`spectral.cflibs.fit_cflibs` (``zones`` as there):
    ``<El>_wt_pct``, ``<El>_sd_wt_pct``, ``<El>_present`` (above
    :data:`spectral.cflibs.PRESENT_WT_PCT`), ``temperature_k``, ``ne_cm3``, ``instrument_wings``
    (the instrument function's Lorentzian wings, FWHM per FWHM of its Gaussian), ``stark_scale``
    (the line profiles' multiple of the Stark widths, 0 for Gaussian ones),
    ``saturation_broadening`` (whether the self-absorbed lines were widened),
    ``plasma_length_m`` (the self-absorbing plasma's length, 0 where the optically thin fit
    was kept) and ``fit_cost_optically_thin``, ``zone2_temperature_k`` and
    ``zone2_atoms_per_atom`` (the second plasma zone, empty where none is kept),
    ``fit_cost`` and ``model_ok``, and the consistency columns of :func:`_reading_columns`;
    ``elements`` None takes each file's
    :func:`auto_elements`. With ``plot_dir``, one PNG per file (spectrum, fit, residual);
    with ``instrument`` (:func:`spectral.cflibs.calibrate_instrument`), its response and
    widths. With ``oxides``, also the whole rock (:mod:`spectral.oxides`):
    ``<El>_rock_wt_pct`` and ``<oxide>_oxide_wt_pct`` (``SiO2_oxide_wt_pct``, ...).

    The files are fitted independently, ``jobs`` at a time in their own processes
    (:func:`eftgan.devices.map_in_processes`; a fit is seconds of one core's work), with
    the same rows in the same order as one at a time."""
    import functools

    from eftgan.devices import map_in_processes
    from spectral.cflibs import require_instrument
    from spectral.io import read_spectrum

    spectra = [read_spectrum(f, clip_negative) for f in files]  # bad files fail first
    for spec in spectra:  # before any fit
        if elements:
            _require_lines(spec, elements)
        if instrument is not None:
            require_instrument(instrument, spec)
    options = dict(elements=elements, nuisance=nuisance, wavelengths=wavelengths)
    options.update(plot_dir=plot_dir, instrument=instrument, oxides=oxides, zones=zones)
    fit_one = functools.partial(_cflibs_row, **options)
    return map_in_processes(fit_one, list(zip(files, spectra, strict=True)), jobs, progress, "file")


def _require_lines(spec: Any, elements: Sequence[str]) -> None:
    """Refuse, before any fit, a file whose range holds no NIST line of ``elements`` in air
    or vacuum wavelengths (the fit's own check, on its modelled lines, comes later)."""
    from spectral.atomic import load_atomic_data
    from spectral.cflibs import no_lines

    nm = load_atomic_data(elements).lines.wavelength
    wl = spec.wavelength
    if not ((nm > wl[0] - 1.0) & (nm < wl[-1] + 1.0)).any():
        raise no_lines(spec.source, elements, wl)


def _cflibs_row(
    file_and_spectrum: tuple[Any, Any],
    elements: Sequence[str] | None,
    nuisance: Sequence[str],
    wavelengths: str,
    plot_dir: Path | None,
    instrument: dict[str, Any] | None,
    oxides: bool,
    zones: int | str,
) -> dict[str, Any]:
    """The row of :func:`analyze_cflibs` for one file (and its PNG)."""
    from spectral.cflibs import fit_cflibs, fit_png, instrument_frame
    from spectral.measured import calibrate_spectrum

    f, spec = file_and_spectrum
    els = list(elements or [])
    if not els:  # the frame as the fit takes it: a calibrated instrument's, unless given
        frame = instrument_frame(instrument, wavelengths)
        els = auto_elements(calibrate_spectrum(spec, frame)[0], nuisance, instrument)
    res = fit_cflibs(spec, els, nuisance, wavelengths, instrument, zones=zones)
    if plot_dir is not None:
        fit_png(res, Path(plot_dir) / f"{Path(f).stem}_fit.png", title=str(f))
    return _cflibs_columns(str(f), res, oxides)


def _cflibs_columns(file: str, res: Any, oxides: bool) -> dict[str, Any]:
    """The columns of :func:`analyze_cflibs` from one :class:`spectral.cflibs.CFResult`."""
    from spectral.cflibs import PRESENT_WT_PCT
    from spectral.oxides import oxide_closure, oxide_name

    row: dict[str, Any] = {"file": file, "wavelengths": res.frame}
    row["wavelengths_decided"] = res.frame_decided
    row["wavelengths_lines"] = res.lines_frame or ""
    for e, w, sd in zip(res.elements, res.wt_pct, res.sd_wt_pct, strict=True):
        row[f"{e}_wt_pct"] = float(w)
        row[f"{e}_sd_wt_pct"] = float(sd)
        row[f"{e}_present"] = bool(w > PRESENT_WT_PCT)
    row.update(temperature_k=res.temperature_k, ne_cm3=res.ne_cm3, fit_cost=res.cost)
    # per segment: the shift at its centre (nm) and the slope (nm per 100 nm) the fit put
    # on top of the axis reading: the wavelength calibration learned from the spectrum
    row["axis_correction_nm"] = ";".join(f"{a:+.4f}/{b:+.4f}" for a, b in res.axis_correction)
    row["stark_scale"] = res.stark_scale
    row["instrument_wings"] = res.wings
    row["saturation_broadening"] = res.saturation
    row.update(plasma_length_m=res.length_m, fit_cost_optically_thin=res.thin_cost)
    t2, f2 = res.second_zone or (None, None)
    row.update(zone2_temperature_k=t2, zone2_atoms_per_atom=f2)
    row["model_ok"] = res.model_ok
    row["unsupported"] = ";".join(res.unsupported)
    row.update(_reading_columns(res))
    if oxides:
        rock, ox = oxide_closure(dict(zip(res.elements, res.wt_pct, strict=True)))
        row.update({f"{e}_rock_wt_pct": v for e, v in rock.items()})
        row.update({f"{oxide_name(e)}_oxide_wt_pct": v for e, v in ox.items()})
    return row


def _reading_columns(res: Any) -> dict[str, Any]:
    """The consistency columns of a :class:`spectral.cflibs.CFResult`
    (:func:`spectral.cflibs.partial_readings`): ``<El>_wt_pct_I`` and ``<El>_wt_pct_II``
    (read from the element's neutral or ionic lines alone), with a stitched file's
    ``<El>_wt_pct_seg<k>`` (from the k-th segment the fit kept alone, in wavelength order;
    stretches without any spread are left out; ``segments_nm`` gives their ranges), empty where
    the part has no line of the element; and ``fit_cost_by_stage`` / ``fit_cost_by_segment``,
    the cost with those parts given amplitudes of their own."""
    r = res.readings
    if r is None:
        return {}
    cols: dict[str, Any] = {"fit_cost_by_stage": r.cost_by_stage}
    parts = {"I": r.by_stage[0], "II": r.by_stage[1]}
    if len(r.by_segment) > 1:
        cols["fit_cost_by_segment"] = r.cost_by_segment
        # which range each seg<k> is: files of one instrument may keep different segments
        cols["segments_nm"] = ";".join(
            f"{res.wavelength[sl][0]:.0f}-{res.wavelength[sl][-1]:.0f}" for sl in res.slices
        )
        parts.update({f"seg{k}": v for k, v in enumerate(r.by_segment, start=1)})
    for name, values in parts.items():
        for e, v in zip(res.elements, values, strict=True):
            cols[f"{e}_wt_pct_{name}"] = None if np.isnan(v) else float(v)
    return cols
