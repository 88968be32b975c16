"""The InfoGAN trains (the generator gets gradients) and its Q network recovers compositions."""

from __future__ import annotations

import numpy as np
import torch

from eftgan.infogan import Discriminator, GANConfig, Generator, q_mae, sample_features, train_gan
from tests.conftest import ELS
from tests.eftgan.conftest import toy


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
