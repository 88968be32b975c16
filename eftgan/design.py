"""Bayesian design of experiments: which points to measure (or compute, or cast) next.

What BOXVIA did with GPyOpt, on BoTorch and GPyTorch.

**The space** (:class:`Space`, read from ``space.json``) has continuous variables with
bounds, discrete ones with a step, and categorical ones. A composition group is a set of
continuous variables that sum to a total (fractions of elements, each with its own bounds).
Linear inequalities ``sum c_i x_i <= rhs`` are also allowed. The objective is minimised or
maximised; other measured columns may be constrained to stay below or above a limit.

**The model** is a Gaussian process per measured column (objective and constrained
columns), on inputs scaled to the unit cube (categories one-hot) and outputs standardised,
with a Matérn-5/2 kernel with one length scale per input and a learned homoskedastic noise,
fitted by maximum a posteriori (BoTorch's ``SingleTaskGP``). The length scales carry the
log-normal prior of Hvarfner et al. (2024), whose median grows as the square root of the
number of inputs, so that a model of many inputs does not start out wiggly; ``kernel="rbf"``
gives BoTorch's own default, the squared exponential under the same prior.

**The batch** of q points maximises a Monte Carlo acquisition:

- ``qlogei`` (default): log expected improvement (Ament et al. 2023) over the best
  posterior mean at the observed points that the model deems feasible, with outcome
  constraints weighted by their probability;
- ``qnei``: its noisy version, which does not trust the observations as exact;
- ``qucb``: upper confidence bound, mean + sqrt(beta) std with beta 2;
- with two objectives, always ``qnehvi``: the noisy expected hypervolume improvement of
  the Pareto front, from a reference point 10 % of the range of the posterior means at the
  observed points beyond their worst.

The acquisition is maximised under the linear constraints (composition groups are
equalities) from random starts inside them, the q points one after another (greedily, each
given the ones before it as pending points; ``batch_mode="joint"`` optimises all q at once,
except with categories, each combination tried, or two objectives). Matérn and greedy
batches were chosen on validation functions that are not among the benchmark's test
functions (``benchmarks/design_validation.py``): of the four kernel and batch pairs they
had the lowest mean log regret, though with 4 seeds the margins are within the spread over
seeds. Discrete
variables, which may not enter groups or linear constraints, are then rounded to their
step. The same seed gives the same batch.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from eftgan.errors import UserError

__all__ = [
    "ACQUISITIONS",
    "MIN_OBSERVATIONS",
    "Space",
    "Suggestion",
    "Variable",
    "check_observations",
    "fit_models",
    "model_and_acquisition",
    "predict",
    "read_observations",
    "suggest",
]

ACQUISITIONS = ("qlogei", "qnei", "qucb", "qnehvi")
#: Fewer observations than this leave a GP's length scales undetermined.
MIN_OBSERVATIONS = 3
#: UCB's exploration weight (mean + sqrt(beta) std).
UCB_BETA = 2.0
#: The most category combinations whose acquisitions are optimised one by one.
MAX_CATEGORY_COMBINATIONS = 64
#: GP kernels: ``rbf`` (squared exponential) or ``matern`` (Matérn 5/2), both with one length
#: scale per input under BoTorch's dimension-scaled log-normal prior. The default was chosen
#: on validation functions (``benchmarks/design_validation.py``).
KERNELS = ("rbf", "matern")
KERNEL = "matern"
#: How a batch of q > 1 points is optimised: ``joint`` (all q at once) or ``sequential``
#: (greedily, each point given the ones before it as pending); chosen with the kernel.
BATCH_MODES = ("joint", "sequential")
BATCH_MODE = "sequential"


@dataclass(frozen=True)
class Variable:
    """One design variable: ``continuous`` in [low, high], ``discrete`` on low, low + step,
    ... up to high, or ``categorical`` among ``choices``."""

    name: str
    type: str
    low: float = 0.0
    high: float = 1.0
    step: float = 0.0
    choices: tuple[str, ...] = ()

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Variable:
        name, kind = str(d.get("name", "")), d.get("type", "continuous")
        if not name:
            raise UserError(f"space.json: a variable has no name: {d}")
        if kind == "categorical":
            choices = tuple(str(c) for c in d.get("choices", ()))
            if len(choices) < 2 or len(set(choices)) < len(choices):
                raise UserError(f"space.json: {name} needs two or more distinct choices")
            return cls(name, kind, choices=choices)
        if kind not in ("continuous", "discrete"):
            raise UserError(
                f"space.json: {name} has type {kind!r}; use continuous, discrete or categorical"
            )
        try:
            low, high, step = float(d["low"]), float(d["high"]), float(d.get("step", 0.0))
        except (KeyError, TypeError, ValueError):
            raise UserError(f"space.json: {name} needs numeric low and high") from None
        if not low < high:
            raise UserError(f"space.json: {name} has low {low} not below high {high}")
        if kind == "discrete" and not step > 0:
            raise UserError(f"space.json: discrete {name} needs a positive step")
        return cls(name, kind, low, high, step)

    @property
    def width(self) -> float:
        return self.high - self.low

    def grid(self) -> np.ndarray:
        """The allowed values of a discrete variable."""
        return self.low + self.step * np.arange(int(math.floor(self.width / self.step + 1e-9)) + 1)


@dataclass(frozen=True)
class Objective:
    name: str
    goal: str = "minimize"

    @property
    def sign(self) -> float:
        """+1 to maximise, -1 to minimise: the model maximises ``sign * y``."""
        return 1.0 if self.goal == "maximize" else -1.0


@dataclass
class Space:
    """Variables, composition groups, linear constraints, objectives and outcome
    constraints (see the module docstring and ``docs/design.md`` for the JSON)."""

    variables: list[Variable]
    objectives: list[Objective]
    composition_groups: list[tuple[tuple[str, ...], float]] = field(default_factory=list)
    linear_constraints: list[tuple[dict[str, float], float]] = field(default_factory=list)
    outcome_constraints: list[tuple[str, str, float]] = field(default_factory=list)

    @classmethod
    def from_json(cls, path: str | os.PathLike[str]) -> Space:
        try:
            d = json.loads(Path(path).read_text())
        except FileNotFoundError:
            raise UserError(f"{path} does not exist; give a space.json") from None
        except (OSError, ValueError) as exc:
            raise UserError(f"{path} is not JSON ({' '.join(str(exc).split())[:100]})") from None
        if not isinstance(d, dict):
            raise UserError(f"{path} must hold a JSON object with 'variables' and 'objective'")
        return cls.from_dict(d)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Space:
        try:
            return cls._from_dict(d)
        except (TypeError, ValueError, AttributeError, KeyError) as exc:
            if isinstance(exc, UserError):
                raise
            reason = " ".join(str(exc).split())[:100]
            raise UserError(
                f"space.json: a malformed entry ({reason}); see docs/design.md"
            ) from None

    @classmethod
    def _from_dict(cls, d: dict[str, Any]) -> Space:
        variables = [Variable.from_dict(v) for v in d.get("variables", [])]
        if not variables:
            raise UserError("space.json: 'variables' is empty; list the design variables")
        names = [v.name for v in variables]
        if len(set(names)) < len(names):
            raise UserError("space.json: two variables share a name")
        continuous = [v.name for v in variables if v.type == "continuous"]
        raw = d.get("objectives") or ([d["objective"]] if "objective" in d else [])
        objectives = [_objective(o) for o in raw]
        if not 1 <= len(objectives) <= 2:
            raise UserError("space.json: give one 'objective' or two 'objectives'")
        space = cls(
            variables,
            objectives,
            [_group(g, continuous) for g in d.get("composition_groups", [])],
            [_linear(c, continuous) for c in d.get("linear_constraints", [])],
            [_outcome(c) for c in d.get("constraints", [])],
        )
        space.check_feasible()
        return space

    @classmethod
    def from_bounds(cls, columns: list[str], bounds: str, goal: str = "minimize") -> Space:
        """A BOXVIA-style space: every column but the last is a continuous variable, the last
        the objective; ``bounds`` is ``LOW:HIGH`` for all or ``x1=LOW:HIGH,x2=...``."""
        if len(columns) < 2:
            raise UserError("the CSV needs variable columns and an objective column last")
        per: dict[str, str] = {}
        for part in bounds.split(","):
            key, _, rng = part.rpartition("=")
            per[key.strip() or "*"] = rng
        variables = []
        for name in columns[:-1]:
            rng = per.get(name, per.get("*"))
            if rng is None:
                raise UserError(f"--bounds gives no range for {name}; add {name}=LOW:HIGH")
            try:
                low, high = (float(x) for x in rng.split(":"))
            except ValueError:
                raise UserError(f"--bounds {rng!r} is not LOW:HIGH") from None
            variables.append(Variable.from_dict({"name": name, "low": low, "high": high}))
        return cls(variables, [_objective({"name": columns[-1], "goal": goal})])

    @property
    def names(self) -> list[str]:
        return [v.name for v in self.variables]

    @property
    def measured(self) -> list[str]:
        """The columns modelled: objectives, then constrained outcomes."""
        extra = [c[0] for c in self.outcome_constraints if c[0] not in self._objective_names]
        return [*self._objective_names, *dict.fromkeys(extra)]

    @property
    def _objective_names(self) -> list[str]:
        return [o.name for o in self.objectives]

    def check_feasible(self) -> None:
        """A :class:`UserError` when no point satisfies the bounds, the composition groups and
        the linear constraints together (a linear program)."""
        from scipy.optimize import linprog

        a_eq, b_eq, a_ub, b_ub = self._linear_system()
        if not len(b_eq) and not len(b_ub):
            return
        res = linprog(
            np.zeros(len(self._numeric)), A_ub=a_ub if len(b_ub) else None,
            b_ub=b_ub if len(b_ub) else None, A_eq=a_eq if len(b_eq) else None,
            b_eq=b_eq if len(b_eq) else None, bounds=[(0.0, 1.0)] * len(self._numeric),
        )  # fmt: skip
        if res.status == 2:
            groups = "; ".join(
                f"{'+'.join(g)} = {t} (bounds allow {self._group_range(g)})"
                for g, t in self.composition_groups
            )
            raise UserError(
                "space.json: no point satisfies the bounds, composition groups and linear "
                f"constraints together{': ' + groups if groups else ''}; widen the bounds"
            )

    def _group_range(self, group: tuple[str, ...]) -> str:
        v = {x.name: x for x in self.variables}
        return f"{sum(v[n].low for n in group):g}..{sum(v[n].high for n in group):g}"

    @property
    def _numeric(self) -> list[Variable]:
        return [v for v in self.variables if v.type != "categorical"]

    def _linear_system(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The constraints on the unit-cube coordinates u of the numeric variables
        (x = low + width u): ``A_eq u = b_eq`` and ``A_ub u <= b_ub``."""
        index = {v.name: i for i, v in enumerate(self._numeric)}
        var = {v.name: v for v in self._numeric}

        def row(coeffs: dict[str, float], rhs: float) -> tuple[np.ndarray, float]:
            a = np.zeros(len(index))
            for n, c in coeffs.items():
                a[index[n]] += c * var[n].width
                rhs -= c * var[n].low
            return a, rhs

        eq = [row(dict.fromkeys(g, 1.0), t) for g, t in self.composition_groups]
        ub = [row(c, r) for c, r in self.linear_constraints]
        n = len(index)
        return (
            np.array([a for a, _ in eq]).reshape(-1, n), np.array([b for _, b in eq]),
            np.array([a for a, _ in ub]).reshape(-1, n), np.array([b for _, b in ub]),
        )  # fmt: skip

    # -- encoding ---------------------------------------------------------------------------
    @property
    def dim(self) -> int:
        """Model inputs: one per numeric variable, one per category."""
        return len(self._numeric) + sum(len(v.choices) for v in self.variables if v.choices)

    def encode(self, frame: pd.DataFrame) -> np.ndarray:
        """Rows of ``frame`` as model inputs (n, :attr:`dim`) in the unit cube."""
        cols = [(frame[v.name].to_numpy(float) - v.low) / v.width for v in self._numeric]
        for v in self.variables:
            if v.choices:
                values = frame[v.name].astype(str).to_numpy()
                cols += [(values == c).astype(float) for c in v.choices]
        return np.stack(cols, 1) if cols else np.zeros((len(frame), 0))

    def decode(self, u: np.ndarray) -> pd.DataFrame:
        """Model inputs back to variable values: discrete ones rounded to their step,
        categories by their largest one-hot entry."""
        out: dict[str, Any] = {}
        numeric = {v.name: i for i, v in enumerate(self._numeric)}
        j = len(self._numeric)
        for v in self.variables:
            if v.choices:
                out[v.name] = [v.choices[k] for k in u[:, j : j + len(v.choices)].argmax(1)]
                j += len(v.choices)
                continue
            x = v.low + v.width * np.clip(u[:, numeric[v.name]], 0, 1)
            if v.type == "discrete":
                g = v.grid()
                x = g[np.abs(x[:, None] - g[None]).argmin(1)]
            out[v.name] = x
        return pd.DataFrame(out, columns=self.names)

    def category_fixings(self) -> list[dict[int, float]]:
        """One ``{input index: 0 or 1}`` per combination of categories (none without
        categorical variables)."""
        j, blocks = len(self._numeric), []
        for v in self.variables:
            if v.choices:
                blocks.append(range(j, j + len(v.choices)))
                j += len(v.choices)
        if not blocks:
            return []
        combos = list(itertools.product(*blocks))
        if len(combos) > MAX_CATEGORY_COMBINATIONS:
            raise UserError(
                f"the categories combine in {len(combos)} ways (at most "
                f"{MAX_CATEGORY_COMBINATIONS}); merge choices or fix some variables"
            )
        return [{i: float(i in combo) for block in blocks for i in block} for combo in combos]


