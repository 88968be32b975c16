"""Helpers shared by the benchmark scripts: machine description, JSON output, statistics over
seeds (mean, spread, 95 % confidence interval), verdicts against anchors, and the calibration of
the shipped ensembles."""

from __future__ import annotations

import json
import math
import os
import platform
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from eftgan.dataset import TARGETS

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
SHARED = REPO.parent / "shared"
#: Short target names in the order of ``eftgan.dataset.TARGETS``: etot, eform, emix, ms, rmsd, v0.
SHORT = tuple(t.split("_")[0] for t in TARGETS)
PHASES = ("fcc", "bcc")


def cpu_name() -> str:
    """The CPU's model name with its family, model and clock where Linux tells them: a
    virtual machine may show only "AMD EPYC", and two such differed twofold in speed."""
    try:
        info = Path("/proc/cpuinfo").read_text().split("\n\n")[0]
    except OSError:
        return platform.processor() or "unknown CPU"
    fields = dict(
        (k.strip(), v.strip()) for k, _, v in (ln.partition(":") for ln in info.splitlines())
    )
    detail = [f"family {fields['cpu family']}"] if "cpu family" in fields else []
    detail += [f"model {fields['model']}"] if "model" in fields else []
    if "cpu MHz" in fields:
        detail.append(f"{float(fields['cpu MHz']):.0f} MHz")
    name = fields.get("model name") or platform.processor() or "unknown CPU"
    return f"{name} ({', '.join(detail)})" if detail else name


def machine() -> str:
    """CPU model, cores, memory, OS, Python and torch versions: the line results record."""
    cpu = cpu_name()
    import torch

    mem = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f", {kb / 1024**2:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    return (
        f"{cpu}, {os.cpu_count()} cores{mem}, {platform.system()} {platform.machine()}, "
        f"Python {platform.python_version()}, torch {torch.__version__} "
        f"({torch.get_num_threads()} threads)"
    )


def protocol_text(doc: str | None) -> str:
    """A benchmark's protocol as its JSON records it: the docstring's paragraphs between the
    first (what it is) and the last (how to run it), on one line."""
    return " ".join(" ".join((doc or "").split("\n\n")[1:-1]).split())


def write_json(name: str, payload: dict[str, Any]) -> Path:
    """Write ``payload`` to ``benchmarks/results/<name>`` atomically; returns the path."""
    from eftgan.files import atomic_write_text

    return atomic_write_text(RESULTS / name, json.dumps(payload, indent=1, allow_nan=True))


def merge_json(name: str, keys: Sequence[str], part: dict[str, Any]) -> Path:
    """Put ``part`` at ``keys`` (nested) in ``benchmarks/results/<name>``, keeping the rest
    of the file; written as :func:`write_json` does."""
    path = RESULTS / name
    whole = json.loads(path.read_text()) if path.is_file() else {}
    node = whole
    for k in keys[:-1]:
        node = node.setdefault(k, {})
    node[keys[-1]] = part
    return write_json(name, whole)


def summary(values: Sequence[float | None]) -> dict[str, Any]:
    """Mean, sample standard deviation and 95 % confidence interval of the mean over seeds.

    ``ci95`` is ``mean ± t(0.975, n-1) sd / sqrt(n)`` (Student t); None with fewer than two
    finite values. ``per_seed`` keeps every value (None where a seed had none).
    """
    per_seed = [None if v is None or not math.isfinite(v) else float(v) for v in values]
    v = [x for x in per_seed if x is not None]
    n = len(v)
    out: dict[str, Any] = {"mean": None, "std": None, "ci95": None, "n": n, "per_seed": per_seed}
    if n == 0:
        return out
    out["mean"] = float(np.mean(v))
    if n > 1:
        from scipy.stats import t

        sd = float(np.std(v, ddof=1))
        half = float(t.ppf(0.975, n - 1)) * sd / math.sqrt(n)
        out["std"] = sd
        out["ci95"] = [out["mean"] - half, out["mean"] + half]
    return out


def verdict(s: dict[str, Any], anchor: float) -> str:
    """``met`` when the CI's upper end is below ``anchor``, ``missed`` when its lower end is
    above, ``within noise`` otherwise (``not judged`` without a CI)."""
    ci = s.get("ci95")
    if not ci:
        return "not judged (fewer than two seeds)"
    if ci[1] < anchor:
        return "met"
    if ci[0] > anchor:
        return "missed"
    return "within noise"


def judged(s: dict[str, Any], anchor: float) -> dict[str, Any]:
    """An anchor beside the measured mean and CI, with its verdict."""
    return {"anchor": anchor, "mean": s["mean"], "ci95": s["ci95"], "verdict": verdict(s, anchor)}


CALIBRATION_KEYS = (
    "n",
    "mae",
    "rmse",
    "mae_member0",
    "coverage_1sigma",
    "coverage_2sigma",
    "spearman_abs_err_sigma",
)


