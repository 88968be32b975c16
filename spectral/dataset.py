"""Training spectra for stainless steels with rare earths, from physics.

Compositions (wt %, Fe the balance) come half from real stainless grades (AISI/EN nominal
compositions, perturbed by 8 % relative plus 0.2 wt % absolute, Gaussian) and half uniformly
from the box Cr 10-26, Ni 0-22, Mo 0-7, Mn 0-2; in a fifth of the samples Mo, and in a tenth
Ni and Mn, are set to zero (ferritic and free-machining grades). Each rare earth (La, Ce, Nd,
Pr, Sm, Eu) is independently absent (35 %), near the detection limit (30 %, log-uniform
0.005-0.05 wt %) or at 0.05-0.5 wt % (35 %, uniform). Plasma and acquisition conditions are
drawn per spectrum (:meth:`spectral.instrument.Conditions.sample`): T 7000-12000 K, n_e
5e16-3e17 cm^-3 (log-uniform), shifts, drifts, exposure and accumulation.

The models read min-max scaled spectra (:func:`minmax`). Training-time augmentation
(:func:`augment`) adds the SACA paper's jitter (Gaussian noise of 0-1 % of full scale), wavelength
shift (up to one pixel, by linear interpolation) and intensity scaling (a random factor
0.9-1.1 applied before the min-max scaling would cancel it, so it is applied as a gentle
linear tilt). With ``keep_clean`` a set also holds each spectrum's noiseless counts and its
detector noise level, from which :func:`fresh_noise` draws a new acquisition of the same plasma
(``eftgan spectral train --noise fresh``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

#: Output elements of the steel models, in this order.
STEEL_ELEMENTS = ("Fe", "Cr", "Ni", "Mo", "Mn", "La", "Ce", "Nd", "Pr", "Sm", "Eu")
RARE_EARTHS = ("La", "Ce", "Nd", "Pr", "Sm", "Eu")
PRESENCE_WT_PCT = 0.01
#: The plasma length of the training spectra (m); see :class:`~spectral.instrument.Simulator`.
PLASMA_LENGTH_M = 1e-3

#: Nominal compositions (wt %) of stainless grades: Cr, Ni, Mo, Mn.
GRADES = {
    "304": (18.5, 9.0, 0.0, 1.5),
    "304L": (18.5, 10.0, 0.0, 1.5),
    "316": (17.0, 12.0, 2.5, 1.5),
    "316L": (17.0, 12.5, 2.3, 1.5),
    "317L": (19.0, 13.0, 3.5, 1.5),
    "321": (18.0, 10.5, 0.0, 1.5),
    "309": (23.0, 13.5, 0.0, 1.5),
    "310S": (25.0, 20.5, 0.0, 1.5),
    "409": (11.0, 0.3, 0.0, 0.7),
    "410": (12.5, 0.4, 0.0, 0.8),
    "420": (13.0, 0.3, 0.0, 0.8),
    "430": (17.0, 0.3, 0.0, 0.8),
    "444": (18.5, 0.3, 2.0, 0.7),
    "17-4PH": (15.5, 4.2, 0.0, 0.7),
    "2304": (23.0, 4.5, 0.3, 1.5),
    "2205": (22.5, 5.5, 3.2, 1.5),
    "2507": (25.0, 7.0, 4.0, 1.0),
    "904L": (20.0, 22.0, 4.5, 1.5),
    "254SMO": (20.0, 18.0, 6.2, 0.8),
}
RANGES = {"Cr": (10.0, 26.0), "Ni": (0.0, 22.0), "Mo": (0.0, 7.0), "Mn": (0.0, 2.0)}


def sample_compositions(n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` steel compositions in wt % over :data:`STEEL_ELEMENTS` (rows sum to 100)."""
    out = np.zeros((n, len(STEEL_ELEMENTS)))
    names = list(GRADES)
    major = ("Cr", "Ni", "Mo", "Mn")
    for i in range(n):
        if rng.random() < 0.5:
            nominal = np.array(GRADES[names[rng.integers(len(names))]])
            x = nominal * (1 + 0.08 * rng.standard_normal(4)) + 0.2 * rng.standard_normal(4)
            x = np.where(nominal == 0, 0.0, x)
        else:
            x = np.array([rng.uniform(*RANGES[e]) for e in major])
            if rng.random() < 0.2:
                x[2] = 0.0
            if rng.random() < 0.1:
                x[1] = 0.0
            if rng.random() < 0.1:
                x[3] = 0.0
        x = np.clip(
            x,
            [RANGES[e][0] if v > 0 else 0 for e, v in zip(major, x, strict=True)],
            [RANGES[e][1] for e in major],
        )
        out[i, 1:5] = x
        for j, _ in enumerate(RARE_EARTHS):
            u = rng.random()
            if u < 0.35:
                v = 0.0
            elif u < 0.65:
                v = float(np.exp(rng.uniform(np.log(0.005), np.log(0.05))))
            else:
                v = rng.uniform(0.05, 0.5)
            out[i, 5 + j] = v
        out[i, 0] = 100.0 - out[i, 1:].sum()
    return out


def minmax(x: np.ndarray | torch.Tensor) -> np.ndarray | torch.Tensor:
    """Scale each spectrum (last axis) to [0, 1]."""
    lo = x.min(-1, keepdims=True) if isinstance(x, np.ndarray) else x.amin(-1, keepdim=True)
    hi = x.max(-1, keepdims=True) if isinstance(x, np.ndarray) else x.amax(-1, keepdim=True)
    span = hi - lo
    span = np.where(span > 0, span, 1.0) if isinstance(x, np.ndarray) else span.clamp(min=1e-12)
    return (x - lo) / span


