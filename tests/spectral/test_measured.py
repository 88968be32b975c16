"""Reading a measured wavelength axis: segments, air or vacuum, calibration offsets."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from spectral.atomic import air_to_vacuum
from spectral.measured import calibrate_spectrum, read_axis, segments

BHVO2 = Path(__file__).resolve().parents[3] / "shared" / "reference" / "libs_bhvo2"


def test_segments_cut_at_gaps_and_leave_interleaved_pixels_out() -> None:
    a = 300.0 + 0.07 * np.arange(1000)  # 300-370 nm
    mix = np.sort(np.r_[370.1 + 0.05 * np.arange(40), 370.103 + 0.05 * np.arange(40)])
    b = 372.5 + 0.14 * np.arange(800)  # after the interleaved stretch
    c = b[-1] + 5.0 + 0.14 * np.arange(300)  # after a 5 nm gap
    sl = segments(np.r_[a, mix, b, c])
    bounds = [(s.start, s.stop) for s in sl]
    assert len(sl) == 3 and bounds[0][0] == 0 and 1000 <= bounds[0][1] <= 1002
    assert 1078 <= bounds[1][0] <= 1081 and bounds[1][1] == 1080 + 800
    assert bounds[2] == (1880, 2180)


@pytest.fixture(scope="module")
def steel(steel_sim) -> tuple[np.ndarray, np.ndarray]:
    from spectral.dataset import simulate_set

    return steel_sim.instrument.wavelength_nm, simulate_set(1, 3).spectra[0]


def test_an_air_file_reads_as_air_and_its_vacuum_twin_as_vacuum(steel, steel_sim) -> None:
    from spectral.io import Spectrum

    wl, y = steel
    cands = steel_sim.elements
    _, air = calibrate_spectrum(Spectrum(wl, y), candidates=cands)
    assert (air.frame, air.decided) == ("air", True), air.summary()
    se = air.offset_se_nm["air"]
    assert 0 < se < 0.03 and f"air {air.offset_rms_nm['air']:.3f} +/- {se:.3f} nm" in air.summary()
    assert abs(air.segments[0].offset_nm) < 0.03  # the simulated shift, up to 0.05 nm
    vac_wl = air_to_vacuum(wl) + 0.04  # and 0.04 nm off its calibration
    spec, vac = calibrate_spectrum(Spectrum(vac_wl, y), candidates=cands)
    assert (vac.frame, vac.decided) == ("vacuum", True), vac.summary()
    shift = air.segments[0].offset_nm
    assert vac.segments[0].offset_nm == pytest.approx(0.04 + shift, abs=0.015)
    np.testing.assert_allclose(spec.wavelength, wl - shift, atol=0.015)
    forced = read_axis(wl, y, ["Fe", "Cr", "Ni"], frame="vacuum")
    assert forced.frame == "vacuum" and "vacuum" in forced.summary()


def test_a_flat_spectrum_decides_nothing(steel_sim) -> None:
    wl = steel_sim.instrument.wavelength_nm
    axis = read_axis(wl, np.full(wl.shape, 100.0), steel_sim.elements)
    assert not axis.decided and "NOT decided" in axis.summary()
    assert axis.segments[0].offset_nm == 0.0


def test_offsets_within_their_standard_errors_leave_the_frame_undecided() -> None:
    """Two readings whose offsets differ by less than two standard errors of the difference
    are not told apart, however their ratio looks: at low resolution a few blended lines can
    favour the wrong one (a simulated pure Cr spectrum in vacuum wavelengths was read as air
    with offsets 0.013 against 0.058 nm, standard errors 0.039 and 0.045 nm)."""
    from spectral.measured import decide

    rms = {"air": 0.013, "vacuum": 0.058}
    assert decide(rms) == ("air", True)  # by ratio and size alone
    assert decide(rms, {"air": 0.039, "vacuum": 0.045}) == ("air", False)
    assert decide(rms, {"air": 0.008, "vacuum": 0.009}) == ("air", True)


def test_the_measured_files_are_in_vacuum(aalto, nist) -> None:
    from spectral.io import read_spectrum

    files = [aalto / "Fe_spectrum.csv", aalto / "Ni_spectrum.csv"]
    if BHVO2.is_dir():
        files += sorted(BHVO2.glob("chemcam_*.csv"))[:1] + sorted(BHVO2.glob("supercam_*.csv"))[:1]
    for f in files:
        spec, axis = calibrate_spectrum(read_spectrum(f, clip_negative=True))
        assert (axis.frame, axis.decided) == ("vacuum", True), (f.name, axis.summary())
        assert axis.offset_rms_nm["vacuum"] < 0.08 and spec.meta["wavelength_frame"] == "vacuum"
        assert np.all(np.diff(spec.wavelength) > 0)


def test_a_given_frame_that_the_lines_contradict_is_said(aalto, nist) -> None:
    """``--wavelengths air`` on a file in vacuum wavelengths: read as given, and the axis
    names the frame its lines clearly fit better, for ``analyze`` to warn."""
    from spectral.io import read_spectrum

    spec = read_spectrum(aalto / "Fe_spectrum.csv", clip_negative=True)
    _, given = calibrate_spectrum(spec, "air")
    assert (given.frame, given.lines_frame) == ("air", "vacuum")
    _, right = calibrate_spectrum(spec, "vacuum")
    assert right.lines_frame is None