def _objective(d: Any) -> Objective:
    if not isinstance(d, dict) or not d.get("name"):
        raise UserError("space.json: an objective needs a name")
    goal = d.get("goal", "minimize")
    if goal not in ("minimize", "maximize"):
        raise UserError(f"space.json: objective goal {goal!r}; use minimize or maximize")
    return Objective(str(d["name"]), goal)


def _group(d: dict[str, Any], continuous: list[str]) -> tuple[tuple[str, ...], float]:
    members = tuple(d.get("variables", ()))
    other = [m for m in members if m not in continuous]
    if len(members) < 2 or other:
        raise UserError(
            "space.json: a composition group needs two or more continuous variables "
            f"(not continuous or unknown: {', '.join(other) or 'none'})"
        )
    return members, float(d.get("total", 1.0))


def _linear(d: dict[str, Any], continuous: list[str]) -> tuple[dict[str, float], float]:
    coeffs = {str(k): float(v) for k, v in d.get("coefficients", {}).items()}
    if not coeffs or any(k not in continuous for k in coeffs):
        raise UserError(
            "space.json: a linear constraint needs coefficients of continuous variables"
        )
    if "upper" in d and "lower" in d:
        raise UserError("space.json: a linear constraint takes upper or lower; write two")
    if "upper" in d:
        return coeffs, float(d["upper"])
    if "lower" in d:  # sum c x >= lower  <=>  sum -c x <= -lower
        return {k: -v for k, v in coeffs.items()}, -float(d["lower"])
    raise UserError("space.json: a linear constraint needs 'upper' or 'lower'")


