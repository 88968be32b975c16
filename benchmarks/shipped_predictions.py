"""Reference predictions of the four shipped models, the proof that a change kept their outputs.

Each shipped default model (``eftgan.paths.DEFAULT_MODELS``) is run on small fixed inputs:

- ECNet on the example structures in ``data/examples`` (read with pymatgen, phase from the
  file name or the neighbour shells, as ``eftgan predict`` does);
- the EFTGAN Screener on three compositions, both phases, 16 noise draws, seed 0;
- SACA on three spectrum-like arrays built with NumPy from a seed (a baseline and Gaussian
  lines on the model's wavelength grid), so that the check does not depend on the plasma
  simulator; the SHA-256 of the inputs is recorded, so that a change of NumPy's random stream
  is told apart from a change of the model;
- the conditional GAN: two images at 7 wt % Si, seed 0, summarised (mean, standard
  deviation, per-image means and a few pixels).

``tests/test_shipped_models.py`` loads each model through ``eftgan.load`` and compares with
the values this script stores in ``tests/data/shipped_predictions.json``. The script runs at
any commit: it uses the model-folder API (``eftgan.load``, ``spectral.predict``,
``microstructure.generate``) where the checkout has it and the training modules' loaders
where it does not::

    python benchmarks/shipped_predictions.py            # writes tests/data/shipped_predictions.json
    python benchmarks/shipped_predictions.py --out -    # prints instead
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "tests" / "data" / "shipped_predictions.json"
EXAMPLES = ROOT / "data" / "examples"
EXAMPLE_FILES = ("CoCrNi_random.vasp", "Fe3Cr_random_bcc.cif", "FeNiCoCrMn_sqsfcc.vasp")
COMPOSITIONS = ("FeNiCoCrMn", "Fe0.7Cr0.2Ni0.1", "CoCrNiPd")
SCREENER_DRAWS = 16
SPECTRUM_SEED = 17
N_SPECTRA = 3
DCGAN_SI_WT_PCT = 7.0
#: (image, row, column) of the pixels recorded from the generated micrographs.
PIXELS = ((0, 0, 0), (0, 31, 17), (0, 63, 63), (1, 5, 40), (1, 32, 32), (1, 60, 9))


def ecnet_predictions(model: Any) -> dict[str, Any]:
    """The ECNet's four targets (physical units) and resolved phase for each example file."""
    from pymatgen.core import Structure

    paths = [EXAMPLES / name for name in EXAMPLE_FILES]
    structures = [Structure.from_file(p) for p in paths]
    rows = model.predict_structures(structures, names=[p.name for p in paths])
    return {row["structure"]: {k: v for k, v in row.items() if k != "structure"} for row in rows}


def eftgan_predictions(screener: Any) -> dict[str, Any]:
    """The Screener's table for :data:`COMPOSITIONS` (both phases): one dict per row."""
    df = screener.predict(list(COMPOSITIONS), n_z=SCREENER_DRAWS, seed=0)
    rows = []
    for rec in df.to_dict(orient="records"):
        rows.append({k: _plain(v) for k, v in rec.items()})
    return {"rows": rows}


def saca_spectra(wavelength_nm: dict[str, Any], seed: int = SPECTRUM_SEED) -> np.ndarray:
    """``N_SPECTRA`` spectrum-like arrays (counts, float32) on the model's wavelength grid:
    a sloping baseline plus 80 Gaussian lines (0.03-0.15 nm wide) with log-normal heights."""
    rng = np.random.default_rng(seed)
    x = np.linspace(wavelength_nm["first"], wavelength_nm["last"], wavelength_nm["n"])
    out = np.empty((N_SPECTRA, x.size), dtype=np.float32)
    for i in range(N_SPECTRA):
        centres = rng.uniform(x[0], x[-1], 80)
        widths = rng.uniform(0.03, 0.15, 80)
        heights = rng.lognormal(6.0, 1.2, 80)
        lines = heights[:, None] * np.exp(
            -0.5 * ((x[None, :] - centres[:, None]) / widths[:, None]) ** 2
        )
        baseline = 200.0 + 100.0 * (x - x[0]) / (x[-1] - x[0])
        out[i] = baseline + lines.sum(0) + rng.normal(0.0, 5.0, x.size)
    return out


