"""Where PyTorch computes: one reading of the ``--device`` option for every command, and
the CPU cores that independent jobs are spread over (:func:`map_in_processes`).

``cpu`` is the default everywhere: the shipped models are small and a laptop CPU screens the
1 % grid in minutes. ``cuda`` runs the same code on an NVIDIA GPU (with a CUDA build of torch);
``auto`` takes CUDA where torch sees one. Results do not depend on the device beyond float
rounding: random draws are made on the CPU and moved.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

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


def map_in_processes(
    fn: Callable[[Any], Any],
    items: Sequence[Any],
    workers: int,
    progress: bool = False,
    unit: str = "item",
) -> list[Any]:
    """``[fn(x) for x in items]``, in order, on up to ``workers`` processes of one torch and
    one BLAS thread each (forked, on Linux), for independent jobs that each take seconds and
    use one core well: a CPU-bound Python loop gains nothing from threads. Here, in turn,
    where there is one worker or one item, or off Linux. A worker's exception (a
    :class:`UserError` too) is raised here; ``progress`` shows a bar on stderr."""
    import sys

    from tqdm import tqdm

    workers = min(workers, len(items))
    with tqdm(total=len(items), unit=unit, disable=not progress, leave=False) as bar:
        if workers > 1 and sys.platform.startswith("linux"):
            return _map_forked(fn, items, workers, bar)
        out = []
        for x in items:
            out.append(fn(x))
            bar.update()
        return out


def _map_forked(fn: Callable[[Any], Any], items: Sequence[Any], workers: int, bar: Any) -> list:
    """:func:`map_in_processes` on ``workers`` forked processes, ticking ``bar``."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    context = multiprocessing.get_context("fork")
    results: list[Any] = [None] * len(items)
    pool = ProcessPoolExecutor(workers, mp_context=context, initializer=_one_thread)
    try:
        futures = {pool.submit(fn, x): i for i, x in enumerate(items)}
        for done in as_completed(futures):
            results[futures[done]] = done.result()
            bar.update()
    finally:  # on an error, the jobs not yet started are dropped
        pool.shutdown(wait=True, cancel_futures=True)
    return results


def _one_thread() -> None:
    """A worker process's threads: one for torch and one for BLAS, as many workers as cores."""
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(1)
    threadpool_limits(limits=1)
