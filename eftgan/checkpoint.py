"""Model folders: ``config.json`` + ``weights.safetensors`` + ``card.md`` + ``history.csv`` +
``loss.png`` (+ kind-specific extras such as ``embeddings.json``).

Nothing here unpickles: weights are safetensors, everything else JSON, CSV or Markdown. The
config records the SHA-256 of the weights, so a damaged or edited weights file is refused, and a
format version, so a folder written by an incompatible eftgan is refused with a clear message.
``config.json`` is written last: its presence marks a complete folder.

Every trainer ends through :func:`write_finished_run` (history, loss curve, card with the
package versions, weights, config), and every model folder, whatever its kind, loads through
:func:`load` (``eftgan.load``), which dispatches on the ``kind`` recorded in ``config.json`` to
the typed loader of that kind.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import platform
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import torch
from safetensors.torch import save
from torch.overrides import TorchFunctionMode

from eftgan.errors import CheckpointError, UserError
from eftgan.files import atomic_write_bytes, atomic_write_text, staged_dir

FORMAT_VERSION = 1
M = TypeVar("M", bound=torch.nn.Module)
WEIGHTS_FILE = "weights.safetensors"
CONFIG_FILE = "config.json"


def package_versions() -> dict[str, str]:
    """Versions of the packages a result depends on (for cards and run records)."""
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for name in ("eftgan", "torch", "torch-geometric", "pymatgen", "ase", "numpy", "scikit-learn"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out


def versions_line() -> str:
    """``Versions: python 3.11.2, eftgan 0.1.0, torch ...``: the line every card ends with."""
    return "Versions: " + ", ".join(f"{k} {v}" for k, v in package_versions().items())


def sha256_bytes(data: bytes) -> str:
    """Hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def history_csv(history: list[dict[str, Any]]) -> str:
    """Rows of per-epoch (or per-step) numbers as CSV; columns in first-seen order, a value
    missing from a row is left empty."""
    cols: list[str] = []
    for row in history:
        cols += [k for k in row if k not in cols]
    lines = [",".join(cols)] + [",".join(_csv_value(row.get(c)) for c in cols) for row in history]
    return "\n".join(lines) + "\n"


def _csv_value(v: Any) -> str:
    """A history value as CSV text: floats to 8 significant digits, missing ones empty."""
    if v is None:
        return ""
    return f"{v:.8g}" if isinstance(v, float) else str(v)


def state_dict_bytes(
    module: torch.nn.Module | Mapping[str, torch.Tensor], metadata: dict[str, str] | None = None
) -> bytes:
    """Serialise a module's ``state_dict`` (or a state dict itself) as safetensors bytes.

    Tensors are detached, made contiguous and cloned first (shared storage is not allowed
    in safetensors); ``metadata`` is stored in the file header.

    Returns:
        The safetensors file contents.
    """
    state = module.state_dict() if isinstance(module, torch.nn.Module) else module
    tensors = {k: v.detach().contiguous().clone() for k, v in state.items()}
    return save(tensors, metadata=metadata)


