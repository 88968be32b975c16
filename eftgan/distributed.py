"""Screening on a Dask cluster: the same rows as :meth:`Screener.iter_screen`, computed remotely.

Install the ``dist`` extra (``pip install 'eftgan[dist]'``) and start a cluster, e.g.
``dask scheduler`` on one machine and ``dask worker tcp://HOST:8786`` on each of the others, then::

    eftgan explore --elements Fe,Ni,Co,Cr,Mn --step 0.01 --scheduler tcp://HOST:8786

How it works. The client streams the composition grid in chunks (the grid is never whole
anywhere) and submits one task per chunk, keeping at most ``window`` tasks in flight so that
memory stays bounded on both sides. The model (its JSON config and its weights as NumPy arrays,
a few hundred kB) is scattered once to every worker; each worker process builds its
:class:`~eftgan.explore.Screener` once and caches it. Results come back in grid order, so the
output files are identical to a local run with the same seed. Workers need eftgan installed but
no access to the model folder.

Ray is not supported: Dask's distributed scheduler covers the same use and is a lighter
dependency (pure Python).
"""

from __future__ import annotations

import hashlib
import json
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from eftgan.errors import UserError

if TYPE_CHECKING:
    from eftgan.explore import Screener

_CACHE: dict[str, Screener] = {}


def client_for(address: str, timeout: str = "10s") -> Any:
    """A Dask client connected to ``address``; one-line errors when it cannot be."""
    try:
        from distributed import Client
    except ImportError:
        raise UserError(
            "--scheduler needs Dask's distributed scheduler; install it with "
            "pip install 'eftgan[dist]'"
        ) from None
    try:
        return Client(address, timeout=timeout)
    except (OSError, TimeoutError, ValueError) as exc:
        raise UserError(
            f"cannot reach the Dask scheduler at {address} ({exc}); start one with "
            "`dask scheduler` or check the address"
        ) from None


def _payload(screener: Screener) -> tuple[str, dict[str, Any]]:
    """A hashable key and a plain-data copy of the model (config + NumPy weights)."""
    state = {k: v.detach().cpu().numpy() for k, v in screener.state.items()}
    h = hashlib.sha256(json.dumps(screener.config, sort_keys=True).encode())
    for k in sorted(state):
        h.update(k.encode())
        h.update(state[k].tobytes())
    return h.hexdigest(), {"config": screener.config, "state": state}


def _screen_chunk(
    key: str,
    model: dict[str, Any],
    frac: np.ndarray,
    names: list[str],
    phases: list[str],
    temperature: float,
    n_z: int,
    seed: int,
) -> Any:
    """Worker side: one chunk of rows as a DataFrame."""
    import pandas as pd
    import torch

    from eftgan.explore import Screener

    screener = _CACHE.get(key)
    if screener is None:
        state = {k: torch.from_numpy(np.array(v)) for k, v in model["state"].items()}
        screener = _CACHE[key] = Screener(model["config"], state, folder=None)
    torch.set_num_threads(1)  # one task per worker thread
    return pd.DataFrame(screener._rows(frac, names, phases, temperature, n_z, seed))


def iter_screen_dask(
    screener: Screener,
    address: str,
    names: Sequence[str],
    step: float,
    phases: Sequence[str],
    bounds: Mapping[str, tuple[float, float]] | None,
    temperature: float,
    n_z: int,
    seed: int,
    chunk: int = 4096,
    window: int | None = None,
) -> Iterator[Any]:
    """Yield DataFrames in grid order, computed on the Dask cluster at ``address``."""
    from eftgan.composition import simplex_grid

    client = client_for(address)
    try:
        workers = client.scheduler_info().get("workers", {})
        if not workers:
            raise UserError(f"the Dask scheduler at {address} has no workers; start some")
        threads = sum(int(w.get("nthreads", 1)) for w in workers.values())
        window = window or 2 * max(threads, 1)
        key, model = _payload(screener)
        model_f = client.scatter(model, broadcast=True, hash=False)
        pending: deque[Any] = deque()
        grid = simplex_grid(names, step, bounds, chunk=chunk)
        args = (list(names), list(phases), temperature, n_z, seed)
        exhausted = False
        while True:
            while not exhausted and len(pending) < window:
                frac = next(grid, None)
                if frac is None:
                    exhausted = True
                    break
                pending.append(client.submit(_screen_chunk, key, model_f, frac, *args, pure=False))
            if not pending:
                break
            fut = pending.popleft()
            yield fut.result()
            fut.release()
    finally:
        client.close()
