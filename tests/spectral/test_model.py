"""spectral.model: the SACA variants, their sizes and inputs."""

from __future__ import annotations

import pytest
import torch

from eftgan.errors import UserError
from spectral.dataset import STEEL_ELEMENTS
from spectral.model import SACA, SACAConfig, n_parameters


def test_saca_sizes_as_published() -> None:
    paper = SACA(SACAConfig.variant("paper", STEEL_ELEMENTS))
    compact = SACA(SACAConfig.variant("compact", STEEL_ELEMENTS))
    assert n_parameters(paper) == pytest.approx(7.0e6, rel=0.01)
    assert n_parameters(compact) < n_parameters(paper) / 10
    x = torch.rand(3, 4001)
    for m in (paper, compact):
        out = m.eval()(x)
        assert out["wt_pct"].shape == (3, 11)
        assert torch.allclose(out["wt_pct"].sum(1), torch.full((3,), 100.0))
    # the paper's reads the min-max scaled spectrum as printed; the compact one its square root
    assert paper.cfg.input_transform == "none" and compact.cfg.input_transform == "sqrt"
    # the wide one is the paper's network (one more input weight per first-layer filter and
    # tap, for the position channel) reading the compact's input
    wide = SACA(SACAConfig.variant("wide", STEEL_ELEMENTS))
    assert n_parameters(wide) - n_parameters(paper) == 64 * 3 + 64
    assert wide.cfg.input_transform == "sqrt" and wide.cfg.position_channel
    assert not paper.cfg.position_channel
    with pytest.raises(ValueError, match="compact, paper, wide"):
        SACAConfig.variant("huge", STEEL_ELEMENTS)
    with pytest.raises(ValueError, match="input_transform"):
        SACA(SACAConfig(STEEL_ELEMENTS, input_transform="log"))


def test_position_channel_tells_where_a_line_is() -> None:
    cfg = SACAConfig.variant("compact", STEEL_ELEMENTS)
    assert cfg.position_channel
    # older model folders have no such key: they load as before, without the channel
    old = {k: v for k, v in cfg.as_dict().items() if k not in ("position_channel", "calibrated")}
    assert not SACAConfig.from_dict(old).position_channel
    torch.manual_seed(0)
    with_pos = SACA(cfg).eval()
    torch.manual_seed(0)
    without = SACA(SACAConfig.from_dict(old)).eval()
    x = torch.zeros(2, 4001)
    x[0, 1500:1503] = 1.0
    x[1, 2524:2527] = 1.0  # the same line 102.4 nm further on (1024 = 32 pooled pixels)
    d_pos = (with_pos(x)["logits"][0] - with_pos(x)["logits"][1]).abs().max()
    d_without = (without(x)["logits"][0] - without(x)["logits"][1]).abs().max()
    assert d_without < 1e-4  # the pooled features do not know where the line was
    assert d_pos > 100 * d_without + 1e-4


def test_old_variant_name_names_the_new_one() -> None:
    with pytest.raises(UserError, match="'seed' is now called 'paper'"):
        SACAConfig.variant("seed", STEEL_ELEMENTS)
