"""Fuzzing the spectrum readers: every format ``spectral.io`` reads, mutated and broken.

A spectrum file of any content gives a checked :class:`spectral.io.Spectrum` (finite, at least
two points, strictly increasing wavelengths, no negative intensity) or a one-line UserError;
nothing is written beside it. See ``tests/fuzzing.py`` for the mutations.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from eftgan.errors import UserError
from spectral.io import read_spectrum, resample
from tests.fuzzing import check_reader, describe, fuzz_settings, mutated

WL = np.round(np.arange(300.0, 302.0, 0.25), 2)
Y = np.array([10.0, 12.5, 40.0, 11.0, 10.5, 9.75, 10.0, 10.25])
_ROWS = list(zip(WL, Y, strict=True))
_JCAMP_HEAD = (
    "##TITLE=test\n##JCAMP-DX=4.24\n##DATA TYPE=UV/VIS SPECTRUM\n##XUNITS=NANOMETERS\n"
    "##YUNITS=COUNTS\n##XFACTOR=0.01\n##YFACTOR=0.25\n##FIRSTX=300\n##LASTX=301.75\n"
    "##NPOINTS=8\n##XYDATA=(X++(Y..Y))\n"
)

#: One valid file of each format spectral.io reads.
SAMPLES: dict[str, str] = {
    "csv": "wavelength,intensity\n" + "\n".join(f"{w},{y}" for w, y in _ROWS) + "\n",
    "tsv": "nm\tcounts\tdark\n" + "\n".join(f"{w}\t{y}\t1" for w, y in _ROWS) + "\n",
    "semicolon_decimal_comma": "\n".join(f"{w};{y}".replace(".", ",") for w, y in _ROWS),
    "spaces": "# exported\n" + "\n".join(f"  {w}   {y}" for w, y in _ROWS) + "\n",
    "ocean_optics": (
        "SpectraSuite Data File\n++++++++++++++++++++++++++++++++++++\n"
        "Date: Mon Mar 03 10:12:52 CET 2014\nIntegration Time (usec): 100000 (HR4C1234)\n"
        "Spectra Averaged: 10 (HR4C1234)\n>>>>>Begin Processed Spectral Data<<<<<\n"
        + "\n".join(f"{w}\t{y}".replace(".", ",") for w, y in _ROWS)
        + "\n>>>>>End Processed Spectral Data<<<<<\n"
    ),
    "jcamp_affn": _JCAMP_HEAD + "30000 40 50 160 44\n30100 42 39 40 41\n##END=\n",
    "jcamp_asdf": _JCAMP_HEAD + "30000@40J0J10j16\n30075D4klJJ\n##END=\n",
    "jcamp_xypoints": (
        "##TITLE=t\n##JCAMP-DX=5.01\n##XUNITS=1/CM\n##XYPOINTS=(XY..XY)\n"
        "33333.3, 10\n33300.0, 12\n33250.5, 40\n33200, 11\n##END=\n"
    ),
    "jcamp_peak_table": (
        "##TITLE=t\n##JCAMP-DX=4.24\n##XUNITS=MICROMETERS\n##PEAK TABLE=(XY..XY)\n"
        "0.3000 10; 0.3005 12; 0.3010 40\n0.3015 11\n##END=\n"
    ),
}
NAMES = {"csv": "s.csv", "tsv": "s.tsv", "ocean_optics": "s.txt"}


def valid_spectrum(spec) -> str | None:
    """None for a checked spectrum, else what is wrong with it."""
    w, y = np.asarray(spec.wavelength), np.asarray(spec.intensity)
    if w.shape != y.shape or w.ndim != 1 or w.size < 2:
        return f"shapes {w.shape} and {y.shape}"
    if not (np.isfinite(w).all() and np.isfinite(y).all()):
        return "non-finite values"
    if not (np.diff(w) > 0).all():
        return "wavelengths not increasing"
    if (y < 0).any():
        return "negative intensity"
    return None


def test_samples_are_valid(tmp_path: Path) -> None:
    for fmt, text in SAMPLES.items():
        p = tmp_path / NAMES.get(fmt, f"{fmt}.dat")
        p.write_text(text)
        assert valid_spectrum(read_spectrum(p)) is None, fmt


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16", "utf-32", "latin-1", "cp1252"])
def test_encodings_with_a_byte_order_mark_read_the_same(tmp_path: Path, encoding: str) -> None:
    """A UTF-8 BOM no longer costs the first data point, and UTF-16/32 exports are read."""
    for fmt, text in SAMPLES.items():
        want = read_spectrum(_write(tmp_path / f"u8-{fmt}", text.encode()))
        got = read_spectrum(_write(tmp_path / f"{encoding}-{fmt}", text.encode(encoding)))
        assert np.array_equal(got.wavelength, want.wavelength), (fmt, encoding)
        assert np.array_equal(got.intensity, want.intensity), (fmt, encoding)


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_a_huge_repeat_count_is_refused_at_once(tmp_path: Path) -> None:
    """An ASDF repeat count of 900 million would have filled memory before the fix."""
    p = _write(tmp_path / "dup.jdx", (_JCAMP_HEAD + "30000@40Z99999999\n##END=\n").encode())
    with pytest.raises(UserError, match="exceeds"):
        read_spectrum(p)


def _read(data: bytes, name: str, clip: bool, grid: np.ndarray | None = None) -> None:
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / name
        p.write_bytes(data)

        def call():
            spec = read_spectrum(p, clip_negative=clip)
            if grid is not None:
                resample(spec, grid)
            return spec

        reader = "spectral.read_spectrum" + ("+resample" if grid is not None else "")
        check_reader(reader, call, Path(d), valid_spectrum, describe(data))


@fuzz_settings()
@given(
    st.sampled_from(sorted(SAMPLES)).flatmap(
        lambda fmt: st.tuples(st.just(fmt), mutated(SAMPLES[fmt].encode()))
    ),
    st.booleans(),
)
def test_fuzz_read_spectrum(case: tuple[str, bytes], clip: bool) -> None:
    fmt, data = case
    _read(data, NAMES.get(fmt, f"{fmt}.dat"), clip)


@fuzz_settings()
@given(mutated(SAMPLES["csv"].encode()), st.floats(299, 302), st.floats(0.01, 3))
def test_fuzz_read_and_resample(data: bytes, start: float, width: float) -> None:
    _read(data, "r.csv", True, np.linspace(start, start + width, 16))


@fuzz_settings()
@given(
    st.lists(
        st.text(
            alphabet="0123456789.+-eE @ABCDEFGHIabcdefghi%JKLMNOPQRjklmnopqrSTUVWXYZs", max_size=40
        ),
        min_size=1,
        max_size=6,
    )
)
def test_fuzz_jcamp_asdf_lines(lines: list[str]) -> None:
    """Compressed ordinates of any form, including repeat counts in the millions."""
    _read((_JCAMP_HEAD + "\n".join(lines) + "\n##END=\n").encode(), "a.jdx", False)