def _outcome(d: dict[str, Any]) -> tuple[str, str, float]:
    if not d.get("name") or ("max" in d) == ("min" in d):
        raise UserError("space.json: an outcome constraint needs a name and one of max, min")
    side = "max" if "max" in d else "min"
    return str(d["name"]), side, float(d[side])


def read_observations(path: str | os.PathLike[str], space: Space) -> pd.DataFrame:
    """The observed rows, checked against the space: exactly the variable and measured
    columns, no missing objective, every point inside the space; duplicate points merged
    (their outcomes averaged) with a warning."""
    try:
        frame = pd.read_csv(path)
    except FileNotFoundError:
        raise UserError(f"{path} does not exist; give the CSV of observations") from None
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise UserError(f"cannot read {path} ({' '.join(str(exc).split())[:100]})") from None
    return check_observations(frame, space, str(path))


def check_observations(frame: pd.DataFrame, space: Space, where: str = "data") -> pd.DataFrame:
    """See :func:`read_observations`."""
    want = [*space.names, *space.measured]
    missing = [c for c in want if c not in frame.columns]
    extra = [c for c in frame.columns if c not in want]
    if missing or extra:
        raise UserError(
            f"{where}: columns must be {', '.join(want)}"
            + (f"; missing {', '.join(missing)}" if missing else "")
            + (f"; extra {', '.join(map(str, extra))}" if extra else "")
        )
    frame = frame[want].copy()
    for c in space.measured:
        values = pd.to_numeric(frame[c], errors="coerce")
        bad = np.flatnonzero(~np.isfinite(values.to_numpy(float)))
        if len(bad):
            rows = ", ".join(str(i + 2) for i in bad[:8])
            raise UserError(f"{where}: {c} is missing or not a number on line(s) {rows}")
        frame[c] = values
    _check_inside(frame, space, where)
    merged = frame.groupby(space.names, sort=False, as_index=False)[space.measured].mean()
    if len(merged) < len(frame):
        warnings.warn(
            f"{where}: {len(frame) - len(merged)} duplicate point(s) merged (outcomes averaged)",
            stacklevel=2,
        )
    if len(merged) < MIN_OBSERVATIONS:
        raise UserError(
            f"{where}: {len(merged)} distinct observation(s); the model needs at least "
            f"{MIN_OBSERVATIONS}"
        )
    return merged.reset_index(drop=True)


