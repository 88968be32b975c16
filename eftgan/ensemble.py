"""Deep ensembles of ECNets and EFTGANs with calibrated uncertainty.

An ensemble is ``members`` ECNets trained from different seeds on different subsets of one
training split, and on each of them an EFTGAN (generator + property MLP) trained on that
member's features of that member's training structures. Protocol:

1. the dataset is split once by composition (seeded) into train / validation / test;
2. member ``k`` trains on a random ``subsample`` share of the training compositions (seed
   ``seed + k``); every member stops early on the same validation split;
3. the ensemble's spread (std over members, for the EFTGAN also over generator draws) is
   multiplied, per target, by one factor fitted on the validation split (both phases):
   ``sqrt(q68 * q95 / 2)`` of the standardised errors ``|err / std|``, ``q68`` and ``q95``
   their 68.27th and 95.45th percentiles (:func:`calibration_factor`);
4. the test split, unseen by every step, is read once at the end for the report: MAE and RMSE
   of the ensemble mean and of member 0 alone, the coverage of ±1σ and ±2σ (0.68 and 0.95
   for calibrated Gaussian errors) and the Spearman correlation of |error| with σ.

Members train in ``out/members/`` as ordinary, resumable run folders (a finished member is
reused when the run is started again); the result is two model folders, ``out/ecnet`` and
``out/eftgan`` (or the ``names`` given), whose weights hold every member (``member{k}.*``, see
:func:`eftgan.checkpoint.ensemble_members`), a ``calibration.png`` each, and ``report.json``.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from eftgan.checkpoint import load, read_model_folder, write_model_folder
from eftgan.dataset import (
    PHASES,
    Dataset,
    label_sources,
    short_name,
    split_by_composition,
    std_column,
)
from eftgan.elements import EmbeddingTable
from eftgan.errors import UserError
from eftgan.files import atomic_write_json
from eftgan.settings import JSONSettings

PROTOCOL = " ".join(__doc__.split("Protocol:")[1].split("Members train")[0].split())


@dataclass
class EnsembleTrainConfig(JSONSettings):
    """Settings of :func:`train_ensemble`.

    Attributes:
        members: number of ECNet/EFTGAN pairs.
        seed: seed of the train/validation/test split; member ``k`` uses ``seed + k``.
        subsample: share of the training compositions each member trains on.
        epochs, patience: ECNet training length and early-stopping patience.
        gan_steps, gen_draws: EFTGAN settings (see :class:`eftgan.pipeline.EFTGANTrainConfig`).
        n_z: generator draws per member when the EFTGAN ensemble is evaluated.
        names: folder names of the ECNet and the EFTGAN ensemble inside the run folder.
    """

    members: int = 5
    seed: int = 0
    subsample: float = 0.9
    epochs: int = 300
    patience: int = 50
    gan_steps: int = 3000
    gen_draws: int = 8
    n_z: int = 8
    names: tuple[str, str] = ("ecnet", "eftgan")


def member_split(dataset: Dataset, train: list[int], subsample: float, seed: int) -> list[int]:
    """A seeded ``subsample`` share of the training entries, whole compositions at a time."""
    keys = sorted({dataset[i].group_key for i in train})
    rng = np.random.default_rng(seed)
    keep = set(rng.permutation(keys)[: max(1, round(subsample * len(keys)))])
    return [i for i in train if dataset[i].group_key in keep]


def train_ensemble(
    dataset: Dataset,
    out: str | Path,
    config: EnsembleTrainConfig | None = None,
    excluded: list[str] | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Train the members, pack and calibrate both ensembles, write the report; return it."""
    cfg = config or EnsembleTrainConfig()
    out = Path(out)
    split = split_by_composition(dataset, (0.8, 0.1, 0.1), cfg.seed)
    _check_recipe(out / "members", cfg, dataset.data_hash)
    for k in range(cfg.members):
        _train_member(dataset, out / "members", k, split, cfg, excluded or [], progress)
    members = [out / "members" / f"ecnet-{k}" for k in range(cfg.members)]
    gans = [out / "members" / f"eftgan-{k}" for k in range(cfg.members)]
    train_idx = sorted(
        {i for k in range(cfg.members) for i in _member_train(dataset, split, cfg, k)}
    )
    names = dict(
        zip(
            ("train", "validation", "test"),
            ([dataset[i].name for i in s] for s in split),
            strict=True,
        )
    )
    record = {
        "split": names,
        "protocol": PROTOCOL,
        "settings": cfg.as_dict(),
        "label_sources": list(label_sources(dataset)),
    }
    ecnet_dir, eftgan_dir = out / cfg.names[0], out / cfg.names[1]
    pack(members, ecnet_dir, "ecnet", {**record, **_reach_record(dataset, train_idx)})
    pack(gans, eftgan_dir, "eftgan", record)
    table = EmbeddingTable.load(members[0] / "embeddings.json")
    dataclasses.replace(table, name=ecnet_dir.name).save(ecnet_dir / "embeddings.json")
    report = {"protocol": PROTOCOL, "settings": cfg.as_dict(), "data_sha256": dataset.data_hash}
    report["ecnet"] = calibrate(ecnet_dir, "ecnet", dataset, cfg.n_z)
    report["eftgan"] = calibrate(eftgan_dir, "eftgan", dataset, cfg.n_z)
    report["split"] = names
    atomic_write_json(out / "report.json", report)
    return report


