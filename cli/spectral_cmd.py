"""``eftgan spectral``: simulate, identify and analyze emission spectra; train SACA models."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click
from eftgan_cli.main import ModelFolder, device_option, echo_table


@click.group()
def spectral() -> None:
    """Optical emission (OES/LIBS) spectra: simulate, identify, analyze, calibrate, diagnose,
    train."""


def _amounts(text: str) -> dict[str, float]:
    """Raw element amounts of a formula, not normalised."""
    from pymatgen.core import Composition

    from eftgan.elements import canonical_symbol
    from eftgan.errors import UserError

    try:
        comp = Composition(text)
    except Exception:
        raise UserError(
            f"cannot read composition {text!r}: write it like Fe68Cr18Ni10Mo2Mn2"
        ) from None
    out = {canonical_symbol(str(el)): float(v) for el, v in comp.get_el_amt_dict().items()}
    if not out or any(v < 0 for v in out.values()):
        raise UserError(f"composition {text!r} has no positive amounts")
    return out


def _weight_percent(text: str, wt: bool, atomic_hint: str = "without --wt") -> dict[str, float]:
    """A composition's wt %, from weight percent (``wt``) or atomic amounts; ``atomic_hint``
    says how the command takes atomic amounts, where it does."""
    from eftgan.elements import element
    from eftgan.errors import UserError

    a = _amounts(text)
    total = sum(a.values())
    if wt:
        if abs(total - 100.0) > 0.5 and abs(total - 1.0) > 0.005:
            other = f" or give atomic amounts {atomic_hint}" if atomic_hint else ""
            raise UserError(
                f"the weight percentages in {text!r} add up to {total:g}, not 100; fix them{other}"
            )
        return {k: 100.0 * v / total for k, v in a.items()}
    mass = {k: v * element(k).atomic_mass_u for k, v in a.items()}
    m = sum(mass.values())
    return {k: 100.0 * v / m for k, v in mass.items()}


#: The largest ``simulate --shift`` (nm): a calibration error, not a move of the window.
MAX_SHIFT_NM = 1.0


@spectral.command()
@click.option("--composition", required=True, help='e.g. "Fe68Cr18Ni10Mo2Mn2".')
@click.option("--wt", is_flag=True, help="The amounts are weight percent (default: atomic).")
@click.option("--temperature", default=9000.0, show_default=True, help="Plasma T (K).")
@click.option("--ne", default=1e17, show_default=True, help="Electron density (cm^-3).")
@click.option("--instrument", default="saca2021", show_default=True, help="saca2021 or hr4000.")
@click.option("--no-noise", is_flag=True, help="The noiseless detector signal.")
@click.option("--no-self-absorption", is_flag=True)
@click.option("--shift", default=0.0, show_default=True, help="Wavelength shift (nm), at most +-1.")
@click.option("--seed", default=0, show_default=True, help="Noise seed.")
@click.option("--out", required=True, type=click.Path(path_type=Path), help="CSV file.")
@click.option("--force", is_flag=True, help="Overwrite --out.")
def simulate(
    composition: str,
    wt: bool,
    temperature: float,
    ne: float,
    instrument: str,
    no_noise: bool,
    no_self_absorption: bool,
    shift: float,
    seed: int,
    out: Path,
    force: bool,
) -> None:
    """Simulate the LTE emission spectrum of a composition on an instrument.

    Writes OUT (wavelength_nm, counts) and a PNG beside it.
    """
    import numpy as np

    from eftgan.errors import UserError
    from eftgan.files import refuse_existing
    from spectral.instrument import Conditions, Simulator, get_instrument
    from spectral.io import write_csv

    if out.suffix.lower() == ".png":
        raise UserError(f"--out {out} names the CSV (its PNG goes beside it); give a .csv name")
    refuse_existing(out, force)
    if abs(shift) > MAX_SHIFT_NM:
        raise UserError(
            f"--shift {shift:g} nm is beyond +-{MAX_SHIFT_NM:g} nm (the shift is a phase ramp "
            "over the grid, which beyond that carries one end of the spectrum round to the other)"
        )
    if not (1000.0 <= temperature <= 50000.0):
        raise UserError(f"--temperature {temperature:g} K is outside 1000-50000 K")
    if not (1e13 <= ne <= 1e20):
        raise UserError(f"--ne {ne:g} cm^-3 is outside 1e13-1e20")
    wtp = _weight_percent(composition, wt)
    inst = get_instrument(instrument)
    els = tuple(wtp)
    sim = Simulator(els, inst, self_absorption=not no_self_absorption)
    cond = Conditions.fixed(1, temperature, ne, shift_nm=shift)
    rng = None if no_noise else np.random.default_rng(seed)
    counts = sim.simulate(np.array([[wtp[e] for e in els]]), cond, rng)[0]
    out.parent.mkdir(parents=True, exist_ok=True)
    write_csv(out, inst.wavelength_nm, {"counts": counts})
    from eftgan.plotting import pyplot, save_png

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(9, 3.2), dpi=120)
    ax.plot(inst.wavelength_nm, counts, lw=0.6)
    ax.set_xlabel("wavelength in air (nm)")
    ax.set_ylabel("counts")
    label = ", ".join(f"{e} {w:.3g}" for e, w in wtp.items())
    ax.set_title(f"{label} wt %; {temperature:.0f} K, {ne:.2g} cm$^{{-3}}$", fontsize=8)
    fig.tight_layout()
    png = out.with_suffix(".png")
    save_png(fig, png)
    click.echo(f"{len(counts)} points ({inst.name}) -> {out}, {png}")


def _element_list(text: str | None) -> list[str]:
    """Element symbols from a comma-separated option (checked against the registry)."""
    from eftgan.elements import canonical_symbol

    return [canonical_symbol(tok) for tok in (text or "").split(",") if tok.strip()]


def _wavelength_options(command: Any) -> Any:
    """``--wavelengths auto|air|vacuum`` and its synonym ``--vacuum``, for the commands that
    read measured files (see :mod:`spectral.measured`)."""
    command = click.option("--vacuum", is_flag=True, help="Same as --wavelengths vacuum.")(command)
    return click.option(
        "--wavelengths",
        type=click.Choice(["auto", "air", "vacuum"]),
        default="auto",
        show_default=True,
        help="Whether the wavelengths are in air or vacuum: auto reads it from the line "
        "positions and says so.",
    )(command)


@spectral.command()
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--elements", default=None, help="Candidates, e.g. Fe,Ni,Cr (default: ~60).")
@_wavelength_options
@click.option(
    "--top",
    default=10,
    show_default=True,
    help="How many of the ranking to list (--fit lists every element it takes).",
)
@click.option("--clip-negative", is_flag=True, help="Clip negative intensities to zero.")
@click.option(
    "--fit",
    is_flag=True,
    help="Select the elements with the LTE model instead (what --elements auto takes): each "
    "with the share of the fit cost left before it that it removed, in the order taken.",
)
@click.option(
    "--nuisance",
    default="O,N,H",
    show_default=True,
    help="With --fit: species that compete but are not listed (the ambient gas).",
)
@click.option("--format", "fmt", type=click.Choice(["table", "csv"]), default="table")
def identify(
    file: Path,
    elements: str | None,
    wavelengths: str,
    vacuum: bool,
    top: int,
    clip_negative: bool,
    fit: bool,
    nuisance: str,
    fmt: str,
) -> None:
    """Rank elements by how well their strong lines explain the peaks of FILE, or (--fit)
    select those the LTE model needs."""
    from spectral.identify import identify as run
    from spectral.io import read_spectrum
    from spectral.measured import calibrate_spectrum

    spec = read_spectrum(file, clip_negative)
    cands = _element_list(elements) or None
    spec, axis = calibrate_spectrum(spec, "vacuum" if vacuum else wavelengths, candidates=cands)
    click.echo(axis.summary(), err=True)
    if fit:
        _emit_selection(spec, cands, _element_list(nuisance) or [], fmt)
        return
    matches = run(spec.wavelength, spec.intensity, cands)[:top]
    rows = [
        {
            "element": m.element,
            "score": round(m.score, 4),
            "matched_lines": ";".join(f"{x:.2f}" for x in m.matched_lines),
        }
        for m in matches
    ]
    _emit(rows, ["element", "score", "matched_lines"], fmt)


def _emit_selection(spec: Any, candidates: list[str] | None, gases: list[str], fmt: str) -> None:
    """``identify --fit``: the elements :func:`spectral.cflibs.select_elements` takes, with
    the share of the fit cost each removed, and the best one it refused."""
    from eftgan.errors import UserError
    from spectral.cflibs import SELECT_MIN_DROP, select_elements

    sel = select_elements(spec, candidates, gases)
    if not sel.elements:
        raise UserError(f"{spec.source}: no element's lines lower the fit's cost; check the file")
    rows = [
        {"element": e, "cost_drop_pct": round(100 * d, 2)} for e, d in sel.path if e not in gases
    ]
    _emit(rows, ["element", "cost_drop_pct"], fmt)
    if sel.refused:
        e, d = sel.refused
        click.echo(
            f"next: {e}, {100 * d:.2f} % of the cost, under the {100 * SELECT_MIN_DROP:.1f} % "
            "an element must remove",
            err=True,
        )


@spectral.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--model",
    "model_dir",
    type=ModelFolder(),
    default=None,
    help="SACA model folder (default: shipped).",
)
@click.option("--clip-negative", is_flag=True, help="Clip negative intensities to zero.")
@click.option(
    "--refine",
    is_flag=True,
    help="Fit the LTE plasma model to each spectrum, starting from SACA's composition "
    "(about 0.06 s per spectrum on 2 cores); adds <El>_sd_wt_pct, temperature_k, ne_cm3 and "
    "fit_cost.",
)
@click.option(
    "--method",
    type=click.Choice(["saca", "saca+fit", "cflibs"]),
    default="saca",
    show_default=True,
    help="saca: the network (steels); saca+fit: the network, then the LTE fit (as --refine); "
    "cflibs: the LTE fit alone, over any elements (--elements).",
)
@click.option(
    "--elements",
    default=None,
    help="For cflibs: the elements to fit, e.g. Fe,Cr,Ni,Mn,Cu,Ti, or auto (those identify --fit "
    "selects).",
)
@click.option(
    "--nuisance",
    default="O,N,H",
    show_default=True,
    help="For cflibs: species fitted but left out of the composition (the ambient gas); "
    "'' for none.",
)
@click.option(
    "--plot",
    "plot_dir",
    type=click.Path(path_type=Path),
    default=None,
    help="For cflibs: write DIR/<file>_fit.png (spectrum, fit, residual).",
)
@click.option(
    "--instrument",
    "instrument_file",
    type=click.Path(path_type=Path),
    default=None,
    help="For cflibs: an instrument.json from `spectral calibrate` (its response and widths).",
)
@click.option(
    "--oxides",
    is_flag=True,
    help="For cflibs on rocks: also the whole rock, each element as its usual oxide (SiO2, "
    "Al2O3, total Fe as Fe2O3, ...): <El>_rock_wt_pct and <oxide>_oxide_wt_pct.",
)
@click.option(
    "--zones",
    type=click.Choice(["1", "2", "auto"]),
    default="1",
    show_default=True,
    help="For cflibs: plasma zones; 2 tries a second one (same atoms and n_e, another "
    "temperature), auto only where one zone's fit cost is above the model_ok threshold; "
    "either keeps it where it lowers the optically thin fit's cost.",
)
@click.option(
    "--jobs",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="For cflibs: fit this many files at a time, each in a process of its own (a fit "
    "keeps one core busy): up to the number of cores.",
)
@click.option("--force", is_flag=True, help="Overwrite existing --plot PNGs.")
@_wavelength_options
@click.option("--format", "fmt", type=click.Choice(["table", "csv"]), default="table")
def analyze(
    files: tuple[Path, ...],
    model_dir: Path | None,
    clip_negative: bool,
    refine: bool,
    method: str,
    elements: str | None,
    nuisance: str,
    plot_dir: Path | None,
    instrument_file: Path | None,
    oxides: bool,
    zones: str,
    jobs: int,
    force: bool,
    wavelengths: str,
    vacuum: bool,
    fmt: str,
) -> None:
    """Composition (wt %) and element presence for each spectrum file."""
    from spectral.analyze import analyze_cflibs, analyze_files
    from spectral.cflibs import SUPPORT_WT_PCT

    frame = "vacuum" if vacuum else wavelengths
    _check_method_options(method, refine, elements, plot_dir, instrument_file, oxides, jobs)
    if method == "cflibs":
        els = _element_list(elements) if elements != "auto" else None
        gases = [g for g in _element_list(nuisance) if not els or g not in els]
        if plot_dir is not None:
            _check_plots(files, plot_dir, force)
        inst = _read_instrument(instrument_file) if instrument_file else None
        rows = analyze_cflibs(
            list(files), els, gases, clip_negative, frame, plot_dir, inst, oxides,
            zones=int(zones) if zones != "auto" else "auto", jobs=jobs, progress=len(files) > 1,
        )  # fmt: skip
    else:
        rows = analyze_files(
            list(files),
            model_dir,
            clip_negative,
            refine or method == "saca+fit",
            progress=len(files) > 50,
            wavelengths=frame,
        )
    for r in rows:
        if r.get("wavelengths_lines"):
            click.echo(
                f"warning: {r['file']}: read in {r['wavelengths']} wavelengths as given, but "
                f"its lines fit {r['wavelengths_lines']} wavelengths clearly better; check "
                "--wavelengths",
                err=True,
            )
        if not r["wavelengths_decided"]:
            click.echo(
                f"warning: {r['file']}: whether its wavelengths are in air or vacuum is not "
                f"clear from its lines (read as {r['wavelengths']}); give --wavelengths",
                err=True,
            )
    _warn_not_steel(rows)
    for r in rows:
        if r.get("unsupported"):
            els = r["unsupported"].replace(";", ", ")
            click.echo(
                f"warning: {r['file']}: {els} read at {SUPPORT_WT_PCT:g} wt % or more, but "
                f"the fit hardly needs the lines of {els}: a content the spectrum does not "
                "show (model_ok false); check the --elements list",
                err=True,
            )
    _print_analysis(rows, method if not refine or method == "cflibs" else "saca+fit", fmt)


def _warn_not_steel(rows: list[dict[str, Any]]) -> None:
    """One warning per file whose lines the SACA model's elements explain too little of, or
    whose lines do not allow the composition read."""
    from spectral.analyze import MAX_READING_COST_RATIO, MIN_LINES_EXPLAINED

    for r in rows:
        share, ratio = r.get("lines_explained"), r.get("reading_cost_ratio")
        if share is not None and share < MIN_LINES_EXPLAINED:
            why = (
                f"the lines of the elements SACA reads explain {share:.0%} of it (under "
                f"{MIN_LINES_EXPLAINED:.0%}): it does not look like a steel"
            )
        elif ratio is not None and math.isnan(ratio):  # a reading without any content
            why = "the composition read holds nothing to check against its lines"
        elif ratio is not None and ratio > MAX_READING_COST_RATIO:
            why = (
                f"its lines fit {ratio:.2f} times worse at the composition read than at the "
                f"best mix of the same elements (over {MAX_READING_COST_RATIO})"
            )
        else:
            continue
        click.echo(
            f"warning: {r['file']}: {why}, so do not trust that composition; try --method "
            "cflibs --elements auto",
            err=True,
        )


def _check_method_options(
    method: str,
    refine: bool,
    elements: str | None,
    plot_dir: Path | None,
    instrument_file: Path | None,
    oxides: bool = False,
    jobs: int = 1,
) -> None:
    """Options that belong to one method, given with another: one line each."""
    from eftgan.errors import UserError

    if method == "cflibs":
        if not elements:
            raise UserError("--method cflibs needs --elements (a list such as Fe,Cr,Ni, or auto)")
        if refine:
            raise UserError("--refine is --method saca+fit; drop it with --method cflibs")
        return
    named = (
        ("--elements", elements),
        ("--plot", plot_dir),
        ("--oxides", oxides or None),
        ("--jobs", jobs if jobs != 1 else None),
    )
    for name, value in named:
        if value is not None:
            raise UserError(f"{name} goes with --method cflibs, not --method {method}")
    if instrument_file is not None:
        raise UserError(f"--instrument goes with --method cflibs, not --method {method}")


def _check_plots(files: Sequence[Path], plot_dir: Path, force: bool) -> None:
    """Every file its own PNG in ``plot_dir``, none overwritten without ``force``."""
    from eftgan.errors import UserError
    from eftgan.files import refuse_existing

    stems = [f.stem for f in files]
    twice = sorted({s for s in stems if stems.count(s) > 1})
    if twice:
        raise UserError(
            f"files named {', '.join(twice)} in several folders would share one --plot PNG; "
            "analyse them in separate runs"
        )
    for f in files:
        refuse_existing(plot_dir / f"{f.stem}_fit.png", force, "--plot folder")


def _read_instrument(path: Path) -> dict[str, Any]:
    """An instrument.json written by ``spectral calibrate``."""
    import json

    from eftgan.errors import UserError

    try:
        inst = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise UserError(f"cannot read the instrument file {path}: {err}") from None
    keys = {"lo_nm", "hi_nm", "fwhm_nm", "response_wavelength_nm", "response"}
    if (
        not isinstance(inst, dict)
        or inst.get("kind") != "eftgan-spectral-instrument"
        or inst.get("wavelengths") not in ("air", "vacuum")
        or not isinstance(inst.get("segments"), list)
        or not inst["segments"]
        or not all(isinstance(g, dict) and keys <= set(g) for g in inst["segments"])
    ):
        raise UserError(f"{path} is not an instrument file; make one with `spectral calibrate`")
    return inst


def _content_cell(row: dict[str, Any], element: str) -> str:
    """An element's content in the table: wt %, its standard error where the method gives
    one, and '-' where it is called absent."""
    cell = f"{row[element + '_wt_pct']:.3f}"
    if element + "_sd_wt_pct" in row:
        cell += f" +-{row[element + '_sd_wt_pct']:.2g}"
    return cell + ("" if row[element + "_present"] else " -")


def _print_analysis(rows: list[dict[str, Any]], method: str, fmt: str) -> None:
    """The rows of ``analyze`` as CSV, or as a table of contents with the fit's columns."""
    cols = list(dict.fromkeys(k for r in rows for k in r))  # files may fit different elements
    if fmt != "table":
        _emit(rows, cols, fmt)
        return
    els = [k[: -len("_present")] for k in cols if k.endswith("_present")]
    short = [
        {
            "file": r["file"],
            **{e: _content_cell(r, e) for e in els if e + "_wt_pct" in r},
            # the frame the axis was read in, '?' where its lines did not decide it
            "wavelengths": r["wavelengths"] + ("" if r["wavelengths_decided"] else " ?"),
        }
        for r in rows
    ]
    extra = ["wavelengths"]
    if any("reading_ok" in r for r in rows):  # SACA's verdict (the fit's is model_ok)
        for r, sh in zip(rows, short, strict=True):
            sh["reading ok"] = "yes" if r.get("reading_ok") else "NO"
        extra.append("reading ok")
    if method != "saca":
        for r, sh in zip(rows, short, strict=True):
            sh["T (K)"] = f"{r['temperature_k']:.0f}"
            sh["fit cost"] = f"{r['fit_cost']:.3g}"
            if "model_ok" in r:
                sh["model ok"] = "yes" if r["model_ok"] else "NO"
        extra += ["T (K)", "fit cost"] + (["model ok"] if method == "cflibs" else [])
    echo_table(short, ["file", *els, *extra])
    _print_oxides(rows, cols)
    from spectral.cflibs import MODEL_ERROR, MODEL_OK_COST, PRESENT_WT_PCT, SUPPORT_WT_PCT
    from spectral.dataset import PRESENCE_WT_PCT

    floor = PRESENT_WT_PCT if method == "cflibs" else PRESENCE_WT_PCT
    sd = " +- its standard error" if any("_sd_wt_pct" in c for c in cols) else ""
    absent = (
        "called absent by the network's presence output"
        if method == "saca"
        else f"called absent (below {floor:g} wt %)"
    )
    click.echo(f"wt %{sd}; '-' marks an element {absent}")
    if method == "cflibs":
        click.echo(
            "fit cost: weighted residual per degree of freedom; model_ok when at most "
            f"{MODEL_OK_COST:g} (the noise and {MODEL_ERROR:.0%} line-strength errors explain "
            f"the rest) and every content of {SUPPORT_WT_PCT:g} wt % or more shows in the "
            "spectrum's lines"
        )
    elif method == "saca+fit":
        click.echo(
            "fit cost: weighted residual per pixel, about 1/shots where the LTE model "
            "describes the spectrum"
        )


