"""The stronger micrograph GAN: a StyleGAN2-lite generator for 128 x 128 and 256 x 256 fields.

The generator keeps what makes :mod:`microstructure.sngan` right for micrographs, a fully
convolutional synthesis from a noise field (one vector every 32 pixels by default, so that
its coarsest layers span structures about a hundred pixels across; a field larger than the
training crops comes from the same weights, with no seam), and adds the three parts of
StyleGAN2 (Karras et al. 2020) that carry its image quality:

* **a style**: a global latent vector, mapped by a small MLP to ``w``, that modulates every
  convolution's input channels, with the weights *demodulated* (each output channel's
  weights rescaled to unit norm for the style at hand), which replaces batch norm and its
  coupling of the images of a batch. A style sets what kind of microstructure the whole
  field shows (coarseness, contrast, phase balance); the noise field where things are.
* **per-pixel noise** added after every convolution, scaled by a learned strength per
  channel: the stochastic detail of a texture (the exact outline of a precipitate) comes
  from it rather than from the weights. It is drawn with the rest of the noise
  (:meth:`StyleGenerator.noise`) at the image's full resolution and averaged down to each
  layer's, so a seed fixes the image.
* **skip outputs**: each resolution adds its own image (a 1 x 1 modulated convolution), the
  coarser ones upsampled, so coarse and fine scales train from the first iterations.

The mapping network is lite (three layers instead of eight) and there is no path-length
regularisation or style mixing; the widths are those of the default GAN (up to 8x at the
coarse scales). The discriminator
is a strided 4 x 4 convolution and then residual (two 3 x 3 convolutions and an average
pooling per halving, a 1 x 1 shortcut), with spectral normalisation on every layer, a
minibatch standard-deviation channel at 4 x 4 (a collapsed batch has none, which D then
sees), and one logit per image. A conditional
model appends the condition to the style's latent and, as constant channels, to D's input.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import cast

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from eftgan.settings import JSONSettings
from microstructure.sngan import noise_at

__all__ = ["StyleConfig", "StyleDiscriminator", "StyleGenerator", "build_style"]


@dataclass
class StyleConfig(JSONSettings):
    """Architecture of the StyleGAN2-lite pair; round-trips through JSON.

    Attributes:
        nz: channels of the noise field (one vector every ``upsampling`` pixels).
        upsampling: pixels per noise vector, a power of two (each doubling one block): 32
            by default, so that the coarsest layers, whose 3 x 3 convolutions span about a
            hundred pixels, can draw precipitates of that size.
        padding: how the generator's 3 x 3 convolutions see past the field's edge:
            ``zeros`` (default, chosen on validation at 128 pixels) or ``reflect``; zeros
            paint a faint frame into every image at the coarse scales (4 x 4 vectors for a
            128-pixel crop), which reflecting removes.
        w_dim: size of the style's latent and of ``w``.
        channels: image channels, 1 (gray) or 3 (RGB).
        cond_dim: condition vector size (0: unconditional).
        ngf: generator width at the finest scale (doubled at each coarser one, up to 8x).
        ndf: discriminator width at the first layer (doubled at each halving, up to 8x).
        image_size: the training crops' side (a power of two, 32 or more); D is built for
            it, while a generated field may be any multiple of ``upsampling``.
        spectral_norm: spectral normalisation on D's layers.
    """

    nz: int = 32
    upsampling: int = 32
    padding: str = "zeros"
    w_dim: int = 64
    channels: int = 1
    cond_dim: int = 0
    ngf: int = 16
    ndf: int = 16
    image_size: int = 128
    spectral_norm: bool = True


class ModulatedConv(nn.Module):
    """A convolution whose input channels are scaled by a style and whose weights are then
    demodulated (unit norm per output channel and image)."""

    def __init__(
        self,
        c_in: int,
        c_out: int,
        kernel: int,
        w_dim: int,
        demodulate: bool = True,
        padding: str = "zeros",
    ):
        super().__init__()
        self.padding = padding
        self.weight = nn.Parameter(torch.randn(c_out, c_in, kernel, kernel) / math.sqrt(c_in))
        self.affine = nn.Linear(w_dim, c_in)
        nn.init.ones_(self.affine.bias)  # the identity style at initialisation
        self.demodulate, self.pad = demodulate, kernel // 2

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        # scaling the input channels, convolving with the shared weights and rescaling the
        # output channels equals convolving with the modulated, demodulated weights, and is
        # one plain convolution for the whole batch
        style = self.affine(w)  # (B, I)
        x = x * style[:, :, None, None]
        if self.pad and self.padding != "zeros":
            # a field too small to reflect (one vector) repeats its edge instead
            mode = self.padding if min(x.shape[-2:]) > self.pad else "replicate"
            x = F.pad(x, (self.pad,) * 4, mode=mode)
            out = F.conv2d(x, self.weight)
        else:
            out = F.conv2d(x, self.weight, padding=self.pad)
        if self.demodulate:
            norm = (self.weight.square().sum((2, 3))[None] * style[:, None, :].square()).sum(2)
            out = out * torch.rsqrt(norm + 1e-8)[:, :, None, None]
        return out


class StyleLayer(nn.Module):
    """Modulated 3 x 3 convolution, scaled noise, bias, leaky ReLU."""

    def __init__(self, c_in: int, c_out: int, w_dim: int, padding: str = "zeros"):
        super().__init__()
        self.conv = ModulatedConv(c_in, c_out, 3, w_dim, padding=padding)
        self.noise_strength = nn.Parameter(torch.zeros(1, c_out, 1, 1))
        self.bias = nn.Parameter(torch.zeros(1, c_out, 1, 1))

    def forward(self, x: torch.Tensor, w: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        x = self.conv(x, w) + self.noise_strength * noise + self.bias
        return F.leaky_relu(x, 0.2) * math.sqrt(2)


class StyleGenerator(nn.Module):
    """G(z, c): the noise of :meth:`noise` (field, style latent, pixel noise) and an optional
    condition (B, cond_dim) to images (B, channels, u h, u w) in [-1, 1], ``u`` the
    :attr:`upsampling`."""

    def __init__(self, cfg: StyleConfig) -> None:
        super().__init__()
        self.cfg = cfg
        layers: list[nn.Module] = []
        d = cfg.w_dim + cfg.cond_dim
        for _ in range(3):
            layers += [nn.Linear(d, cfg.w_dim), nn.LeakyReLU(0.2)]
            d = cfg.w_dim
        self.mapping = nn.Sequential(*layers)
        doublings = int(math.log2(cfg.upsampling))
        widths = [cfg.ngf * 2 ** min(3, doublings - i) for i in range(doublings + 1)]
        self.input = nn.Conv2d(cfg.nz, widths[0], 1)
        self.first = StyleLayer(widths[0], widths[0], cfg.w_dim, cfg.padding)
        self.to_image = nn.ModuleList([ModulatedConv(widths[0], cfg.channels, 1, cfg.w_dim, False)])
        self.blocks = nn.ModuleList()
        for a, b in itertools.pairwise(widths):
            self.blocks.append(
                nn.ModuleList(
                    [
                        StyleLayer(a, b, cfg.w_dim, cfg.padding),
                        StyleLayer(b, b, cfg.w_dim, cfg.padding),
                    ]
                )
            )
            self.to_image.append(ModulatedConv(b, cfg.channels, 1, cfg.w_dim, False))

    def forward(
        self, z: tuple[torch.Tensor, torch.Tensor, torch.Tensor], cond: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Images from the noise of :meth:`noise` and the condition."""
        field, latent, pixels = z
        if cond is not None:
            latent = torch.cat([latent, cond], 1)
        w = self.mapping(latent * torch.rsqrt(latent.square().mean(1, keepdim=True) + 1e-8))
        x = self.first(self.input(field), w, noise_at(pixels, field.shape[-1]))
        image = self.to_image[0](x, w)
        for block, to_image in zip(self.blocks, self.to_image[1:], strict=True):
            x = F.interpolate(x, scale_factor=2, mode="nearest")
            noise = noise_at(pixels, x.shape[-1])
            first, second = cast(nn.ModuleList, block)
            x = second(first(x, w, noise), w, noise)
            image = F.interpolate(image, scale_factor=2, mode="bilinear", align_corners=False)
            image = image + to_image(x, w)
        return torch.tanh(image)

    @property
    def upsampling(self) -> int:
        """Pixels per noise vector: generated sides are multiples of it."""
        return self.cfg.upsampling

    def noise(
        self, n: int, gen: torch.Generator, size: int | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The noise of ``n`` images of side ``size`` pixels (default: the training crop), a
        multiple of :attr:`upsampling`: the field (n, nz, size/u, size/u), the style's
        latent (n, w_dim) and the pixel noise (n, 1, size, size), all standard normal."""
        size = size or self.cfg.image_size
        side = size // self.upsampling
        field = torch.randn(n, self.cfg.nz, side, side, generator=gen)
        latent = torch.randn(n, self.cfg.w_dim, generator=gen)
        return field, latent, torch.randn(n, 1, size, size, generator=gen)


class ResidualDown(nn.Module):
    """Two 3 x 3 convolutions and a halving, beside a 1 x 1 shortcut; spectrally normed."""

    def __init__(self, c_in: int, c_out: int, sn) -> None:
        super().__init__()
        self.conv1, self.conv2 = (
            sn(nn.Conv2d(c_in, c_in, 3, 1, 1)),
            sn(nn.Conv2d(c_in, c_out, 3, 1, 1)),
        )
        self.skip = sn(nn.Conv2d(c_in, c_out, 1, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv2(F.leaky_relu(self.conv1(F.leaky_relu(x, 0.2)), 0.2))
        return (F.avg_pool2d(y, 2) + F.avg_pool2d(self.skip(x), 2)) / math.sqrt(2)


class StyleDiscriminator(nn.Module):
    """D(x, c): images (B, channels, image_size, image_size) in [-1, 1] to one logit each."""

    def __init__(self, cfg: StyleConfig) -> None:
        super().__init__()
        self.cfg = cfg
        sn = spectral_norm if cfg.spectral_norm else (lambda m: m)
        c = cfg.ndf
        # a strided 4 x 4 stem: the finest scale is seen by one layer, not by a residual block
        self.stem = sn(nn.Conv2d(cfg.channels + cfg.cond_dim, c, 4, 2, 1))
        blocks, side = [], cfg.image_size // 2
        while side > 4:
            c_next = min(c * 2, cfg.ndf * 8)
            blocks.append(ResidualDown(c, c_next, sn))
            c, side = c_next, side // 2
        self.blocks = nn.Sequential(*blocks)
        self.final = sn(nn.Conv2d(c + 1, c, 3, 1, 1))
        self.out = nn.Sequential(sn(nn.Linear(c * 16, c)), nn.LeakyReLU(0.2), sn(nn.Linear(c, 1)))

    def logits(self, x: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        """One logit per image, (B,)."""
        if cond is not None:
            b, _, h, w = x.shape
            x = torch.cat([x, cond[:, :, None, None].expand(b, cond.shape[1], h, w)], 1)
        x = self.blocks(F.leaky_relu(self.stem(x), 0.2))
        x = torch.cat([x, _minibatch_std(x)], 1)
        x = F.leaky_relu(self.final(x), 0.2)
        return self.out(x.flatten(1)).reshape(-1)

    def forward(self, x: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        return torch.sigmoid(self.logits(x, cond))


def _minibatch_std(x: torch.Tensor, group: int = 4) -> torch.Tensor:
    """One channel: the standard deviation of the features across groups of images, averaged
    (Karras et al. 2018); a batch of near-identical images gives a near-zero channel."""
    b, c, h, w = x.shape
    g = min(group, b)
    while b % g:
        g -= 1
    y = x.reshape(g, b // g, c, h, w)
    s = (y.var(0, unbiased=False) + 1e-8).sqrt().mean((1, 2, 3))  # (b // g,)
    return s.repeat(g)[:, None, None, None].expand(b, 1, h, w)


def build_style(cfg: StyleConfig, seed: int = 0) -> tuple[StyleGenerator, StyleDiscriminator]:
    """A generator and a discriminator from ``seed`` (the global torch generator is left as
    it was)."""
    if cfg.image_size < 32 or cfg.image_size & (cfg.image_size - 1):
        raise ValueError(f"image_size {cfg.image_size} is not a power of two of 32 or more")
    if cfg.upsampling < 2 or cfg.upsampling & (cfg.upsampling - 1):
        raise ValueError(f"upsampling {cfg.upsampling} is not a power of two")
    if cfg.upsampling > cfg.image_size:
        raise ValueError(f"upsampling {cfg.upsampling} is larger than image_size {cfg.image_size}")
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return StyleGenerator(cfg), StyleDiscriminator(cfg)
