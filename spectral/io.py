"""Reading spectra from files, checking them and putting them on a model's grid.

Formats (detected from the content, not the extension):

* **two-column text**: CSV, TSV, semicolon- or space-separated, with or without a header
  (any leading lines that are not two numbers are taken as header); decimal commas are
  understood when the separator is not a comma. Extra columns are ignored (the first two are
  wavelength and intensity).
* **Ocean Optics** SpectraSuite and OceanView text exports: a header block (integration time,
  averaging, ...) kept as metadata, then the data between ``>>>>>Begin Spectral Data<<<<<`` (or
  ``>>>>>Begin Processed Spectral Data<<<<<``) and the matching ``End`` line; tab-separated,
  with decimal commas in some locales.
* **JCAMP-DX** 4.24 / 5.x: ``##XYDATA=(X++(Y..Y))`` in AFFN or ASDF compression (SQZ, DIF, DUP,
  with the Y check value of DIF lines dropped), ``##XYPOINTS=(XY..XY)`` and ``##PEAK TABLE``;
  ``XFACTOR``, ``YFACTOR``, ``FIRSTX``, ``LASTX``, ``NPOINTS`` honoured; ``XUNITS`` of nm,
  micrometres or 1/cm (converted to nm).

Checks (:func:`check_spectrum`): empty or one-point data, NaN or infinite wavelengths, missing
pixels (an intensity of NaN or infinity: a dead pixel or a gap between detectors) left out
and counted in ``meta["missing_pixels"]`` (refused when they are half the file), negative
intensities (clip them yourself, or pass ``clip_negative=True``, if your dark subtraction
leaves noise below zero), wavelengths that are not strictly monotonic (a decreasing axis is
reversed). Each failure is a :class:`~eftgan.errors.UserError` naming the file and the fix.

:func:`resample` puts a spectrum on a model's wavelength grid by linear interpolation and
refuses a file that does not cover the grid.
"""

from __future__ import annotations

import codecs
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from eftgan.errors import UserError


@dataclass
class Spectrum:
    """A spectrum read from a file: wavelengths (nm, as in the file: air unless the file says
    otherwise), intensities (the file's units), the file it came from and its header fields."""

    wavelength: np.ndarray  # nm
    intensity: np.ndarray
    source: str = ""
    meta: dict[str, Any] = field(default_factory=dict)


#: More points than any spectrometer records; a file that decompresses to more is refused.
MAX_POINTS = 2_000_000

_NUM = r"[-+]?(?:\d+(?:[.,]\d*)?|[.,]\d+)(?:[eE][-+]?\d+)?"


def _to_float(tok: str, decimal_comma: bool) -> float:
    return float(tok.replace(",", ".") if decimal_comma else tok)


def _split(line: str) -> list[str]:
    line = line.strip()
    if "\t" in line:
        return [t.strip() for t in line.split("\t") if t.strip()]
    if ";" in line:
        return [t.strip() for t in line.split(";") if t.strip()]
    if "," in line and not re.fullmatch(rf"\s*{_NUM}\s+{_NUM}.*", line):
        return [t.strip() for t in line.split(",") if t.strip()]
    return line.split()


def _two_columns(lines: list[str], name: str, decimal_comma: bool | None = None) -> np.ndarray:
    """(N, 2) wavelength and intensity from the lines of a text table. Lines before the
    first numbers are skipped; where the last of them is a header that names a wavelength
    column and an intensity column (:func:`_named_columns`), those two are read, else the
    first two."""
    rows = []
    header_done = False
    header: list[str] = []
    cols = (0, 1)
    single = 0  # lines of one number: a one-column file
    for i, raw in enumerate(lines):
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        toks = _split(raw)
        if len(toks) < 2:
            if header_done:
                raise UserError(f"{name}: line {i + 1} has fewer than two columns: {raw.strip()!r}")
            single += bool(re.fullmatch(_NUM, toks[0]))
            continue
        if not header_done:
            cols = _named_columns(header, len(toks)) or (0, 1)
        w, v = (toks[c] if c < len(toks) else "" for c in cols)
        dc = decimal_comma if decimal_comma is not None else ("," in w or "," in v)
        try:
            rows.append((_to_float(w, dc), _to_float(v, dc)))
            header_done = True
        except ValueError:
            if header_done:
                raise UserError(
                    f"{name}: line {i + 1} is not two numbers: {raw.strip()[:60]!r}"
                ) from None
            header = toks
    if not rows and single:
        raise UserError(f"{name} has one column; a spectrum needs two: wavelength and intensity")
    return np.array(rows, dtype=np.float64).reshape(-1, 2)