def augment(x: torch.Tensor, gen: torch.Generator, jitter: float = 0.01) -> torch.Tensor:
    """The SACA paper's jitter, shift and scaling on a batch of min-max scaled spectra (B, P); the
    jitter's standard deviation is drawn per spectrum from 0 to ``jitter`` of full scale."""
    b, p = x.shape
    shift = torch.rand(b, 1, generator=gen) * 2 - 1  # pixels
    pos = (torch.arange(p, dtype=x.dtype)[None, :] - shift).clamp(0, p - 1)
    i0 = pos.floor().long().clamp(max=p - 2)
    w = pos - i0
    x = x.gather(1, i0) * (1 - w) + x.gather(1, i0 + 1) * w
    tilt = (torch.rand(b, 1, generator=gen) * 0.2 - 0.1) * torch.linspace(-1, 1, p)[None, :]
    x = x * (1 + tilt)
    x = x + torch.randn(b, p, generator=gen) * torch.rand(b, 1, generator=gen) * jitter
    out = minmax(x)
    assert isinstance(out, torch.Tensor)
    return out


@dataclass
class SpectraSet:
    """Simulated spectra with their compositions and conditions."""

    spectra: np.ndarray  # (N, P) float32 counts
    wt_pct: np.ndarray  # (N, E)
    temperature_k: np.ndarray
    ne_cm3: np.ndarray
    # with ``keep_clean``: the noiseless counts (baseline included) and the detector noise's
    # standard deviation, so that training can draw fresh noise (:func:`fresh_noise`)
    clean: np.ndarray | None = None  # (N, P) float32
    noise_sd: np.ndarray | None = None  # (N, P) float32
    full_scale: float = float("inf")

    def sha256(self) -> str:
        """Hex SHA-256 of the spectra and compositions, bit for bit (the data's identity in
        a run's fingerprint and a model card)."""
        h = hashlib.sha256(np.ascontiguousarray(self.spectra).tobytes())
        h.update(np.ascontiguousarray(self.wt_pct).tobytes())
        return h.hexdigest()

    def subset(self, idx: np.ndarray) -> SpectraSet:
        """The spectra ``idx`` selects, with everything that belongs to them."""
        return SpectraSet(
            self.spectra[idx],
            self.wt_pct[idx],
            self.temperature_k[idx],
            self.ne_cm3[idx],
            None if self.clean is None else self.clean[idx],
            None if self.noise_sd is None else self.noise_sd[idx],
            self.full_scale,
        )


def fresh_noise(
    clean: torch.Tensor, sd: torch.Tensor, full_scale: float, gen: torch.Generator
) -> torch.Tensor:
    """New detector noise on noiseless counts (B, P): what the spectrometer would have
    recorded in another acquisition of the same plasma."""
    noise = torch.randn(clean.shape, generator=gen, dtype=clean.dtype)
    return (clean + sd * noise).clamp(0, full_scale)


def simulate_set(
    n: int,
    seed: int,
    instrument: str = "saca2021",
    shift_nm: float = 0.05,
    drift: float = 0.05,
    batch: int = 256,
    progress: bool = False,
    keep_clean: bool = False,
    length_m: float = PLASMA_LENGTH_M,
) -> SpectraSet:
    """``n`` simulated steel spectra, reproducible from ``seed``; with ``keep_clean`` also
    their noiseless counts and noise levels (the spectra are the same either way). A
    ``length_m`` other than the training spectra's gives plasmas with more (or less)
    self-absorption than any model here has seen."""
    from tqdm import tqdm

    from spectral.instrument import Conditions

    rng = np.random.default_rng(seed)
    sim = simulator(instrument, length_m)
    wt = sample_compositions(n, rng)
    cond = Conditions.sample(n, rng, shift_nm=shift_nm, drift=drift)
    shape = (n, len(sim.instrument.wavelength_nm))
    out = np.empty(shape, dtype=np.float32)
    clean = np.empty(shape, dtype=np.float32) if keep_clean else None
    sd = np.empty(shape, dtype=np.float32) if keep_clean else None
    for s in tqdm(range(0, n, batch), desc="simulate", disable=not progress, mininterval=1.0):
        sl = slice(s, min(n, s + batch))
        if clean is None or sd is None:
            out[sl] = sim.simulate(wt[sl], cond.subset(sl), rng)
        else:
            out[sl], clean[sl], sd[sl] = sim.acquire(wt[sl], cond.subset(sl), rng)
    return SpectraSet(
        out,
        wt.astype(np.float32),
        cond.temperature_k,
        cond.ne_cm3,
        clean,
        sd,
        float(sim.instrument.full_scale),
    )


_SIMS: dict[tuple[str, float], Any] = {}


def simulator(instrument: str = "saca2021", length_m: float = PLASMA_LENGTH_M) -> Any:
    """The steel :class:`~spectral.instrument.Simulator` of an instrument preset and plasma
    length (one per process)."""
    from spectral.instrument import Simulator, get_instrument

    key = (instrument, float(length_m))
    if key not in _SIMS:
        _SIMS[key] = Simulator(STEEL_ELEMENTS, get_instrument(instrument), length_m=length_m)
    return _SIMS[key]