def _check_recipe(root: Path, cfg: EnsembleTrainConfig, data_hash: str) -> None:
    """Record what the members in ``root`` are trained with (the recipe and the data), or
    refuse to reuse members that another recipe or dataset made. The number of members,
    ``n_z`` and the folder names may change: member ``k`` does not depend on them."""
    want = {k: v for k, v in cfg.as_dict().items() if k not in ("members", "n_z", "names")}
    want = json.loads(json.dumps({**want, "data_sha256": data_hash}))
    path = root / "recipe.json"
    if not path.is_file():
        atomic_write_json(path, want)
    elif json.loads(path.read_text()) != want:
        raise UserError(
            f"{root} holds ensemble members trained with other settings or data; choose "
            "another --out"
        )


def _train_member(
    dataset: Dataset,
    root: Path,
    k: int,
    split: tuple[list[int], list[int], list[int]],
    cfg: EnsembleTrainConfig,
    excluded: list[str],
    progress: bool,
) -> None:
    """ECNet member ``k`` and its EFTGAN, each skipped when its folder is already finished."""
    from eftgan.model import ECNetModel
    from eftgan.pipeline import EFTGANTrainConfig, train_eftgan
    from eftgan.train import TrainConfig, Trainer

    seed = cfg.seed + k
    train = _member_train(dataset, split, cfg, k)
    ecnet_dir, gan_dir = root / f"ecnet-{k}", root / f"eftgan-{k}"
    if not (ecnet_dir / "config.json").is_file():
        tc = TrainConfig(seed=seed, max_epochs=cfg.epochs, patience=cfg.patience)
        Trainer(
            dataset,
            ecnet_dir,
            train_config=tc,
            split=(train, split[1], split[2]),
            excluded=excluded,
            progress=progress,
        ).run()
    if not (gan_dir / "config.json").is_file():
        gc = EFTGANTrainConfig(seed=seed, gan_steps=cfg.gan_steps, gen_draws=cfg.gen_draws)
        names = [dataset[i].name for i in train]
        model = ECNetModel.from_folder(ecnet_dir)
        train_eftgan(model, dataset, gan_dir, gc, progress=progress, train_names=names)


def _member_train(
    dataset: Dataset,
    split: tuple[list[int], list[int], list[int]],
    cfg: EnsembleTrainConfig,
    k: int,
) -> list[int]:
    """The training entries of member ``k``."""
    return member_split(dataset, split[0], cfg.subsample, cfg.seed + k)


def _reach_record(dataset: Dataset, idx: list[int]) -> dict[str, Any]:
    """Training compositions (over the dataset's elements) and phases of entries ``idx``, as
    :mod:`eftgan.reach` reads them from a model config."""
    els = dataset.elements
    return {
        "train_compositions": [[dataset[i].fractions.get(e, 0.0) for e in els] for i in idx],
        "train_phases": [dataset[i].phase for i in idx],
    }


