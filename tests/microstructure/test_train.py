"""microstructure.train: the training settings."""

from __future__ import annotations

import json

import pytest

from eftgan.errors import UserError
from microstructure.dcgan import COND_DIM
from microstructure.train import DCGANTrainConfig


def test_train_config_round_trips_through_json() -> None:
    for cfg in (DCGANTrainConfig(), DCGANTrainConfig(iters=8, nz=16, si_wt_pct=[4, 10.5])):
        back = DCGANTrainConfig.from_dict(json.loads(json.dumps(cfg.as_dict())))
        assert back == cfg and back.as_dict() == cfg.as_dict()
    assert DCGANTrainConfig(si_wt_pct=[4, 10]).si_wt_pct == (4.0, 10.0)


def test_train_config_model_and_validation() -> None:
    assert DCGANTrainConfig().model_config().cond_dim == 0
    m = DCGANTrainConfig(nz=16, width=8, si_wt_pct=[4.0]).model_config()
    assert (m.nz, m.ngf, m.ndf, m.cond_dim) == (16, 8, 8, COND_DIM)
    with pytest.raises(UserError, match="one --condition-si value per"):
        DCGANTrainConfig(si_wt_pct=[4.0]).validate(2)
    with pytest.raises(UserError, match="outside 0-25"):
        DCGANTrainConfig(si_wt_pct=[30.0]).validate(1)
    with pytest.raises(UserError, match="not a learning rate"):
        DCGANTrainConfig(lr=0).validate(1)
