"""SACA: a 1D ResNet that reads steel composition from a raw emission spectrum.

Three variants of one design (:meth:`SACAConfig.variant`):

* ``paper``: the SACA paper's network as printed: five residual blocks of two convolutions
  (kernel 3, batch norm, ReLU; a 1x1 convolution with batch norm on the shortcut where the
  width changes) with 64/128/256/512/1024 filters, max pooling (2) after the first three,
  global average pooling and a fully connected layer whose softmax is the composition. At
  4001 points it has 7.0 M parameters and reads the min-max scaled spectrum.
* ``wide``: the paper's network at full width reading the compact variant's input (square
  root and position channel, below): it tells what the width buys with the input the same.
  Like the paper's, it needs a GPU to train.
* ``compact``: the same design at a quarter of the width (16-256 filters) for CPUs, after a
  stem that downsamples early (a convolution of kernel 7 and stride 2 and a max pool), so
  that the blocks see a quarter of the points.

Every variant has a second fully connected layer for presence (one logit per element, present
above 0.01 wt %), which precision/recall tables of presence calls need.

Inputs. ``input_transform = "sqrt"`` reads the square root of the min-max scaled spectrum:
shot noise grows as the square root of the counts, so the root gives every pixel about the
same noise, and the weak lines of elements near their detection limit are no longer a
thousandth of the strongest Fe line. With ``position_channel = True`` a second input channel
holds the pixel's place along the window (-1 to 1): the convolutions and the global average
pooling otherwise see only the local shape of the lines, not at what wavelength they are.

Calibration (:mod:`spectral.calibration`). A calibrated model (``calibrated = True``) corrects
the softmax composition with a slope and an offset per element, the first element (Fe in
steels) the balance; with ``presence_calibrated = True`` each presence logit is shifted so that
a probability above 0.5 is the call at which precision and recall are highest together. Both
travel with the weights as buffers.

Outputs: ``wt_pct`` (B, E) = 100 x softmax(logits), calibrated where the model is;
``presence_logit`` (B, E); ``logits`` (B, E), the composition before the softmax.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from eftgan.errors import UserError
from eftgan.settings import JSONSettings

#: The network variants of :meth:`SACAConfig.variant`.
VARIANTS = ("compact", "paper", "wide")
#: Retired variant names -> current name (a one-line error points from one to the other).
RENAMED_VARIANTS = {"seed": "paper"}


@dataclass
class SACAConfig(JSONSettings):
    """The architecture of a SACA network (see the module docstring); JSON round-trip through
    :meth:`as_dict` / :meth:`from_dict`."""

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

    @classmethod
    def variant(cls, name: str, elements: tuple[str, ...], n_points: int = 4001) -> SACAConfig:
        """The configuration of a named variant (``compact``, ``paper`` or ``wide``) reading
        ``n_points`` pixels and giving the contents of ``elements``; a one-line
        :class:`~eftgan.errors.UserError` for another name."""
        check_variant(name)
        if name == "paper":
            return cls(elements, n_points=n_points)
        if name == "wide":
            return cls(elements, n_points=n_points, input_transform="sqrt", position_channel=True)
        return cls(
            elements,
            widths=(16, 32, 64, 128, 256),
            stem=True,
            n_points=n_points,
            input_transform="sqrt",
            position_channel=True,
        )


def check_variant(name: str) -> str:
    """``name`` if it is a SACA variant; otherwise a one-line :class:`UserError` that names the
    variants (and the new name of a renamed one)."""
    if name in RENAMED_VARIANTS:
        raise UserError(
            f"the SACA variant {name!r} is now called {RENAMED_VARIANTS[name]!r}; "
            f"choose {', '.join(VARIANTS)}"
        )
    if name not in VARIANTS:
        raise UserError(f"unknown SACA variant {name!r}; choose {', '.join(VARIANTS)}")
    return name


class ResBlock1d(nn.Module):
    """Two convolutions (kernel 3) with batch norm and ReLU, and a shortcut (a 1x1 convolution
    with batch norm where the width changes): (B, c_in, P) -> (B, c_out, P)."""

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
        """The block's output, (B, c_out, P)."""
        y = torch.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return torch.relu(y + self.short(x))


class SACA(nn.Module):
    """The SACA network of a :class:`SACAConfig` (see the module docstring for its outputs)."""

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
        """Read min-max scaled spectra ``x``, (B, P) or (B, 1, P).

        Returns ``{"logits", "wt_pct", "presence_logit"}``, each (B, E): the composition
        before the softmax, the contents in wt % (rows sum to 100) and the presence logits.
        """
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
    """The number of trainable and frozen parameters of ``model`` (buffers not counted)."""
    return sum(p.numel() for p in model.parameters())