def _print_oxides(rows: list[dict[str, Any]], cols: list[str]) -> None:
    """The whole rock as oxides (``analyze --oxides``), a table under the elements'."""
    els = [k[: -len("_rock_wt_pct")] for k in cols if k.endswith("_rock_wt_pct")]
    if not els:
        return
    from spectral.oxides import oxide_name

    names = [oxide_name(e) for e in els]
    table = [
        {
            "file": r["file"],
            **{o: f"{r[o + '_oxide_wt_pct']:.2f}" for o in names if o + "_oxide_wt_pct" in r},
        }
        for r in rows
    ]
    click.echo("")
    echo_table(table, ["file", *names])
    click.echo("oxide wt % of the whole rock (oxygen by stoichiometry, total Fe as Fe2O3)")


@spectral.command()
@click.argument("reference", type=click.Path(path_type=Path))
@click.option(
    "--composition",
    required=True,
    help="The reference's composition in wt %, e.g. Fe or Fe68Cr18Ni10Mo2Mn2.",
)
@click.option("--nuisance", default="O,N,H", show_default=True, help="Ambient gas species.")
@click.option("--out", required=True, type=click.Path(path_type=Path), help="instrument.json")
@click.option("--clip-negative", is_flag=True, help="Clip negative intensities to zero.")
@click.option("--force", is_flag=True, help="Overwrite --out.")
@_wavelength_options
def calibrate(
    reference: Path,
    composition: str,
    nuisance: str,
    out: Path,
    clip_negative: bool,
    force: bool,
    wavelengths: str,
    vacuum: bool,
) -> None:
    """Learn the instrument (frame, widths, response) from a REFERENCE spectrum of known
    composition, for ``analyze --method cflibs --instrument OUT``."""
    from eftgan.files import atomic_write_json, refuse_existing
    from spectral.cflibs import calibrate_instrument
    from spectral.io import read_spectrum

    refuse_existing(out, force)
    comp = _weight_percent(composition, True, atomic_hint="")
    spec = read_spectrum(reference, clip_negative)
    gases = [g for g in _element_list(nuisance) if g not in comp]
    inst = calibrate_instrument(spec, comp, gases, "vacuum" if vacuum else wavelengths)
    atomic_write_json(out, inst)
    widths = ", ".join(
        f"{s['lo_nm']:.0f}-{s['hi_nm']:.0f} nm: {s['fwhm_nm']:.3f}" for s in inst["segments"]
    )
    cost = f"fit cost {inst['fit_cost']:.2f}"
    if len(comp) > 1:
        cost += f" at that composition, {inst['fit_cost_free']:.2f} free"
    click.echo(
        f"instrument from {reference} ({cost}, wavelengths {inst['wavelengths']}); "
        f"FWHM {widths} -> {out}"
    )


