"""Screening on a local Dask cluster gives the rows of a local run (the ``dist`` extra)."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("distributed", reason="the dist extra (Dask distributed) is not installed")

import pandas as pd
from distributed import LocalCluster
from eftgan_cli.main import main

from eftgan.distributed import client_for
from eftgan.errors import UserError
from eftgan.explore import Screener


@pytest.fixture(scope="module")
def cluster():
    # Worker processes, so that the model really travels by serialisation.
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cl:
        yield cl


def test_cluster_rows_equal_local_rows(cluster) -> None:
    s = Screener.load()
    kw = {"step": 0.1, "phases": ("fcc", "bcc"), "chunk": 16, "seed": 3}
    remote = s.screen(["Fe", "Ni", "Co"], scheduler=cluster.scheduler_address, **kw)
    local = s.screen(["Fe", "Ni", "Co"], **kw)
    assert len(remote) == 2 * 66
    pd.testing.assert_frame_equal(remote, local)


def test_explore_cli_on_cluster(cluster, tmp_path: Path, capsys) -> None:
    out_local, out_remote = tmp_path / "local", tmp_path / "remote"
    args = ["explore", "--elements", "Fe,Cr,Mn", "--step", "0.125", "--no-maps"]
    for out, extra in ((out_local, []), (out_remote, ["--scheduler", cluster.scheduler_address])):
        with pytest.raises(SystemExit) as exc:
            main([*args, "--out", str(out), *extra])
        assert exc.value.code in (0, None)
    capsys.readouterr()
    assert (out_local / "explore.csv").read_text() == (out_remote / "explore.csv").read_text()


def test_unreachable_scheduler_is_a_user_error() -> None:
    with pytest.raises(UserError, match="cannot reach the Dask scheduler"):
        client_for("tcp://127.0.0.1:9", timeout="1s")