def write_model_folder(
    folder: str | os.PathLike[str],
    module: torch.nn.Module | Mapping[str, torch.Tensor],
    kind: str,
    model_config: dict[str, Any],
    card: str,
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write weights, then card, then ``config.json`` last (its presence marks a complete model)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    blob = state_dict_bytes(module)
    atomic_write_bytes(folder / WEIGHTS_FILE, blob)
    atomic_write_text(folder / "card.md", card)
    config = {
        "format_version": FORMAT_VERSION,
        "kind": kind,
        "eftgan_version": package_versions()["eftgan"],
        "model": model_config,
        "weights": {"file": WEIGHTS_FILE, "sha256": sha256_bytes(blob)},
        **(extra or {}),
    }
    atomic_write_text(folder / CONFIG_FILE, json.dumps(config, indent=2))
    return folder


def write_finished_run(
    folder: str | os.PathLike[str],
    module: torch.nn.Module,
    kind: str,
    model_config: dict[str, Any],
    card: str,
    history: list[dict[str, Any]],
    curves: dict[str, str],
    x: str,
    extra: dict[str, Any] | None = None,
    log: bool = False,
    smooth_points: int = 0,
) -> Path:
    """Write a finished training run as a model folder, the one way every trainer ends.

    ``history`` (rows of numbers) goes to ``history.csv``; ``curves`` maps a legend label to a
    history column, plotted against column ``x`` in ``loss.png`` (log scale with ``log``,
    running means with ``smooth_points``, see :func:`eftgan.plotting.loss_curves_png`); the
    card gets the package versions as its last line; then weights and config
    (:func:`write_model_folder`).
    """
    from eftgan.plotting import loss_curves_png

    folder = Path(folder)
    atomic_write_text(folder / "history.csv", history_csv(history))
    if history:
        xs = [row[x] for row in history]
        lines = {
            label: (xs, [row.get(col, math.nan) for row in history])
            for label, col in curves.items()
        }
        loss_curves_png(folder / "loss.png", lines, x, log=log, smooth_points=smooth_points)
    card = card.rstrip("\n") + "\n\n" + versions_line() + "\n"
    return write_model_folder(folder, module, kind, model_config, card, extra)


def read_model_folder(
    folder: str | os.PathLike[str], kind: str, option: str = "--model"
) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """Check and read a model folder, given on the command line as ``option``; returns
    ``(config, state_dict)``.

    Raises :class:`CheckpointError` with a one-line reason for a missing folder or file, a
    config that is not JSON, another format version or kind, or weights whose hash differs.
    """
    folder = Path(folder)
    if folder.is_file():
        raise CheckpointError(f"{folder} is a file; give {option} the model's folder")
    if not folder.is_dir():
        raise CheckpointError(
            f"model folder {folder} does not exist; pass {option} with a trained model"
        )
    cfg_path = folder / CONFIG_FILE
    if not cfg_path.is_file():
        raise CheckpointError(
            f"{folder} is not a model folder (no {CONFIG_FILE}); was the training finished?"
        )
    try:
        config = json.loads(cfg_path.read_bytes())
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise CheckpointError(
            f"{cfg_path} is not valid JSON ({exc}); the folder is damaged"
        ) from None
    if not isinstance(config, dict):
        raise CheckpointError(f"{cfg_path} does not hold a model configuration")
    fv = config.get("format_version")
    if fv != FORMAT_VERSION:
        raise CheckpointError(
            f"{folder} was written in model format {fv!r} (eftgan "
            f"{config.get('eftgan_version', '?')}); this eftgan reads format {FORMAT_VERSION}: "
            "retrain the model or install the eftgan version that made it"
        )
    if config.get("kind") != kind:
        raise CheckpointError(f"{folder} holds a {config.get('kind')!r} model, not {kind!r}")
    weights = config.get("weights") or {}
    if not isinstance(weights, dict):
        raise CheckpointError(f"{cfg_path} records no weights file; the folder is damaged")
    wpath = folder / str(weights.get("file", WEIGHTS_FILE))
    if not wpath.is_file():
        raise CheckpointError(f"{folder} lacks its weights file {wpath.name}")
    blob = wpath.read_bytes()
    if sha256_bytes(blob) != weights.get("sha256"):
        raise CheckpointError(
            f"{wpath} does not match the SHA-256 recorded in {CONFIG_FILE}: the weights were "
            "modified or damaged; retrain or restore the folder"
        )
    try:
        from safetensors.torch import load

        state = load(blob)
    except Exception as exc:
        raise CheckpointError(f"cannot read {wpath} as safetensors ({exc})") from None
    return config, state


@contextmanager
def building(folder: str | os.PathLike[str], kind: str) -> Iterator[None]:
    """Turn a failure to build a ``kind`` model from a checked folder into one line.

    A typed loader reads the folder with :func:`read_model_folder` (hash and format checked),
    then builds the network from ``config.json`` and loads the weights inside this block: a
    config that lacks a key or holds a wrong value, or weights that do not fit the recorded
    architecture (torch's message spans lines), become one :class:`CheckpointError`.
    """
    try:
        yield
    except CheckpointError:
        raise
    except UserError as exc:  # a setting the config records is refused: name the folder
        raise CheckpointError(f"{folder}: {exc}") from None
    except (
        KeyError,
        TypeError,
        ValueError,
        IndexError,
        AttributeError,
        RuntimeError,
        ArithmeticError,
    ) as exc:
        reason = " ".join(f"{type(exc).__name__}: {exc}".split())[:160]
        raise CheckpointError(
            f"{folder}: its {CONFIG_FILE} and weights do not make a {kind} model ({reason}); "
            "the folder is damaged or was written by another eftgan: restore it or retrain"
        ) from None


class _ShapesOnly(TorchFunctionMode):
    """Skip ``torch.nn.init`` while a network is built on the meta device to read its shapes.

    Meta tensors have no values to initialise, but ``normal_`` on one runs PyTorch's Python
    reference, whose first call imports the compiler stack: seconds added to every command
    that loads a model.
    """

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if getattr(func, "__module__", "") == "torch.nn.init":
            return kwargs.get("tensor", args[0] if args else None)
        return func(*args, **kwargs)


def load_weights(
    make: Callable[[], M],
    state: dict[str, torch.Tensor],
    folder: str | os.PathLike[str],
    prefix: str = "",
) -> M:
    """Build the network ``make()`` describes and load ``state`` (its entries under ``prefix.``,
    or all of them) into it.

    The architecture is first built on PyTorch's meta device, where tensors have shapes but no
    storage, and its parameter shapes are compared with the weights': a ``config.json`` that
    records another (or an absurdly large) architecture is refused at no cost in memory or
    time, as a one-line :class:`CheckpointError`, before the real network is allocated.
    """
    if prefix:
        state = {k[len(prefix) + 1 :]: v for k, v in state.items() if k.startswith(prefix + ".")}
    with torch.device("meta"), _ShapesOnly():
        probe = make()
    want = {k: tuple(v.shape) for k, v in probe.state_dict().items()}
    got = {k: tuple(v.shape) for k, v in state.items()}
    if want != got:
        diff = sorted(set(want.items()) ^ set(got.items()))[:2]
        raise CheckpointError(
            f"{folder}: the weights do not fit the architecture its {CONFIG_FILE} records "
            f"(first differences: {diff}); the folder is damaged or was written by another "
            "eftgan: restore it or retrain"
        )
    module = make()
    module.load_state_dict(state)
    return module


def half_precision_copy(
    src: str | os.PathLike[str], dst: str | os.PathLike[str], kind: str
) -> Path:
    """Copy the model folder ``src`` to ``dst`` with its floating-point weights stored as
    float16 (half the size; they are read back into float32 models, so a value keeps about
    three significant digits and any below 6e-8 becomes 0). The configuration records the
    original weights' SHA-256 and the storage type; the card says so; the other files (loss
    curve, history) are copied as they are. ``dst`` must not exist."""
    import shutil

    src, dst = Path(src), Path(dst)
    config, state = read_model_folder(src, kind)
    if dst.exists():
        raise CheckpointError(f"{dst} exists; remove it or choose another folder")
    half = {k: v.half() if v.dtype.is_floating_point else v for k, v in state.items()}
    if not all(torch.isfinite(v).all() for v in half.values() if v.dtype.is_floating_point):
        raise CheckpointError(f"{src}: some weights overflow float16; keep them as they are")
    with staged_dir(dst) as tmp:
        for f in src.iterdir():
            if f.is_file() and f.name not in (CONFIG_FILE, WEIGHTS_FILE):
                shutil.copy2(f, tmp / f.name)
        blob = save({k: v.contiguous() for k, v in half.items()})
        atomic_write_bytes(tmp / WEIGHTS_FILE, blob)
        original = config["weights"]["sha256"]
        config["weights"] = {
            "file": WEIGHTS_FILE,
            "sha256": sha256_bytes(blob),
            "dtype": "float16",
            "float32_sha256": original,
        }
        card = tmp / "card.md"
        if card.is_file():
            card.write_text(
                card.read_text().rstrip("\n") + "\n\nThe weights are stored as float16 "
                f"(trained in float32, SHA-256 `{original}`); they load into float32.\n"
            )
        atomic_write_text(tmp / CONFIG_FILE, json.dumps(config, indent=2))
    return dst


def ensemble_members(model_config: dict[str, Any]) -> list[tuple[dict[str, Any], str]]:
    """``(member model config, weight-key prefix)`` of each member of a model folder.

    An ensemble folder (:mod:`eftgan.ensemble`) records ``{"members": [...], "calibration":
    {...}}`` as its model config and prefixes member ``k``'s weights with ``member{k}.``; a
    single model is its own only member, with no prefix.
    """
    if "members" in model_config:
        return [(m, f"member{k}.") for k, m in enumerate(model_config["members"])]
    return [(model_config, "")]


def calibration_factors(model_config: dict[str, Any]) -> dict[str, dict[str, float]]:
    """``{phase: {target: factor}}`` that multiplies an ensemble's spread (empty: none)."""
    return dict(model_config.get("calibration", {}).get("factor", {}))


#: The typed loader of each model kind, as ``module:attribute`` (imported only when used, so
#: loading a spectrum model does not import the graph network, and the other way round).
LOADERS: dict[str, str] = {
    "ecnet": "eftgan.model:load_model",
    "eftgan": "eftgan.explore:load_screener",
    "saca": "spectral.predict:load_saca",
    "dcgan": "microstructure.generate:load_generator",
    "unet-grains": "microstructure.segment:load_segmenter",
    "unet-phases": "microstructure.phaseseg:load_phase_segmenter",
}


def read_kind(folder: str | os.PathLike[str]) -> str:
    """The ``kind`` recorded in a model folder's ``config.json`` (a one-line error if none)."""
    path = Path(folder) / CONFIG_FILE
    try:
        kind = json.loads(path.read_bytes()).get("kind")
    except FileNotFoundError:
        raise CheckpointError(f"{folder} is not a model folder (no {CONFIG_FILE})") from None
    except (OSError, ValueError, AttributeError, RecursionError) as exc:
        reason = " ".join(str(exc).split())[:120]
        raise CheckpointError(f"{path} is not a model configuration ({reason})") from None
    if not isinstance(kind, str) or kind not in LOADERS:
        raise CheckpointError(
            f"{folder} holds a model of kind {kind!r}; eftgan loads {', '.join(LOADERS)}"
        )
    return str(kind)


def load(folder: str | os.PathLike[str]) -> Any:
    """Load a model folder of any kind with the typed loader of its ``kind``.

    Returns what that loader returns: an :class:`eftgan.model.ECNetModel` (``ecnet``), an
    :class:`eftgan.explore.Screener` (``eftgan``), ``(SACA, config)`` (``saca``, see
    :func:`spectral.predict.load_saca`) or ``(Generator, config)`` (``dcgan``, see
    :func:`microstructure.generate.load_generator`).
    """
    import importlib

    module, attr = LOADERS[read_kind(folder)].split(":")
    return getattr(importlib.import_module(module), attr)(Path(folder))


__all__ = [
    "FORMAT_VERSION",
    "LOADERS",
    "building",
    "calibration_factors",
    "ensemble_members",
    "half_precision_copy",
    "history_csv",
    "load",
    "load_weights",
    "package_versions",
    "read_kind",
    "read_model_folder",
    "versions_line",
    "write_finished_run",
    "write_model_folder",
]
