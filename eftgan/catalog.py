"""The catalogue of shipped models: what each is, what it learned from, how good it is.

Every folder in ``data/models`` (installed as ``eftgan_data/models``) that holds a
``config.json`` is one shipped model. :func:`shipped_models` describes each from the files of
its own folder, so that the catalogue cannot disagree with the models:

- the kind and the training data from ``config.json`` (and ``training.json`` for ECNet; a
  GAN's from its ``training_data`` where it says, else synthetic Al-Si micrographs);
- the size on disk, summed over the folder's files;
- one headline figure, with its name, unit and the file it comes from:

  ============  ===============================================================================
  ``ecnet``     test MAE of Eform over the held-out structures of both phases (``training.json``)
  ``eftgan``    structure-free Eform MAE on the ECNet's test structures from the EFTGAN
                benchmark (``benchmarks/results/eftgan.json``, a source checkout only), else the
                Q-network's composition error on the training features (``config.json``)
  ``saca``      calibrated test MAE of Cr on held-out simulated spectra (``config.json``)
  ``dcgan``     phase-fraction error of generated Al-7Si micrographs from the microstructure
                benchmark (``benchmarks/results/microstructure.json``, a source checkout only),
                else (and for an unconditional default GAN) the last discriminator loss of
                training (``history.csv``)
  ============  ===============================================================================

The benchmark results are not part of the installed package, so an installed eftgan shows
the figure its folders record, and says so in ``source``. Nothing here imports torch: listing
the models is as fast as reading a few JSON files.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from eftgan.errors import UserError
from eftgan.paths import DEFAULT_MODELS, default_model_dir, shipped_models_dir

__all__ = ["ShippedModel", "describe", "model_elements", "shipped_model_for", "shipped_models"]


@dataclass(frozen=True)
class ShippedModel:
    """One shipped model folder, as ``eftgan models`` lists it.

    Attributes:
        name: folder name, ``<kind>-<dataset>-<version>``.
        kind: ``config.json``'s kind (ecnet, eftgan, saca, dcgan).
        default: whether it is the kind's default (:data:`eftgan.paths.DEFAULT_MODELS`).
        training_data: what it was trained on, in words.
        size_mb: the folder's size on disk in MB (10^6 bytes).
        metric: the headline figure's name (None where the folder records none).
        value: the headline figure.
        unit: its unit.
        source: where the figure comes from (a file, and which part of it).
        folder: the model folder.
    """

    name: str
    kind: str
    default: bool
    training_data: str
    size_mb: float
    metric: str | None
    value: float | None
    unit: str
    source: str
    folder: Path

    def as_dict(self) -> dict[str, Any]:
        """The fields as JSON-able values (the folder as a string)."""
        return {**asdict(self), "folder": str(self.folder)}


@dataclass(frozen=True)
class _Headline:
    metric: str | None
    value: float | None
    unit: str
    source: str


_NONE = _Headline(None, None, "", "no figure recorded in the folder")


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _benchmark(name: str) -> dict[str, Any]:
    """A benchmark result file of the source checkout the models live in ({} if installed)."""
    repo = shipped_models_dir().resolve().parent.parent
    if not (repo / "pyproject.toml").is_file():
        return {}
    return _read_json(repo / "benchmarks" / "results" / name)


def _eform_headline(test: dict[str, Any], where: str) -> _Headline:
    """The test MAE of Eform over both phases, weighted by structures, from per-phase metrics."""
    rows = [phase["eform"] for phase in test.values() if phase.get("eform", {}).get("n")]
    if not rows:
        return _NONE
    n = sum(r["n"] for r in rows)
    mae = sum(r["mae"] * r["n"] for r in rows) / n
    return _Headline("test MAE of Eform", mae, "eV/atom", f"{where}, {n} held-out structures")


def _ensemble(config: dict[str, Any], words: str) -> tuple[str, _Headline]:
    """Words and headline of an ensemble folder: the test MAE of Eform over both phases."""
    model = config.get("model", {})
    words = f"ensemble of {len(model.get('members', []))}; {words}"
    test = config.get("metrics", {}).get("test", {})
    return words, _eform_headline(test, "config.json: metrics.test, fcc and bcc")


def _split_words(config: dict[str, Any]) -> str:
    """How many structures an ensemble trained on, and the seed of its split."""
    model = config["model"]
    n, seed = len(model["split"]["train"]), model["settings"]["seed"]
    return f"{n} training structures (split seed {seed})"


def _ecnet(folder: Path, config: dict[str, Any]) -> tuple[str, _Headline]:
    if "members" in config.get("model", {}):
        return _ensemble(config, f"DFT: {_split_words(config)}")
    record = _read_json(folder / "training.json")
    data = record.get("data", {})
    elements = ", ".join(config.get("model", {}).get("elements", []))
    source = Path(str(data.get("source", "DFT dataset"))).name
    words = f"DFT: {data.get('n_entries_used', '?')} SQS structures of {elements} ({source})"
    test = record.get("metrics", {}).get("test", {})
    return words, _eform_headline(test, "training.json: metrics.test, fcc and bcc")


def _eftgan(folder: Path, config: dict[str, Any]) -> tuple[str, _Headline]:
    if "members" in config.get("model", {}):
        return _ensemble(config, f"ECNet features of the {_split_words(config)}")
    metrics = config.get("metrics", {})
    ecnet = config.get("model", {}).get("ecnet", {}).get("folder", "the shipped ECNet")
    words = f"features of {metrics.get('n_train', '?')} DFT structures from {ecnet}"
    free = _benchmark("eftgan.json").get("structure_free", {})
    if "eftgan_generator_mlp" in free:
        where = (
            "benchmarks/results/eftgan.json: structure_free, "
            f"{free.get('n_test_structures', '?')} test structures, mean of "
            f"{free.get('gan_seeds', '?')} GAN seeds of this model's recipe"
        )
        mae = free["eftgan_generator_mlp"]["eform"]
        return words, _Headline("structure-free MAE of Eform", mae, "eV/atom", where)
    if "q_mae_train_real" in metrics:
        where = "config.json: metrics.q_mae_train_real (training features)"
        q = metrics["q_mae_train_real"]
        return words, _Headline("Q-network composition MAE", q, "at. fraction", where)
    return words, _NONE


def _saca(folder: Path, config: dict[str, Any]) -> tuple[str, _Headline]:
    data = config.get("data", {})
    n = data.get("n_spectra", "?")
    instrument = data.get("instrument", config.get("model", {}).get("instrument", "?"))
    words = f"{n:,}" if isinstance(n, int) else str(n)
    words += f" simulated spectra ({instrument} instrument)"
    cr = config.get("metrics", {}).get("Cr", {})
    if "mae" not in cr:
        return words, _NONE
    calibrated = config.get("model", {}).get("saca", {}).get("calibrated")
    where = "config.json: metrics.Cr, held-out simulated test spectra"
    where += ", after calibration" if calibrated else ""
    return words, _Headline("test MAE of Cr", float(cr["mae"]), "wt %", where)


def _dcgan(folder: Path, config: dict[str, Any]) -> tuple[str, _Headline]:
    model = config.get("model", {})
    si, arch = model.get("si_wt_pct"), model.get("arch", "paper")
    words = config.get("training_data") or "synthetic Al-Si micrographs"
    if si:
        words += " at Si " + ", ".join(f"{s:g}" for s in si) + " wt %"
    if not si and arch != "paper":  # scored only as where micro train starts (its card)
        return words, _last_loss(folder / "history.csv")
    bench = _benchmark("microstructure.json")
    # the paper's networks are scored in the main run, the others in their own run, where
    # the figure is that of the model's own seed
    if si and arch != "paper":
        row = bench.get("conditional_by_arch", {}).get(arch, {})
        seed = str(config.get("seed"))
        key = f"conditional_by_arch.{arch}.seeds.{seed}.si_7"
        entry = row.get("seeds", {}).get(seed, {}).get("si_7", {})
    else:
        key = "models.conditional" if si else "models.dcgan"
        entry = bench.get("models", {}).get(key.split(".")[1], {})
    if "phase_fraction_error" in entry:
        where = (
            f"benchmarks/results/microstructure.json: {key}, "
            f"{entry.get('n_fake', '?')} generated against "
            f"{entry.get('n_real', '?')} synthetic micrographs at Al-7Si"
        )
        err = entry["phase_fraction_error"]
        return words, _Headline("phase-fraction error at Al-7Si", err, "area fraction", where)
    return words, _last_loss(folder / "history.csv")


def _last_loss(path: Path) -> _Headline:
    try:
        with path.open(newline="") as f:
            rows = list(csv.DictReader(f))
        value = float(rows[-1]["d_loss"])
    except (OSError, IndexError, KeyError, ValueError):
        return _NONE
    where = f"history.csv: d_loss at iteration {rows[-1].get('iter', len(rows))}"
    return _Headline("final discriminator loss", value, "", where)


def _segmentation(part: str, key: str, metric: str, words: str, split: str) -> Any:
    """A describer whose headline is ``segmentation.json``'s ``part``/``key``."""

    def describe_one(folder: Path, config: dict[str, Any]) -> tuple[str, _Headline]:
        found = _benchmark("segmentation.json").get(part, {})
        if key not in found:
            return words, _NONE
        where = f"benchmarks/results/segmentation.json: {part}, {split}"
        return words, _Headline(metric, found[key], "", where)

    return describe_one


