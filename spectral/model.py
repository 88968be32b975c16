"""SACA: a 1D ResNet that reads steel composition from a raw emission spectrum.

The seed architecture as printed: five residual blocks of two convolutions (kernel 3, batch
norm, ReLU; a 1x1 convolution with batch norm on the shortcut where the width changes) with
64/128/256/512/1024 filters, max pooling (2) after the first three, global average pooling
and a fully connected layer whose softmax is the composition. At 4001 points it has 7.0 M
parameters. We add a second fully connected layer for presence (one logit per element, above
0.01 wt %), which the seed's precision/recall table needs.

The wide variant is the seed's network at full width (7.0 M parameters) reading the compact
variant's input (square root and position channel, below): it tells what the width buys,
with the input the same; like the seed size, it needs a GPU to train.

The compact variant for CPUs is the same design at a quarter of the width (16-256 filters)
after a stem that downsamples early: a convolution of kernel 7 and stride 2 and a max pool,
so that the blocks see a quarter of the points. It also reads the square root of the
min-max scaled spectrum (``input_transform = "sqrt"``): shot noise grows as the square root
of the counts, so the root gives every pixel about the same noise, and the weak lines of
elements near their detection limit are no longer a thousandth of the strongest Fe line.
With ``position_channel = True`` (the compact variant from v3 on) a second input channel
holds the pixel's place along the window (-1 to 1): the convolutions and the global average
pooling otherwise see only the local shape of the lines, not at what wavelength they are.

A calibrated model (``calibrated = True``) corrects the softmax composition the way a
spectroscopist corrects a calibration model: a slope and an offset per element, fitted by
least squares on the validation spectra after training (``spectral.train``), with the first
element (Fe in steels) the balance. The network's composition is pulled towards the mean of
the training set and slightly biased, since augmented training spectra are noisier than the
ones it reads; the benchmark reports the model with and without the calibration. With
``presence_calibrated = True`` each presence logit is also shifted, so that a presence
probability above 0.5 is the call at which precision and recall on the validation spectra are
highest together: trained with cross-entropy, the network calls a trace element only when
it is more likely present than not, which near the threshold gave precision 0.94-0.98 and
recall 0.77-0.86 for Ce, Nd, Pr and Sm (v4). The shifted output is a decision, not a
calibrated probability.

Outputs: ``wt_pct`` (B, E) = 100 x softmax(logits), calibrated where the model is;
``presence_logit`` (B, E).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn


@dataclass
class SACAConfig:
    elements: tuple[str, ...]
    widths: tuple[int, ...] = (64, 128, 256, 512, 1024)
    pools_after: int = 3
    stem: bool = False  # compact: conv7/2 + maxpool before the blocks
    stem_width: int = 16
    n_points: int = 4001
    input_transform: str = "none"  # "sqrt": the model reads sqrt(min-max scaled spectrum)
    position_channel: bool = False  # a second input channel: the pixel's place, -1 to 1
    calibrated: bool = False  # a slope and offset per element after the softmax (see below)
    presence_calibrated: bool = False  # a shift of each presence logit (see below)

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["elements"] = list(self.elements)
        d["widths"] = list(self.widths)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SACAConfig:
        d = dict(d)
        d["elements"] = tuple(d["elements"])
        d["widths"] = tuple(d["widths"])
        return cls(**d)

    @classmethod
    def variant(cls, name: str, elements: tuple[str, ...], n_points: int = 4001) -> SACAConfig:
        if name == "seed":
            return cls(elements, n_points=n_points)
        if name == "wide":
            return cls(elements, n_points=n_points, input_transform="sqrt",
                       position_channel=True)  # fmt: skip
        if name == "compact":
            return cls(elements, widths=(16, 32, 64, 128, 256), stem=True, n_points=n_points,
                       input_transform="sqrt", position_channel=True)  # fmt: skip
        raise ValueError(f"unknown SACA variant {name!r}; choose seed, wide or compact")


class ResBlock1d(nn.Module):
    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv1d(c_in, c_out, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm1d(c_out)
        self.conv2 = nn.Conv1d(c_out, c_out, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm1d(c_out)
        self.short = (
            nn.Sequential(nn.Conv1d(c_in, c_out, 1, bias=False), nn.BatchNorm1d(c_out))
            if c_in != c_out
            else nn.Identity()
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return torch.relu(y + self.short(x))


class SACA(nn.Module):
    cal_slope: torch.Tensor  # buffers of a calibrated model
    cal_offset: torch.Tensor
    cal_presence_bias: torch.Tensor

    def __init__(self, cfg: SACAConfig) -> None:
        super().__init__()
        if cfg.input_transform not in ("none", "sqrt"):
            raise ValueError(f"unknown input_transform {cfg.input_transform!r}")
        self.cfg = cfg
        layers: list[nn.Module] = []
        c = 2 if cfg.position_channel else 1
        if cfg.stem:
            layers += [
                nn.Conv1d(c, cfg.stem_width, 7, stride=2, padding=3, bias=False),
                nn.BatchNorm1d(cfg.stem_width),
                nn.ReLU(),
                nn.MaxPool1d(2),
            ]
            c = cfg.stem_width
        for i, w in enumerate(cfg.widths):
            layers.append(ResBlock1d(c, w))
            if i < cfg.pools_after:
                layers.append(nn.MaxPool1d(2))
            c = w
        self.body = nn.Sequential(*layers)
        self.fc = nn.Linear(c, len(cfg.elements))
        self.presence = nn.Linear(c, len(cfg.elements))
        if cfg.calibrated:
            self.register_buffer("cal_slope", torch.ones(len(cfg.elements)))
            self.register_buffer("cal_offset", torch.zeros(len(cfg.elements)))
        if cfg.presence_calibrated:
            self.register_buffer("cal_presence_bias", torch.zeros(len(cfg.elements)))

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """``x``: min-max scaled spectra (B, P) or (B, 1, P)."""
        if x.dim() == 2:
            x = x[:, None, :]
        if self.cfg.input_transform == "sqrt":
            x = x.clamp(min=0.0).sqrt()
        if self.cfg.position_channel:
            pos = torch.linspace(-1.0, 1.0, x.shape[-1], dtype=x.dtype, device=x.device)
            x = torch.cat([x, pos.expand(x.shape[0], 1, -1)], 1)
        h = self.body(x).mean(-1)
        logits = self.fc(h)
        wt = 100.0 * torch.softmax(logits, -1)
        if self.cfg.calibrated:
            rest = (wt[:, 1:] * self.cal_slope[1:] + self.cal_offset[1:]).clamp(min=0.0)
            wt = torch.cat([100.0 - rest.sum(1, keepdim=True), rest], 1)
        presence = self.presence(h)
        if self.cfg.presence_calibrated:
            presence = presence + self.cal_presence_bias
        return {"logits": logits, "wt_pct": wt, "presence_logit": presence}


def n_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