@spectral.command()
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--elements", required=True, help="Elements whose lines to plot, e.g. Fe,Ti,Ca.")
@click.option(
    "--out", required=True, type=click.Path(path_type=Path), help="Folder for the JSON and PNG."
)
@click.option(
    "--ne",
    "ne_cm3",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Electron density (cm^-3) for the Saha-Boltzmann plot when H-alpha is absent.",
)
@click.option("--clip-negative", is_flag=True, help="Clip negative intensities to zero.")
@click.option("--force", is_flag=True, help="Overwrite --out.")
@_wavelength_options
def diagnose(
    file: Path,
    elements: str,
    out: Path,
    ne_cm3: float | None,
    clip_negative: bool,
    force: bool,
    wavelengths: str,
    vacuum: bool,
) -> None:
    """Boltzmann and Saha-Boltzmann plots of FILE, and n_e from H-alpha: the plasma's
    temperature per species, written to OUT/diagnose.json and OUT/boltzmann.png."""
    from eftgan.files import atomic_write_json, staged_dir
    from spectral.diagnose import (
        MIN_LINES,
        MIN_SPAN_EV,
        RELIABLE_R2,
        RELIABLE_SD_SHARE,
        boltzmann_png,
        plots,
        temperature_text,
    )
    from spectral.diagnose import diagnose as run
    from spectral.io import read_spectrum

    els = _element_list(elements)
    with staged_dir(out, force) as tmp:
        spec = read_spectrum(file, clip_negative)
        report = run(spec, els, "vacuum" if vacuum else wavelengths, ne_cm3)
        atomic_write_json(tmp / "diagnose.json", report)
        boltzmann_png(report, tmp / "boltzmann.png")
    rows = [
        {
            "species": name,
            "lines": len(p["y"]),
            "T (K)": temperature_text(p).removesuffix(" (unreliable)").removesuffix(" K"),
            "r2": f"{p['r2']:.2f}",
            "reliable": "yes" if p["reliable"] else "NO",
        }
        for name, p in plots(report)
    ]
    if rows:
        echo_table(rows, ["species", "lines", "T (K)", "r2", "reliable"])
        click.echo(
            f"reliable: r2 >= {RELIABLE_R2:g} and the error at most {RELIABLE_SD_SHARE:.0%} of T"
        )
    if report["no_plot"]:
        click.echo(
            f"no Boltzmann plot (fewer than {MIN_LINES} usable lines over {MIN_SPAN_EV:g} eV): "
            + ", ".join(report["no_plot"])
        )
    click.echo(f"n_e {report['ne_cm3']:.3g} cm^-3 ({report['ne_source']}) -> {out}")