def _check_inside(frame: pd.DataFrame, space: Space, where: str) -> None:
    tol = 1e-6
    for v in space.variables:
        col = frame[v.name]
        if v.choices:
            bad = ~col.astype(str).isin(v.choices)
        else:
            x = pd.to_numeric(col, errors="coerce").to_numpy(float)
            bad = ~((x >= v.low - tol * v.width) & (x <= v.high + tol * v.width))
            frame[v.name] = x
        if np.any(bad):
            line = int(np.flatnonzero(np.asarray(bad))[0]) + 2
            allowed = ", ".join(v.choices) if v.choices else f"[{v.low:g}, {v.high:g}]"
            raise UserError(f"{where}: {v.name} on line {line} is outside {allowed}")
    for coeffs, rhs in space.linear_constraints:
        lhs = sum(c * frame[n].to_numpy(float) for n, c in coeffs.items())
        over = lhs > rhs + 1e-6 * max(1.0, abs(rhs))
        if np.any(over):
            raise UserError(f"{where}: line {int(np.argmax(over)) + 2} breaks a linear constraint")
    for group, total in space.composition_groups:
        off = np.abs(frame[list(group)].to_numpy(float).sum(1) - total)
        if np.any(off > 1e-3 * max(1.0, abs(total))):
            line = int(np.argmax(off > 1e-3 * max(1.0, abs(total)))) + 2
            raise UserError(f"{where}: {'+'.join(group)} on line {line} does not sum to {total}")


