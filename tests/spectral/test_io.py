"""Spectrum files: the formats spectrometers write, and the mistakes users make."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from eftgan.errors import UserError
from spectral.io import _decode_asdf_line, read_spectrum, resample

WL = np.round(np.arange(300.0, 302.0, 0.25), 2)
Y = np.array([10.0, 12.5, 40.0, 11.0, 10.5, 9.75, 10.0, 10.25])


def write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("plain.csv", "\n".join(f"{w},{y}" for w, y in zip(WL, Y, strict=True))),
        (
            "header.csv",
            "wavelength,intensity\n" + "\n".join(f"{w},{y}" for w, y in zip(WL, Y, strict=True)),
        ),
        (
            "tabs.tsv",
            "nm\tcounts\tdark\n" + "\n".join(f"{w}\t{y}\t1" for w, y in zip(WL, Y, strict=True)),
        ),
        ("comma.txt", "\n".join(f"{w};{y}".replace(".", ",") for w, y in zip(WL, Y, strict=True))),
        (
            "spaces.dat",
            "# exported\n" + "\n".join(f"  {w}   {y}" for w, y in zip(WL, Y, strict=True)),
        ),
    ],
)
def test_two_column_text(tmp_path: Path, name: str, text: str) -> None:
    s = read_spectrum(write(tmp_path, name, text))
    assert np.allclose(s.wavelength, WL) and np.allclose(s.intensity, Y)


def test_ocean_optics_exports_with_decimal_commas(tmp_path: Path) -> None:
    body = "\n".join(f"{w}\t{y}".replace(".", ",") for w, y in zip(WL, Y, strict=True))
    spectrasuite = (
        "SpectraSuite Data File\n++++++++++++++++++++++++++++++++++++\n"
        "Date: Mon Mar 03 10:12:52 CET 2014\nUser: lab\nDark Spectrum Present: Yes\n"
        "Spectrometer Serial Number: HR4C1234\nIntegration Time (usec): 100000 (HR4C1234)\n"
        "Spectra Averaged: 10 (HR4C1234)\nNumber of Pixels in Processed Spectrum: 8\n"
        f">>>>>Begin Processed Spectral Data<<<<<\n{body}\n>>>>>End Processed Spectral Data<<<<<\n"
    )
    oceanview = (
        "Data from sample.txt Node\n\nDate: Tue Feb 02 11:51:08 CET 2021\nUser: lab\n"
        "Spectrometer: HR4C1234\nTrigger mode: 0\nIntegration Time (sec): 1,000000E-1\n"
        "Scans to average: 10\nNumber of Pixels in Spectrum: 8\n"
        f">>>>>Begin Spectral Data<<<<<\n{body}\n"
    )
    for name, text in (("ss.txt", spectrasuite), ("ov.txt", oceanview)):
        s = read_spectrum(write(tmp_path, name, text))
        assert np.allclose(s.wavelength, WL) and np.allclose(s.intensity, Y)
    assert read_spectrum(tmp_path / "ss.txt").meta["Spectra Averaged"].startswith("10")


def test_jcamp_dx_affn_and_asdf(tmp_path: Path) -> None:
    head = (
        "##TITLE=test\n##JCAMP-DX=4.24\n##DATA TYPE=UV/VIS SPECTRUM\n##XUNITS=NANOMETERS\n"
        "##YUNITS=COUNTS\n##XFACTOR=0.01\n##YFACTOR=0.25\n##FIRSTX=300\n##LASTX=301.75\n"
        "##NPOINTS=8\n##XYDATA=(X++(Y..Y))\n"
    )
    ints = (Y / 0.25).astype(int)  # 40 50 160 44 42 39 40 41
    affn = head + "30000 40 50 160 44\n30100 42 39 40 41\n##END=\n"
    # the same ordinates in DIF form; line 2 starts with the check value 44 of line 1
    asdf = head + "30000@40J0J10j16\n30075D4klJJ\n##END=\n"
    for name, text in (("a.jdx", affn), ("b.dx", asdf)):
        s = read_spectrum(write(tmp_path, name, text))
        assert np.allclose(s.wavelength, WL), name
        assert np.allclose(s.intensity, ints * 0.25), name
    assert _decode_asdf_line("1@A0U") == [1.0, 0.0, 10.0, 10.0, 10.0]


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("", "empty"),
        ("300,1\n", "fewer than two"),
        ("300,1\n301,nan\n302,inf\n", "2 of its 3 pixels have no value"),
        ("300,1\nnan,2\n302,3\n", "NaN or infinite wavelengths"),
        ("300,1\n301,-5\n302,3\n", "negative"),
        ("300,1\n302,2\n301,3\n", "not strictly increasing"),
        ("300,1\n300,2\n301,3\n", "not strictly increasing"),
        ("300,1\n301,2\nabc,3\n", "not two numbers"),
        ("intensity\n300\n301\n302\n", "has one column; a spectrum needs two"),
    ],
)
def test_bad_files(tmp_path: Path, text: str, needle: str) -> None:
    with pytest.raises(UserError, match=needle):
        read_spectrum(write(tmp_path, "bad.csv", text))


def test_pixels_without_a_value_are_left_out_and_counted(tmp_path: Path) -> None:
    s = read_spectrum(write(tmp_path, "dead.csv", "300,1\n301,nan\n302,3\n303,4\n"))
    assert np.allclose(s.wavelength, [300, 302, 303]) and np.allclose(s.intensity, [1, 3, 4])
    assert s.meta["missing_pixels"] == 1


@pytest.mark.parametrize(
    "lines",
    [
        ["intensity,wavelength", "5,300", "7,301"],
        ["counts\tnm", "5\t300", "7\t301"],
        ["I;lambda (nm)", "5;300", "7;301"],
        ["Spectral radiance (W/m2/sr/nm),Wavelength (nm)", "5,300", "7,301"],
        ["Pixel,Wavelength (nm),Intensity", "0,300,5", "1,301,7"],
        ["Wavelength (nm),Intensity (a.u.)", "300,5", "301,7"],
        ["Laser: Nd:YAG, 1064 nm", "300,5", "301,7"],  # metadata, not a header
        ["Pixel,Intensity (counts/nm)", "300,5", "301,7"],  # no wavelength named: as it comes
    ],
)
def test_a_header_that_names_the_columns_picks_them(tmp_path, lines) -> None:
    s = read_spectrum(write(tmp_path, "named.csv", "\n".join(lines) + "\n"))
    assert list(s.wavelength) == [300, 301] and list(s.intensity) == [5, 7]


def test_decreasing_axis_is_reversed_and_negative_clip(tmp_path: Path) -> None:
    s = read_spectrum(write(tmp_path, "d.csv", "302,1\n301,-2\n300,3\n"), clip_negative=True)
    assert list(s.wavelength) == [300, 301, 302] and list(s.intensity) == [3, 0, 1]


def test_resample_needs_coverage(tmp_path: Path) -> None:
    s = read_spectrum(write(tmp_path, "r.csv", "\n".join(f"{w},{w - 300}" for w in WL)))
    assert np.allclose(resample(s, np.array([300.5, 301.0])), [0.5, 1.0])
    with pytest.raises(UserError, match=r"covers 300\.0-301\.8 nm but the model needs"):
        resample(s, np.linspace(300, 700, 4001))
