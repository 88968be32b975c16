"""Training, model folders and resuming after a kill."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from safetensors.torch import load_file

from eftgan.checkpoint import read_model_folder
from eftgan.errors import CheckpointError, UserError
from eftgan.model import load_model

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


def test_model_loads_offline_and_predicts(tiny_model: Path, tiny_dft: Path) -> None:
    from eftgan.dataset import load_dataset

    model = load_model(tiny_model)
    ds = load_dataset(tiny_dft)
    rows = model.predict_structures([e.structure for e in ds], names=ds.names)
    assert len(rows) == len(ds)
    v0 = np.array([r["v0_a3_per_atom"] for r in rows])
    assert np.isfinite(v0).all() and (v0 > 5).all() and (v0 < 20).all()
    assert all(r["phase_source"] == "file name" for r in rows)
    feats = model.element_features([ds[0].structure], phase="fcc")[0]
    assert set(feats) == {"Fe", "Ni"}


def test_tampered_weights_are_refused(tiny_model: Path, tmp_path: Path) -> None:
    import shutil

    bad = tmp_path / "bad"
    shutil.copytree(tiny_model, bad)
    w = load_file(bad / "weights.safetensors")
    w["embedding.weight"] += 1.0
    from safetensors.torch import save_file

    save_file(w, bad / "weights.safetensors")
    with pytest.raises(CheckpointError, match="modified or damaged"):
        load_model(bad)


def test_other_format_version_is_refused(tiny_model: Path, tmp_path: Path) -> None:
    import shutil

    old = tmp_path / "old"
    shutil.copytree(tiny_model, old)
    cfg = json.loads((old / "config.json").read_text())
    cfg["format_version"] = 0
    (old / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(CheckpointError, match="model format 0"):
        read_model_folder(old, "ecnet")
    with pytest.raises(CheckpointError, match="does not exist"):
        load_model(tmp_path / "missing")


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


def test_half_precision_copy_halves_the_weights_and_keeps_the_record(tmp_path: Path) -> None:
    import torch

    from eftgan.checkpoint import half_precision_copy, write_model_folder

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.BatchNorm1d(32))
    net(torch.randn(8, 64))  # batch-norm statistics and a step counter
    src = write_model_folder(tmp_path / "src", net, kind="toy", model_config={}, card="# toy\n")
    (src / "history.csv").write_text("epoch,loss\n1,0.5\n")
    dst = half_precision_copy(src, tmp_path / "half", kind="toy")
    cfg, state = read_model_folder(dst, kind="toy")  # the new hash checks out
    assert cfg["weights"]["dtype"] == "float16"
    src_cfg = json.loads((src / "config.json").read_text())
    assert cfg["weights"]["float32_sha256"] == src_cfg["weights"]["sha256"]
    size = {p: (p / "weights.safetensors").stat().st_size for p in (src, dst)}
    assert size[dst] < 0.6 * size[src]
    assert state["0.weight"].dtype == torch.float16
    assert state["1.num_batches_tracked"].dtype == torch.int64  # integers are kept
    back = torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.BatchNorm1d(32))
    back.load_state_dict(state)  # read back into float32
    for k, v in net.state_dict().items():
        assert torch.allclose(back.state_dict()[k].double(), v.double(), rtol=1e-3, atol=1e-7), k
    assert "float16" in (dst / "card.md").read_text()
    assert (dst / "history.csv").read_text() == (src / "history.csv").read_text()
    with pytest.raises(CheckpointError, match="exists"):
        half_precision_copy(src, dst, kind="toy")