# -- model and acquisition ------------------------------------------------------------------
def fit_models(space: Space, frame: pd.DataFrame, kernel: str = KERNEL) -> Any:
    """One GP per measured column (a ``ModelListGP``), outputs standardised, on the encoded
    inputs, with ``kernel`` (:data:`KERNELS`); objectives enter with the sign that makes
    them maximised."""
    import torch
    from botorch.fit import fit_gpytorch_mll
    from botorch.models import ModelListGP, SingleTaskGP
    from botorch.models.transforms.outcome import Standardize
    from botorch.models.utils.gpytorch_modules import get_covar_module_with_dim_scaled_prior
    from gpytorch.mlls import SumMarginalLogLikelihood

    if kernel not in KERNELS:
        raise ValueError(f"kernel must be one of {KERNELS}, not {kernel!r}")
    x = torch.tensor(space.encode(frame), dtype=torch.float64)
    rbf, models = kernel == "rbf", []
    for col in space.measured:
        y = frame[col].to_numpy(float) * _sign(space, col)
        y_t = torch.tensor(y, dtype=torch.float64)[:, None]
        covar = get_covar_module_with_dim_scaled_prior(x.shape[-1], use_rbf_kernel=rbf)
        models.append(SingleTaskGP(x, y_t, covar_module=covar, outcome_transform=Standardize(m=1)))
    model = ModelListGP(*models)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # numerical warnings of the optimiser, not the user's
        fit_gpytorch_mll(SumMarginalLogLikelihood(model.likelihood, model))
    return model


def _sign(space: Space, col: str) -> float:
    return next((o.sign for o in space.objectives if o.name == col), 1.0)


