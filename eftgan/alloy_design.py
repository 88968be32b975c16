"""Alloy design: which compositions to compute or cast next, with EFTGAN as the prior.

The candidates are the compositions of a simplex grid of the chosen elements (or a given
pool), the observations a CSV of element fractions and a measured or computed target. A
Gaussian process on the fractions is fitted in one of three ways:

- ``none``: on the target itself (as :mod:`eftgan.design` does);
- ``mean``: on the target minus the shipped EFTGAN's prediction, which is added back, so the
  prediction is the GP's prior mean and the data correct it where they disagree;
- ``feature``: with the EFTGAN prediction as one more input, so the GP may use it or not.

``prior="eftgan"`` picks ``mean`` or ``feature``, whichever predicts the observations better
in 5-fold cross-validation (mean absolute error); both errors and that of ``none`` are
reported. The batch maximises qLogEI over the candidates (each used once), and the
suggestions carry the model's mean and std with the prior and without it.
"""

from __future__ import annotations

import functools
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from eftgan.errors import UserError

__all__ = [
    "AlloySuggestion",
    "cross_validate",
    "eftgan_prior",
    "grid_candidates",
    "read_alloy_observations",
    "suggest_alloys",
]

MODES = ("none", "mean", "feature")
FOLDS = 5


def grid_candidates(elements: list[str], step: float = 0.05) -> pd.DataFrame:
    """Every composition of ``elements`` on a simplex grid of ``step`` (fractions)."""
    from eftgan.composition import simplex_grid

    return pd.DataFrame(np.concatenate(list(simplex_grid(elements, step))), columns=elements)


@functools.cache
def _shipped_screener() -> Any:
    """The shipped EFTGAN, loaded once per process (priors of observed and candidate rows)."""
    from eftgan.explore import Screener

    return Screener.load()


def eftgan_prior(frame: pd.DataFrame, elements: list[str], target: str, phase: str) -> np.ndarray:
    """The shipped EFTGAN's prediction of ``target`` for each row of fractions."""
    screener = _shipped_screener()
    comps = [dict(zip(elements, row, strict=True)) for row in frame[elements].to_numpy(float)]
    pred = screener.predict(comps, phase=phase)
    if target not in pred.columns:
        raise UserError(f"EFTGAN predicts no {target!r}; targets: {', '.join(pred.columns[2:])}")
    return pred[target].to_numpy(float)


def read_alloy_observations(
    path: str, elements: list[str], target: str, phase: str | None = None
) -> pd.DataFrame:
    """Rows of ``path`` (element fractions, ``target``, optionally ``phase``) as checked
    observations: fractions summing to 1, finite targets, rows of other phases left out."""
    try:
        frame = pd.read_csv(path)
    except (OSError, ValueError) as exc:
        raise UserError(f"cannot read {path} ({' '.join(str(exc).split())[:100]})") from None
    missing = [c for c in [*elements, target] if c not in frame.columns]
    if missing:
        raise UserError(f"{path} lacks the column(s) {', '.join(missing)}")
    if phase is not None and "phase" in frame.columns:
        frame = frame[frame["phase"].astype(str) == phase]
    frame = frame[[*elements, target]].apply(pd.to_numeric, errors="coerce")
    lines = frame.index.to_numpy() + 2  # file lines (header is line 1)
    bad = ~np.isfinite(frame.to_numpy(float)).all(axis=1)
    if bad.any():
        shown = ", ".join(str(n) for n in lines[bad][:8])
        raise UserError(f"{path}: missing or non-numeric values on line(s) {shown}")
    fr = frame[elements].to_numpy(float)
    off = (np.abs(fr.sum(axis=1) - 1) > 1e-3) | (fr < -1e-9).any(axis=1)
    if off.any():
        raise UserError(
            f"{path}: the fractions of {','.join(elements)} on line {lines[off][0]} are "
            "negative or do not sum to 1 (other elements are not part of this design)"
        )
    return frame.reset_index(drop=True)


