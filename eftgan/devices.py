"""Where PyTorch computes: one reading of the ``--device`` option for every command.

``cpu`` is the default everywhere: the shipped models are small and a laptop CPU screens the
1 % grid in minutes. ``cuda`` runs the same code on an NVIDIA GPU (with a CUDA build of torch);
``auto`` takes CUDA where torch sees one. Results do not depend on the device beyond float
rounding: random draws are made on the CPU and moved.
"""

from __future__ import annotations

import os

import torch

from eftgan.errors import UserError

DEVICES = ("cpu", "cuda", "auto")


def resolve_device(device: str | torch.device) -> torch.device:
    """The torch device of ``"cpu"``, ``"cuda"`` (a one-line error where torch sees no CUDA
    GPU) or ``"auto"`` (CUDA where there is one)."""
    name = str(device)
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name.split(":")[0] == "cuda" and not torch.cuda.is_available():
        raise UserError(
            "--device cuda: torch sees no CUDA GPU here (a CPU build of torch, or no driver); "
            "use --device cpu"
        )
    if name.split(":")[0] not in ("cpu", "cuda"):
        raise UserError(f"unknown device {name!r}; choose cpu, cuda or auto")
    return torch.device(name)


def device_name(dev: torch.device) -> str:
    """The device as a record says it: the GPU's name, or the CPU threads."""
    if dev.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(dev)})"
    return f"cpu ({torch.get_num_threads()} threads)"


def usable_cores() -> int:
    """The CPU cores this process may run on: its affinity where the system reports one
    (Linux, which also honours container and ``taskset`` limits), else every core."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1
