"""microstructure.train: the training settings; train, kill, resume (bit for bit), generate."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from eftgan.errors import UserError
from eftgan.paths import START_MODELS, shipped_models_dir
from eftgan.runstate import RunState
from microstructure.dcgan import COND_DIM
from microstructure.images import write_png
from microstructure.synth import write_synth_folder
from microstructure.train import DCGANTrainConfig, train_dcgan
from tests.cli.test_cli import assert_user_error, run
from tests.conftest import dies_after


def test_train_config_round_trips_through_json() -> None:
    for cfg in (DCGANTrainConfig(), DCGANTrainConfig(iters=8, nz=16, si_wt_pct=[4, 10.5])):
        back = DCGANTrainConfig.from_dict(json.loads(json.dumps(cfg.as_dict())))
        assert back == cfg and back.as_dict() == cfg.as_dict()
    assert DCGANTrainConfig(si_wt_pct=[4, 10]).si_wt_pct == (4.0, 10.0)


def test_train_config_model_and_validation() -> None:
    assert DCGANTrainConfig().model_config().cond_dim == 0
    m = DCGANTrainConfig(nz=16, width=8, si_wt_pct=[4.0]).model_config()
    assert (m.nz, m.ngf, m.ndf, m.cond_dim) == (16, 8, 8, COND_DIM)
    with pytest.raises(UserError, match="one --condition-si value per"):
        DCGANTrainConfig(si_wt_pct=[4.0]).validate(2)
    with pytest.raises(UserError, match="outside 0-25"):
        DCGANTrainConfig(si_wt_pct=[30.0]).validate(1)
    with pytest.raises(UserError, match="not a learning rate"):
        DCGANTrainConfig(lr=0).validate(1)


@pytest.mark.slow
def test_synth_augment_train_generate_cli(capsys, tmp_path: Path) -> None:
    """The commands of the README, end to end, on tiny settings."""
    for si in (4, 10):
        out = str(tmp_path / f"s{si}")
        code, _, _ = run(
            capsys, "micro", "synth", "--si", str(si), "--n", "3", "--size", "96", "--out", out
        )
        assert code == 0
    assert json.loads((tmp_path / "s4" / "synth.json").read_text())["si_wt_pct"] == 4
    assert len(list((tmp_path / "s4" / "phase").glob("*.png"))) == 3
    aug = str(tmp_path / "aug")
    code, _, _ = run(
        capsys, "micro", "augment", str(tmp_path / "s4"), "--factor", "2", "--out", aug
    )
    assert code == 0 and len(list((tmp_path / "aug").glob("*.png"))) == 6
    small = tmp_path / "small"
    small.mkdir()
    write_png(small / "x.png", np.zeros((32, 32)))
    args = ["micro", "train", "--iters", "8", "--width", "8", "--nz", "16", "--batch-size", "3"]
    args.append("--quiet")
    code, _, err = run(capsys, *args, "--images", str(small), "--out", str(tmp_path / "m0"))
    assert_user_error(code, err, "smaller than the 64-pixel crop")
    code, _, err = run(capsys, *args[:-2], "8", "--images", str(tmp_path / "s4"), "--out", "m1")
    assert_user_error(code, err, "make only 3 non-overlapping 64-pixel crops, fewer than a batch")
    folders = ["--images", str(tmp_path / "s4"), "--images", str(tmp_path / "s10")]
    full = tmp_path / "full"
    assert run(capsys, *args, *folders, "--condition-si", "auto", "--out", str(full))[0] == 0
    rows = (full / "history.csv").read_text().splitlines()
    assert rows[0] == "iter,d_loss,g_loss,d_real,d_fake" and len(rows) == 9
    for png in ("loss.png", "samples.png"):
        assert (full / png).read_bytes()[:4] == b"\x89PNG"
    gen = tmp_path / "gen"
    generate = ["micro", "generate", "--model", str(full)]
    code, _, _ = run(capsys, *generate, "--n", "5", "--si", "7", "--out", str(gen))
    assert code == 0 and len(list(gen.glob("*.png"))) == 5
    code, _, err = run(capsys, *generate, "--si", "40", "--out", str(tmp_path / "g2"))
    assert_user_error(code, err, "outside 0-25")


@pytest.mark.slow
@pytest.mark.parametrize("histogram", [0.0, 1.0])
def test_killed_run_resumes_bit_for_bit(tmp_path: Path, monkeypatch, histogram: float) -> None:
    """Killed right after its first checkpoint, a run resumes there and ends with the weights
    and history of an uninterrupted run (with the gray-level term too)."""
    data = [tmp_path / "s4", tmp_path / "s10"]
    for folder, si in zip(data, (4.0, 10.0), strict=True):
        write_synth_folder(folder, si, n=3, size=96)
    real_save = RunState.save

    monkeypatch.setattr(RunState, "save", dies_after(real_save))
    kw = dict(si_wt_pct=[4.0, 10.0], iters=8, batch_size=3, nz=16, width=8, checkpoint_every=4)
    kw["histogram"] = histogram
    cut = tmp_path / "cut"
    with pytest.raises(KeyboardInterrupt):
        train_dcgan(data, cut, progress=False, **kw)
    assert (cut / "state.safetensors").is_file() and not (cut / "config.json").exists()
    monkeypatch.setattr(RunState, "save", real_save)
    r = train_dcgan(data, cut, progress=False, **kw)
    assert r["resumed_from"] == 4 and not (cut / "state.safetensors").exists()
    a = train_dcgan(data, tmp_path / "ref", progress=False, **kw)
    assert a["resumed_from"] == 0 and r["history"] == a["history"]
    ref = (tmp_path / "ref" / "weights.safetensors").read_bytes()
    assert (cut / "weights.safetensors").read_bytes() == ref
    with pytest.raises(UserError, match="already holds a trained model"):
        train_dcgan(data, cut, progress=False, **kw)


@pytest.mark.slow
def test_a_run_fine_tunes_the_model_it_starts_from(tmp_path: Path, capsys) -> None:
    """``init`` starts a run from a trained model's generator and discriminator (one step
    later they are a learning-rate's step from them, where random weights are far off),
    the resume fingerprint holds that model's weights, and another architecture is refused
    in one line."""
    from safetensors.torch import load_file

    data = [tmp_path / "s4"]
    write_synth_folder(data[0], 4.0, n=3, size=96)
    kw = dict(iters=4, batch_size=3, nz=16, width=8, progress=False)
    train_dcgan(data, tmp_path / "base", **kw)
    kw["iters"] = 1
    train_dcgan(data, tmp_path / "tuned", init=str(tmp_path / "base"), seed=1, **kw)
    train_dcgan(data, tmp_path / "fresh", seed=1, **kw)
    base, tuned, fresh = (
        load_file(tmp_path / m / "weights.safetensors") for m in ("base", "tuned", "fresh")
    )
    kernels = [k for k in base if k.startswith(("d.", "g_raw.")) and base[k].ndim == 4]
    assert len(kernels) == 10
    assert max(float((tuned[k] - base[k]).abs().max()) for k in kernels) < 2e-3
    assert min(float((fresh[k] - base[k]).abs().max()) for k in kernels) > 2e-2
    assert (
        f"started from the weights of {tmp_path / 'base'}"
        in (tmp_path / "tuned" / "card.md").read_text()
    )
    cfg = DCGANTrainConfig(init=str(tmp_path / "base"), nz=16, width=8)
    sha = json.loads((tmp_path / "base" / "config.json").read_text())["weights"]["sha256"]
    assert cfg.fingerprint()["init"] == sha
    assert "init" not in DCGANTrainConfig(init="none").fingerprint()
    with pytest.raises(UserError, match=r"another architecture \(nz 16 there, 8 here\)"):
        train_dcgan(data, tmp_path / "other", init=str(tmp_path / "base"), **{**kw, "nz": 8})
    args = ["micro", "train", "--images", str(data[0]), "--out", str(tmp_path / "cli")]
    code, _, err = run(capsys, *args, "--init", str(tmp_path / "nowhere"), "--quiet")
    assert_user_error(code, err, "nowhere does not exist", "pass --init")
    code, _, err = run(capsys, *args, "--init", str(tmp_path / "base" / "config.json"))
    assert_user_error(code, err, "is a file; give --init the model's folder")
    with pytest.raises(UserError, match="base is not a --arch paper model"):
        train_dcgan(data, tmp_path / "other", init=str(tmp_path / "base"), arch="paper", **kw)


def test_the_defaults_start_from_the_shipped_model_where_they_train_its_architecture() -> None:
    """``init`` auto is the shipped start model for the default architecture on gray images,
    and random weights for any other architecture or with ``none``."""
    shipped = shipped_models_dir() / START_MODELS["dcgan"]
    assert DCGANTrainConfig().start_folder() == shipped
    assert DCGANTrainConfig(channels=1, batch_size=8, lr=3e-4).start_folder() == shipped
    others = [
        dict(channels=3), dict(nz=32), dict(width=32), dict(size=128), dict(arch="paper"),
        dict(arch="style"), dict(si_wt_pct=[4.0]), dict(pixel_noise=True), dict(init="none"),
    ]  # fmt: skip
    for kw in others:
        assert DCGANTrainConfig(**kw).start_folder() is None, kw
    sha = json.loads((shipped / "config.json").read_text())["weights"]["sha256"]
    assert DCGANTrainConfig().fingerprint()["init"] == sha


@pytest.mark.slow
def test_micro_train_says_where_its_first_weights_come_from(tmp_path: Path, capsys) -> None:
    """One step from the shipped start model stays within a learning-rate step of its
    weights; the log and the card say where the weights came from, also when random."""
    from safetensors.torch import load_file

    data = tmp_path / "s7"
    write_synth_folder(data, 7.0, n=3, size=96)
    args = ["micro", "train", "--images", str(data), "--iters", "1", "--batch-size", "3"]
    code, _, err = run(capsys, *args, "--out", str(tmp_path / "auto"), "--lr-d", "0.0008")
    assert code == 0 and "started from the shipped model sngan-super1-v1" in err
    train = json.loads((tmp_path / "auto" / "config.json").read_text())["train"]
    assert (train["lr"], train["lr_d"]) == (1e-4, 8e-4)  # --lr-d reaches D alone
    shipped = load_file(shipped_models_dir() / START_MODELS["dcgan"] / "weights.safetensors")
    tuned = load_file(tmp_path / "auto" / "weights.safetensors")
    kernels = [k for k in shipped if k.startswith(("d.", "g_raw.")) and shipped[k].ndim == 4]
    assert kernels and max(float((tuned[k] - shipped[k]).abs().max()) for k in kernels) < 2e-3
    for extra, words in (
        (["--init", "none"], "random weights (--init none)"),
        (["--nz", "32"], "the shipped start model sngan-super1-v1 is another architecture"),
    ):
        out = tmp_path / extra[0].strip("-")
        code, _, err = run(capsys, *args, "--out", str(out), *extra)
        assert code == 0 and words in err and words in (out / "card.md").read_text()