_unet_grains = _segmentation(
    "synthetic", "boundary_f", "boundary F (2 px)",
    "rendered polycrystal micrographs (no real image)", "held-out renderings",
)  # fmt: skip
_unet_phases = _segmentation(
    "super1", "iou_secondary", "IoU of secondary gamma-prime",
    "10 labelled SEM micrographs of a Ni superalloy (Super1, MIT)", "test split",
)  # fmt: skip


_DESCRIBE = {
    "ecnet": _ecnet,
    "eftgan": _eftgan,
    "saca": _saca,
    "dcgan": _dcgan,
    "unet-grains": _unet_grains,
    "unet-phases": _unet_phases,
}


def _size_mb(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 1e6


def describe(folder: str | Path) -> ShippedModel:
    """Describe one model folder (see the module docstring for where each field comes from).

    A folder of a kind the catalogue does not know, or one whose files record no figure, is
    listed with ``metric`` None.
    """
    folder = Path(folder)
    config = _read_json(folder / "config.json")
    kind = str(config.get("kind", "?"))
    words, head = _DESCRIBE[kind](folder, config) if kind in _DESCRIBE else ("?", _NONE)
    return ShippedModel(
        name=folder.name,
        kind=kind,
        default=DEFAULT_MODELS.get(kind) == folder.name,
        training_data=words,
        size_mb=round(_size_mb(folder), 2),
        metric=head.metric,
        value=head.value,
        unit=head.unit,
        source=head.source,
        folder=folder,
    )


def shipped_models() -> list[ShippedModel]:
    """Every shipped model folder, in the order ECNet, EFTGAN, SACA, DCGAN, then by name."""
    root = shipped_models_dir()
    folders = [p for p in root.iterdir() if (p / "config.json").is_file()] if root.is_dir() else []
    models = [describe(p) for p in folders]
    order = {kind: i for i, kind in enumerate(DEFAULT_MODELS)}
    return sorted(models, key=lambda m: (order.get(m.kind, len(order)), m.name))


def model_elements(folder: str | Path) -> tuple[str, ...] | None:
    """The element slots of an ECNet or EFTGAN model folder (of its first member), or None for
    a folder of another kind or without a readable ``config.json``."""
    return _elements_of(_read_json(Path(folder) / "config.json"))


def _elements_of(config: dict[str, Any]) -> tuple[str, ...] | None:
    model = config.get("model", {})
    member = model["members"][0] if "members" in model else model
    if config.get("kind") == "ecnet":
        return tuple(member.get("elements", ())) or None
    if config.get("kind") == "eftgan":
        return tuple(member.get("gan", {}).get("elements", ())) or None
    return None


def shipped_model_for(kind: str, elements: Iterable[str]) -> Path:
    """The shipped ``kind`` model (ecnet or eftgan) for alloys of ``elements``: the kind's
    default where it covers them all, else the shipped model with the fewest elements that does.

    Raises:
        UserError: no shipped model of the kind covers them; the message names the elements
            missing and the way to a model that has them (``eftgan data label``, training).
    """
    from eftgan.elements import canonical_symbol

    wanted = {canonical_symbol(e) for e in elements}
    root = shipped_models_dir()
    folders = sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
    configs = {f: _read_json(f / "config.json") for f in folders}
    found = {
        f: els for f, c in configs.items() if c.get("kind") == kind and (els := _elements_of(c))
    }
    covering = [f for f, els in found.items() if wanted <= set(els)]
    if not covering:
        known = sorted({e for els in found.values() for e in els})
        missing = ", ".join(sorted(wanted - set(known))) or "this combination"
        raise UserError(
            f"no shipped model covers {missing} (shipped: {', '.join(known)}); label alloys with "
            "`eftgan data label` and train a model on them (docs: Data, labelling new alloys)"
        )
    default = default_model_dir(kind)
    return default if default in covering else min(covering, key=lambda f: len(found[f]))