_WAVE = re.compile(r"\b(wave\w*|wavelength\w*|lambda|nm|wl)\b", re.IGNORECASE)
_INTENSITY = re.compile(
    r"\b(intensit\w*|counts?|signal|radiance|irradiance|spectrum|i|y)\b", re.IGNORECASE
)


def _named_columns(header: list[str], n_fields: int) -> tuple[int, int] | None:
    """``(wavelength column, intensity column)`` named by a header line of as many fields as
    the data and no digits outside its units in brackets (a metadata line such as ``Laser:
    Nd:YAG, 1064 nm`` is not one), where exactly one field names a wavelength (wave...,
    lambda, nm) and another an intensity (intensity, counts, radiance, ...), units in
    brackets aside; None otherwise."""
    header = [re.sub(r"[(\[].*?[)\]]", "", h) for h in header]  # "Wavelength (nm)"
    if len(header) != n_fields or any(ch.isdigit() for ch in "".join(header)):
        return None
    wave = [k for k, h in enumerate(header) if _WAVE.search(h)]
    inten = [k for k, h in enumerate(header) if _INTENSITY.search(h) and k not in wave]
    if len(wave) != 1 or not inten:
        return None
    return wave[0], inten[0]


def _ocean_optics(text: str, name: str) -> Spectrum:
    lines = text.splitlines()
    start = next(i for i, ln in enumerate(lines) if ">>>>>Begin" in ln)
    end = next((i for i, ln in enumerate(lines) if ">>>>>End" in ln and i > start), len(lines))
    meta: dict[str, Any] = {}
    for ln in lines[:start]:
        if ":" in ln:
            k, _, v = ln.partition(":")
            meta[k.strip()] = v.strip()
    data = _two_columns(lines[start + 1 : end], name)
    return Spectrum(data[:, 0], data[:, 1], name, meta)


# -- JCAMP-DX ---------------------------------------------------------------------------------
# ASDF pseudo-digits: SQZ (a value's first digit with its sign), DIF (a difference to the
# previous value), DUP (repeat count of the previous token).
_SQZ = {
    "@": 0,
    **{c: i + 1 for i, c in enumerate("ABCDEFGHI")},
    **{c: -(i + 1) for i, c in enumerate("abcdefghi")},
}
_DIF = {
    "%": 0,
    **{c: i + 1 for i, c in enumerate("JKLMNOPQR")},
    **{c: -(i + 1) for i, c in enumerate("jklmnopqr")},
}
_DUP = {**{c: i + 1 for i, c in enumerate("STUVWXYZ")}, "s": 9}


def _pseudo(c: str, digits: str, table: dict[str, int]) -> float:
    d = table[c]
    mag = float(f"{abs(d)}{digits}")
    return -mag if d < 0 else mag


