"""The default micrograph GAN: a fully convolutional generator and a spectrally normalised
discriminator, built to train stably on a few real micrographs.

A micrograph is a stationary texture: what it shows at one place it shows, statistically, at
any other. The generator is therefore fully convolutional (a spatial GAN, after Jetchev,
Bergmann and Vollgraf 2016): its noise is a field of ``nz``-vectors on a grid sixteen pixels
apart (four doublings), so a 4 x 4 noise field gives a 64 x 64 image and a 16 x 16 one a
256 x 256 image with no seam, from the same weights. Each doubling is a
nearest-neighbour upsampling and a 3 x 3 convolution (a transposed convolution with stride 2
paints the checkerboard texture that the paper's network shows), with batch norm and ReLU;
a last 3 x 3 convolution and tanh give the image. With ``pixel_noise`` (the noise inputs of
StyleGAN, Karras et al. 2019) each of the four convolutions also adds a per-pixel noise
image, scaled by a learned strength per channel that starts at zero: the field's vectors,
sixteen pixels apart, then fix where things are, and the pixel noise the fine stochastic
detail below that spacing (small particles, grain of the contrast), which otherwise has
to be drawn from the field through the weights.

The discriminator is the paper's stack of stride-2 convolutions, with spectral normalisation
(Miyato et al. 2018) on every layer instead of batch norm: the largest singular value of each
layer's reshaped kernel is held at 1, which bounds how sharply D can change (roughly
Lipschitz; for a convolution the bound is loose) and so how fast it can outrun G,
which is how the paper's D wins outright on real micrographs within a few hundred
iterations. Its output is one logit per image. A conditional model (Al-xSi) appends the
condition vector to every noise vector of the field and to the discriminator's input as
constant channels, as :mod:`microstructure.dcgan` does.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from eftgan.settings import JSONSettings

__all__ = [
    "SpatialConfig",
    "SpatialDiscriminator",
    "SpatialGenerator",
    "build_spatial",
    "noise_at",
]

#: Pixels per noise vector: four doublings.
UPSAMPLING = 16


@dataclass
class SpatialConfig(JSONSettings):
    """Architecture of the default generator/discriminator pair; round-trips through JSON.

    Attributes:
        nz: size of each noise vector of the field.
        channels: image channels, 1 (gray) or 3 (RGB).
        cond_dim: condition vector size (0: unconditional).
        ngf: generator width at the finest scale (doubled at each coarser one, up to 8x).
        ndf: discriminator width at the first layer (doubled at each, up to 8x).
        image_size: the training crops' side; a generated field may be any multiple of
            :data:`UPSAMPLING`.
        spectral_norm: spectral normalisation on D's layers (off only to measure what it
            brings).
        pixel_noise: per-pixel noise inputs after each of the generator's convolutions.
    """

    nz: int = 64
    channels: int = 1
    cond_dim: int = 0
    ngf: int = 16
    ndf: int = 16
    image_size: int = 64
    spectral_norm: bool = True
    pixel_noise: bool = False


def noise_at(pixels: torch.Tensor, side: int) -> torch.Tensor:
    """Full-resolution pixel noise (B, 1, S, S) averaged down to ``side`` (rows = columns)
    and rescaled to unit variance: the same draw seen at each layer's resolution, so a
    field and its pixel noise make the same image at any size."""
    k = pixels.shape[-1] // side
    return F.avg_pool2d(pixels, k) * k if k > 1 else pixels


class SpatialGenerator(nn.Module):
    """G(z, c): a noise field (B, nz, h, w) (with ``pixel_noise``, the field and the pixel
    noise (B, 1, 16 h, 16 w)) and an optional condition (B, cond_dim) to images
    (B, channels, 16 h, 16 w) in [-1, 1]."""

    def __init__(self, cfg: SpatialConfig) -> None:
        super().__init__()
        self.cfg = cfg
        widths = [cfg.ngf * m for m in (8, 4, 2, 1)]
        layers: list[nn.Module] = []
        c_in = cfg.nz + cfg.cond_dim
        for w in widths:
            layers += [
                nn.Upsample(scale_factor=2, mode="nearest"),
                nn.Conv2d(c_in, w, 3, 1, 1, bias=False),
                nn.BatchNorm2d(w),
                nn.ReLU(True),
            ]
            c_in = w
        layers += [nn.Conv2d(c_in, cfg.channels, 3, 1, 1), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        if cfg.pixel_noise:
            self.noise_strength = nn.ParameterList(
                [nn.Parameter(torch.zeros(1, w, 1, 1)) for w in widths]
            )

    def forward(self, z: Any, cond: torch.Tensor | None = None) -> torch.Tensor:
        """Images from the noise of :meth:`noise` and the condition."""
        field, pixels = z if self.cfg.pixel_noise else (z, None)
        if cond is not None:
            b, _, h, w = field.shape
            field = torch.cat([field, cond[:, :, None, None].expand(b, cond.shape[1], h, w)], 1)
        if pixels is None:
            return self.net(field)
        x, strengths = field, iter(self.noise_strength)
        for layer in self.net:
            x = layer(x)
            if isinstance(layer, nn.Conv2d) and (s := next(strengths, None)) is not None:
                x = x + s * noise_at(pixels, x.shape[-1])
        return x

    @property
    def upsampling(self) -> int:
        """Pixels per noise vector: generated sides are multiples of it."""
        return UPSAMPLING

    def noise(self, n: int, gen: torch.Generator, size: int | None = None) -> Any:
        """A standard normal noise field (n, nz, size/16, size/16) for ``n`` images of side
        ``size`` pixels (default: the training crop), a multiple of :data:`UPSAMPLING`; with
        ``pixel_noise``, the field and the pixel noise (n, 1, size, size), drawn after it."""
        size = size or self.cfg.image_size
        side = size // UPSAMPLING
        field = torch.randn(n, self.cfg.nz, side, side, generator=gen)
        if not self.cfg.pixel_noise:
            return field
        return field, torch.randn(n, 1, size, size, generator=gen)


class SpatialDiscriminator(nn.Module):
    """D(x, c): images (B, channels, 64, 64) in [-1, 1] to one logit each; spectral norm on
    every layer, LeakyReLU 0.2, no batch norm."""

    def __init__(self, cfg: SpatialConfig) -> None:
        super().__init__()
        self.cfg = cfg
        d = cfg.ndf
        chans = [cfg.channels + cfg.cond_dim, d, d * 2, d * 4, d * 8]
        layers: list[nn.Module] = []
        sn = spectral_norm if cfg.spectral_norm else (lambda m: m)
        for a, b in itertools.pairwise(chans):
            layers += [sn(nn.Conv2d(a, b, 4, 2, 1)), nn.LeakyReLU(0.2, True)]
        side = cfg.image_size // 16
        layers.append(sn(nn.Conv2d(chans[-1], 1, side, 1, 0)))
        self.net = nn.Sequential(*layers)

    def logits(self, x: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        """One logit per image, (B,)."""
        if cond is not None:
            b, _, h, w = x.shape
            x = torch.cat([x, cond[:, :, None, None].expand(b, cond.shape[1], h, w)], 1)
        return self.net(x).reshape(-1)

    def forward(self, x: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        return torch.sigmoid(self.logits(x, cond))


def build_spatial(
    cfg: SpatialConfig, seed: int = 0
) -> tuple[SpatialGenerator, SpatialDiscriminator]:
    """A generator and a discriminator with PyTorch's default initialisation, from ``seed``
    (the global torch generator is left as it was)."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return SpatialGenerator(cfg), SpatialDiscriminator(cfg)
