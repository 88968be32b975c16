"""``spectral.diagnose``: Boltzmann plots on a simulated spectrum, and ``spectral diagnose``."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.spectral.test_refine import run


@pytest.fixture(scope="module")
def thin_steel(nist, tmp_path_factory):
    """An optically thin steel spectrum at 8000 K from the project's simulator."""
    from spectral.instrument import Conditions, Simulator, get_instrument
    from spectral.io import write_csv

    sim = Simulator(("Fe", "Cr", "Ni"), get_instrument("saca2021"), self_absorption=False)
    y = sim.simulate(np.array([[70.0, 18.0, 12.0]]), Conditions.fixed(1, 8000.0, 1e17))[0]
    path = tmp_path_factory.mktemp("diag") / "steel.csv"
    write_csv(path, sim.instrument.wavelength_nm, {"counts": np.asarray(y, float)})
    return path


def test_boltzmann_temperatures_of_a_thin_plasma(thin_steel):
    from spectral.diagnose import diagnose
    from spectral.io import read_spectrum

    report = diagnose(read_spectrum(thin_steel), ["Fe", "Cr", "Ni"], "air")
    fits = {(s["element"], s["stage"]): s for s in report["species"]}
    assert ("Fe", 1) in fits and ("Cr", 1) in fits
    for s in (fits[("Fe", 1)], fits[("Cr", 1)]):
        assert abs(s["temperature_k"] - 8000.0) < 0.15 * 8000.0, s["temperature_k"]
        assert len(s["y"]) >= 4 and s["sd_temperature_k"] > 0
        assert s["reliable"]  # a thin LTE plasma: straight lines at its temperature
    assert report["ne_source"] == "assumed"  # no hydrogen, no H-alpha
    missing = {(e, st) for e in ("Fe", "Cr", "Ni") for st in (1, 2)} - set(fits)
    assert sorted(report["no_plot"]) == sorted(f"{e} {'I' * st}" for e, st in missing)


def test_a_scattered_plot_is_not_called_reliable():
    from spectral.diagnose import reliable

    assert reliable(8000.0, 500.0, 0.9)
    assert not reliable(38879.0, 54661.0, 0.06)  # Ca I on a ChemCam spectrum
    assert not reliable(8000.0, 2500.0, 0.9)  # a good line, too few points to pin it
    assert not reliable(float("nan"), float("nan"), 0.0)  # no falling line


def test_cli_diagnose_writes_and_refuses_to_overwrite(thin_steel, tmp_path, capsys):
    out = tmp_path / "diag"
    args = ["spectral", "diagnose", str(thin_steel), "--elements", "Fe,Cr", "--out", str(out)]
    code, text, _ = run(capsys, *args, "--wavelengths", "air")
    assert code == 0 and "Fe I" in text
    report = json.loads((out / "diagnose.json").read_text())
    assert {s["element"] for s in report["species"]} >= {"Fe", "Cr"}
    assert (out / "boltzmann.png").stat().st_size > 10_000
    code, _, err = run(capsys, *args)
    assert code == 2 and "--force" in err


def test_halpha_density_inverts_the_stark_width():
    """A Lorentzian H-alpha of the width Gigosos et al. give for 2e17 cm^-3, seen through a
    narrow Gaussian instrument, reads back as about 2e17."""
    from spectral.diagnose import H_ALPHA_NM, halpha_density

    w_l = 1.098 * 2.0**0.67965  # nm, FWHM at 2e17 cm^-3
    wl = np.linspace(650.0, 662.0, 6001)
    y = 100.0 / (1.0 + ((wl - H_ALPHA_NM) / (w_l / 2)) ** 2) + 1.0
    ne = halpha_density(wl, y, fwhm_inst=0.05)
    assert ne is not None and abs(ne / 2e17 - 1.0) < 0.05
    assert halpha_density(wl, np.ones_like(wl), 0.05) is None  # no line, no density


def test_a_rising_plot_has_no_temperature_and_the_json_stays_strict(aalto, tmp_path, capsys):
    """On the measured pure Fe spectrum, with the Fe I lines that Cr's do not touch, the
    points rise with energy (self-absorbed strong lines): no temperature, written as null,
    never as NaN."""
    out = tmp_path / "fe"
    path = str(aalto / "Fe_spectrum.csv")
    args = ["spectral", "diagnose", path, "--elements", "Fe,Cr", "--out", str(out)]
    code, text, err = run(capsys, *args)
    assert code == 0, err
    assert "none (the points rise with energy)" in text

    def refuse(constant: str) -> None:
        raise ValueError(f"{constant} in diagnose.json")

    report = json.loads((out / "diagnose.json").read_text(), parse_constant=refuse)
    fe = next(s for s in report["species"] if (s["element"], s["stage"]) == ("Fe", 1))
    assert fe["temperature_k"] is None and not fe["reliable"]