@spectral.command()
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Model folder.")
@click.option(
    "--variant", default="compact", show_default=True, help="Network: compact, paper or wide."
)
@click.option(
    "--n-spectra",
    default=20000,
    show_default=True,
    help="Simulated spectra (at least 200: spectral.train.MIN_SPECTRA).",
)
@click.option("--instrument", default="saca2021", show_default=True, help="saca2021 or hr4000.")
@click.option("--seed", default=0, show_default=True)
@click.option(
    "--epochs",
    default=40,
    show_default=True,
    type=click.IntRange(min=1),
    help="At most this many epochs.",
)
@click.option("--patience", default=6, show_default=True)
@click.option(
    "--max-minutes",
    default=None,
    type=click.FloatRange(min=0, min_open=True),
    help="Stop after this wall time.",
)
@click.option("--lr", default=1e-3, show_default=True, help="(Initial) Adam learning rate.")
@click.option(
    "--jitter",
    default=0.01,
    show_default=True,
    help="Largest augmentation noise, as a fraction of full scale.",
)
@click.option(
    "--lr-schedule",
    type=click.Choice(["plateau", "cosine"]),
    default="plateau",
    show_default=True,
    help="Cut the rate when validation stalls, or a cosine over --epochs (no early stopping).",
)
@click.option(
    "--init-from",
    type=click.Path(path_type=Path),
    default=None,
    help="Fine-tune this model folder instead of starting afresh.",
)
@click.option(
    "--noise",
    type=click.Choice(["fixed", "fresh"]),
    default="fixed",
    show_default=True,
    help="Detector noise of the training spectra: drawn once, or afresh for every batch.",
)
@click.option(
    "--ema",
    default=0.0,
    show_default=True,
    help="Keep an exponential moving average of the weights with this decay (0: off).",
)
@device_option("auto", "Where the network trains; the data are simulated on the CPU either way.")
@click.option("--force", is_flag=True)
@click.option("--quiet", is_flag=True)
def train(out: Path, n_spectra: int, epochs: int, force: bool, quiet: bool, **options: Any) -> None:
    """Train a SACA model on simulated steel spectra (resumes an interrupted run)."""
    from eftgan.devices import resolve_device
    from eftgan.errors import UserError
    from eftgan.runstate import check_output_folder
    from spectral.dataset import simulate_set
    from spectral.train import MIN_SPECTRA, train_saca

    if n_spectra < MIN_SPECTRA:
        raise UserError(f"--n-spectra {n_spectra}: give at least {MIN_SPECTRA} spectra to train")
    check_output_folder(out, force)
    config = _train_config(epochs, options)
    resolve_device(config.device)  # before simulating
    if config.init_from is not None:  # a missing or damaged folder is found before simulating
        from eftgan.checkpoint import read_model_folder

        read_model_folder(config.init_from, kind="saca", option="--init-from")
    data = simulate_set(
        n_spectra,
        config.seed,
        config.instrument,
        progress=not quiet,
        keep_clean=config.noise == "fresh",
    )
    data_config = {"n_spectra": n_spectra, "seed": config.seed, "instrument": config.instrument}
    r = train_saca(data, out, config, progress=not quiet, force=force, data_config=data_config)
    click.echo(
        f"model written to {out} ({len(r['history'])} epochs, {r['stopped']}, {r['wall_s']:.0f} s)"
    )
    rows = [{"element": el, **v} for el, v in r["metrics"].items()]
    echo_table(rows, ["element", "mae", "rmse", "r2", "precision", "recall"])


def _train_config(epochs: int, options: dict[str, Any]) -> Any:
    """The :class:`spectral.train.SACATrainConfig` of ``eftgan spectral train``'s options,
    with one-line errors that name the option."""
    from eftgan.errors import UserError
    from spectral.train import SACATrainConfig

    if not 0.0 < options["lr"] < 1.0:
        raise UserError(
            f"--lr {options['lr']} is outside (0, 1); give a learning rate such as 0.001"
        )
    if not 0.0 <= options["jitter"] < 0.5:
        raise UserError(
            f"--jitter {options['jitter']} is outside [0, 0.5); give a fraction of full scale"
        )
    if not 0.0 <= options["ema"] < 1.0:
        raise UserError(
            f"--ema {options['ema']} is outside [0, 1); give 0 (off) or a decay such as 0.999"
        )
    init_from = options["init_from"]
    return SACATrainConfig(
        **{**options, "init_from": None if init_from is None else str(init_from)},
        max_epochs=epochs,
    )


def _emit(rows: list[dict[str, Any]], cols: list[str], fmt: str) -> None:
    if fmt == "csv":
        import csv
        import sys

        w = csv.DictWriter(sys.stdout, fieldnames=cols, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
    else:
        echo_table(rows, cols)