def saca_predictions(model: Any, config: dict[str, Any], predict: Callable) -> dict[str, Any]:
    """wt % and presence probabilities of the SACA model for :func:`saca_spectra`."""
    spectra = saca_spectra(config["model"]["wavelength_nm"])
    wt, presence = predict(model, spectra)
    elements = list(config["model"]["saca"]["elements"])
    return {
        "elements": elements,
        "input_sha256": hashlib.sha256(spectra.tobytes()).hexdigest(),
        "wt_pct": np.asarray(wt, dtype=np.float64).tolist(),
        "presence": np.asarray(presence, dtype=np.float64).tolist(),
    }


def dcgan_predictions(generator: Any, generate: Callable) -> dict[str, Any]:
    """Summary of two generated images at :data:`DCGAN_SI_WT_PCT` wt % Si, seed 0."""
    images = np.asarray(generate(generator, 2, DCGAN_SI_WT_PCT, seed=0), dtype=np.float64)
    return {
        "shape": list(images.shape),
        "mean": float(images.mean()),
        "std": float(images.std()),
        "image_means": images.mean(axis=(1, 2)).tolist(),
        "pixels": [[i, r, c, float(images[i, r, c])] for i, r, c in PIXELS],
    }


def _plain(v: Any) -> Any:
    """A NumPy scalar as the plain Python value JSON writes."""
    return v.item() if isinstance(v, np.generic) else v


def model_api() -> dict[str, Any]:
    """The loaded shipped models and the functions that run them, from the API this checkout
    has: ``eftgan.load`` with ``spectral.predict`` and ``microstructure.generate`` where they
    exist, the training modules' loaders otherwise."""
    import eftgan
    from eftgan.paths import shipped_models_dir

    dirs = {kind: shipped_models_dir() / name for kind, name in _default_names().items()}
    if hasattr(eftgan, "load"):
        from microstructure.generate import generate_images
        from spectral.predict import predict

        load = eftgan.load
    else:
        from eftgan.explore import Screener
        from microstructure.train import generate_images, load_generator
        from spectral.train import load_saca, predict

        old = {"ecnet": eftgan.load_model, "eftgan": Screener.load}
        old.update(saca=load_saca, dcgan=load_generator)
        load = lambda folder: old[_kind(folder)](folder)  # noqa: E731
    return {
        "models": {kind: load(folder) for kind, folder in dirs.items()},
        "predict": predict,
        "generate_images": generate_images,
        "source": eftgan.__file__,
    }


def _default_names() -> dict[str, str]:
    """Default model folder names by kind (from ``eftgan.paths`` where the checkout has them)."""
    try:
        from eftgan.paths import DEFAULT_MODELS

        return dict(DEFAULT_MODELS)
    except ImportError:
        return {
            "ecnet": "ecnet-fenicocrmnpd-v1",
            "eftgan": "eftgan-fenicocrmnpd-v2",
            "saca": "saca-compact-steel-v10",
            "dcgan": "dcgan-alsi-conditional-v2",
        }


def _kind(folder: Path) -> str:
    return str(json.loads((Path(folder) / "config.json").read_text())["kind"])


def predictions(api: dict[str, Any]) -> dict[str, Any]:
    """Every recorded prediction, keyed by model kind, from :func:`model_api`'s result."""
    models = api["models"]
    saca, saca_config = models["saca"]
    generator, _ = models["dcgan"]
    return {
        "ecnet": ecnet_predictions(models["ecnet"]),
        "eftgan": eftgan_predictions(models["eftgan"]),
        "saca": saca_predictions(saca, saca_config, api["predict"]),
        "dcgan": dcgan_predictions(generator, api["generate_images"]),
    }


def main(argv: list[str] | None = None) -> None:
    """Compute the reference predictions and write them as JSON (``--out -`` prints them)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(DEFAULT_OUT), help="JSON file, or - for stdout")
    args = parser.parse_args(argv)
    import torch

    torch.set_grad_enabled(False)
    api = model_api()
    print(f"eftgan from {api['source']}", file=sys.stderr)
    payload = {"models": _default_names(), **predictions(api)}
    text = json.dumps(payload, indent=1) + "\n"
    if args.out == "-":
        sys.stdout.write(text)
    else:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text)
        print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
