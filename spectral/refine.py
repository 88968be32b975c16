"""Model-based refinement: fit the LTE plasma model to the spectrum, starting from SACA.

SACA reads a composition in one forward pass. This module then does what calibration-free
LIBS does (CF-LIBS; Ciucci et al., Appl. Spectrosc. 53, 960 (1999)): it fits the plasma
model of :mod:`spectral.plasma` and the detector of :mod:`spectral.instrument` to the whole
spectrum, by weighted least squares, and reads the composition off the fit. SACA's
composition is where the fit starts; without a good start a fit of 19 parameters to 4001
pixels would have to search the composition space, with one it is a few Gauss-Newton steps.

Per spectrum, the parameters are

* the contents (wt %) of every element but the first, which is the balance (Fe in steels);
  kept at or above zero, and to a sum of at most :data:`MAX_CONTENTS_WT_PCT`;
* the plasma temperature, the log of the electron density and the wavelength shift;
* linear ones, solved exactly at every step: a polynomial of degree
  :data:`RESPONSE_DEGREE` in the pixel's place along the window that multiplies the model
  (the intensity, and a spectrometer response that differs smoothly from the preset's,
  intensity tilt included), and the baseline's offset and slope. So the fit needs neither
  the exposure, nor the dark level, nor the exact response.

The model of the counts is ``y = r(t) s(theta) + b0 + b1 t`` with ``s`` the detected
radiance (:meth:`~spectral.instrument.Simulator.detected`, without tilt) divided by its mean,
``t`` the pixel's place along the window (-1 to 1) and ``r`` the response polynomial. Each
pixel is weighted by ``1 / (r s + read_noise^2)``, the instrument's shot and read noise in
counts (the number of accumulated shots scales every weight of a spectrum alike, so it drops
out); pixels at the instrument's full scale are saturated and left out. The steps are
Levenberg-Marquardt ones with Marquardt's scaling, the Jacobian by forward differences, and
a content at zero that the step would make negative is held at zero for that step. The fit
starts from SACA's composition, the wavelength shift of the best cross-correlation with the
model, and the best temperature and density of a coarse grid; the weights are updated from
the fitted model after every step.

What it is worth: on simulated spectra the fit has the very model that made them, so it
shows what the spectra allow when the physics is right, and it comes near the Cramér-Rao
bound of :func:`spectral.validation.detection_bounds`. On a measured spectrum its errors are
those of the LTE model: a homogeneous plasma of the steel elements alone (no lines of N, O
or H from the air around a real plume), hydrogenic Stark widths, NIST's transition
probabilities, and the preset's instrument function. SACA, trained on the same
model, shares them; the fit's cost then says so, where SACA cannot. It takes about 0.06 s
per spectrum on two cores (``benchmarks/spectral_benchmark.py``), against about a
millisecond for the compact SACA.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

#: Forward-difference steps: contents above 0.5 wt %, contents below, and the conditions.
MAJOR_STEP_WT_PCT = 0.02
TRACE_STEP_WT_PCT = 0.002
CONDITION_STEPS = {"temperature_k": 20.0, "log_ne": 0.02, "shift_nm": 0.004}
#: Where the conditions are kept during the fit.
CONDITION_BOUNDS = {
    "temperature_k": (4000.0, 20000.0),
    "log_ne": (float(np.log(1e16)), float(np.log(3e18))),
    "shift_nm": (-1.0, 1.0),
}
#: Degree of the polynomial (in the pixel's place along the window) that multiplies the model:
#: the spectrometer's response relative to the preset's, and the intensity tilt.
RESPONSE_DEGREE = 3
#: The contents (wt %) are kept to at most this sum, so that the balance stays above zero.
MAX_CONTENTS_WT_PCT = 99.9
#: The starting grid of temperature (K) and electron density (cm^-3).
START_TEMPERATURES_K = (7000.0, 8000.0, 9000.0, 10000.0, 11000.0, 12000.0)
START_DENSITIES_CM3 = (6e16, 1.3e17, 2.6e17)
#: How far the starting shift is searched for, either way (nm).
SHIFT_SEARCH_NM = 0.5


@dataclass
class Refined:
    """The fitted compositions (wt %, rows sum to 100) with their standard errors, the fitted
    conditions, (N, ...) arrays, and the weighted residual sum of squares per pixel at the
    start and at the end of the fit (about ``1 / n_shots`` for a spectrum the model describes
    to within its noise)."""

    wt_pct: np.ndarray
    sd_wt_pct: np.ndarray  # standard errors of the contents (see :func:`refine`)
    temperature_k: np.ndarray
    ne_cm3: np.ndarray
    shift_nm: np.ndarray
    start_cost: np.ndarray
    cost: np.ndarray


def refine(
    sim: Any,
    counts: np.ndarray,
    wt_start: np.ndarray,
    iterations: int = 8,
    batch: int = 200,
    progress: bool = False,
) -> Refined:
    """Fit ``sim``'s model to detector ``counts`` (N, P), starting from compositions
    ``wt_start`` (N, E) in wt % over ``sim.elements`` (the first one the balance); see the
    module docstring. ``iterations`` Levenberg-Marquardt steps, ``batch`` spectra at a time.

    The standard errors are the square roots of the diagonal of ``s^2 (J^T W J)^-1``, with the
    Jacobian of the last step and ``s^2`` the weighted residual per degree of freedom (the
    weights leave out the number of accumulated shots, which ``s^2`` puts back); the balance
    element's is that of the sum of the others. They are the local, linear errors of a fit
    whose model is right."""
    from tqdm import tqdm

    counts = np.asarray(counts, dtype=np.float64)
    wt_start = np.asarray(wt_start, dtype=np.float64)
    if counts.ndim != 2 or counts.shape[1] != len(sim.instrument.wavelength_nm):
        raise ValueError(f"counts must be (N, {len(sim.instrument.wavelength_nm)})")
    if wt_start.shape != (len(counts), len(sim.elements)):
        raise ValueError(f"wt_start must be ({len(counts)}, {len(sim.elements)})")
    parts = []
    for s in tqdm(range(0, len(counts), batch), desc="refine", disable=not progress):
        sl = slice(s, s + batch)
        parts.append(_Fit(sim, counts[sl], wt_start[sl]).run(iterations))
    return Refined(
        *(np.concatenate([getattr(p, k) for p in parts]) for k in Refined.__dataclass_fields__)
    )


class _Fit:
    """One batch's Levenberg-Marquardt fit (see the module docstring)."""

    def __init__(self, sim: Any, counts: np.ndarray, wt_start: np.ndarray) -> None:
        self.sim = sim
        self.y = torch.from_numpy(counts)
        self.n_el = wt_start.shape[1] - 1
        self.read2 = float(sim.instrument.read_noise) ** 2
        # saturated pixels say only that the signal is at least full scale: left out
        self.valid = (self.y < sim.instrument.full_scale).double()
        tilt = sim.tilt.double()
        self.powers = (
            tilt[None, :] ** torch.arange(RESPONSE_DEGREE + 1, dtype=torch.float64)[:, None]
        )  # (degree + 1, P): 1, t, t^2, ...
        self.basis = (torch.ones_like(tilt), tilt)  # the baseline
        self.lower = torch.tensor(
            [0.0] * self.n_el + [v[0] for v in CONDITION_BOUNDS.values()], dtype=torch.float64
        )
        self.upper = torch.tensor(
            [100.0] * self.n_el + [v[1] for v in CONDITION_BOUNDS.values()], dtype=torch.float64
        )
        contents = torch.from_numpy(np.clip(wt_start[:, 1:], 0.0, None))
        # the counts above the spectrum's lowest: the signal, before there is a model
        self.signal = (self.y - self.y.amin(1, keepdim=True)).clamp(min=0)
        w = self._data_weights()
        shift = self._start_shift(contents)
        best_cost = torch.full((len(counts),), float("inf"), dtype=torch.float64)
        best = torch.zeros(len(counts), 3, dtype=torch.float64)
        for t in START_TEMPERATURES_K:
            for ne in START_DENSITIES_CM3:
                cond = torch.tensor([t, np.log(ne), 0.0], dtype=torch.float64)
                cond = cond.repeat(len(counts), 1)
                cond[:, 2] = shift
                cost = self._solve_linear(self._shape(torch.cat([contents, cond], 1)), w)[2]
                better = cost < best_cost
                best_cost = torch.where(better, cost, best_cost)
                best[better] = cond[better]
        self.theta = self._project(torch.cat([contents, best], 1))

    def _start_shift(self, contents: torch.Tensor) -> torch.Tensor:
        """Each spectrum's wavelength shift (nm) against the model at the start composition and
        the middle of the grid: the peak of their cross-correlation over whole pixels up to
        ``SHIFT_SEARCH_NM``, refined by a parabola through the peak and its neighbours."""
        b = len(contents)
        mid = torch.tensor([9500.0, np.log(1.3e17), 0.0], dtype=torch.float64)
        s = self._shape(torch.cat([contents, mid.repeat(b, 1)], 1))
        s = s - s.mean(1, keepdim=True)
        y = self.signal - self.signal.mean(1, keepdim=True)
        step = float(np.median(np.diff(self.sim.instrument.wavelength_nm)))
        k_max = max(1, int(round(SHIFT_SEARCH_NM / step)))
        lags = range(-k_max, k_max + 1)
        corr = torch.stack([(y * torch.roll(s, k, 1)).sum(1) for k in lags], 1)
        i = corr.argmax(1).clamp(1, len(lags) - 2)
        c0, c1, c2 = (corr.gather(1, (i + d)[:, None])[:, 0] for d in (-1, 0, 1))
        curv = c0 - 2 * c1 + c2
        frac = torch.where(curv < 0, 0.5 * (c0 - c2) / curv.clamp(max=-1e-300), 0.0)
        return ((i - k_max).double() + frac.clamp(-0.5, 0.5)) * step

    def _shape(self, theta: torch.Tensor) -> torch.Tensor:
        """``s(theta)``: the detected radiance divided by its mean, (B, P) float64."""
        from spectral.instrument import Conditions

        contents = theta[:, : self.n_el].numpy()
        balance = np.maximum(100.0 - contents.sum(1, keepdims=True), 1e-6)
        wt = np.concatenate([balance, contents], 1)
        b = len(wt)
        t, log_ne, shift = (theta[:, self.n_el + k].numpy() for k in range(3))
        zero, one = np.zeros(b), np.ones(b)
        cond = Conditions(t, np.exp(log_ne), shift, zero, one, one, zero)
        s = self.sim.detected(wt, cond).double()
        return s / s.mean(1, keepdim=True).clamp(min=1e-300)

    def _solve_linear(
        self, s: torch.Tensor, w: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The response polynomial and baseline that fit ``s`` to the counts best under
        weights ``w``: the coefficients (B, L), the model (B, P) and the weighted residual sum
        of squares (B,)."""
        x = self._design(s)
        xw = x * w[:, :, None]
        a = xw.transpose(1, 2) @ x
        rhs = (xw.transpose(1, 2) @ self.y[:, :, None])[:, :, 0]
        ridge = 1e-12 * torch.diagonal(a, dim1=1, dim2=2).clamp(min=1e-300)
        coef = torch.linalg.solve(a + torch.diag_embed(ridge), rhs)
        model = (x @ coef[:, :, None])[:, :, 0]
        return coef, model, (w * (self.y - model) ** 2).sum(1)

    def _design(self, s: torch.Tensor) -> torch.Tensor:
        """The linear parameters' columns (B, P, L): ``s`` times 1, t, t^2, ... (the response)
        and the baseline's 1 and t."""
        return torch.cat(
            [
                s[:, :, None] * self.powers.t()[None],
                torch.stack(self.basis, 1).expand(len(s), -1, -1),
            ],
            2,
        )

    def _response(self, coef: torch.Tensor) -> torch.Tensor:
        """The fitted response polynomial (B, P): what multiplies ``s``."""
        return coef[:, : RESPONSE_DEGREE + 1] @ self.powers

    def _weights(self, coef: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        """Shot and read noise of the model's counts; zero on saturated pixels."""
        return self.valid / ((self._response(coef) * s).clamp(min=0) + self.read2)

    def _data_weights(self) -> torch.Tensor:
        """The start's weights, with the counts above the spectrum's lowest as the signal."""
        return self.valid / (self.signal + self.read2)

    def _steps(self) -> torch.Tensor:
        c = self.theta[:, : self.n_el]
        contents = torch.where(c > 0.5, MAJOR_STEP_WT_PCT, TRACE_STEP_WT_PCT)
        cond = torch.tensor(list(CONDITION_STEPS.values()), dtype=torch.float64)
        return torch.cat([contents, cond.expand(len(c), -1)], 1)

    def run(self, iterations: int) -> Refined:
        n_par = self.theta.shape[1]
        s = self._shape(self.theta)
        w = self._data_weights()
        coef, _, _ = self._solve_linear(s, w)
        w = self._weights(coef, s)
        coef, _, cost = self._solve_linear(s, w)
        start_cost = cost.clone()
        lam = torch.full((len(s),), 1e-3, dtype=torch.float64)
        n_lin = RESPONSE_DEGREE + 3
        a = torch.eye(n_par + n_lin, dtype=torch.float64).repeat(len(s), 1, 1)
        for _ in range(iterations):
            h = self._steps()
            resp = self._response(coef)
            cols = []
            for k in range(n_par):
                up = self.theta.clone()
                up[:, k] += h[:, k]
                cols.append(resp * (self._shape(up) - s) / h[:, k : k + 1])
            design = self._design(s)
            jac = torch.cat([torch.stack(cols, 2), design], 2)  # (B, P, n_par + n_lin)
            model = (design @ coef[:, :, None])[:, :, 0]
            jw = jac * w[:, :, None]
            a = jw.transpose(1, 2) @ jac
            g = (jw.transpose(1, 2) @ (self.y - model)[:, :, None])[:, :, 0]
            step = self._damped_step(a, g, lam)
            trial = self._project(self.theta + step[:, :n_par])
            s_new = self._shape(trial)
            coef_new, _, cost_new = self._solve_linear(s_new, w)
            better = cost_new < cost
            self.theta = torch.where(better[:, None], trial, self.theta)
            s = torch.where(better[:, None], s_new, s)
            lam = torch.where(better, lam / 3.0, lam * 4.0)
            coef = torch.where(better[:, None], coef_new, coef)
            w = self._weights(coef, s)
            coef, _, cost = self._solve_linear(s, w)
        contents = self.theta[:, : self.n_el].numpy()
        wt = np.concatenate([100.0 - contents.sum(1, keepdims=True), contents], 1)
        cond = self.theta[:, self.n_el :].numpy()
        n_pix = self.valid.sum(1).clamp(min=a.shape[1] + 1)
        scale = cost / (n_pix - a.shape[1])
        ridge = 1e-12 * torch.diagonal(a, dim1=1, dim2=2).clamp(min=1e-300)
        cov = torch.linalg.inv(a + torch.diag_embed(ridge))[:, : self.n_el, : self.n_el]
        cov = cov * scale[:, None, None]
        var = torch.cat([cov.sum((1, 2))[:, None], torch.diagonal(cov, dim1=1, dim2=2)], 1)
        sd = var.clamp(min=0).sqrt().numpy()
        return Refined(
            wt,
            sd,
            cond[:, 0],
            np.exp(cond[:, 1]),
            cond[:, 2],
            (start_cost / n_pix).numpy(),
            (cost / n_pix).numpy(),
        )

    def _project(self, theta: torch.Tensor) -> torch.Tensor:
        """``theta`` within its bounds, the contents scaled down to sum to at most
        :data:`MAX_CONTENTS_WT_PCT`."""
        theta = torch.minimum(torch.maximum(theta, self.lower), self.upper)
        total = theta[:, : self.n_el].sum(1, keepdim=True)
        factor = (MAX_CONTENTS_WT_PCT / total.clamp(min=1e-300)).clamp(max=1.0)
        return torch.cat([theta[:, : self.n_el] * factor, theta[:, self.n_el :]], 1)

    def _damped_step(self, a: torch.Tensor, g: torch.Tensor, lam: torch.Tensor) -> torch.Tensor:
        """The Levenberg-Marquardt step, with each content at zero whose step would be
        negative held at zero (its row and column taken out of the system)."""
        n = a.shape[1]
        diag = torch.diagonal(a, dim1=1, dim2=2).clamp(min=1e-300)
        damped = a + torch.diag_embed(lam[:, None] * diag)
        free = torch.ones(a.shape[0], n, dtype=torch.bool)
        step = torch.zeros_like(g)
        for _ in range(3):
            m = (free[:, :, None] & free[:, None, :]).double()
            eye = torch.diag_embed((~free).double())
            step = torch.linalg.solve(damped * m + eye * diag[:, :, None], g * free)
            held = torch.zeros_like(free)
            held[:, : self.n_el] = (self.theta[:, : self.n_el] <= 0) & (step[:, : self.n_el] < 0)
            if not held.any():
                break
            free &= ~held
        return step * free
