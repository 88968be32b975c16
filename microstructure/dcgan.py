"""The paper's DCGAN for 64x64 micrographs, and a composition-conditioned variant.

The paper (a DCGAN that generates micrographs of cast Al-Si alloys), as printed: generator
``ConvTranspose2d`` 1000->512 (kernel 4, stride 1), 512->256, 256->128, 128->64, 64->C (kernel
4, stride 2, padding 1), batch norm and ReLU between, tanh out; discriminator ``Conv2d``
C->64->128->256->512 (kernel 4, stride 2, padding 1) with LeakyReLU 0.2 and batch norm (not on
the first layer, as in DCGAN), then 512->1 (kernel 4, stride 1) and a sigmoid; weights from
N(0, 0.02) (batch-norm scales from N(1, 0.02)); the minimax loss as binary cross-entropy; Adam
with beta1 0.5, learning rate 0.0005.

Conditional variant: the condition vector (:func:`condition_vector`, the Al-xSi composition
through the shared element registry) is appended to the noise as extra input channels of
the generator, and broadcast as extra image channels into the discriminator, so that one
network covers a range of Si contents and can be asked for one it was not trained on.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from eftgan.settings import JSONSettings

__all__ = [
    "COND_DIM",
    "DCGANConfig",
    "Discriminator",
    "Generator",
    "build",
    "condition_vector",
    "init_weights",
]


@dataclass
class DCGANConfig(JSONSettings):
    """Architecture of a generator/discriminator pair; round-trips through JSON.

    Attributes:
        nz: noise vector size (the paper: 1000).
        channels: image channels, 1 (gray) or 3 (RGB).
        cond_dim: condition vector size; 0 for the paper's unconditional DCGAN,
            :data:`COND_DIM` for the Al-xSi conditional one.
        ngf: base width of the generator (the paper: 64).
        ndf: base width of the discriminator (the paper: 64).
        image_size: image side in pixels (64; the layers are built for it).
    """

    nz: int = 1000
    channels: int = 1
    cond_dim: int = 0
    ngf: int = 64
    ndf: int = 64
    image_size: int = 64


def condition_vector(si_wt_pct: float | np.ndarray) -> np.ndarray:
    """Condition of Al-xSi alloys from the element registry: (N, 11).

    Column 0 is the Si weight fraction (x / 25, so 0-1 over the supported range); the other
    columns are the composition-weighted (atomic fractions) standardised registry
    descriptors of Al and Si (Z, mass, group, period, electronegativity, radii, valence
    electrons, ionization energies), NaN replaced by 0.
    """
    from eftgan.elements import descriptor_matrix, element

    si = np.atleast_1d(np.asarray(si_wt_pct, dtype=np.float64))
    m_al, m_si = element("Al").atomic_mass_u, element("Si").atomic_mass_u
    n_si = (si / m_si) / (si / m_si + (100 - si) / m_al)
    d = np.nan_to_num(descriptor_matrix(["Al", "Si"], standardize=True))
    mix = (1 - n_si)[:, None] * d[0][None, :] + n_si[:, None] * d[1][None, :]
    return np.concatenate([si[:, None] / 25.0, mix], 1).astype(np.float32)


#: Size of :func:`condition_vector`: the Si weight fraction and ten registry descriptors.
COND_DIM = 11


def init_weights(m: nn.Module) -> None:
    """The paper's initialisation of one layer (use with ``module.apply``): convolution weights
    from N(0, 0.02), batch-norm scales from N(1, 0.02) and shifts 0."""
    if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(m.weight, 0.0, 0.02)
    elif isinstance(m, nn.BatchNorm2d):
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.zeros_(m.bias)


class Generator(nn.Module):
    """G(z, c): noise (B, nz) and an optional condition (B, cond_dim) to images
    (B, channels, 64, 64) in [-1, 1] (tanh)."""

    def __init__(self, cfg: DCGANConfig) -> None:
        super().__init__()
        self.cfg = cfg
        g = cfg.ngf
        self.net = nn.Sequential(
            nn.ConvTranspose2d(cfg.nz + cfg.cond_dim, g * 8, 4, 1, 0, bias=False),
            nn.BatchNorm2d(g * 8),
            nn.ReLU(True),
            nn.ConvTranspose2d(g * 8, g * 4, 4, 2, 1, bias=False),
            nn.BatchNorm2d(g * 4),
            nn.ReLU(True),
            nn.ConvTranspose2d(g * 4, g * 2, 4, 2, 1, bias=False),
            nn.BatchNorm2d(g * 2),
            nn.ReLU(True),
            nn.ConvTranspose2d(g * 2, g, 4, 2, 1, bias=False),
            nn.BatchNorm2d(g),
            nn.ReLU(True),
            nn.ConvTranspose2d(g, cfg.channels, 4, 2, 1, bias=False),
            nn.Tanh(),
        )

    def forward(self, z: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        """Images (B, channels, 64, 64) in [-1, 1] from noise (B, nz) and condition."""
        x = z if cond is None else torch.cat([z, cond], 1)
        return self.net(x[:, :, None, None])


class Discriminator(nn.Module):
    """D(x, c): images (B, channels, 64, 64) in [-1, 1] and an optional condition to the
    probability that each image is real; the condition enters as constant extra channels."""

    def __init__(self, cfg: DCGANConfig) -> None:
        super().__init__()
        self.cfg = cfg
        d = cfg.ndf
        self.net = nn.Sequential(
            nn.Conv2d(cfg.channels + cfg.cond_dim, d, 4, 2, 1, bias=False),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(d, d * 2, 4, 2, 1, bias=False),
            nn.BatchNorm2d(d * 2),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(d * 2, d * 4, 4, 2, 1, bias=False),
            nn.BatchNorm2d(d * 4),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(d * 4, d * 8, 4, 2, 1, bias=False),
            nn.BatchNorm2d(d * 8),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(d * 8, 1, 4, 1, 0, bias=False),
            nn.Sigmoid(),
        )

    def logits(self, x: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        """The discriminator before its sigmoid, (B,): training takes the binary cross-entropy
        from these (``BCEWithLogitsLoss``), the same loss without the float32 saturation of a
        separate sigmoid, where once D(x) rounds to exactly 0 or 1 no gradient flows back."""
        if cond is not None:
            b, _, h, w = x.shape
            x = torch.cat([x, cond[:, :, None, None].expand(b, cond.shape[1], h, w)], 1)
        return self.net[:-1](x).reshape(-1)

    def forward(self, x: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        """D(x): the probability that ``x`` is real, (B,)."""
        return torch.sigmoid(self.logits(x, cond))


def build(cfg: DCGANConfig, seed: int = 0) -> tuple[Generator, Discriminator]:
    """A generator and a discriminator initialised by :func:`init_weights` from random seed
    ``seed`` (the global torch generator is left as it was)."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        g, d = Generator(cfg), Discriminator(cfg)
        g.apply(init_weights)
        d.apply(init_weights)
    return g, d
