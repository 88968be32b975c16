"""eftgan.train: the model folder a run writes, resuming after a kill, refusing to overwrite."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from safetensors.torch import load_file

from eftgan.errors import UserError

REPO = Path(__file__).resolve().parents[2]


def test_model_folder_has_config_weights_card_and_no_pickle(tiny_model: Path) -> None:
    files = {p.name for p in tiny_model.iterdir()}
    expected = {"config.json", "weights.safetensors", "card.md", "embeddings.json"}
    assert expected | {"training.json", "history.csv", "loss.png"} <= files
    assert "state.safetensors" not in files, "resume state must be removed once training ends"
    for p in tiny_model.iterdir():
        head = p.read_bytes()[:4]
        assert not head.startswith(b"\x80"), f"{p.name} looks like a pickle"
        assert not head.startswith(b"PK"), f"{p.name} is a zip (torch.save) archive"
    cfg = json.loads((tiny_model / "config.json").read_text())
    assert cfg["kind"] == "ecnet" and cfg["format_version"] == 1
    card = (tiny_model / "card.md").read_text()
    for needle in ("SHA-256", "seed 1", "torch", "Metrics on the test split"):
        assert needle in card
    assert card.rstrip().splitlines()[-1].startswith("Versions: python")
    history = (tiny_model / "history.csv").read_text().splitlines()
    assert history[0] == "epoch,train_loss,val_loss,lr,seconds" and len(history) == 1 + 6
    record = json.loads((tiny_model / "training.json").read_text())
    assert record["seed"] == 1 and set(record["split"]) == {"method", "train", "validation", "test"}
    assert set(record["versions"]) >= {"torch", "pymatgen", "numpy"}


def test_refuses_to_overwrite_a_finished_model(tiny_model: Path, tiny_dft: Path) -> None:
    from eftgan.dataset import load_dataset
    from eftgan.train import Trainer

    with pytest.raises(UserError, match="already holds a trained model"):
        Trainer(load_dataset(tiny_dft), tiny_model, progress=False).run()


KILL_SCRIPT = """
import os, signal, sys
from eftgan.dataset import load_dataset
from eftgan.ecnet import ECNetConfig
from eftgan.train import TrainConfig, Trainer
ds = load_dataset(sys.argv[1])
def die(epoch):
    if epoch == int(sys.argv[3]):
        os.kill(os.getpid(), signal.SIGKILL)
Trainer(ds, sys.argv[2], ECNetConfig(elements=ds.elements, hidden=16, n_rbf=16, n_interactions=2,
        n_elemental=1), TrainConfig(seed=5, max_epochs=8, patience=50, batch_size=8,
        split=(0.6, 0.2, 0.2)), progress=False, on_epoch_end=die).run()
"""


@pytest.mark.slow
def test_resume_after_kill_gives_the_same_model(tiny_dft: Path, tmp_path: Path) -> None:
    from eftgan.dataset import load_dataset
    from eftgan.ecnet import ECNetConfig
    from eftgan.train import TrainConfig, Trainer

    def settings() -> tuple[ECNetConfig, TrainConfig]:
        return (
            ECNetConfig(elements=ds.elements, hidden=16, n_rbf=16, n_interactions=2, n_elemental=1),
            TrainConfig(seed=5, max_epochs=8, patience=50, batch_size=8, split=(0.6, 0.2, 0.2)),
        )

    ds = load_dataset(tiny_dft)
    killed = tmp_path / "killed"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run(
        [sys.executable, "-c", KILL_SCRIPT, str(tiny_dft), str(killed), "3"], env=env, check=False
    )
    assert proc.returncode == -9, "the training process should have been killed"
    assert (killed / "state.safetensors").is_file() and not (killed / "config.json").exists()

    resumed = Trainer(ds, killed, *settings(), progress=False).run()
    assert resumed.resumed_from == 4
    straight = Trainer(ds, tmp_path / "straight", *settings(), progress=False).run()
    a = load_file(killed / "weights.safetensors")
    b = load_file(tmp_path / "straight" / "weights.safetensors")
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_array_equal(a[k].numpy(), b[k].numpy(), err_msg=k)
    assert resumed.metrics == straight.metrics
    hist = (killed / "history.csv").read_text().splitlines()
    assert len(hist) == 1 + 8


def test_a_run_with_other_settings_is_not_silently_resumed(tiny_dft: Path, tmp_path: Path) -> None:
    from eftgan.dataset import load_dataset
    from eftgan.ecnet import ECNetConfig
    from eftgan.train import TrainConfig, Trainer

    ds = load_dataset(tiny_dft)
    out = tmp_path / "run"

    def stop(epoch: int) -> None:
        raise KeyboardInterrupt

    mc = ECNetConfig(elements=ds.elements, hidden=8, n_rbf=8, n_interactions=1, n_elemental=1)
    with pytest.raises(KeyboardInterrupt):
        tc = TrainConfig(seed=0, max_epochs=3, split=(0.6, 0.2, 0.2))
        Trainer(ds, out, mc, tc, progress=False, on_epoch_end=stop).run()
    with pytest.raises(UserError, match="unfinished run with other settings"):
        Trainer(
            ds, out, mc, TrainConfig(seed=1, max_epochs=3, split=(0.6, 0.2, 0.2)), progress=False
        ).run()


def test_target_weights_scale_the_loss_and_are_checked() -> None:
    from types import SimpleNamespace

    import torch

    from eftgan.train import TrainConfig, masked_loss

    pred = torch.zeros(2, 3)
    batch = SimpleNamespace(
        y=torch.tensor([[1.0, 1.0, 1.0], [1.0, 1.0, 0.0]]),
        y_mask=torch.tensor([[True, True, True], [True, True, False]]),
    )
    assert float(masked_loss(pred, batch)) == pytest.approx(1.0)
    w = TrainConfig(target_weights=(1.0, 4.0, 1.0)).weights(3)
    assert w.tolist() == pytest.approx([0.5, 2.0, 0.5])  # normalised to mean 1
    assert float(masked_loss(pred, batch, w)) == pytest.approx((0.5 + 2 + 0.5 + 0.5 + 2) / 5)
    assert TrainConfig().weights(3).tolist() == [1.0, 1.0, 1.0]
    for bad in ((-1.0, 1.0, 1.0), (0.0, 0.0, 0.0)):
        with pytest.raises(UserError, match="target weights"):
            TrainConfig(target_weights=bad)
    with pytest.raises(UserError, match="2 target weights for 3 targets"):
        TrainConfig(target_weights=(1.0, 2.0)).weights(3)
