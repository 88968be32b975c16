"""The one resumable run-state of every training loop: ECNet, InfoGAN, SACA, DCGAN, any new one.

A run folder holds, while training, ``state.safetensors``: everything the loop needs to go on
exactly where it stopped, rewritten atomically at each checkpoint. Starting the same command
again restores it, and the resumed run ends with the weights an uninterrupted run would have,
bit for bit, because everything random is restored with it: the global random generators of
torch, NumPy and Python, and every ``torch.Generator`` or ``numpy.random.Generator`` the loop
draws from.

One key scheme, no pickle. The tensors are stored as safetensors under

- ``module.<name>.<parameter>`` for each tracked ``nn.Module``,
- ``optim.<name>.<param id>.<slot>`` for each tracked optimizer's per-parameter state,
- ``tensors.<name>.<key>`` for plain tensor dictionaries the loop saves (a best-so-far copy),
- ``rng.torch``, ``rng.numpy``, ``rng.cuda.<i>`` for the global generators and
  ``generator.<name>`` for each tracked ``torch.Generator``,

and the JSON metadata field ``run`` holds the settings fingerprint, the loop's scalars (epoch,
history, best loss), the optimizers' parameter groups, the schedulers' state and the NumPy and
Python generator states. A state written by other settings or data (another fingerprint) is
refused with a one-line error, since resuming it would mix two runs.

Use::

    state = RunState(out, config.as_dict(), force=force)   # refuses a finished or foreign folder
    state.track(model=net, opt=opt, sched=sched, gen=gen)
    saved = state.restore()                                 # None on a fresh start
    start = saved.scalars["epoch"] + 1 if saved else 0
    for epoch in range(start, epochs):
        ...
        state.save({"epoch": epoch, "history": history}, best=best_weights)
    ...write the model folder...
    state.finish()
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from eftgan.errors import UserError
from eftgan.files import atomic_write_bytes

__all__ = ["STATE_FILE", "Restored", "RunState", "check_output_folder"]

STATE_FILE = "state.safetensors"
#: Bumped when the key scheme changes; a state of another format is refused, not misread.
STATE_FORMAT = 2


def check_output_folder(out: str | Path, force: bool) -> None:
    """Refuse an output folder that holds a finished model or foreign files (unless ``force``).

    A folder with an unfinished run (``state.safetensors``) is accepted: training resumes there.
    """
    out = Path(out)
    if force or not out.exists():
        return
    if (out / "config.json").exists():
        raise UserError(
            f"{out} already holds a trained model; pass --force to overwrite it or choose "
            "another --out"
        )
    if not out.is_dir() or (not (out / STATE_FILE).exists() and any(out.iterdir())):
        raise UserError(
            f"{out} exists and is not an eftgan run folder; choose another --out or pass --force"
        )


@dataclass
class Restored:
    """What :meth:`RunState.restore` read back besides the tracked objects."""

    scalars: dict[str, Any]
    tensors: dict[str, dict[str, torch.Tensor]] = field(default_factory=dict)


def _json_normal(x: Any) -> Any:
    """``x`` as it reads back from JSON (tuples become lists), for fingerprint comparison."""
    return json.loads(json.dumps(x))


def _prefixed(sd: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    return {f"{prefix}.{k}": v.detach().cpu().contiguous().clone() for k, v in sd.items()}


def _unprefixed(tensors: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    n = len(prefix) + 1
    return {k[n:]: v for k, v in tensors.items() if k.startswith(prefix + ".")}


def _optimizer_tensors(opt: torch.optim.Optimizer, prefix: str) -> tuple[dict, list]:
    sd = opt.state_dict()
    tensors = {
        f"{prefix}.{pid}.{slot}": torch.as_tensor(v).detach().cpu().clone()
        for pid, st in sd["state"].items()
        for slot, v in st.items()
    }
    return tensors, sd["param_groups"]


def _optimizer_state(tensors: dict[str, torch.Tensor], groups: list) -> dict[str, Any]:
    state: dict[int, dict[str, torch.Tensor]] = {}
    for key, v in tensors.items():
        pid, slot = key.split(".", 1)
        state.setdefault(int(pid), {})[slot] = v
    return {"state": state, "param_groups": groups}


def _global_rng_state() -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """The global generators of torch (CPU and any initialised CUDA), NumPy and Python."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state(legacy=True)  # noqa: NPY002
    assert isinstance(keys, np.ndarray)
    tensors = {
        "rng.torch": torch.get_rng_state(),
        "rng.numpy": torch.from_numpy(keys.astype(np.int64)),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        for i, s in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"rng.cuda.{i}"] = s
    meta = {"numpy": [kind, int(pos), int(has_gauss), float(gauss)], "python": random.getstate()}
    return tensors, meta