def _decode_asdf_line(line: str) -> list[float]:
    """Values of one ``(X++(Y..Y))`` line (AFFN or ASDF): the X value first, then the Ys."""
    vals: list[float] = []
    last_dif: float | None = None  # the difference of the last DIF token, for DUP
    i = 0
    while i < len(line):
        c = line[i]
        if c in " \t,":
            i += 1
            continue
        j = i + 1
        if c in _SQZ or c in _DIF or c in _DUP:
            while j < len(line) and (line[j].isdigit() or line[j] == "."):
                j += 1
            digits = line[i + 1 : j]
            if c in _SQZ:
                vals.append(_pseudo(c, digits, _SQZ))
                last_dif = None
            elif c in _DIF:
                last_dif = _pseudo(c, digits, _DIF)
                vals.append(vals[-1] + last_dif)
            else:
                count = int(f"{_DUP[c]}{digits}")
                if count > MAX_POINTS:
                    raise ValueError(f"repeat count {count} exceeds {MAX_POINTS} points")
                for _ in range(count - 1):
                    vals.append(vals[-1] + last_dif if last_dif is not None else vals[-1])
            i = j
            continue
        m = re.match(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?", line[i:])
        if not m:
            raise ValueError(f"unexpected character {c!r}")
        vals.append(float(m.group(0)))
        last_dif = None
        i += m.end()
    return vals


def _jcamp_blocks(text: str, name: str) -> tuple[dict[str, str], tuple[str, str], list[str]]:
    """The labelled data records (``##KEY=value``, keys normalised), the data table's kind and
    form (``("XYDATA", "(X++(Y..Y))")``) and its lines."""
    ldr: dict[str, str] = {}
    block: list[str] = []
    mode = None
    for raw in text.splitlines():
        line = raw.split("$$", 1)[0].rstrip()
        if line.startswith("##"):
            key, _, val = line[2:].partition("=")
            key = re.sub(r"[\s_/-]", "", key).upper()
            if key in ("XYDATA", "XYPOINTS", "PEAKTABLE"):
                mode = (key, val.strip().replace(" ", ""))
                block = []
                continue
            if key == "END":
                break
            ldr[key] = val.strip()
            continue
        if mode is not None and line.strip():
            block.append(line)
    if mode is None or not block:
        raise UserError(f"{name}: JCAMP-DX file without ##XYDATA, ##XYPOINTS or ##PEAK TABLE")
    return ldr, mode, block


def _jcamp_xydata(
    block: list[str], ldr: dict[str, str], name: str
) -> tuple[np.ndarray, np.ndarray]:
    """Wavelengths (file units) and intensities of ``(X++(Y..Y))`` lines, AFFN or ASDF."""
    xf = float(ldr.get("XFACTOR", "1") or 1)
    yf = float(ldr.get("YFACTOR", "1") or 1)
    per_line: list[tuple[float, list[float], bool]] = []
    total = 0
    for line in block:
        try:
            vals = _decode_asdf_line(line)
        except (ValueError, IndexError, KeyError) as exc:
            raise UserError(f"{name}: cannot decode JCAMP-DX line {line!r} ({exc})") from None
        total += len(vals)
        if total > MAX_POINTS:
            raise UserError(f"{name}: JCAMP-DX data of more than {MAX_POINTS} points")
        if len(vals) < 2:
            continue
        is_dif = any(ch in _DIF for ch in line)
        if per_line and per_line[-1][2] and per_line[-1][1][-1] == vals[1]:
            per_line[-1][1].pop()  # DIF Y check value: the next line repeats it
        per_line.append((vals[0], vals[1:], is_dif))
    ys_arr = np.array([y for _, yv, _ in per_line for y in yv]) * yf
    if "NPOINTS" in ldr:
        ys_arr = ys_arr[: int(float(ldr["NPOINTS"]))]
    first = float(ldr["FIRSTX"]) if "FIRSTX" in ldr else per_line[0][0] * xf
    if "LASTX" in ldr:
        last = float(ldr["LASTX"])
    elif len(per_line) > 1:
        dx = (per_line[1][0] - per_line[0][0]) * xf / len(per_line[0][1])
        last = first + dx * (len(ys_arr) - 1)
    else:
        raise UserError(f"{name}: JCAMP-DX data without LASTX and with a single line")
    return np.linspace(first, last, len(ys_arr)), ys_arr


def _jcamp(text: str, name: str) -> Spectrum:
    ldr, (key, form), block = _jcamp_blocks(text, name)
    if key == "XYDATA" and "X++" in form:
        x_arr, ys_arr = _jcamp_xydata(block, ldr, name)
    else:
        xf = float(ldr.get("XFACTOR", "1") or 1)
        yf = float(ldr.get("YFACTOR", "1") or 1)
        pairs: list[float] = []
        for line in block:
            nums = re.findall(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?", line)
            pairs.extend(float(v) for v in nums)
        arr = np.array(pairs).reshape(-1, 2)
        x_arr, ys_arr = arr[:, 0] * xf, arr[:, 1] * yf
    unit = ldr.get("XUNITS", "NANOMETERS").upper()
    if "1/CM" in unit or "WAVENUMBER" in unit:
        x_arr = 1e7 / x_arr
    elif "MICRO" in unit or unit in ("UM", "µM"):
        x_arr = x_arr * 1e3
    elif "ANGSTROM" in unit:
        x_arr = x_arr / 10.0
    return Spectrum(x_arr, ys_arr, name, {k: v for k, v in ldr.items() if len(v) < 200})


_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def _decode(raw: bytes) -> str:
    """Text of a file: UTF-16 or UTF-32 when it starts with their byte-order mark, else UTF-8
    (with or without BOM), else latin-1 (which decodes any bytes)."""
    for bom, enc in _BOMS:
        if raw.startswith(bom):
            try:
                return raw.decode(enc)
            except UnicodeDecodeError:
                break
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _parse(text: str, head: str, name: str) -> Spectrum:
    """The spectrum of a file's text, in the format its content shows."""
    upper = text.upper()
    if re.search(r"^\s*##", head, re.M) and any(
        k in upper for k in ("##XYDATA", "##PEAK", "##XYPOINTS")
    ):
        return _jcamp(text, name)
    if ">>>>>Begin" in text:
        return _ocean_optics(text, name)
    data = _two_columns(text.splitlines(), name)
    return Spectrum(data[:, 0], data[:, 1], name)


def read_spectrum(path: str | os.PathLike[str], clip_negative: bool = False) -> Spectrum:
    """Read a spectrum file (format detected from its content) and check it."""
    p = Path(path)
    if not p.is_file():
        raise UserError(f"spectrum file {p} not found")
    raw = p.read_bytes()
    if not raw.strip():
        raise UserError(f"{p} is empty")
    text = _decode(raw)
    if "\x00" in text[:2048]:
        raise UserError(f"{p} is a binary file, not a text spectrum; export it as CSV or JCAMP-DX")
    head = text[:4096]
    try:
        with np.errstate(all="ignore"):  # overflows become inf, refused by check_spectrum
            spec = _parse(text, head, p.name)
    except StopIteration:
        raise UserError(f"{p}: unterminated data block") from None
    except UserError:
        raise
    except (ValueError, IndexError, KeyError, OverflowError, ZeroDivisionError) as exc:
        reason = " ".join(str(exc).split())[:120]
        raise UserError(
            f"{p}: cannot read the spectrum ({reason}); give a two-column CSV, an Ocean Optics "
            "text export or a JCAMP-DX file"
        ) from None
    spec.source = str(p)
    return check_spectrum(spec, clip_negative)


def check_spectrum(spec: Spectrum, clip_negative: bool = False) -> Spectrum:
    """Validate a spectrum (see the module docstring); returns it with an increasing axis."""
    name = spec.source or "spectrum"
    w = np.asarray(spec.wavelength, dtype=np.float64)
    y = np.asarray(spec.intensity, dtype=np.float64)
    if w.size < 2:
        raise UserError(f"{name} holds no spectrum (fewer than two data points)")
    if not np.isfinite(w).all():
        raise UserError(f"{name} contains NaN or infinite wavelengths; remove those rows")
    w, y = _drop_missing(spec, w, y)
    d = np.diff(w)
    if (d < 0).all():
        w, y = w[::-1], y[::-1]
    elif not (d > 0).all():
        k = int(np.flatnonzero(d <= 0)[0])
        raise UserError(
            f"{name}: wavelengths are not strictly increasing (at {w[k]:g} -> {w[k + 1]:g} nm); "
            "sort the file or remove repeated points"
        )
    if (y < 0).any():
        if not clip_negative:
            raise UserError(
                f"{name} has negative intensities (min {y.min():g}); a raw emission spectrum "
                "cannot; clip them (--clip-negative) if they are noise after dark subtraction"
            )
        y = np.clip(y, 0, None)
    spec.wavelength, spec.intensity = w, y
    return spec


def _drop_missing(spec: Spectrum, w: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The pixels that have an intensity; those without one are masked by leaving them out
    (the fit and the resampling see the axis around them) and counted in ``spec.meta``."""
    ok = np.isfinite(y)
    missing = int((~ok).sum())
    if missing * 2 >= len(y) or ok.sum() < 2:
        raise UserError(
            f"{spec.source or 'spectrum'}: {missing} of its {len(y)} pixels have no value (NaN "
            "or infinity); give a file with the measured values"
        )
    if missing:
        spec.meta["missing_pixels"] = missing
    return w[ok], y[ok]


def resample(spec: Spectrum, grid_nm: np.ndarray) -> np.ndarray:
    """Intensities of ``spec`` on ``grid_nm`` (linear interpolation); the file must cover it."""
    w = spec.wavelength
    half = 0.5 * float(np.median(np.diff(grid_nm)))
    if w[0] > grid_nm[0] + half or w[-1] < grid_nm[-1] - half:
        raise UserError(
            f"{spec.source or 'spectrum'} covers {w[0]:.1f}-{w[-1]:.1f} nm but the model needs "
            f"{grid_nm[0]:.1f}-{grid_nm[-1]:.1f} nm; use a file that spans the model's range"
        )
    return np.interp(grid_nm, w, spec.intensity)


def write_csv(path: Path, wavelength: np.ndarray, columns: dict[str, np.ndarray]) -> None:
    """Write ``wavelength_nm`` and named intensity columns atomically."""
    from eftgan.files import atomic_write_text

    names = list(columns)
    lines = [",".join(["wavelength_nm", *names])]
    mat = np.column_stack([wavelength, *[columns[n] for n in names]])
    lines += [",".join(f"{v:.6g}" for v in row) for row in mat]
    atomic_write_text(path, "\n".join(lines) + "\n")
