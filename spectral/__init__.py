"""spectral: optical-emission (OES/LIBS) spectra of alloys, from physics to compositions.

The package simulates emission spectra from first principles and reads compositions from
measured or simulated ones:

- :mod:`spectral.atomic`: NIST line lists, levels and ionization energies; air and vacuum
  wavelengths; partition functions.
- :mod:`spectral.plasma`: a homogeneous plasma in local thermodynamic equilibrium (Saha
  ionization balance, Boltzmann populations, line emissivities, self-absorption, continuum).
- :mod:`spectral.instrument`: spectrometer presets (pixel grid, resolution, response, noise)
  and the batch :class:`Simulator` from compositions to detector counts.
- :mod:`spectral.dataset`: training spectra of stainless steels with rare earths.
- :mod:`spectral.model`: SACA, a 1D ResNet reading compositions from raw spectra;
  :mod:`spectral.train` trains it (:class:`SACATrainConfig`, resumable), :mod:`spectral.predict`
  runs it, :mod:`spectral.calibration` recalibrates its outputs on known samples.
- :mod:`spectral.baselines`: PLS and univariate calibration curves.
- :mod:`spectral.io`: spectrum files (CSV/TSV text, Ocean Optics exports, JCAMP-DX).
- :mod:`spectral.identify`: peaks and the elements whose lines explain them.
- :mod:`spectral.refine`: a least-squares fit of the LTE model to each spectrum
  (calibration-free LIBS), started from SACA's composition.
- :mod:`spectral.analyze`: files to compositions, the path ``eftgan spectral analyze`` runs.
- :mod:`spectral.validation`: the simulator against measured spectra, and detection limits.

Wavelengths are in nm (air unless named ``*_vac``), contents in wt %. Element data come from
:mod:`eftgan`'s registry. ``import spectral`` is light: each name of ``__all__`` is imported from
its module when first used. Functions named like their module (``identify``, ``predict``,
``refine``) are imported from that module (``from spectral.predict import predict``), since the
package attribute of that name is the module.
"""

from __future__ import annotations

from eftgan.lazy import lazy_exports

#: The public API: name -> module that defines it.
_EXPORTS = {
    "analyze_files": "spectral.analyze",
    "load_atomic_data": "spectral.atomic",
    "air_to_vacuum": "spectral.atomic",
    "vacuum_to_air": "spectral.atomic",
    "PLSBaseline": "spectral.baselines",
    "UnivariateCalibration": "spectral.baselines",
    "calibrate": "spectral.calibration",
    "STEEL_ELEMENTS": "spectral.dataset",
    "SpectraSet": "spectral.dataset",
    "simulate_set": "spectral.dataset",
    "simulator": "spectral.dataset",
    "find_peaks": "spectral.identify",
    "INSTRUMENTS": "spectral.instrument",
    "Conditions": "spectral.instrument",
    "Instrument": "spectral.instrument",
    "Simulator": "spectral.instrument",
    "get_instrument": "spectral.instrument",
    "Spectrum": "spectral.io",
    "read_spectrum": "spectral.io",
    "resample": "spectral.io",
    "write_csv": "spectral.io",
    "SACA": "spectral.model",
    "SACAConfig": "spectral.model",
    "LTEPlasma": "spectral.plasma",
    "load_saca": "spectral.predict",
    "predict_logits": "spectral.predict",
    "SACATrainConfig": "spectral.train",
    "train_saca": "spectral.train",
}

__getattr__, __dir__, __all__ = lazy_exports(__name__, _EXPORTS)
