"""eftgan.pipeline: the EFTGAN training settings, and a killed EFTGAN training resumes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[2]


def test_eftgan_train_config_round_trips_through_json() -> None:
    import json

    from eftgan.pipeline import EFTGANTrainConfig

    cfg = EFTGANTrainConfig(seed=3, gan_steps=120, rounds=2, n_aug=50, gen_draws=4, gan_lr=1e-3)
    back = EFTGANTrainConfig.from_dict(json.loads(json.dumps(cfg.as_dict())))
    assert back == cfg
    assert "checkpoint_every" not in cfg.fingerprint()


KILL_EFTGAN = """
import os, signal, sys
from eftgan.dataset import load_dataset
from eftgan.model import load_model
from eftgan.pipeline import EFTGANTrainConfig, train_eftgan
from eftgan.runstate import RunState
real_save = RunState.save
def save_then_die(self, scalars, **tensors):
    real_save(self, scalars, **tensors)
    if scalars["step"] == int(sys.argv[4]):
        os.kill(os.getpid(), signal.SIGKILL)
RunState.save = save_then_die
ds = load_dataset(sys.argv[2])
cfg = EFTGANTrainConfig(seed=2, gan_steps=60, checkpoint_every=20)
train_eftgan(load_model(sys.argv[1]), ds, sys.argv[3], cfg, progress=False,
             train_names=[e.name for e in ds])
"""


@pytest.mark.slow
def test_killed_eftgan_training_resumes_bit_identically(tiny_model, tiny_dft, tmp_path) -> None:
    from safetensors.torch import load_file

    from eftgan.dataset import load_dataset
    from eftgan.errors import UserError
    from eftgan.model import load_model
    from eftgan.pipeline import EFTGANTrainConfig, train_eftgan

    ecnet, ds = load_model(tiny_model), load_dataset(tiny_dft)
    names = [e.name for e in ds]  # the tiny ECNet's split is too small: use every entry
    cfg = EFTGANTrainConfig(seed=2, gan_steps=60, checkpoint_every=20)
    out = tmp_path / "cut"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    args = [str(tiny_model), str(tiny_dft), str(out), "20"]  # killed after the first checkpoint
    proc = subprocess.run([sys.executable, "-c", KILL_EFTGAN, *args], env=env, check=False)
    assert proc.returncode == -9, "the training process should have been killed"
    assert (out / "state.safetensors").is_file() and not (out / "config.json").exists()
    with pytest.raises(UserError, match="other settings"):
        train_eftgan(ecnet, ds, out, cfg, progress=False, train_names=names, gan_steps=80)
    m = train_eftgan(ecnet, ds, out, cfg, progress=False, train_names=names)
    assert m["resumed_from_step"] == 20
    assert not (out / "state.safetensors").exists()
    full = tmp_path / "full"
    train_eftgan(ecnet, ds, full, cfg, progress=False, train_names=names, checkpoint_every=25)
    a, b = load_file(full / "weights.safetensors"), load_file(out / "weights.safetensors")
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert (full / "history.csv").read_text() == (out / "history.csv").read_text()
    assert (out / "history.csv").read_text().splitlines()[0] == "step,d_loss,g_loss,q_loss"
    assert (out / "loss.png").is_file()