@dataclass
class Suggestion:
    """A batch: ``frame`` has the variable columns, then ``mean``, ``std`` (of the objective,
    in its own units; ``mean_<name>``/``std_<name>`` per objective with two) and
    ``acquisition`` (each point's own, q = 1). ``batch_value`` is the batch's acquisition
    value when it was optimised jointly, and the best of its points' greedy steps when it
    was built point by point."""

    frame: pd.DataFrame
    acquisition: str
    batch_value: float
    #: The fitted GPs and the acquisition function, for plots of the same model.
    model: Any = field(default=None, repr=False)
    acq_function: Any = field(default=None, repr=False)


def _python_hypervolume_kernel() -> None:
    """Keep BoTorch's log-hypervolume improvement on its pure-PyTorch path. Its fused C++
    kernel is compiled on first use, with ``-march=native``: 28 s on a 2-core machine (and
    the two-objective test took 31-76 s in fresh test runs), against about 0.1 s that it
    saves per suggestion of our sizes, and only where a C++ compiler is found; one path
    gives the same batch with or without one."""
    from botorch.acquisition.multi_objective import logei

    if getattr(logei, "_C", None) is None:
        logei._load_attempted = True


def _acquisition(space: Space, model: Any, x: Any, kind: str, seed: int) -> Any:
    import torch
    from botorch.acquisition import logei, monte_carlo
    from botorch.acquisition.multi_objective.logei import (
        qLogNoisyExpectedHypervolumeImprovement,
    )
    from botorch.acquisition.multi_objective.objective import IdentityMCMultiOutputObjective
    from botorch.acquisition.objective import GenericMCObjective
    from botorch.sampling import SobolQMCNormalSampler

    sampler = SobolQMCNormalSampler(sample_shape=torch.Size([128]), seed=seed)
    n_obj = len(space.objectives)
    if n_obj == 2 or kind == "qnehvi":
        if n_obj != 2:
            raise UserError("qnehvi needs two objectives in space.json ('objectives')")
        with torch.no_grad():
            y = model.posterior(x).mean[:, :2]
        lo, hi = y.min(0).values, y.max(0).values
        _python_hypervolume_kernel()
        return qLogNoisyExpectedHypervolumeImprovement(
            model, ref_point=(lo - 0.1 * (hi - lo)).tolist(), X_baseline=x, sampler=sampler,
            objective=IdentityMCMultiOutputObjective(outcomes=[0, 1]),
            constraints=_constraints(space) or None, prune_baseline=True,
        )  # fmt: skip
    objective = GenericMCObjective(lambda z, X=None: z[..., 0])
    constraints = _constraints(space)
    if kind == "qucb":
        if constraints:
            raise UserError("qucb takes no outcome constraints; use qlogei or qnei")
        return monte_carlo.qUpperConfidenceBound(
            model, UCB_BETA, sampler=sampler, objective=objective
        )
    if kind == "qnei":
        return logei.qLogNoisyExpectedImprovement(
            model, x, sampler=sampler, objective=objective, constraints=constraints or None,
            prune_baseline=True,
        )  # fmt: skip
    with torch.no_grad():
        y = model.posterior(x).mean
    feasible = torch.ones(len(x), dtype=torch.bool)
    for c in constraints:
        feasible &= c(y) <= 0
    best = (y[feasible, 0] if feasible.any() else y[:, 0]).max()
    return logei.qLogExpectedImprovement(
        model, best, sampler=sampler, objective=objective, constraints=constraints or None
    )


def _constraints(space: Space) -> list[Any]:
    """Outcome constraints as callables of model samples, feasible where <= 0."""
    out = []
    for name, side, limit in space.outcome_constraints:
        k, s = space.measured.index(name), _sign(space, name)
        if side == "max":  # y <= limit, y = s * z
            out.append(lambda z, k=k, s=s, lim=limit: s * z[..., k] - lim)
        else:
            out.append(lambda z, k=k, s=s, lim=limit: lim - s * z[..., k])
    return out


def _botorch_constraints(space: Space) -> tuple[list[Any], list[Any]]:
    """Composition groups and linear constraints as BoTorch's (indices, coefficients, rhs)
    with ``sum c x = rhs`` and ``sum c x >= rhs``."""
    import torch

    a_eq, b_eq, a_ub, b_ub = space._linear_system()

    def tuples(a: np.ndarray, b: np.ndarray, sign: float) -> list[Any]:
        out = []
        for row, rhs in zip(a, b, strict=True):
            idx = np.flatnonzero(row)
            out.append((torch.tensor(idx), torch.tensor(sign * row[idx]), float(sign * rhs)))
        return out

    return tuples(a_eq, b_eq, 1.0), tuples(a_ub, b_ub, -1.0)


