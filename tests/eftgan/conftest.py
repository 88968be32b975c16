"""Helpers for the eftgan tests: toy element features for the InfoGAN and augmentation tests."""

from __future__ import annotations

import numpy as np
import torch

from eftgan.augment import random_compositions


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
