"""eftgan.augment: the property MLP and the fit on GAN-augmented data."""

from __future__ import annotations

import torch

from eftgan.augment import augmented_fit, fit_property_mlp
from eftgan.infogan import GANConfig, Generator
from tests.conftest import ELS
from tests.eftgan.conftest import toy


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
