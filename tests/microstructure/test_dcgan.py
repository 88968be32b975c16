"""microstructure.dcgan: shapes of the paper's networks and of the conditional variant."""

from __future__ import annotations

import json

import torch

from microstructure.dcgan import COND_DIM, DCGANConfig, build, condition_vector


def test_paper_dcgan_shapes_and_conditioning() -> None:
    g, d = build(DCGANConfig())
    z = torch.randn(2, 1000)
    x = g(z)
    assert x.shape == (2, 1, 64, 64) and x.abs().max() <= 1
    assert d(x).shape == (2,) and ((d(x) > 0) & (d(x) < 1)).all()
    # training reads D before its sigmoid: the same probabilities, no float32 saturation
    assert torch.allclose(torch.sigmoid(d.logits(x)), d(x))
    c = torch.from_numpy(condition_vector([7.0, 9.0]))
    assert c.shape == (2, COND_DIM) and not torch.equal(c[0], c[1])
    gc, dc = build(DCGANConfig(nz=16, cond_dim=COND_DIM, ngf=8, ndf=8))
    assert gc(torch.randn(2, 16), c).shape == (2, 1, 64, 64)
    assert dc(gc(torch.randn(2, 16), c), c).shape == (2,)


def test_build_is_seeded_and_leaves_the_global_generator() -> None:
    cfg = DCGANConfig(nz=8, ngf=4, ndf=4)
    before = torch.get_rng_state()
    (g1, _), (g2, _), (g3, _) = build(cfg, 1), build(cfg, 1), build(cfg, 2)
    assert torch.equal(torch.get_rng_state(), before)
    w = [next(g.parameters()) for g in (g1, g2, g3)]
    assert torch.equal(w[0], w[1]) and not torch.equal(w[0], w[2])


def test_config_round_trips_through_json() -> None:
    cfg = DCGANConfig(nz=100, cond_dim=COND_DIM, ngf=32, ndf=32)
    assert DCGANConfig.from_dict(json.loads(json.dumps(cfg.as_dict()))) == cfg