def _inputs(frac: np.ndarray, prior: np.ndarray | None, lo: float, span: float) -> np.ndarray:
    if prior is None:
        return frac
    return np.column_stack([frac, (prior - lo) / span])


def _fit(x: np.ndarray, y: np.ndarray, n_frac: int, mode: str) -> Any:
    """A GP on ``x`` (fractions, then the scaled prior); in ``mean`` mode it sees the
    fractions only and learns the residual."""
    import torch
    from botorch.fit import fit_gpytorch_mll
    from botorch.models import SingleTaskGP
    from botorch.models.transforms.outcome import Standardize
    from gpytorch.kernels import MaternKernel, ScaleKernel
    from gpytorch.mlls import ExactMarginalLogLikelihood

    dims = list(range(n_frac)) if mode == "mean" else list(range(x.shape[1]))
    kernel = ScaleKernel(MaternKernel(nu=2.5, ard_num_dims=len(dims), active_dims=dims))
    xt = torch.tensor(x, dtype=torch.float64)
    yt = torch.tensor(y, dtype=torch.float64)[:, None]
    gp = SingleTaskGP(xt, yt, covar_module=kernel, outcome_transform=Standardize(m=1))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit_gpytorch_mll(ExactMarginalLogLikelihood(gp.likelihood, gp))
    return gp


def _offset(x: np.ndarray, mode: str, lo: float, span: float) -> np.ndarray:
    """What the GP's output is added to: the prior in ``mean`` mode, else 0."""
    return x[:, -1] * span + lo if mode == "mean" else np.zeros(len(x))


def _predict(gp: Any, x: np.ndarray, mode: str, lo: float, span: float) -> tuple:
    import torch

    with torch.no_grad():
        post = gp.posterior(torch.tensor(x, dtype=torch.float64))
    mean = post.mean[:, 0].numpy() + _offset(x, mode, lo, span)
    return mean, post.variance[:, 0].clamp_min(0).sqrt().numpy()


def cross_validate(
    frac: np.ndarray, y: np.ndarray, prior: np.ndarray | None, seed: int = 0
) -> dict[str, float]:
    """5-fold cross-validated mean absolute error of each mode (``none`` only without a
    prior)."""
    lo, span = _scale(prior, y)
    modes = MODES if prior is not None else ("none",)
    folds = np.random.default_rng(seed).permutation(len(y)) % FOLDS
    out = {}
    for mode in modes:
        errors = []
        for k in range(FOLDS):
            tr, te = folds != k, folds == k
            x = _inputs(frac, None if mode == "none" else prior, lo, span)
            target = y - _offset(x, mode, lo, span)
            gp = _fit(x[tr], target[tr], frac.shape[1], mode)
            errors.append(np.abs(_predict(gp, x[te], mode, lo, span)[0] - y[te]))
        out[mode] = float(np.concatenate(errors).mean())
    return out


def _scale(prior: np.ndarray | None, y: np.ndarray) -> tuple[float, float]:
    ref = y if prior is None else np.concatenate([prior, y])
    lo, hi = float(ref.min()), float(ref.max())
    return lo, max(hi - lo, 1e-12)


@dataclass
class AlloySuggestion:
    """The batch (fractions, then ``mean``, ``std``, ``mean_no_prior``, ``std_no_prior``,
    ``prior``, ``acquisition``), the mode used and the cross-validation errors."""

    frame: pd.DataFrame
    mode: str
    cv_mae: dict[str, float]


