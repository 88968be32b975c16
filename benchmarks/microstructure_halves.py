"""microstructure: the default GAN judged as issue 20 judges it, one real micrograph at a time.

Protocol (fixed before the run); merges ``"real": {"super1_halves": ...}`` into
benchmarks/results/microstructure.json:

* data: each of the 4 Super1 test micrographs (512 x 512 SEM images of a Ni superalloy,
  normalised to their 1st-99th gray-level percentiles as in ``microstructure_real.py``),
  split into a left and a right half (256 columns each);
* training: ``micro train`` defaults (the ``spatial`` recipe, 600 iterations, seed 0; since
  the ``super1_init`` rule below was met, started from the shipped start model
  ``sngan-super1-v1``, before from random weights) on 256 random 64 x 64 crops of the left
  half, written as image files, as a user would give them;
* scores (``micro evaluate --phases two``): 256 generated images against 256 random crops of
  the right half, with the floor (256 random crops of the left half against the same right
  crops: what two real sets of the same micrograph differ by);
* goals (issue 20, checked there on real micrographs the project does not have; this is the
  same check on micrographs it has): phase-fraction error <= 0.03, s2_mae <= 0.02, diversity
  >= 0.8 times the real crops' and no collapse warning; and the 600 iterations in <= 600 s.
  The recipe was fixed before this run (on Super1's validation split, by
  ``microstructure_real.py``); no setting is chosen here;
* ``--split val --arm NAME``: the same on the 4 validation micrographs with the settings of
  :data:`ARMS`, from random weights unless the arm says otherwise
  (``real.super1_halves_val.<arm>``), where a larger network or batch for the
  time the goal leaves is to be chosen: the lower mean over the micrographs of
  ``pf error / 0.03 + s2_mae / 0.02 + texture FD / its floor`` (the score of
  ``microstructure_real.py``), fixed before the run. An arm that scores lower than the
  defaults becomes the ``spatial`` recipe's only after the synthetic benchmark's goals are
  re-measured with it.
* tried and taken out, a tone curve (record ``real.super1_halves_val.tone_curve``): each
  unconditional gray model also held the quantiles of its generator's gray levels and of
  its training images', and generation mapped gray levels through them (histogram-matched
  texture synthesis). The rule, written before its validation run: every model scored from
  the same networks and noise with and without the curve; the curve stays in the defaults
  if its mean validation score is lower than without it and no micrograph's diversity
  ratio falls below 0.8 that was above it; the test halves are then read once more.
  Written after the run: 12.08 with the curve, 7.91 without (the default arm's figures,
  reproduced exactly); the phase-fraction error rose on 3 of the 4 micrographs. The curve
  and its code were taken out and the test halves were not read again.
* ``--arm pixel_noise``: the generator with per-pixel noise inputs
  (:class:`microstructure.sngan.SpatialConfig`), added after the samples were seen to lack
  the small tertiary particles. Rule, written before its validation run: it becomes the
  ``spatial`` recipe's if its mean validation score is lower than the defaults' (7.91) and
  no micrograph's diversity ratio falls below 0.8 or warns of collapse; then the synthetic
  benchmark's goals are re-measured with it and the test halves are read once more.
  Written after the run: 10.34 against 7.91. The particles came out a little larger
  (median area 7-10 pixels against 6-8; real 10-15), but the phase-fraction and S2 errors
  rose on 3 of the 4 micrographs. The defaults stay; the option stays in
  :class:`microstructure.sngan.SpatialConfig` (off) so that this record can be reproduced.
* ``--seed K``: the training seed (weights, the order of the crops, the noise; default 0,
  record ``<arm>_seed<K>`` for K other than 0). Every arm above was run at seed 0 only; the
  defaults at seeds 1 and 2 on the validation halves say how far the score moves with the
  seed alone, and so how much of each arm's difference from the defaults it can explain.
  Nothing is chosen from them. Written after them: 24.51 and 19.96 against seed 0's 7.91.
  Then ``lr2x``, the arm closest to the defaults at seed 0 (8.09), at seeds 1 and 2; rule
  written before those runs: it replaces the defaults only if its mean over seeds 0-2 is
  lower than theirs by more than twice the standard error of the difference of the two
  means (each mean's from its three scores), and the synthetic benchmark's goals hold
  with it; otherwise both means are reported and the defaults stay. Written after them:
  ``lr2x`` 8.09, 17.39 and 7.61 (mean 11.0) against the defaults' 17.5; the difference,
  6.4, is 1.1 standard errors (5.9), short of two, so the defaults stay. Then both at
  seeds 3 and 4, to settle it; rule written before those runs: the same test over seeds 0-4
  (five scores each), ``lr2x`` replacing the defaults only if its mean is lower by more
  than twice the standard error of the difference and the synthetic benchmark's goals hold
  with it (a second look at one comparison raises the chance of a false win a little; the
  bar stays at two). Written after them: the defaults 10.78 and 10.82, ``lr2x`` 7.08 at
  seed 3; over seeds 0-4 and 0-3 the difference is 4.8, 1.2 standard errors (4.0), and no
  score of ``lr2x`` at seed 4 could bring it to two (a score of 0 gives 1.6): the
  defaults stay. ``lr2x`` at seed 4, run after that to complete the record: 11.98; over
  seeds 0-4 the difference is 4.4, 1.2 standard errors (3.7).
* ``--arm super1_init``: the defaults started from a model instead of random weights
  (``micro train --init``): the default recipe trained for 1500 iterations on the 10
  normalised micrographs of Super1's train split (seed 0; not counted in the 600 s; shipped
  since as ``data/models/sngan-super1-v1``, whose card holds the command that rebuilds it
  bit for bit; the runs below read the same weights from a cache folder). Added because the
  scores above move more with the seed (7.9-24.5 for the defaults) than with any setting,
  and the samples lack the micrograph's large-scale shapes after 600 iterations from random
  weights; a generator that already draws SEM micrographs should need fewer steps to draw
  one more and depend less on its random start. It is trained on the same alloy and
  microscope as the validation and test micrographs, so what it gains here may not carry
  over to the issue's micrographs of other alloys. Rule, written before its first run: it
  replaces the defaults (as a shipped model that ``micro train`` starts from where the
  architecture matches) only if over seeds 0-4 its mean validation score is lower than the
  defaults' (14.8) by more than twice the standard error of the difference, no micrograph
  warns of collapse or falls below a diversity ratio of 0.8, and the test halves are then
  read once; seed 0 is run first, and the other seeds only if its score is below the
  defaults' mean. Written after the runs: 6.13, 6.16, 5.50, 5.55 and 5.92 at seeds 0-4 (mean
  5.85, standard deviation 0.31) against the defaults' 14.8 (7.1): 8.9 lower, 2.8 standard
  errors (3.2); diversity ratios 0.89-1.26, no warning; all goals on 11 of 20
  micrograph-seeds against 4 of 20. The rule is met: the model is shipped, ``micro train``
  starts from it where the architecture matches (``--init auto``), and the test halves were
  then read once with the new defaults (``real.super1_halves``; the read of the
  random-weight defaults before it is kept as ``real.super1_halves_random_init``).
* ``--split alsi``: the same on 2 synthetic dendritic Al-Si micrographs (``eftgan micro
  synth`` physics: Al-7Si and Al-10Si, 512 pixels, 10 K/s, seeds 0 and 1; record
  ``alsi_halves.<arm>``) with the arms ``default`` (random weights) and ``super1_init``
  (the shipped start model: the new defaults), seed 0: whether a start learned on SEM
  micrographs of a Ni superalloy carries over to micrographs of another alloy and look
  (the issue's hidden check is a dendritic Al alloy, and no real one is in ../shared).
  Rule, written before the run: simulated micrographs decide nothing about real ones, so
  the default does not change with this; if the start model scores higher (worse) than
  random weights here, the documentation says so beside ``--init none``. Written after the
  run: 10.93 from the start model against 9.42 from random weights (all goals on 0 of 2
  either way: phase-fraction errors 0.032-0.036); the phase-fraction error and s2_mae
  are within 0.002 of each other, the texture FD higher from the start model on Al-10Si
  (526 against 422). One seed and two micrographs: the difference is small beside the
  spread over seeds seen on Super1, but the start shows no gain here, and the docs say so.
* ``--arm histogram``: the defaults (from the start model) with a gray-level term in G's loss,
  the Wasserstein-1 distance between the generated and the real batch's gray levels
  (:func:`microstructure.train.gray_level_distance`), weight 10. Added because the samples
  miss their training half's phase fraction: by -0.01 to -0.04 on Super1's validation
  halves (every arm above; the floor's generated side is the training half's crops) and by
  +0.03 on both synthetic Al-Si halves, which fail the goal on that alone while their floor
  is 0.001-0.002. The weight was set on the synthetic Al-7Si halves (random start, seed 0):
  phase-fraction error 0.030 without the term, 0.028 at weight 1, 0.006 at weight 10. On
  Super1 the two halves of a micrograph differ by 0.008-0.043 in phase fraction, as much as
  the goal, so the score against the other half cannot show a generator that reproduces
  its training half more faithfully, only one that is worse. Rule, written before its
  validation runs (seeds 0-4, all run): it becomes the ``spatial`` recipe's only if (1) the
  training-half phase-fraction error (mean over the micrographs of |generated - training
  half's crops|, ``training_half_pf_error``) is lower than ``super1_init``'s over seeds 0-4
  by more than twice the standard error of the difference, (2) its mean validation score
  is not higher than ``super1_init``'s (5.85) by more than twice that standard error, and
  (3) no micrograph warns of collapse or falls below a diversity ratio of 0.8; then the
  synthetic conditional goals are re-measured with it, the ``--split alsi`` halves are
  read, and the test halves are read once. Written after the runs: validation scores
  10.46, 11.07, 9.70, 9.78 and 11.18 (mean 10.44, standard deviation 0.69) against
  ``super1_init``'s 5.85 (0.31): 4.6 higher, 13.5 standard errors, so (2) fails; the
  texture FD doubled on the first two micrographs (667-954 against 278-417, 425-583
  against 199-228). The training-half phase-fraction error fell from 0.0123 to 0.0094
  (0.0056-0.0137), 1.7 standard errors, short of (1). All goals on 6 of 20
  micrograph-seeds against 11 of 20; no warning, diversity 0.90-1.33. The defaults stay;
  the term stays as an option (``micro train --histogram``, off). The runs were stopped
  once after seed 1 and restarted at seed 2 (the rule says all five seeds run, and they
  did). ``--split alsi --arm histogram`` was then run to record what the option does
  where the halves agree (simulated, so it decides nothing).
* tried and taken out, a fixed target for the term (record
  ``real.super1_halves_val.histogram_levels``, commit aa5441f): each folder's gray-level
  quantiles read once from 512 random crops instead of the real batch beside the
  generated one, whose chance histogram (32 crops) the generator is pulled onto at every
  step; added because the texture FD doubled with the batch target, and a target that
  moves from step to step was one candidate cause. Rule, written before its first run:
  seed 0 first; seeds 1-4 only if seed 0 scores below the batch target's lowest (9.70);
  then the ``histogram`` rule against ``super1_init``. Written after it: 12.66 (texture
  FD 1048 on the first micrograph), training-half error 0.0116. Not run further; the
  code went back to the batch target, so ``--arm histogram`` reproduces its record.
* ``--arm histogram3``: the batch target at weight 3 instead of 10, in case a lighter pull
  keeps the texture. Rule, written before its first run: seed 0 first; seeds 1-4 only if
  seed 0 scores below 6.5 (``super1_init``'s seeds scored 5.50-6.16) with a training-half
  error below 0.0101 (their lowest); then the ``histogram`` rule (1)-(3) and its sequel.
  Written after it: 7.10 (texture FD 495 and 276 on the first two micrographs, against
  ``super1_init``'s 278-417 and 199-228), training-half error 0.0090; not run further.

* ``--arm lr4x_init``: the defaults (from the start model) with both learning rates four
  times the recipe's (G 0.0004, D 0.0016; the two time scales kept). Added after hand runs
  on the synthetic Al-Si halves (``/tmp`` scripts, not in the JSON; 600 iterations from the
  start model, scored on the right half as here): the phase-fraction error fell from 0.026
  (seed 0) and 0.037 (seed 1) to 0.007 and 0.016 on Al-7Si and from 0.033 to 0.016 on
  Al-10Si (seed 0), the texture FD from 512 / 768 / 599 to 320 / 511 / 144, and the dark
  particles came out as thin curved needles instead of smudges; at twice the rates 0.022
  on Al-7Si, at batch 64 0.022 in 2.4 times the time. The average of G's weights (decay
  0.99) carries the gain: the last G at four times the rates was at 0.024 / 0.031. Rule,
  written before its validation runs: seed 0 first, seeds 1-4 only if seed 0 scores below
  6.5 (``super1_init``'s seeds scored 5.50-6.16); it then replaces the recipe's rates only
  if over seeds 0-4 (1) its mean validation score is not higher than ``super1_init``'s
  (5.85) by more than twice the standard error of the difference, (2) all goals are met on
  at least as many micrograph-seeds (11 of 20), (3) no micrograph warns of collapse or
  falls below a diversity ratio of 0.8, and (4) ``--split alsi --arm lr4x_init`` at seeds
  0-2 meets all goals on at least 5 of the 6 micrograph-seeds (the defaults: 0 of 2 at
  seed 0). Simulated micrographs decide nothing alone, so (4) can only keep the change
  out, and (1)-(3) ask that Super1 lose nothing. Then the synthetic conditional goals are
  re-measured with it and the test halves are read once. Written after it: 6.52 (all goals
  on 1 of 4 micrographs, against 2 of 4 for ``super1_init`` at seed 0; training-half
  phase-fraction error 0.020 against 0.012 over ``super1_init``'s seeds); the texture FD
  fell on the first micrograph (250 against 417) and rose on the other three (294, 210,
  430 against 211, 134, 113). Not run further. ``--split alsi --arm lr4x_init`` was then
  run to record the hand runs' seed 0 (the same figures, bit for bit): score 3.37 against
  10.93 from the start model at the recipe's rates, all goals on 2 of 2 against 0.
* ``--arm one_lr_init``: the defaults (from the start model) with one learning rate
  (0.0002) for both networks, the two time scales taken out. Added because the recipe's
  stabilisers were kept as set from the literature after a one-seed ablation from random
  weights (``microstructure_real.py``) that could not separate them (one learning rate
  scored 3.8 there against 7.1, while the defaults' seeds spread over 7.9-24.5); from the
  start model the seed spread is ten times smaller (standard deviation 0.31), so five
  seeds can now tell. Rule, written before its runs: seeds 0-4 are all run; the two time
  scales leave the recipe only if the mean validation score is lower than
  ``super1_init``'s (5.85) by more than twice the standard error of the difference, all
  goals are met on at least as many micrograph-seeds (11 of 20), and no micrograph warns
  of collapse or falls below a diversity ratio of 0.8; then the synthetic conditional
  goals are re-measured, the ``--split alsi`` halves are read and the test halves are read
  once. Otherwise the two time scales stay, now for a reason measured on validation
  micrographs. The ``super1_init`` runs were made on the older machine; its seed 0 on
  this one scored 6.04 against 6.13. Written after the runs: 5.50, 5.88, 5.72, 6.10 and
  5.73 (mean 5.79, standard deviation 0.22) against 5.85 (0.31): 0.06 lower, 0.4 standard
  errors; all goals on 10 of 20 micrograph-seeds against 11; training-half phase-fraction
  error 0.011 against 0.012; no warning, diversity 0.89-1.31. One learning rate is no
  better from the start model, so the two time scales stay. (Seed 0's training times,
  163-197 s, are high: it shared the 2 cores with tests.)
* ``--arm no_ema_init``: the moving average of G's weights, tested from the start model.
  The runs are the defaults' (``super1_init``'s settings), scored twice: on the last G
  (the rows) and on the averaged G that the recipe keeps (``averaged_g`` in each row,
  ``val_score_averaged_g``), so that the two are compared on the same runs and machine.
  The collapse watch and its warnings are the run's, which look at the averaged G. Added
  because the average was kept from the literature after a one-seed ablation from random
  weights (``microstructure_real.py``, ``no_ema``) that could not separate it. Rule,
  written before its runs: seeds 0-4 are all run; the average leaves the recipe only if the
  last G's mean validation score is lower than the averaged G's by more than twice the
  standard error of the mean paired difference (five differences), all goals are met on
  at least as many micrograph-seeds, and no micrograph falls below a diversity ratio of
  0.8; then the synthetic conditional goals are re-measured, the ``--split alsi`` halves
  are read and the test halves are read once. Otherwise it stays, for a reason measured on
  validation micrographs. The averaged G at seed 0 should reproduce
  ``super1_init_second_machine`` (6.04, this machine).
  Written after the runs: the averaged G reproduced 6.04 at seed 0 bit for bit, and scored
  6.04, 6.02, 5.70, 5.60 and 5.97 (mean 5.87, standard deviation 0.20); the last G 5.42,
  8.66, 7.99, 7.03 and 5.80 (mean 6.98, 1.38): 1.1 higher, 1.7 standard errors of the paired
  difference (0.65); all goals on 9 of 20 micrograph-seeds against 11; no warning, diversity
  0.87-1.35. The average stays.
* ``--arm no_augment_init``: the defaults from the start model without differentiable
  augmentation (run after ``no_ema_init``). Rule, written before its runs: seeds 0-4 are
  all run; augmentation leaves the recipe only if the mean validation score is lower than
  that of the averaged G of the ``no_ema_init`` runs (the defaults on this machine) by more
  than twice the standard error of the difference (each mean's from its five scores), all
  goals are met on at least as many micrograph-seeds, and no micrograph warns of collapse
  or falls below a diversity ratio of 0.8; then the same sequel as above. Otherwise it
  stays, for a reason measured on validation micrographs.
  Written after the runs: 8.20, 7.82, 7.74, 7.79 and 8.14 (mean 7.94, standard deviation
  0.22) against 5.87 (0.20): 2.1 higher, 15.7 standard errors; all goals on 9 of 20
  micrograph-seeds against 11; no warning, diversity 0.92-1.37. Without augmentation the
  texture FD rose on three of the four micrographs (on the first, 496-578 over the seeds
  against 279-409), while the training-half phase-fraction error fell (0.0089 against
  0.0118, 2.0 standard errors). Augmentation stays.
* ``--arm no_sn_init``: spectral normalisation, which ``no_ema_init`` and the arms before
  it could not take out of a start model that has it: a start model trained as the shipped
  one (its card's command, 1500 iterations on the normalised train split, seed 0) without
  spectral norm, kept in ``benchmarks/.cache/sngan-super1-nosn`` and not counted in the
  600 s, then the defaults without spectral norm fine-tuned from it. What is compared is
  the pipeline with and without spectral norm, the start model included. Rule, written
  before its runs: seed 0 first; seeds 1-4 only if seed 0 scores below 6.5 (the averaged
  G of the ``no_ema_init`` runs, the defaults on this machine, scored 5.60-6.04); then
  spectral norm leaves the recipe only under the ``no_augment_init`` rule (against the
  same runs). A run that collapses scores inf.
  Written after the runs: the start model trained in 255 s without a warning (diversity 0.95
  at the end); then 6.06, 6.60, 6.11, 6.24 and 6.22 (mean 6.25, standard deviation 0.21)
  against 5.87 (0.20): 0.38 higher, 2.9 standard errors; all goals on 1 of 20 micrograph-
  seeds against 11: s2_mae 0.035 against 0.027 and phase-fraction error 0.029 against 0.023
  (means over the 20), the texture FD the same (202 against 202); no warning, diversity
  0.93-1.23; training 9 % faster (108 s against 119 s). Spectral norm stays.

    python benchmarks/microstructure_halves.py [--iters 600] [--split val --arm width32]
        [--seed 0] [--split alsi --arm super1_init]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from _common import (
    REPO,
    machine,
    merge_json,
    protocol_text,
    training_half_pf_error,
    val_score,
)
from microstructure_real import N_EVAL, SUPER1, normalized, score

from eftgan.paths import START_MODELS

N_TRAIN_CROPS = 256
#: The model ``--arm super1_init`` starts from: ``micro train``'s shipped start model.
START_MODEL = REPO / "data" / "models" / START_MODELS["dcgan"]


def no_sn_start_model() -> Path:
    """The start model of ``--arm no_sn_init``: trained as ``sngan-super1-v1``'s card says
    (the 10 normalised Super1 train micrographs, 1500 iterations, seed 0, random weights),
    without spectral normalisation; written once into the benchmark cache, then kept."""
    from microstructure.train import train_dcgan

    folder = REPO / "benchmarks" / ".cache" / "sngan-super1-nosn"
    if not (folder / "weights.safetensors").is_file():
        train_dcgan([normalized("train")], folder, iters=1500, seed=0, init="none",
                    spectral_norm=False, progress=False)  # fmt: skip
    return folder


#: Settings compared on the validation micrographs (``--split val``); each starts from random
#: weights (``init`` none) unless it says otherwise, as the defaults did when the arms ran.
ARMS: dict[str, dict[str, Any]] = {
    "default": {},
    "width32": {"width": 32},
    "batch64": {"batch_size": 64},
    # both learning rates doubled (the two time scales kept): 600 steps may be too few for
    # the recipe's rates, and a faster rate costs no time
    "lr2x": {"lr": 2e-4, "lr_d": 8e-4},
    # one learning rate (0.0002) for both networks: the arm that scored best when the
    # stabilisers were taken out one at a time (microstructure_real.py), kept out then
    # because one seed could not separate it
    "one_lr": {"lr": 2e-4, "lr_d": 2e-4},
    # per-pixel noise inputs in the generator (StyleGAN's): the samples lack the small
    # tertiary particles, detail finer than the 16-pixel noise field, and their particles
    # are half the real median area
    "pixel_noise": {"pixel_noise": True},
    # fine-tuned from a model trained on Super1's train split (the shipped start model)
    "super1_init": {"init": str(START_MODEL)},
    # the defaults with G's gray-level term (microstructure.train.gray_level_distance)
    "histogram": {"init": str(START_MODEL), "histogram": 10.0},
    "histogram3": {"init": str(START_MODEL), "histogram": 3.0},
    # both learning rates four times the recipe's, from the start model: on the synthetic
    # Al-Si halves the averaged G reached the training phase fraction in 600 steps
    "lr4x_init": {"init": str(START_MODEL), "lr": 4e-4, "lr_d": 1.6e-3},
    # one learning rate for both networks, from the start model: the stabiliser the
    # one-seed ablation from random weights questioned most
    "one_lr_init": {"init": str(START_MODEL), "lr": 2e-4, "lr_d": 2e-4},
    # the defaults' runs scored on their last G instead of the moving average of its weights
    # (``weights`` is the generator scored, not a training setting); each row also holds
    # the same run's averaged G, for a paired comparison on one machine
    "no_ema_init": {"init": str(START_MODEL), "weights": "g_raw"},
    # the defaults without differentiable augmentation, from the start model
    "no_augment_init": {"init": str(START_MODEL), "augment": False},
    # no spectral norm anywhere: a start model trained as the shipped one without it, then
    # fine-tuned without it (the model is made when the arm runs)
    "no_sn_init": {"init": no_sn_start_model, "spectral_norm": False},
}
#: Si contents (wt %) of the synthetic micrographs of ``--split alsi``.
ALSI_WT_PCT = (7.0, 10.0)
GOALS = {"phase_fraction_error": 0.03, "s2_mae": 0.02, "diversity_ratio": 0.8, "train_s": 600.0}


def alsi_folder() -> Path:
    """The synthetic Al-Si micrographs of ``--split alsi`` (written once, kept)."""
    from microstructure.images import write_png
    from microstructure.synth import synthesize

    folder = REPO / "benchmarks" / ".cache" / "micro_halves_alsi"
    if not folder.is_dir():
        folder.mkdir(parents=True)
        for seed, si in enumerate(ALSI_WT_PCT):
            write_png(folder / f"al{si:g}si.png", synthesize(si, 512, 10.0, seed=seed)[0])
    return folder


def halves(img: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The left and right halves of an image (columns split in two)."""
    mid = img.shape[1] // 2
    return img[:, :mid], img[:, mid:]


