"""The ``--device`` option: one reading of it, the same numbers on every device, one-line
errors where the device is missing."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from eftgan.devices import resolve_device
from eftgan.errors import UserError

NO_CUDA = not torch.cuda.is_available()


def test_device_names_are_checked() -> None:
    assert resolve_device("cpu").type == "cpu"
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(UserError, match="unknown device"):
        resolve_device("tpu")
    if NO_CUDA:
        with pytest.raises(UserError, match="no CUDA GPU"):
            resolve_device("cuda")


def test_screener_moved_to_a_device_gives_the_same_rows() -> None:
    from eftgan.explore import Screener

    here = Screener.load()
    moved = Screener.load().to("auto")
    a = here.predict(["FeNiCoCrMn", "Fe0.7Ni0.3"], n_z=4)
    b = moved.predict(["FeNiCoCrMn", "Fe0.7Ni0.3"], n_z=4)
    cols = [c for c in a.columns if a[c].dtype.kind == "f"]
    np.testing.assert_allclose(a[cols].to_numpy(), b[cols].to_numpy(), rtol=1e-4, atol=1e-5)


def test_ecnet_moved_to_a_device_gives_the_same_rows() -> None:
    from pymatgen.core import Lattice, Structure

    from eftgan.model import load_model

    cell = Structure.from_spacegroup("Fm-3m", Lattice.cubic(3.57), ["Ni"], [[0, 0, 0]]) * 2
    for k, el in enumerate(["Fe", "Co", "Cr", "Mn"] * 4):
        cell.replace(k, el)
    a = load_model().predict_structures([cell], phase="fcc")[0]
    b = load_model().to("auto").predict_structures([cell], phase="fcc")[0]
    for key, value in a.items():
        if isinstance(value, float):
            assert b[key] == pytest.approx(value, rel=1e-4, abs=1e-5), key


@pytest.mark.skipif(not NO_CUDA, reason="this machine has a CUDA GPU")
@pytest.mark.parametrize("command", ["explore", "predict"])
def test_cuda_without_a_gpu_is_one_line(command: str, tmp_path, capsys) -> None:
    from eftgan_cli.main import main

    args = {
        "explore": ["explore", "--elements", "Fe,Ni", "--out", str(tmp_path / "x")],
        "predict": ["predict", str(tmp_path / "POSCAR")],
    }[command]
    (tmp_path / "POSCAR").write_text("Ni\n3.52\n1 0 0\n0 1 0\n0 0 1\nNi\n1\nDirect\n0 0 0\n")
    with pytest.raises(SystemExit) as exc:
        main([*args, "--device", "cuda"])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert "no CUDA GPU" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "x").exists()
