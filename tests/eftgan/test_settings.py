"""Every settings dataclass reads back from its JSON dictionary into an equal object."""

from __future__ import annotations

import json

import pytest


def _configs() -> list:
    from eftgan.ecnet import ECNetConfig
    from eftgan.infogan import GANConfig
    from eftgan.pipeline import EFTGANTrainConfig
    from eftgan.train import TrainConfig
    from microstructure.dcgan import DCGANConfig
    from microstructure.train import DCGANTrainConfig
    from spectral.model import SACAConfig
    from spectral.train import SACATrainConfig

    return [
        ECNetConfig(elements=("Fe", "Ni"), hidden=16),
        GANConfig(elements=("Fe", "Ni", "Co"), feature_dim=8),
        SACAConfig.variant("compact", ("Fe", "Cr", "Ni"), n_points=512),
        DCGANConfig(nz=10, cond_dim=11),
        TrainConfig(seed=3, split=(0.7, 0.2, 0.1)),
        EFTGANTrainConfig(seed=2, gan_steps=10),
        SACATrainConfig(seed=1, max_epochs=2),
        DCGANTrainConfig(iters=5, si_wt_pct=(7.0, 12.0)),
    ]


@pytest.mark.parametrize("config", _configs(), ids=lambda c: type(c).__name__)
def test_settings_round_trip_through_json(config) -> None:
    back = type(config).from_dict(json.loads(json.dumps(config.as_dict())))
    assert back == config
    assert back.as_dict() == config.as_dict()


def test_an_unknown_setting_is_refused() -> None:
    from eftgan.train import TrainConfig

    with pytest.raises(TypeError):
        TrainConfig.from_dict({"seed": 1, "no_such_setting": 2})
