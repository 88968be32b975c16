"""Bayesian design: the space file, the checks on observations, suggestions that respect the
space and improve on what was seen, determinism, plots, and the command line's bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.cli.test_cli import assert_user_error, run

pytest.importorskip("botorch")

BOXVIA = Path(__file__).resolve().parents[2].parent / "shared/reference/boxvia_samples"

MIXED = {
    "variables": [
        {"name": "Fe", "type": "continuous", "low": 0.1, "high": 0.6},
        {"name": "Ni", "type": "continuous", "low": 0.1, "high": 0.6},
        {"name": "Co", "type": "continuous", "low": 0.0, "high": 0.5},
        {"name": "t", "type": "discrete", "low": 500, "high": 900, "step": 50},
        {"name": "route", "type": "categorical", "choices": ["a", "b"]},
    ],
    "composition_groups": [{"variables": ["Fe", "Ni", "Co"], "total": 1.0}],
    "linear_constraints": [{"coefficients": {"Fe": 1, "Co": 1}, "upper": 0.8}],
    "objective": {"name": "y", "goal": "minimize"},
    "constraints": [{"name": "cost", "max": 2.0}],
}


def quadratic(x: np.ndarray) -> np.ndarray:
    return ((x - 0.3) ** 2).sum(1)


def mixed_observations(n: int = 12, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    fe = rng.uniform(0.25, 0.45, n)
    co = rng.uniform(0.15, 0.35, n)
    frame = pd.DataFrame(
        {"Fe": fe, "Ni": 1 - fe - co, "Co": co, "t": rng.choice(np.arange(500, 901, 50), n),
         "route": rng.choice(["a", "b"], n)}
    )  # fmt: skip
    frame["y"] = (frame.Fe - 0.3) ** 2 + (frame.t - 700) ** 2 / 1e5 + 0.1 * (frame.route == "b")
    frame["cost"] = 4 * frame.Ni
    return frame


def test_suggestions_respect_every_part_of_the_space():
    from eftgan.design import Space, check_observations, suggest

    space = Space.from_dict(MIXED)
    frame = check_observations(mixed_observations(), space)
    s = suggest(space, frame, 4, seed=0, restarts=2, raw_samples=64).frame
    assert list(s.columns) == ["Fe", "Ni", "Co", "t", "route", "mean", "std", "acquisition"]
    assert np.allclose(s[["Fe", "Ni", "Co"]].sum(axis=1), 1.0, atol=1e-4)
    assert (s.Fe + s.Co <= 0.8 + 1e-4).all() and (s.Co >= -1e-9).all()
    assert set(s.t) <= set(range(500, 901, 50)) and set(s.route) <= {"a", "b"}
    assert (s["std"] > 0).all()


def test_a_batch_improves_a_smooth_function_and_is_deterministic():
    from eftgan.design import Space, check_observations, suggest

    rng = np.random.default_rng(1)
    x = rng.random((8, 3))
    frame = pd.DataFrame(x, columns=["a", "b", "c"]).assign(y=quadratic(x))
    space = Space.from_bounds(["a", "b", "c", "y"], "0:1")
    frame = check_observations(frame, space)
    fast = {"restarts": 2, "raw_samples": 64}
    first = suggest(space, frame, 3, seed=5, **fast).frame
    assert first.equals(suggest(space, frame, 3, seed=5, **fast).frame)
    for _ in range(4):  # four rounds of three points find the bowl
        new = suggest(space, frame, 3, seed=5, **fast).frame[["a", "b", "c"]]
        frame = pd.concat([frame, new.assign(y=quadratic(new.to_numpy()))], ignore_index=True)
    assert frame.y.min() < 0.1 * quadratic(x).min()


@pytest.mark.parametrize("kernel", ["rbf", "matern"])
@pytest.mark.parametrize("batch_mode", ["joint", "sequential"])
def test_every_kernel_and_batch_mode_gives_distinct_points_near_the_bowl(kernel, batch_mode):
    from gpytorch.kernels import MaternKernel, RBFKernel

    from eftgan.design import Space, check_observations, fit_models, suggest

    rng = np.random.default_rng(3)
    x = np.r_[rng.random((10, 2)), [[0.3, 0.3]] + 0.05 * rng.standard_normal((4, 2))]
    frame = pd.DataFrame(x, columns=["a", "b"]).assign(y=quadratic(x))
    space = Space.from_bounds(["a", "b", "y"], "0:1")
    frame = check_observations(frame, space)
    gp = fit_models(space, frame, kernel).models[0]
    assert isinstance(gp.covar_module, RBFKernel if kernel == "rbf" else MaternKernel)
    s = suggest(space, frame, 3, seed=1, restarts=2, raw_samples=64, kernel=kernel,
                batch_mode=batch_mode).frame  # fmt: skip
    points = s[["a", "b"]].to_numpy()
    assert len(np.unique(points.round(6), axis=0)) == 3, "a batch repeats a point"
    assert s["mean"].min() < 0.05, "the batch ignores the bowl the data show"


def test_suggest_hands_its_kernel_and_batch_mode_on(monkeypatch):
    import botorch.optim

    import eftgan.design as design

    seen: dict = {}
    fit, optimize = design.fit_models, botorch.optim.optimize_acqf

    def spy_fit(space, frame, kernel=design.KERNEL):
        seen["kernel"] = kernel
        return fit(space, frame, kernel)

    def spy_optimize(**kw):
        seen["sequential"] = kw["sequential"]
        return optimize(**kw)

    monkeypatch.setattr(design, "fit_models", spy_fit)
    monkeypatch.setattr(botorch.optim, "optimize_acqf", spy_optimize)
    rng = np.random.default_rng(4)
    x = rng.random((8, 2))
    space = design.Space.from_bounds(["a", "b", "y"], "0:1")
    frame = design.check_observations(
        pd.DataFrame(x, columns=["a", "b"]).assign(y=quadratic(x)), space
    )
    fast = {"restarts": 2, "raw_samples": 32}
    design.suggest(space, frame, 2, seed=0, **fast)
    assert seen == {"kernel": "matern", "sequential": True}, "the defaults"
    design.suggest(space, frame, 2, seed=0, kernel="rbf", batch_mode="joint", **fast)
    assert seen == {"kernel": "rbf", "sequential": False}
    with pytest.raises(ValueError, match="kernel"):
        design.fit_models(space, frame, "linear")
    with pytest.raises(ValueError, match="batch_mode"):
        design.suggest(space, frame, 2, batch_mode="random")


def test_two_objectives_give_a_pareto_batch():
    from eftgan.design import Space, check_observations, suggest

    space = Space.from_dict(
        {"variables": [{"name": "x", "low": 0, "high": 1}, {"name": "z", "low": 0, "high": 1}],
         "objectives": [{"name": "f1"}, {"name": "f2"}]}
    )  # fmt: skip
    rng = np.random.default_rng(2)
    frame = pd.DataFrame({"x": rng.random(10), "z": rng.random(10)})
    frame["f1"], frame["f2"] = frame.x**2 + frame.z, (1 - frame.x) ** 2 + frame.z
    frame = check_observations(frame, space)
    s = suggest(space, frame, 3, "qnehvi", seed=0, restarts=2, raw_samples=64).frame
    assert {"mean_f1", "std_f1", "mean_f2", "std_f2", "acquisition"} <= set(s.columns)
    assert (s.z < 0.2).all(), "the front lies at z = 0"
    from botorch.acquisition.multi_objective import logei

    assert getattr(logei, "_C", None) is None, "BoTorch's C++ kernel (compiled on first use)"


def test_observations_are_checked_and_duplicates_merged():
    from eftgan.design import Space, check_observations
    from eftgan.errors import UserError

    space = Space.from_dict(MIXED)
    good = mixed_observations()
    with pytest.warns(UserWarning, match="1 duplicate"):
        assert len(check_observations(pd.concat([good, good.iloc[:1]]), space)) == len(good)
    cases = [
        (good.drop(columns="cost"), "missing cost"),
        (good.assign(extra=1), "extra extra"),
        (good.assign(y=[np.nan] + list(good.y[1:])), "line(s) 2"),
        (good.assign(t=[950] + list(good.t[1:])), "t on line 2 is outside"),
        (good.assign(route=["c"] + list(good.route[1:])), "outside a, b"),
        (good.assign(Ni=[good.Ni[0] - 0.05] + list(good.Ni[1:])), "does not sum to 1.0"),
        (good.assign(Co=[0.35] + list(good.Co[1:]), Fe=[0.5] + list(good.Fe[1:])), "linear"),
        (good.iloc[:2], "at least 3"),
    ]
    for frame, needle in cases:
        with pytest.raises(UserError, match=needle.replace("(", r"\(").replace(")", r"\)")):
            check_observations(frame, space)


def test_groups_take_continuous_variables_and_entries_are_checked():
    from eftgan.design import Space
    from eftgan.errors import UserError

    bad = json.loads(json.dumps(MIXED))
    bad["composition_groups"][0]["variables"] = ["Fe", "t"]
    with pytest.raises(UserError, match="not continuous or unknown: t"):
        Space.from_dict(bad)
    bad = json.loads(json.dumps(MIXED))
    bad["constraints"] = [{"name": "cost", "max": "abc"}]
    with pytest.raises(UserError, match="malformed entry"):
        Space.from_dict(bad)


def test_an_infeasible_space_is_refused():
    from eftgan.design import Space
    from eftgan.errors import UserError

    bad = json.loads(json.dumps(MIXED))
    bad["composition_groups"][0]["total"] = 2.0
    with pytest.raises(UserError, match=r"Fe\+Ni\+Co = 2.0 \(bounds allow 0.2..1.7\)"):
        Space.from_dict(bad)


@pytest.mark.skipif(not BOXVIA.is_dir(), reason="../shared/reference/boxvia_samples is absent")
def test_boxvia_samples_suggest_and_plot(capsys, tmp_path: Path):
    out = tmp_path / "next.csv"
    data = str(BOXVIA / "sample_d2.csv")
    args = ["--data", data, "--bounds=-5:5", "--batch", "3", "--out", str(out)]
    code, _, err = run(capsys, "design", "suggest", *args)
    assert code == 0, err
    s = pd.read_csv(out)
    assert list(s.columns) == ["x1", "x2", "mean", "std", "acquisition"] and len(s) == 3
    assert s[["x1", "x2"]].abs().max().max() <= 5
    code, _, err = run(capsys, "design", "suggest", *args)
    assert_user_error(code, err, "--force")
    code, _, err = run(
        capsys, "design", "plot", "--data", data, "--bounds=-5:5", "--out", str(tmp_path / "p")
    )
    assert code == 0, err
    assert {p.name for p in (tmp_path / "p").iterdir()} == {"slices_1d.png", "slice_2d_x1_x2.png"}


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (["--batch", "0"], "--batch 0"),
        (["--bounds=-5:5", "--space", "s.json"], "not both"),
        (["--bounds=x1=-5:5"], "no range for x2"),
        (["--bounds=-5"], "is not LOW:HIGH"),
        (["--bounds=0:1", "--target", "y"], "--target need(s) --elements"),
        (["--elements", "x1,x2", "--bounds=0:1"], "takes no --space"),
    ],
)
def test_design_bad_input(capsys, tmp_path: Path, extra, needle) -> None:
    rng = np.random.default_rng(0)
    pd.DataFrame(rng.random((6, 3)), columns=["x1", "x2", "y"]).to_csv(tmp_path / "d.csv")
    data = tmp_path / "d.csv"
    pd.read_csv(data, index_col=0).to_csv(data, index=False)
    out = tmp_path / "next.csv"
    args = ["--data", str(data), "--out", str(out), *extra]
    if "--bounds" not in " ".join(extra) and "--batch" in extra:
        args.append("--bounds=0:1")
    code, _, err = run(capsys, "design", "suggest", *args)
    assert_user_error(code, err, needle)
    assert not out.exists()


def test_alloy_design_uses_the_prior_and_reports_both(tmp_path: Path) -> None:
    from eftgan.alloy_design import grid_candidates, suggest_alloys

    els = ["Fe", "Ni", "Co"]
    grid = grid_candidates(els, 0.1)
    assert len(grid) == 66 and np.allclose(grid.sum(axis=1), 1)

    def truth(f: pd.DataFrame) -> np.ndarray:
        return 2 * f.Fe.to_numpy() + np.sin(6 * f.Ni.to_numpy())

    rng = np.random.default_rng(0)
    seen = rng.choice(len(grid), 12, replace=False)
    observed = grid.iloc[seen].reset_index(drop=True).assign(ms=lambda f: truth(f))
    cand = grid.drop(index=grid.index[seen]).reset_index(drop=True)
    prior_o, prior_c = 2 * observed.Fe.to_numpy(), 2 * cand.Fe.to_numpy()
    r = suggest_alloys(els, observed, "ms", cand, "maximize", 3, prior_o, prior_c, seed=0)
    assert set(r.cv_mae) == {"none", "mean", "feature"} and r.mode in ("mean", "feature")
    assert r.cv_mae[r.mode] <= r.cv_mae["none"] + 0.05
    cols = ["Fe", "Ni", "Co", "mean", "std", "mean_no_prior", "std_no_prior", "prior"]
    assert list(r.frame.columns) == [*cols, "acquisition"] and len(r.frame) == 3
    keys = {tuple(x) for x in cand[els].round(6).to_numpy()}
    assert all(tuple(x) in keys for x in r.frame[els].round(6).to_numpy())
    assert r.frame.Fe.mean() > cand.Fe.mean(), "the batch goes where Fe raises the target"


def test_alloy_design_bad_input(capsys, tmp_path: Path) -> None:
    frame = pd.DataFrame({"Fe": [0.5, 0.7], "Ni": [0.4, 0.3], "ms": [1.0, 1.2]})
    frame.to_csv(tmp_path / "c.csv", index=False)
    base = ["design", "suggest", "--elements", "Fe,Ni", "--data", str(tmp_path / "c.csv")]
    code, _, err = run(capsys, *base, "--out", str(tmp_path / "n.csv"))
    assert_user_error(code, err, "--target")
    code, _, err = run(capsys, *base, "--target", "ms", "--out", str(tmp_path / "n.csv"))
    assert_user_error(code, err, "line 2", "do not sum to 1")
    assert not (tmp_path / "n.csv").exists()
