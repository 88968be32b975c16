"""spectral.train: settings, exact resume, fine-tuning, schedules, noise, weight averaging."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np
import pytest
import torch

from eftgan.errors import UserError


@contextlib.contextmanager
def _killed_after_first_checkpoint() -> Iterator[None]:
    """Interrupt the training run inside the block right after it writes its first
    checkpoint, as a killed process would stop."""
    import eftgan.runstate as rs
    from tests.conftest import dies_after

    real = rs.atomic_write_bytes
    rs.atomic_write_bytes = dies_after(real)
    try:
        with pytest.raises(KeyboardInterrupt):
            yield
    finally:
        rs.atomic_write_bytes = real


@pytest.mark.slow
def test_train_resume_finetune_schedules_and_noise(tmp_path, steel_sim) -> None:
    from spectral.dataset import simulate_set
    from spectral.predict import load_saca, predict
    from spectral.train import train_saca

    data = simulate_set(320, seed=3)
    full = train_saca(data, tmp_path / "full", max_epochs=2, progress=False)
    # kill a 2-epoch run right after its first checkpoint, then run the command again
    with _killed_after_first_checkpoint():
        train_saca(data, tmp_path / "resumed", max_epochs=2, progress=False)
    again = train_saca(data, tmp_path / "resumed", max_epochs=2, progress=False)
    assert again["history"] == full["history"]
    m1, _ = load_saca(tmp_path / "full")
    m2, _ = load_saca(tmp_path / "resumed")
    w1, _ = predict(m1, data.spectra[:8])
    w2, _ = predict(m2, data.spectra[:8])
    assert np.array_equal(w1, w2)
    # fine-tuning starts from the given weights and records them
    import json

    ft = train_saca(
        data, tmp_path / "ft", max_epochs=0, progress=False, init_from=tmp_path / "full", jitter=0.0
    )
    full_cfg = json.loads((tmp_path / "full" / "config.json").read_text())
    ft_cfg = json.loads((tmp_path / "ft" / "config.json").read_text())
    assert ft_cfg["fingerprint"]["init_from_sha256"] == full_cfg["weights"]["sha256"]
    assert ft_cfg["model"]["saca"]["calibrated"] and "metrics_uncalibrated" in ft_cfg
    # no epoch: the same weights, calibrated again on the same validation spectra
    assert ft["metrics"] == full["metrics"]
    m3, _ = load_saca(tmp_path / "ft")
    assert np.allclose(predict(m3, data.spectra[:8])[0], w1, atol=1e-4)
    # the cosine schedule runs every epoch (no early stopping) down to the floor rate
    cos = train_saca(
        data,
        tmp_path / "cos",
        max_epochs=3,
        patience=0,
        progress=False,
        lr_schedule="cosine",
        min_lr=1e-5,
    )
    lrs = [h["lr"] for h in cos["history"]]
    assert len(lrs) == 3 and lrs[0] == pytest.approx(1e-3)
    assert lrs[0] > lrs[1] > lrs[2] > 1e-5
    with pytest.raises(UserError, match="schedule"):
        train_saca(data, tmp_path / "bad", lr_schedule="step", progress=False)
    # fresh detector noise for every batch: needs the noiseless counts, and says so
    with pytest.raises(ValueError, match="keep_clean"):
        train_saca(data, tmp_path / "bad", noise="fresh", progress=False)
    with pytest.raises(UserError, match="noise"):
        train_saca(data, tmp_path / "bad", noise="loud", progress=False)
    kept = simulate_set(320, seed=3, keep_clean=True)
    fresh = train_saca(kept, tmp_path / "fresh", max_epochs=2, progress=False, noise="fresh")
    assert fresh["history"][0]["train_loss"] != full["history"][0]["train_loss"]
    fresh_cfg = json.loads((tmp_path / "fresh" / "config.json").read_text())
    assert fresh_cfg["fingerprint"]["noise"] == "fresh"
    assert fresh_cfg["fingerprint"]["data_sha256"] == full_cfg["fingerprint"]["data_sha256"]
    assert "drawn afresh for every batch" in (tmp_path / "fresh" / "card.md").read_text()


def test_ema_update_averages_floats_and_copies_counters() -> None:
    from spectral.train import ema_update

    model = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.BatchNorm1d(2))
    avg = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.BatchNorm1d(2))
    with torch.no_grad():
        for p in avg.parameters():
            p.zero_()
        model[1].num_batches_tracked.fill_(7)
    w = model[0].weight.detach().clone()
    ema_update(avg, model, 0.9)
    assert torch.allclose(avg[0].weight, 0.1 * w)
    ema_update(avg, model, 0.9)
    assert torch.allclose(avg[0].weight, 0.19 * w)
    assert int(avg[1].num_batches_tracked) == 7
    assert torch.allclose(avg[1].running_var, torch.ones(2))  # 1 averaged with 1


@pytest.mark.slow
def test_train_with_weight_averaging_resumes_exactly(tmp_path, steel_sim) -> None:
    import json

    import spectral.train as st
    from spectral.dataset import simulate_set
    from spectral.predict import load_saca, predict

    data = simulate_set(320, seed=3)
    with pytest.raises(UserError, match="EMA"):
        st.train_saca(data, tmp_path / "bad", ema=1.0, progress=False)
    full = st.train_saca(data, tmp_path / "full", max_epochs=2, progress=False, ema=0.9)
    h = full["history"]
    # the validated weights are the average, the raw ones are validated beside them, and the
    # epoch kept is the one where the better of the two was lowest
    assert all(e["val_loss"] != e["val_loss_raw"] for e in h)
    better = [min(e["val_loss"], e["val_loss_raw"]) for e in h]
    assert full["best_epoch"] == int(np.argmin(better)) + 1
    csv = (tmp_path / "full" / "history.csv").read_text().splitlines()
    assert csv[0].endswith(",val_loss_raw") and len(csv) == 3
    assert json.loads((tmp_path / "full" / "config.json").read_text())["fingerprint"]["ema"] == 0.9
    assert "EMA, decay 0.9" in (tmp_path / "full" / "card.md").read_text()
    with _killed_after_first_checkpoint():
        st.train_saca(data, tmp_path / "resumed", max_epochs=2, progress=False, ema=0.9)
    again = st.train_saca(data, tmp_path / "resumed", max_epochs=2, progress=False, ema=0.9)
    assert again["history"] == h
    a, _ = load_saca(tmp_path / "full")
    b, _ = load_saca(tmp_path / "resumed")
    assert np.array_equal(predict(a, data.spectra[:8])[0], predict(b, data.spectra[:8])[0])


def test_train_config_round_trips_through_json(tmp_path) -> None:
    import json

    from spectral.train import SACATrainConfig

    cfg = SACATrainConfig(
        variant="wide",
        seed=3,
        lr_schedule="cosine",
        ema=0.999,
        noise="fresh",
        init_from=tmp_path / "m",
        max_minutes=5.0,
    )
    assert cfg.init_from == str(tmp_path / "m")
    back = SACATrainConfig.from_dict(json.loads(json.dumps(cfg.as_dict())))
    assert back == cfg
    # where and for how long a run goes on is not part of what it computes
    fp = cfg.fingerprint("abc", None)
    assert fp["data_sha256"] == "abc" and fp["seed"] == 3 and fp["ema"] == 0.999
    assert "device" not in fp and "max_minutes" not in fp
    assert cfg.schedule() == {"kind": "cosine", "min_lr": 1e-5}
    # settings recorded with the old instrument name read back under the new one
    old = {**cfg.as_dict(), "instrument": "seed"}
    assert SACATrainConfig.from_dict(old).instrument == "saca2021"


@pytest.mark.parametrize(
    ("settings", "needle"),
    [
        ({"variant": "seed"}, "'seed' is now called 'paper'"),
        ({"instrument": "seed"}, "'seed' is now called 'saca2021'"),
        ({"variant": "huge"}, "compact, paper, wide"),
        ({"lr_schedule": "step"}, "schedule"),
        ({"noise": "loud"}, "noise"),
        ({"ema": 1.0}, "EMA"),
        ({"device": "tpu"}, "unknown device"),
    ],
)
def test_train_config_refuses_bad_settings(settings, needle) -> None:
    from spectral.train import SACATrainConfig

    with pytest.raises(UserError, match=needle):
        SACATrainConfig(**settings)
