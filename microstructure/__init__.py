"""microstructure: micrographs of cast Al-Si alloys, generated and judged by their statistics.

The chain, one module per step:

- :mod:`microstructure.synth`: synthetic optical micrographs with exact phase maps, from the
  Al-Si phase diagram (lever rule at the eutectic, 12.6 wt % Si) and a length scale set by the
  cooling rate (:func:`synthesize`, :func:`write_synth_folder`);
- :mod:`microstructure.augment`: the paper's augmentation (shift, shear, zoom, flips);
- :mod:`microstructure.dcgan`: the paper's DCGAN (64 x 64) and a variant conditioned on the
  Si content through the element registry of :mod:`eftgan.elements`;
- :mod:`microstructure.train`: resumable training into a model folder (:func:`train_dcgan`);
- :mod:`microstructure.generate`: images from a model folder, without the training code
  (:func:`load_generator`, :func:`generate_images`);
- :mod:`microstructure.metrics`: phase fraction, two-point correlation, lineal path and a
  Fréchet distance on them, the numbers that tell real micrographs from generated ones
  (:func:`compare_sets`);
- :mod:`microstructure.images`: reading folders of images, random crops, writing PNG.

Polycrystals: :mod:`microstructure.phasefield` (grain growth), :mod:`microstructure.grainio`
and :mod:`microstructure.assimilate` (snapshots and the ensemble Kalman filter of their
parameters), :mod:`microstructure.polycrystal` (rendered micrographs with exact boundaries),
:mod:`microstructure.segment`, :mod:`microstructure.grainsize` and
:mod:`microstructure.segscore` (grain segmentation, ASTM E112, scores) and
:mod:`microstructure.phaseseg` (phases of labelled real micrographs).

Gray levels are floats in [0, 1]; Si contents are wt %; lengths are pixels unless a name says
µm. Importing the package is cheap: each name below is imported from its module on first use.
"""

from __future__ import annotations

from eftgan.lazy import lazy_exports

#: Public name -> module that defines it.
_API: dict[str, str] = {
    "synthesize": "synth",
    "lever_rule": "synth",
    "phase_map": "synth",
    "write_synth_folder": "synth",
    "augment_batch": "augment",
    "augment_folder": "augment",
    "DCGANConfig": "dcgan",
    "Generator": "dcgan",
    "Discriminator": "dcgan",
    "condition_vector": "dcgan",
    "DCGANTrainConfig": "train",
    "train_dcgan": "train",
    "load_generator": "generate",
    "generate_images": "generate",
    "write_images": "generate",
    "compare_sets": "metrics",
    "compare_folders": "metrics",
    "two_point": "metrics",
    "lineal_path": "metrics",
    "frechet_distance": "metrics",
    "read_folder": "images",
    "write_png": "images",
}

__getattr__, __dir__, __all__ = lazy_exports(
    __name__, {name: f"microstructure.{module}" for name, module in _API.items()}
)