def suggest_alloys(
    elements: list[str],
    observed: pd.DataFrame,
    target: str,
    candidates: pd.DataFrame,
    goal: str = "maximize",
    batch: int = 5,
    prior: np.ndarray | None = None,
    candidate_prior: np.ndarray | None = None,
    seed: int = 0,
    mode: str | None = None,
) -> AlloySuggestion:
    """The next ``batch`` candidates to compute; ``prior`` and ``candidate_prior`` are the
    EFTGAN predictions at the observed and candidate rows (None: no prior). ``mode`` fixes
    how the prior enters instead of cross-validating (then ``cv_mae`` is empty)."""
    import torch

    torch.manual_seed(seed)
    if batch < 1:
        raise UserError(f"--batch {batch}: ask for at least one composition")
    if not len(candidates):
        raise UserError("no candidate composition is left; every grid point is observed")
    if len(observed) < FOLDS:
        raise UserError(f"{len(observed)} observations; alloy design needs at least {FOLDS}")
    sign = 1.0 if goal == "maximize" else -1.0
    frac, y = observed[elements].to_numpy(float), observed[target].to_numpy(float)
    if prior is None:
        mode, cv = "none", {}
    elif mode is None:
        cv = cross_validate(frac, y, prior, seed)
        mode = min(("mean", "feature"), key=cv.__getitem__)
    else:
        cv = {}
    cand_frac = candidates[elements].to_numpy(float)
    results = {
        m: _model(frac, y, prior, cand_frac, candidate_prior, m)
        for m in dict.fromkeys((mode, "none"))
    }
    chosen, value = _choose(results[mode], sign, batch, seed)
    out = candidates.iloc[chosen][elements].reset_index(drop=True)
    for suffix, m in (("", mode), ("_no_prior", "none")):
        mean, std = results[m]["mean"][chosen], results[m]["std"][chosen]
        out[f"mean{suffix}"], out[f"std{suffix}"] = mean, std
    if candidate_prior is not None:
        out["prior"] = candidate_prior[chosen]
    out["acquisition"] = value
    return AlloySuggestion(out, mode, cv)


def _model(frac, y, prior, cand_frac, cand_prior, mode: str) -> dict[str, Any]:
    """The GP of ``mode`` and its mean and std at the candidates."""
    lo, span = _scale(prior, y)
    use = None if mode == "none" else prior
    x = _inputs(frac, use, lo, span)
    xc = _inputs(cand_frac, None if mode == "none" else cand_prior, lo, span)
    gp = _fit(x, y - _offset(x, mode, lo, span), frac.shape[1], mode)
    mean, std = _predict(gp, xc, mode, lo, span)
    return {"gp": gp, "x": x, "xc": xc, "y": y, "mean": mean, "std": std, "mode": mode,
            "lo": lo, "span": span}  # fmt: skip


def _choose(m: dict[str, Any], sign: float, batch: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Greedy qLogEI over the candidates; returns their indices and each one's own value."""
    import torch
    from botorch.acquisition.logei import qLogExpectedImprovement
    from botorch.acquisition.objective import GenericMCObjective
    from botorch.optim import optimize_acqf_discrete
    from botorch.sampling import SobolQMCNormalSampler

    lo, span, mode = m["lo"], m["span"], m["mode"]

    def objective(z: torch.Tensor, X: torch.Tensor | None = None) -> torch.Tensor:
        offset = X[..., -1] * span + lo if mode == "mean" and X is not None else 0.0
        return sign * (z[..., 0] + offset)

    acq = qLogExpectedImprovement(
        m["gp"], best_f=float((sign * m["y"]).max()), objective=GenericMCObjective(objective),
        sampler=SobolQMCNormalSampler(torch.Size([128]), seed=seed),
    )  # fmt: skip
    choices = torch.tensor(m["xc"], dtype=torch.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        picked, _ = optimize_acqf_discrete(acq, q=min(batch, len(choices)), choices=choices)
        values = acq(picked[:, None, :]).detach().numpy()
    index: list[int] = []
    for p in picked:  # the first row of that value not taken yet (rows may repeat)
        rows = torch.nonzero((choices == p).all(1))[:, 0].tolist()
        index.append(next(r for r in rows if r not in index))
    return np.array(index), values