def pack(folders: list[Path], out: Path, kind: str, record: dict[str, Any] | None = None) -> Path:
    """One model folder of ``kind`` holding the members in ``folders`` (weights under
    ``member{k}.``), their cards concatenated, and ``record`` (the split by name, the protocol,
    for ECNet the training compositions and phases of the extrapolation flag) in the config."""
    state, members, cards = {}, [], []
    for k, folder in enumerate(folders):
        config, weights = read_model_folder(folder, kind)
        state.update({f"member{k}.{name}": t for name, t in weights.items()})
        members.append(config["model"])
        cards.append(_demoted((folder / "card.md").read_text(), f"Member {k}"))
    model: dict[str, Any] = {"members": members, **(record or {})}
    return write_model_folder(out, state, kind, model, "\n".join(cards))


def _demoted(card: str, title: str) -> str:
    """A member's card as a section of the ensemble's card (headings one level down)."""
    lines = card.splitlines()
    lines[0] = f"### {title}: {lines[0].lstrip('# ')}"
    return "\n".join("#" + ln if ln.startswith("## ") else ln for ln in lines) + "\n"


def card_parts(card: str, kind: str) -> tuple[str, str]:
    """``(members' cards, history section)`` of a folder's card: a freshly packed folder's
    card is its members' cards alone; an ensemble card (:func:`ensemble_card`) keeps them
    under ``## Members`` and may hold a ``## History`` section written since."""
    if not card.startswith(f"# {kind} ensemble"):
        return card, ""
    head, _, members = card.partition("\n## Members\n")
    members = members.strip().rsplit("\n", 1)[0]  # the ensemble's own versions line
    history = head.partition("\n## History\n")[2]
    return members, f"## History\n{history}".rstrip() if history else ""