def ensemble_calibration(kind: str, dataset: Any) -> dict[str, Any]:
    """:func:`eftgan.ensemble.test_report` of the shipped ``kind`` ensemble on the test split
    its folder records, run on a temporary copy (the report redraws ``calibration.png``)."""
    import shutil
    import tempfile

    from eftgan.ensemble import test_report
    from eftgan.paths import default_model_dir

    folder = default_model_dir(kind)
    if not (folder / "config.json").is_file():
        return {"not_measured": f"no shipped model folder {folder.name}"}
    config = json.loads((folder / "config.json").read_text())
    if "split" not in config["model"] or "members" not in config["model"]:
        return {"not_measured": f"{folder.name} is not an ensemble folder with a recorded split"}
    members = len(config["model"]["members"])
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / folder.name
        shutil.copytree(folder, copy)
        rep = test_report(copy, kind, dataset)["test"]
    test = {
        phase: {t: {k: m.get(k) for k in CALIBRATION_KEYS} for t, m in per.items()}
        for phase, per in rep.items()
    }
    note = (
        f"the shipped {kind} ensemble {folder.name} ({members} members), on the test split "
        "recorded in its folder: one split (seed 0, 80/10/10 by composition), spread "
        "recalibrated per target on that split's validation part, test read once"
    )
    return {"model": folder.name, "members": members, "note": note, "test": test}


def refresh_calibration(name: str, kind: str, dataset: Any) -> None:
    """Re-measure only the ``calibration`` block of ``benchmarks/results/<name>`` (the shipped
    ``kind`` ensemble on its test split) and keep the rest: for a shipped ensemble whose spread
    was recalibrated, which leaves its weights, and so every other figure, unchanged."""
    report = json.loads((RESULTS / name).read_text())
    report["calibration"] = ensemble_calibration(kind, dataset)
    report["calibration"]["measured_separately"] = True
    print(write_json(name, report))


def phase_metrics(
    y: np.ndarray, p: np.ndarray, phases: Sequence[str]
) -> dict[str, dict[str, dict[str, float]]]:
    """``{phase: {target: {mae, rmse, n}}}`` over entries where label and prediction exist;
    ``y`` and ``p`` have shape (N, len(SHORT))."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    ph = np.asarray(phases)
    for phase in PHASES:
        m = ph == phase
        out[phase] = {}
        for j, t in enumerate(SHORT):
            ok = m & np.isfinite(y[:, j]) & np.isfinite(p[:, j])
            err = p[ok, j] - y[ok, j]
            out[phase][t] = {
                "mae": float(np.mean(np.abs(err))) if ok.any() else math.nan,
                "rmse": float(np.sqrt(np.mean(err**2))) if ok.any() else math.nan,
                "n": int(ok.sum()),
            }
    return out


def pooled(per_seed: list[dict[str, Any]]) -> dict[str, Any]:
    """Per phase and target: MAE and RMSE summarised over seeds (:func:`summary`: mean, std,
    95 % CI of the mean, per-seed values) and the mean test size per seed."""
    out: dict[str, Any] = {}
    for phase in PHASES:
        out[phase] = {}
        for t in SHORT:
            rows = [s[phase][t] for s in per_seed if s[phase][t]["n"]]
            if not rows:
                continue
            out[phase][t] = {
                "mae": summary([r["mae"] for r in rows]),
                "rmse": summary([r["rmse"] for r in rows]),
                "n_per_seed": int(round(np.mean([r["n"] for r in rows]))),
                "seeds": len(rows),
            }
    return out


def subsample(ds: Any, idx: Sequence[int], frac: float, seed: int) -> list[int]:
    """A seeded fraction (at least two) of the compositions of entries ``idx``; both phases of
    a kept composition are kept."""
    keys = sorted({ds[i].group_key for i in idx})
    rng = np.random.default_rng(seed)
    keep = set(rng.permutation(keys)[: max(2, int(round(frac * len(keys))))].tolist())
    return [i for i in idx if ds[i].group_key in keep]


def val_score(s: dict[str, float], floor: dict[str, float]) -> float:
    """The score a micrograph GAN's settings are chosen by (lower is better): phase-fraction
    error / 0.03 + s2_mae / 0.02 (the issue's goals) + texture-feature Fréchet distance / that
    of two real sets (``floor``)."""
    return (
        s["phase_fraction_error"] / 0.03
        + s["s2_mae"] / 0.02
        + s["frechet_features"] / floor["frechet_features"]
    )


def training_half_pf_error(row: dict[str, Any]) -> float:
    """How far a halves run's generated phase fraction is from that of the crops it was
    trained on (the floor's second set: crops of the training half); a collapse counts as 1."""
    if "collapsed" in row:
        return 1.0
    return abs(row["phase_fraction_fake"] - row["floor"]["phase_fraction_fake"])