def _set_global_rng_state(tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
    torch.set_rng_state(tensors["rng.torch"])
    kind, pos, has_gauss, gauss = meta["numpy"]
    np.random.set_state(  # noqa: NPY002
        (kind, tensors["rng.numpy"].numpy().astype(np.uint32), pos, has_gauss, gauss)
    )
    version, internal, gauss_next = meta["python"]
    random.setstate((version, tuple(internal), gauss_next))
    cuda = [tensors[k] for k in sorted(tensors) if k.startswith("rng.cuda.")]
    if cuda and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(cuda)


class RunState:
    """The resumable state of one training run in ``out/state.safetensors``.

    Args:
        out: the run folder (it becomes the model folder when training ends).
        fingerprint: the run's settings and data identity (a training config's ``as_dict()``
            plus data hashes); a saved state is restored only under the same fingerprint.
        force: start afresh: an unfinished state and a finished model in ``out`` are removed.
            Without it a folder that holds a finished model or foreign files is refused.
    """

    def __init__(self, out: str | Path, fingerprint: dict[str, Any], force: bool = False) -> None:
        self.out = Path(out)
        self.path = self.out / STATE_FILE
        self.fingerprint = _json_normal(fingerprint)
        self._tracked: dict[str, Any] = {}
        check_output_folder(self.out, force)
        if force:
            self.path.unlink(missing_ok=True)
            (self.out / "config.json").unlink(missing_ok=True)

    def track(self, **objects: Any) -> RunState:
        """Register what is saved and restored by name: ``nn.Module``, optimizers, LR
        schedulers (anything with ``state_dict``/``load_state_dict`` of JSON-able values),
        ``torch.Generator`` and ``numpy.random.Generator``. Returns ``self``."""
        for name, obj in objects.items():
            if "." in name:
                raise ValueError(f"tracked name {name!r} must not contain a dot")
            self._tracked[name] = obj
        return self

    def save(self, scalars: dict[str, Any], **tensors: dict[str, torch.Tensor]) -> None:
        """Write the tracked objects, the global RNGs, ``scalars`` (JSON-able: epoch, history,
        best loss, ...) and the named tensor dictionaries ``tensors`` atomically."""
        from safetensors.torch import save as st_save

        blobs, meta = _global_rng_state()
        meta.update(format=STATE_FORMAT, fingerprint=self.fingerprint, scalars=scalars)
        meta.update(optim={}, objects={})
        for name, obj in self._tracked.items():
            self._save_one(name, obj, blobs, meta)
        for name, sd in tensors.items():
            blobs.update(_prefixed(sd, f"tensors.{name}"))
        self.out.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(self.path, st_save(blobs, metadata={"run": json.dumps(meta)}))

    @staticmethod
    def _save_one(name: str, obj: Any, blobs: dict, meta: dict) -> None:
        if isinstance(obj, nn.Module):
            blobs.update(_prefixed(obj.state_dict(), f"module.{name}"))
        elif isinstance(obj, torch.optim.Optimizer):
            t, meta["optim"][name] = _optimizer_tensors(obj, f"optim.{name}")
            blobs.update(t)
        elif isinstance(obj, torch.Generator):
            blobs[f"generator.{name}"] = obj.get_state()
        elif isinstance(obj, np.random.Generator):
            meta["objects"][name] = obj.bit_generator.state
        else:
            meta["objects"][name] = obj.state_dict()

    def restore(self) -> Restored | None:
        """Load a saved state into the tracked objects and the global RNGs; return its scalars
        and saved tensor dictionaries, or None when there is nothing to resume."""
        if not self.path.is_file():
            return None
        blobs, meta = self._read()
        for name, obj in self._tracked.items():
            self._restore_one(name, obj, blobs, meta)
        _set_global_rng_state(blobs, meta)
        names = {k.split(".")[1] for k in blobs if k.startswith("tensors.")}
        saved = {n: _unprefixed(blobs, f"tensors.{n}") for n in sorted(names)}
        return Restored(scalars=meta["scalars"], tensors=saved)

    def _read(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        from safetensors import safe_open
        from safetensors.torch import load as st_load

        try:
            blobs = st_load(self.path.read_bytes())
            with safe_open(str(self.path), framework="pt") as f:
                meta = json.loads((f.metadata() or {})["run"])
        except Exception:
            raise UserError(
                f"{self.path} is damaged; pass --force to start the run again"
            ) from None
        if meta.get("format") != STATE_FORMAT:
            raise UserError(
                f"{self.path} was written by another version of eftgan; pass --force to start "
                "the run again"
            )
        if meta.get("fingerprint") != self.fingerprint:
            raise UserError(
                f"{self.out} holds an unfinished run with other settings or data; pass --force "
                "to start over or choose another --out"
            )
        return blobs, meta

    @staticmethod
    def _restore_one(name: str, obj: Any, blobs: dict, meta: dict) -> None:
        if isinstance(obj, nn.Module):
            obj.load_state_dict(_unprefixed(blobs, f"module.{name}"))
        elif isinstance(obj, torch.optim.Optimizer):
            t = _unprefixed(blobs, f"optim.{name}")
            obj.load_state_dict(_optimizer_state(t, meta["optim"][name]))
        elif isinstance(obj, torch.Generator):
            obj.set_state(blobs[f"generator.{name}"])
        elif isinstance(obj, np.random.Generator):
            obj.bit_generator.state = meta["objects"][name]
        else:
            obj.load_state_dict(meta["objects"][name])

    def finish(self) -> None:
        """Remove the saved state: the run is complete and its model folder written."""
        self.path.unlink(missing_ok=True)