def one_micrograph(
    path: Path, iters: int, root: Path, settings: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Train on crops of the left half of ``path``, score on the right half; ``weights`` in
    ``settings`` names the generator scored (:func:`microstructure.generate.load_generator`)."""
    from microstructure.generate import generate_images, load_generator, write_images
    from microstructure.images import random_crops, read_gray
    from microstructure.train import TrainingCollapsed, train_dcgan

    settings = dict(settings or {})
    weights = settings.pop("weights", "g")
    left, right = halves(read_gray(path, 1))
    folder = root / f"{path.stem}_left"
    crops = random_crops([left], N_TRAIN_CROPS, 64, np.random.default_rng(0))[:, 0]
    write_images(folder, crops, prefix="crop")
    t0 = time.perf_counter()
    try:
        run = train_dcgan(
            [folder], root / f"{path.stem}_model", iters=iters, progress=False, **settings
        )
    except TrainingCollapsed as e:  # the defaults stop a collapsed run: a goal missed
        return {"collapsed": str(e), "train_s": time.perf_counter() - t0, "goals_met": {}}
    wall = time.perf_counter() - t0
    real_right = list(random_crops([right], N_EVAL, 64, np.random.default_rng(1))[:, 0])
    real_left = list(random_crops([left], N_EVAL, 64, np.random.default_rng(2))[:, 0])

    def scored(which: str) -> dict[str, Any]:
        g, _ = load_generator(root / f"{path.stem}_model", which)
        return score(real_right, list(generate_images(g, N_EVAL, seed=1)))

    row = scored(weights)
    if weights != "g":  # the same run's averaged G beside it
        row["averaged_g"] = scored("g")
    row["floor"] = score(real_right, real_left)
    row["train_s"] = wall
    row["warnings"] = run["history"].get("warnings", [])
    row["goals_met"] = {
        "phase_fraction_error": row["phase_fraction_error"] <= GOALS["phase_fraction_error"],
        "s2_mae": row["s2_mae"] <= GOALS["s2_mae"],
        "diversity": row["diversity_ratio"] >= GOALS["diversity_ratio"],
        "no_collapse_warning": not row["warnings"],
        "train_s": wall <= GOALS["train_s"],
    }
    return row


def halves_score(row: dict[str, Any]) -> float:
    """The validation score of one micrograph (that of ``microstructure_real.py``, against
    this micrograph's floor; lower is better); a collapse scores inf."""
    if "collapsed" in row:
        return float("inf")
    return val_score(row, row["floor"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--iters", type=int, default=600)
    ap.add_argument("--split", choices=("test", "val", "alsi"), default="test")
    ap.add_argument("--arm", choices=tuple(ARMS), default="default")
    ap.add_argument("--seed", type=int, default=0, help="training seed (default 0)")
    args = ap.parse_args()
    torch.set_num_threads(2)
    if not SUPER1.is_dir():
        raise SystemExit(f"Super1 micrographs not found at {SUPER1}")
    t0 = time.perf_counter()
    from microstructure.images import image_files

    images = image_files(alsi_folder() if args.split == "alsi" else normalized(args.split))
    arm = {"init": "none", **ARMS[args.arm]} if args.split != "test" else {}
    arm = {k: str(v()) if callable(v) else v for k, v in arm.items()}
    settings = {**arm, **({"seed": args.seed} if args.seed else {})}
    with tempfile.TemporaryDirectory() as tmp:
        rows = {p.stem: one_micrograph(p, args.iters, Path(tmp), settings) for p in images}
    met = [bool(r["goals_met"]) and all(r["goals_met"].values()) for r in rows.values()]
    report = {
        "protocol": protocol_text(__doc__),
        "iters": args.iters,
        "goals": GOALS,
        "arm": {args.arm: settings},
        "seed": args.seed,
        "micrographs": rows,
        "all_goals_met": sum(met),
        "n_micrographs": len(rows),
        "benchmark_wall_s": time.perf_counter() - t0,
        "machine": machine(),
    }
    if args.split != "test":
        report["val_score"] = float(np.mean([halves_score(r) for r in rows.values()]))
        if all("averaged_g" in r for r in rows.values()):
            report["val_score_averaged_g"] = float(
                np.mean([val_score(r["averaged_g"], r["floor"]) for r in rows.values()])
            )
        report["training_half_pf_error"] = float(
            np.mean([training_half_pf_error(r) for r in rows.values()])
        )
        name = args.arm + (f"_seed{args.seed}" if args.seed else "")
        where = ("real", "super1_halves_val") if args.split == "val" else ("alsi_halves",)
        keys: tuple[str, ...] = (*where, name)
    else:
        keys = ("real", "super1_halves")
    print(merge_json("microstructure.json", keys, report))
    print(json.dumps(rows, indent=1, default=float)[:6000])


if __name__ == "__main__":
    main()