def model_and_acquisition(
    space: Space,
    frame: pd.DataFrame,
    acquisition: str = "qlogei",
    seed: int = 0,
    kernel: str = KERNEL,
) -> tuple[Any, Any]:
    """The fitted GPs and the acquisition function of the observations ``frame``."""
    import torch

    if acquisition not in ACQUISITIONS:
        raise UserError(f"--acquisition {acquisition!r}; choose one of {', '.join(ACQUISITIONS)}")
    torch.manual_seed(seed)
    model = fit_models(space, frame, kernel)
    x = torch.tensor(space.encode(frame), dtype=torch.float64)
    return model, _acquisition(space, model, x, acquisition, seed)


def suggest(
    space: Space,
    frame: pd.DataFrame,
    batch: int = 5,
    acquisition: str = "qlogei",
    seed: int = 0,
    restarts: int = 8,
    raw_samples: int = 256,
    kernel: str = KERNEL,
    batch_mode: str = BATCH_MODE,
) -> Suggestion:
    """The next ``batch`` points to measure, with the model's mean, std and acquisition
    (see the module docstring), the GPs with ``kernel`` (:data:`KERNELS`) and the batch
    optimised as ``batch_mode`` says (:data:`BATCH_MODES`). Deterministic for a fixed
    ``seed``."""
    import torch
    from botorch.optim import optimize_acqf, optimize_acqf_mixed

    if batch < 1:
        raise UserError(f"--batch {batch}: ask for at least one point")
    if batch_mode not in BATCH_MODES:
        raise ValueError(f"batch_mode must be one of {BATCH_MODES}, not {batch_mode!r}")
    model, acq = model_and_acquisition(space, frame, acquisition, seed, kernel)
    eq, ineq = _botorch_constraints(space)
    bounds = torch.stack([torch.zeros(space.dim), torch.ones(space.dim)]).double()
    common = dict(
        acq_function=acq, bounds=bounds, q=batch, num_restarts=restarts,
        raw_samples=raw_samples, equality_constraints=eq or None,
        inequality_constraints=ineq or None,
        options={"seed": seed, "maxiter": 200, "n_burnin": 200, "n_thinning": 4},
    )  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fixings = space.category_fixings()
        if fixings:
            cand, value = optimize_acqf_mixed(fixed_features_list=fixings, **common)
        else:  # a hypervolume batch greedily, point by point (its joint form is slow)
            greedy = batch_mode == "sequential" or len(space.objectives) == 2
            cand, value = optimize_acqf(**common, sequential=greedy)
    frame_out = space.decode(cand.detach().numpy())
    value = float(value.detach().max()) if value.numel() > 1 else float(value.detach())
    used = "qnehvi" if len(space.objectives) == 2 else acquisition
    return Suggestion(_with_posterior(space, model, acq, frame_out), used, value, model, acq)


def predict(space: Space, model: Any, acq: Any, u: np.ndarray) -> dict[str, np.ndarray]:
    """Posterior mean and std of each objective (its own units) and the acquisition value
    (q = 1) at encoded points ``u``."""
    import torch

    x = torch.tensor(u, dtype=torch.float64)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        post = model.posterior(x)
        mean, std = post.mean.numpy(), post.variance.clamp_min(0).sqrt().numpy()
        value = acq(x[:, None, :]).numpy()
    signs = np.array([o.sign for o in space.objectives])
    n = len(signs)
    return {"mean": mean[:, :n] * signs, "std": std[:, :n], "acquisition": value}


def _with_posterior(space: Space, model: Any, acq: Any, points: pd.DataFrame) -> pd.DataFrame:
    """``points`` with each objective's posterior mean and std and each point's acquisition
    value, at the points as rounded."""
    p = predict(space, model, acq, space.encode(points))
    out = points.copy()
    for k, o in enumerate(space.objectives):
        suffix = "" if len(space.objectives) == 1 else f"_{o.name}"
        out[f"mean{suffix}"] = p["mean"][:, k]
        out[f"std{suffix}"] = p["std"][:, k]
    out["acquisition"] = p["acquisition"]
    return out
