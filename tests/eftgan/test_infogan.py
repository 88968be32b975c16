"""The InfoGAN trains (the generator gets gradients) and its Q network recovers compositions."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from eftgan.augment import augmented_fit, fit_property_mlp, random_compositions
from eftgan.infogan import Discriminator, GANConfig, Generator, q_mae, sample_features, train_gan

ELS = ("Fe", "Ni", "Co", "Cr")
REPO = Path(__file__).resolve().parents[2]


def toy(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Features that depend on the slot and on the composition, with a little noise."""
    rng = np.random.default_rng(seed)
    c = torch.from_numpy(random_compositions(n, 4, [0, 1, 2, 3], rng, 2, 4))
    w = torch.from_numpy(np.random.default_rng(99).normal(size=(4, 4, 6)).astype(np.float32))
    f = torch.einsum("bs,sth->bth", c, w) + torch.arange(4.0)[None, :, None] * 0.5
    f = (f + 0.05 * torch.randn(f.shape, generator=torch.Generator().manual_seed(seed))) * (c > 0)[
        :, :, None
    ]
    phase = torch.from_numpy(rng.integers(0, 2, n)).long()
    return f, c, phase


def recon_error(g: Generator, f: torch.Tensor, c: torch.Tensor, ph: torch.Tensor) -> float:
    fg = sample_features(g, c, ph, n_z=4).mean(1)
    return float(((fg - f) ** 2).sum() / (c > 0).sum())


def test_training_moves_the_generator_and_improves_it() -> None:
    f, c, ph = toy(200, 0)
    cfg = GANConfig(elements=ELS, feature_dim=6, hidden=32, noise_dim=4)
    torch.manual_seed(0)
    g, d = Generator(cfg), Discriminator(cfg)
    before = {k: v.clone() for k, v in g.state_dict().items()}
    err0 = recon_error(g, f, c, ph)
    hist = train_gan(g, d, f, c, ph, steps=300, batch_size=64, lr=1e-3, seed=0)
    changed = [k for k, v in g.state_dict().items() if not torch.equal(v, before[k])]
    assert changed, "the generator received no gradient"
    assert recon_error(g, f, c, ph) < 0.5 * err0
    assert np.mean(hist.g_loss[-50:]) < np.mean(hist.g_loss[:50])


def test_q_network_recovers_compositions_on_held_out_samples() -> None:
    f, c, ph = toy(300, 1)
    f_test, c_test, ph_test = toy(100, 2)
    cfg = GANConfig(elements=ELS, feature_dim=6, hidden=32, noise_dim=4)
    torch.manual_seed(1)
    g, d = Generator(cfg), Discriminator(cfg)
    with torch.no_grad():
        mae0 = q_mae(d(f_test, c_test, ph_test)[1], c_test)
    train_gan(g, d, f, c, ph, steps=400, batch_size=64, lr=1e-3, seed=1)
    with torch.no_grad():
        mae = q_mae(d(f_test, c_test, ph_test)[1], c_test)
    assert mae < 0.06 and mae < 0.5 * mae0


def test_property_mlp_and_augmentation_run_and_fit() -> None:
    f, c, ph = toy(200, 3)
    # targets the composition-weighted read-out can represent: sum_k c_k g(f_k)
    y = torch.stack([(c * f.sum(2)).sum(1), (c * torch.arange(4.0)).sum(1)], dim=1)
    y = (y - y.mean(0)) / y.std(0)
    m = fit_property_mlp(f, c, ph, y, seed=0)
    with torch.no_grad():
        assert float(((m(f, c, ph) - y) ** 2).mean()) < 0.05
    cfg = GANConfig(elements=ELS, feature_dim=6, hidden=32, noise_dim=4)
    g = Generator(cfg)
    m2 = augmented_fit(g, f, c, ph, y, rounds=1, n_aug=50, seed=0)
    with torch.no_grad():
        assert torch.isfinite(m2(f, c, ph)).all()


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
