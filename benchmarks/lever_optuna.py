"""A hyperparameter lever for ECNet, measured on validation only: does a search over the
architecture and the optimiser beat the default recipe?

Search: Optuna's TPE sampler (seed 0, the default recipe enqueued as the first trial) over
:func:`suggest`, each trial one ECNet trained on the training part of split seed 0 (80/10/10 by
composition) and scored on its validation part by :func:`objective_value`, the mean over fcc
and bcc of Eform and Ms validation MAE, each divided by its accuracy goal. Two trials run at a
time on one thread each. Confirm: the best trial's settings and the default, from three seeds
each, on split seed 1, whose validation compositions the search never scored; the lever is
adopted only if its confirmed mean beats the default's by more than the seeds' spread. No test
part is given to any trainer, so nothing here reads it. Trials and confirmation runs are kept in
``benchmarks/.cache/optuna`` (an Optuna journal and a JSON of finished runs), so a killed run
resumes. Writes ``benchmarks/results/lever_optuna.json``.

    pip install -e .[bench]
    python benchmarks/lever_optuna.py [--trials 16] [--seeds 3]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REPO, machine, protocol_text, summary, write_json
from ecnet_accuracy import load

CACHE = REPO / "benchmarks" / ".cache" / "optuna"
STUDY = "ecnet-split0-validation"
#: Accuracy goals of issue 18 (eV/atom, μB/atom): the scale of each term of the objective.
GOALS = {"fcc": {"eform": 0.0060, "ms": 0.065}, "bcc": {"eform": 0.0090, "ms": 0.10}}
#: The default recipe (ECNetConfig and TrainConfig defaults) in the search's parameter names.
DEFAULT = {
    "hidden": 32,
    "n_rbf": 32,
    "n_interactions": 3,
    "n_elemental": 2,
    "lr": 3e-3,
    "batch_size": 16,
    "weight_decay": 0.0,
}


def suggest(trial: Any) -> dict[str, Any]:
    """One point of the search space (a trial's parameters)."""
    return {
        "hidden": trial.suggest_categorical("hidden", [32, 48, 64]),
        "n_rbf": trial.suggest_categorical("n_rbf", [16, 32, 48]),
        "n_interactions": trial.suggest_int("n_interactions", 2, 4),
        "n_elemental": trial.suggest_int("n_elemental", 1, 3),
        "lr": trial.suggest_float("lr", 1e-3, 1e-2, log=True),
        "batch_size": trial.suggest_categorical("batch_size", [8, 16, 32]),
        "weight_decay": trial.suggest_categorical("weight_decay", [0.0, 1e-5, 1e-4]),
    }


def objective_value(val: dict[str, dict[str, float]]) -> float:
    """Mean over phases and over Eform and Ms of validation MAE / goal (1.0: on the goals)."""
    terms = [val[p][t] / GOALS[p][t] for p in GOALS for t in GOALS[p]]
    return sum(terms) / len(terms)


def train_on_validation(params: dict[str, Any], split_seed: int, seed: int) -> dict[str, Any]:
    """One ECNet with ``params`` on the training part of a split; its validation MAEs."""
    import tempfile

    import torch

    torch.set_num_threads(1)
    from eftgan.dataset import split_by_composition
    from eftgan.ecnet import ECNetConfig
    from eftgan.train import TrainConfig, Trainer

    ds, flagged = load()
    train, val, _ = split_by_composition(ds, (0.8, 0.1, 0.1), split_seed)
    arch = {k: params[k] for k in ("hidden", "n_rbf", "n_interactions", "n_elemental")}
    tc = TrainConfig(
        seed=seed, lr=params["lr"], batch_size=params["batch_size"],
        weight_decay=params["weight_decay"],
    )  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        res = Trainer(
            ds,
            Path(tmp) / "m",
            ECNetConfig(elements=ds.elements, **arch),
            tc,
            split=(train, val, []),
            excluded=flagged,
            progress=False,
        ).run()
    v = res.metrics["validation"]
    mae = {p: {t: float(v[p][t]["mae"]) for t in ("eform", "ms")} for p in GOALS}
    return {"wall_s": res.wall_s, "epochs": res.epochs, "val": mae, "score": objective_value(mae)}


def _storage():
    import optuna
    from optuna.storages.journal import JournalFileBackend

    CACHE.mkdir(parents=True, exist_ok=True)
    return optuna.storages.JournalStorage(JournalFileBackend(str(CACHE / "journal.log")))


def search_worker(n_trials: int) -> None:
    """Worker: run trials of the shared study until it holds ``n_trials`` finished ones."""
    import optuna
    from optuna.study import MaxTrialsCallback
    from optuna.trial import TrialState

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.load_study(study_name=STUDY, storage=_storage())

    def objective(trial: Any) -> float:
        run = train_on_validation(suggest(trial), split_seed=0, seed=0)
        for k in ("wall_s", "epochs", "val"):
            trial.set_user_attr(k, run[k])
        print(f"trial {trial.number}: {run['score']:.3f} ({run['wall_s']:.0f} s)", flush=True)
        return run["score"]

    done = MaxTrialsCallback(n_trials, states=(TrialState.COMPLETE,))
    study.optimize(objective, n_trials=n_trials, callbacks=[done])


def search(n_trials: int) -> Any:
    """Create (or resume) the study, run it on two workers, return it."""
    import optuna

    study = optuna.create_study(
        study_name=STUDY,
        storage=_storage(),
        sampler=optuna.samplers.TPESampler(seed=0),
        direction="minimize",
        load_if_exists=True,
    )
    if not study.trials:
        study.enqueue_trial(DEFAULT)
    left = n_trials - sum(t.state.name == "COMPLETE" for t in study.trials)
    if left > 0:
        with ProcessPoolExecutor(2) as pool:
            list(pool.map(search_worker, [n_trials, n_trials]))
    return optuna.load_study(study_name=STUDY, storage=_storage())


def _confirm_job(job: dict[str, Any]) -> dict[str, Any]:
    return {**job, **train_on_validation(job["params"], split_seed=1, seed=job["seed"])}


def confirm(best: dict[str, Any], seeds: int) -> dict[str, list[dict[str, Any]]]:
    """Runs of the default and the best settings on split seed 1, ``seeds`` seeds each (cached;
    the same settings and seed train once)."""
    path = CACHE / "confirm.json"
    done = json.loads(path.read_text()) if path.is_file() else []
    key = lambda j: (json.dumps(j["params"], sort_keys=True), j["seed"])  # noqa: E731
    settings = {"default": DEFAULT, "best": best}
    jobs = {key(j): j for p in settings.values() for j in _jobs(p, seeds)}
    todo = [j for k, j in jobs.items() if k not in {key(r) for r in done}]
    with ProcessPoolExecutor(2) as pool:
        for r in pool.map(_confirm_job, todo):
            done.append(r)
            path.write_text(json.dumps(done, indent=1))
    runs = {key(r): r for r in done}
    return {name: [runs[key(j)] for j in _jobs(p, seeds)] for name, p in settings.items()}


def _jobs(params: dict[str, Any], seeds: int) -> list[dict[str, Any]]:
    return [{"params": params, "seed": s} for s in range(seeds)]


def main() -> None:
    """Search on split 0's validation part, confirm on split 1's, write the JSON."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--trials", type=int, default=16)
    ap.add_argument("--seeds", type=int, default=3)
    args = ap.parse_args()
    t0 = time.perf_counter()
    study = search(args.trials)
    trials = [t for t in study.trials if t.state.name == "COMPLETE"]
    best = min(trials, key=lambda t: t.value)
    runs = confirm(dict(best.params), args.seeds)
    confirmed = {
        name: {
            "score": summary([r["score"] for r in rs]),
            **{
                f"{p}_{t}": summary([r["val"][p][t] for r in rs])
                for p in GOALS
                for t in ("eform", "ms")
            },
        }
        for name, rs in runs.items()
    }
    d, b = confirmed["default"]["score"], confirmed["best"]["score"]
    adopted = best.params != DEFAULT and b["mean"] + (b["std"] or 0.0) < d["mean"] - (
        d["std"] or 0.0
    )
    report = {
        "protocol": protocol_text(__doc__),
        "goals": GOALS,
        "default": DEFAULT,
        "best_trial": {"number": best.number, "score": best.value, "params": best.params},
        "default_trial_score": next((t.value for t in trials if t.params == DEFAULT), None),
        "trials": [
            {"number": t.number, "score": t.value, "params": t.params, **t.user_attrs}
            for t in trials
        ],
        "confirmation_split1": confirmed,
        "confirmation_runs": runs,
        "adopted": adopted,
        "benchmark_wall_s": time.perf_counter() - t0,
        "machine": machine(),
    }
    print(write_json("lever_optuna.json", report))


if __name__ == "__main__":
    main()