def ensemble_card(
    folder: Path, kind: str, config: dict[str, Any], members_card: str, history: str = ""
) -> str:
    """The ensemble's card: what it is, its protocol, the test table, its history (when it
    has one), then the members'."""
    from eftgan.checkpoint import versions_line

    m = config["model"]
    split = {k: len(v) for k, v in m["split"].items()}
    # one --data per label source (folders of older ensembles did not record them)
    sources = m.get("label_sources")
    data = " ".join(f"--data {s.upper()}_DATASET" for s in sources) if sources else "--data DATASET"
    what = {
        "ecnet": "ECNets reading a relaxed structure",
        "eftgan": "EFTGANs (generator + property MLP) reading a composition alone",
    }[kind]
    lines = [
        f"# {kind} ensemble `{folder.name}`",
        "",
        f"A deep ensemble of {len(m['members'])} {what}: the mean of the members is the "
        "prediction, their calibrated spread the `*_std` columns.",
        "",
        f"- protocol: {m['protocol']}",
        f"- split by composition: train {split['train']}, validation {split['validation']}, "
        f"test {split['test']} structures; settings `{m['settings']}`",
        f"- rebuild: `eftgan train ensemble {data} --out DIR --seed {m['settings']['seed']}"
        f" --members {len(m['members'])} --names {','.join(m['settings']['names'])}`",
        "",
        "## Test split (read once, after calibration on validation)",
        "",
        "| phase | target | MAE | MAE member 0 | RMSE | ±1σ | ±2σ | Spearman | n |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for phase, per in config["metrics"]["test"].items():
        for t, r in per.items():
            if r.get("n"):
                lines.append(
                    f"| {phase} | {t} | {r['mae']:.4f} | {r['mae_member0']:.4f} | "
                    f"{r['rmse']:.4f} | {r['coverage_1sigma']:.2f} | {r['coverage_2sigma']:.2f} "
                    f"| {r['spearman_abs_err_sigma']:.2f} | {r['n']} |"
                )
    if kind == "ecnet":
        lines += ["", "V0 is the input cell's volume per atom read back, not a prediction."]
    lines += ["", history] if history else []
    lines += ["", "## Members", "", members_card.rstrip(), "", versions_line()]
    return "\n".join(lines) + "\n"


def predict_entries(
    model: Any, dataset: Dataset, idx: list[int], n_z: int
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Mean and spread (N, T) of an ``ECNetModel`` (from the structures) or a ``Screener``
    (from the compositions) for entries ``idx``; the target names."""
    from eftgan.explore import Screener

    if not isinstance(model, Screener):
        entries = [dataset[i] for i in idx]
        rows = model.predict_structures(
            [e.structure for e in entries], [e.phase for e in entries], [e.name for e in entries]
        )
        targets = list(model.targets)
        mean = np.array([[r[t] for t in targets] for r in rows])
        std = np.array([[r.get(std_column(t), 0.0) for t in targets] for r in rows])
        return mean, std, targets
    mean = np.zeros((len(idx), len(model.targets)))
    std = np.zeros_like(mean)
    for p in model.cfg.phases:
        rows = [j for j, i in enumerate(idx) if dataset[i].phase == p]
        els = model.elements
        c = np.array([[dataset[idx[j]].fractions.get(e, 0.0) for e in els] for j in rows])
        if rows:
            mean[rows], std[rows] = model._properties(c, p, n_z, seed=0)
    return mean, std, model.targets


def calibration_factor(err: np.ndarray, std: np.ndarray) -> float:
    """The factor that makes ``std`` cover ``err`` (1 without finite errors and spreads).

    It is ``sqrt(q68 * q95 / 2)``, ``q68`` and ``q95`` the 68.27th and 95.45th percentiles of
    ``|err / std|``: for Gaussian errors both ``q68`` and ``q95 / 2`` equal the factor. The
    standardised validation errors of the ensembles have heavier tails than a Gaussian, so
    the RMS (``sqrt(mean((err / std)^2))``) gave ±1σ too wide and the 68th percentile alone
    ±2σ too narrow; the geometric mean of the two percentiles keeps both coverages in their
    goal bands (0.60-0.76 and 0.90-0.98). That choice, and fitting one factor per target over
    both phases rather than one per phase, were made by leave-one-out coverage on the
    validation parts of five splits (``benchmarks/ensemble_benchmark.py``,
    ``calibration_designs``); no test data were read.
    """
    ok = np.isfinite(err) & (std > 0)
    if not ok.any():
        return 1.0
    z = np.abs(err[ok] / std[ok])
    return float(np.sqrt(np.quantile(z, 0.6827) * np.quantile(z, 0.9545) / 2.0))


def uncertainty_metrics(err: np.ndarray, std: np.ndarray) -> dict[str, float]:
    """MAE, RMSE, coverage of ±1σ and ±2σ, Spearman correlation of |error| with σ."""
    from scipy.stats import spearmanr

    ok = np.isfinite(err)
    e, s = err[ok], std[ok]
    if not len(e):
        return {"n": 0}
    rho = spearmanr(np.abs(e), s).statistic if len(e) > 2 and np.ptp(s) > 0 else math.nan
    return {
        "n": int(len(e)),
        "mae": float(np.mean(np.abs(e))),
        "rmse": float(np.sqrt(np.mean(e**2))),
        "coverage_1sigma": float(np.mean(np.abs(e) <= s)),
        "coverage_2sigma": float(np.mean(np.abs(e) <= 2 * s)),
        "spearman_abs_err_sigma": float(rho),
    }


def calibrate(folder: Path, kind: str, dataset: Dataset, n_z: int) -> dict[str, Any]:
    """Fit the spread factors on the validation split recorded in ``folder``, write them into
    its config, then report the test split (:func:`test_report`). A folder calibrated before
    is refitted from its raw spread: the old factors are removed first."""
    config, state = read_model_folder(folder, kind)
    config["model"].pop("calibration", None)
    members_card, history = card_parts((folder / "card.md").read_text(), kind)
    write_model_folder(folder, state, kind, config["model"], members_card)
    val = first_source(dataset, entry_indices(dataset, config["model"]["split"]["validation"]))
    y = dataset.targets()[val]
    mean, std, targets = predict_entries(load(folder), dataset, val, n_z)
    per_target = {
        t: calibration_factor(mean[:, j] - y[:, j], std[:, j]) for j, t in enumerate(targets)
    }
    factor = {p: dict(per_target) for p in PHASES}  # one per target, stored per phase
    config["model"]["protocol"] = PROTOCOL  # step 3 is what was done here
    config["model"]["calibration"] = {
        "factor": factor,
        "fitted_on": f"validation split ({len(val)} structures, both phases): "
        "sqrt(q68 * q95 / 2) of |err / std|",
    }
    write_model_folder(folder, state, kind, config["model"], members_card)
    report = test_report(folder, kind, dataset, n_z)
    config["metrics"] = report
    card = ensemble_card(folder, kind, config, members_card, history)
    write_model_folder(folder, state, kind, config["model"], card, {"metrics": report})
    return {"factor": factor, **report}


def test_predictions(
    folder: Path, kind: str, dataset: Dataset, n_z: int = 8
) -> tuple[list[int], np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """The test split an ensemble folder records (dataset indices), the ensemble's mean and
    calibrated spread there, member 0's prediction alone (each (N, T)), and the targets."""
    names = read_model_folder(folder, kind)[0]["model"]["split"]["test"]
    test = first_source(dataset, entry_indices(dataset, names))
    model = load(folder)
    mean, std, targets = predict_entries(model, dataset, test, n_z)
    model.members = model.members[:1]
    one, _, _ = predict_entries(model, dataset, test, n_z)
    return test, mean, std, one, targets


def test_report(folder: Path, kind: str, dataset: Dataset, n_z: int = 8) -> dict[str, Any]:
    """Accuracy and calibration of an ensemble folder on the test split it records:
    ``{"test": {phase: {target: metrics}}}`` with :func:`uncertainty_metrics` and
    ``mae_member0`` (member 0 alone); draws ``calibration.png`` into the folder."""
    test, mean, std, one, targets = test_predictions(folder, kind, dataset, n_z)
    y = dataset.targets()[test]
    ph = np.array([dataset[i].phase for i in test])
    out: dict[str, Any] = {}
    for p in PHASES:
        m = ph == p
        out[p] = {
            short_name(t): {
                **uncertainty_metrics(mean[m, j] - y[m, j], std[m, j]),
                "mae_member0": float(np.nanmean(np.abs(one[m, j] - y[m, j]))),
            }
            for j, t in enumerate(targets)
        }
    _calibration_png(folder / "calibration.png", mean - y, std, targets, kind)
    return {"test": out}


def first_source(dataset: Dataset, idx: list[int]) -> list[int]:
    """The indices of ``idx`` labelled by the dataset's first source (DFT where it has DFT
    rows): the source an ensemble predicts, so the only one its spread and errors are
    measured against."""
    first = label_sources(dataset)[0]
    return [i for i in idx if dataset[i].source == first]


def entry_indices(dataset: Dataset, names: list[str]) -> list[int]:
    """Dataset indices of the entries named (a :class:`UserError` if one is missing)."""
    where = {n: i for i, n in enumerate(dataset.names)}
    missing = [n for n in names if n not in where]
    if missing:
        raise UserError(
            f"{len(missing)} structures of the ensemble's split (e.g. {missing[0]}) are not in "
            "this dataset; give the dataset the ensemble was trained on"
        )
    return [where[n] for n in names]


def _calibration_png(
    path: Path, err: np.ndarray, std: np.ndarray, targets: list[str], kind: str
) -> None:
    """Observed against expected coverage of central Gaussian intervals, one line per target."""
    from scipy.stats import norm

    from eftgan.plotting import pyplot, save_png

    plt = pyplot()
    levels = np.linspace(0.05, 0.95, 19)
    fig, ax = plt.subplots(figsize=(4.6, 4.2))
    for j, t in enumerate(targets):
        ok = np.isfinite(err[:, j]) & (std[:, j] > 0)
        z = np.abs(err[ok, j] / std[ok, j])
        observed = [np.mean(z <= norm.ppf(0.5 + q / 2)) for q in levels]
        ax.plot(levels, observed, "-o", ms=3, label=short_name(t))
    ax.plot([0, 1], [0, 1], "k--", lw=0.8)
    ax.set_xlabel("expected coverage (Gaussian interval)")
    ax.set_ylabel("observed coverage on the test split")
    ax.set_title(f"{kind} ensemble, calibrated on validation", fontsize=10)
    ax.legend(fontsize=8)
    save_png(fig, path, dpi=150, bbox_inches="tight")
