"""Peak finding and identification, the SACA networks, training and the baselines."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np
import pytest
import torch

from eftgan.errors import UserError
from spectral.dataset import STEEL_ELEMENTS, augment, minmax, sample_compositions
from spectral.model import SACA, SACAConfig, n_parameters


def test_find_peaks_on_synthetic_lines() -> None:
    from spectral.identify import find_peaks

    wl = np.linspace(300, 400, 5001)
    rng = np.random.default_rng(0)
    y = 100 + 0.2 * (wl - 300) + rng.normal(0, 1, wl.size)
    for c in (320.0, 350.5, 377.25):
        y += 500 * np.exp(-0.5 * ((wl - c) / 0.05) ** 2)
    p = find_peaks(wl, y)
    assert len(p.wavelength) == 3
    assert np.allclose(np.sort(p.wavelength), [320.0, 350.5, 377.25], atol=0.02)
    assert p.fwhm_nm == pytest.approx(0.1177, rel=0.25)


def test_identify_ranks_the_elements_of_a_simulated_steel(steel_sim) -> None:
    from spectral.identify import identify
    from spectral.instrument import Conditions

    wt = np.array([[70.0, 18.0, 10.0, 0, 2.0, 0, 0, 0, 0, 0, 0]])
    s = steel_sim.simulate(wt, Conditions.fixed(1, 9000.0, 1e17), np.random.default_rng(1))[0]
    cands = ["Fe", "Cr", "Ni", "Mn", "Cu", "Ti", "Al", "W", "Zn"]
    ranked = [m.element for m in identify(steel_sim.instrument.wavelength_nm, s, cands)]
    assert ranked[0] == "Fe"
    assert set(ranked[:3]) == {"Fe", "Cr", "Ni"}
    assert ranked.index("Mn") < ranked.index("Zn")


def test_saca_sizes_as_published() -> None:
    seed = SACA(SACAConfig.variant("seed", STEEL_ELEMENTS))
    compact = SACA(SACAConfig.variant("compact", STEEL_ELEMENTS))
    assert n_parameters(seed) == pytest.approx(7.0e6, rel=0.01)
    assert n_parameters(compact) < n_parameters(seed) / 10
    x = torch.rand(3, 4001)
    for m in (seed, compact):
        out = m.eval()(x)
        assert out["wt_pct"].shape == (3, 11)
        assert torch.allclose(out["wt_pct"].sum(1), torch.full((3,), 100.0))
    # the seed reads the min-max scaled spectrum as printed; the compact one its square root
    assert seed.cfg.input_transform == "none" and compact.cfg.input_transform == "sqrt"
    # the wide one is the seed's network (one more input weight per first-layer filter and
    # tap, for the position channel) reading the compact's input
    wide = SACA(SACAConfig.variant("wide", STEEL_ELEMENTS))
    assert n_parameters(wide) - n_parameters(seed) == 64 * 3 + 64
    assert wide.cfg.input_transform == "sqrt" and wide.cfg.position_channel
    assert not seed.cfg.position_channel
    with pytest.raises(ValueError, match="seed, wide or compact"):
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


def test_calibration_fits_slope_and_offset_with_iron_the_balance() -> None:
    from spectral.calibration import calibrate
    from spectral.predict import predict, uncalibrated

    torch.manual_seed(1)
    model = SACA(SACAConfig.variant("compact", STEEL_ELEMENTS)).eval()
    spectra = np.random.default_rng(0).random((200, 4001)).astype(np.float32) ** 8
    raw, _ = predict(model, spectra)
    truth = raw.copy()
    truth[:, 1:] = 1.5 * raw[:, 1:] - 0.01  # a network that reads every element too flat
    truth[:, 0] = 100 - truth[:, 1:].sum(1)
    cal, cfg = calibrate(model, spectra, truth)
    assert cfg.calibrated and not model.cfg.calibrated
    got, _ = predict(cal, spectra)
    assert np.allclose(got, truth, atol=2e-3)
    assert np.allclose(got.sum(1), 100.0, atol=1e-3)
    assert torch.allclose(cal.cal_slope[1:], torch.full((10,), 1.5), atol=1e-3)
    again = SACA(cfg)
    again.load_state_dict(cal.state_dict())  # the slopes travel with the weights
    assert np.allclose(predict(again, spectra)[0], got)
    assert np.array_equal(predict(uncalibrated(cal), spectra)[0], raw)


def test_presence_calibration_balances_precision_and_recall() -> None:
    from spectral.calibration import balanced_presence_bias, calibrate
    from spectral.predict import predict_logits

    # separable: the cut falls between the last absent and the first present sample
    logit = np.arange(10.0) - 2.0
    assert balanced_presence_bias(logit, logit > 3.5) == pytest.approx(-3.5)
    assert balanced_presence_bias(logit, np.ones(10, bool)) == 0.0
    # a shy detector (calls only the clearest cases): the shift lowers its bar
    rng = np.random.default_rng(0)
    present = rng.random(2000) < 0.5
    score = present + 0.6 * rng.standard_normal(2000) - 1.0  # centred below the 0.5 mark

    def pr(called: np.ndarray) -> float:
        tp = (called & present).sum()
        return min(tp / called.sum(), tp / present.sum())

    shift = balanced_presence_bias(score, present)
    assert shift > 0.3 and pr(score + shift > 0) > pr(score > 0) + 0.1
    # in the model: the presence logits move by the fitted shift, the composition does not
    torch.manual_seed(1)
    model = SACA(SACAConfig.variant("compact", STEEL_ELEMENTS)).eval()
    spectra = rng.random((200, 4001)).astype(np.float32) ** 8
    raw_wt, raw_logit = predict_logits(model, spectra)
    truth = raw_wt.copy()
    truth[:, 5] = np.where(raw_logit[:, 5] > np.median(raw_logit[:, 5]), 0.1, 0.0)
    truth[:, 0] = 100 - truth[:, 1:].sum(1)
    cal, cfg = calibrate(model, spectra, truth)
    assert cfg.presence_calibrated
    _, logit = predict_logits(cal, spectra)
    assert np.allclose(logit - raw_logit, cal.cal_presence_bias.numpy(), atol=1e-5)
    called = logit[:, 5] > 0
    assert np.array_equal(called, truth[:, 5] > 0.01)


def test_compositions_follow_the_grades_and_ranges() -> None:
    wt = sample_compositions(2000, np.random.default_rng(0))
    assert np.allclose(wt.sum(1), 100.0)
    cr, ni, mo, mn = wt[:, 1], wt[:, 2], wt[:, 3], wt[:, 4]
    assert cr.min() >= 10 and cr.max() <= 26 and ni.max() <= 22 and mo.max() <= 7
    assert mn.max() <= 2
    re = wt[:, 5:]
    assert 0.3 < (re == 0).mean() < 0.4  # absent
    assert 0.25 < ((re > 0) & (re < 0.05)).mean() < 0.35  # near the detection limit
    assert re.max() <= 0.5


def test_augmentation_keeps_scale_and_moves_peaks() -> None:
    x = torch.zeros(4, 200)
    x[:, 100] = 1.0
    y = augment(minmax(x), torch.Generator().manual_seed(0))
    assert y.min() >= 0 and y.max() <= 1 + 1e-6
    assert (y.argmax(1) - 100).abs().max() <= 1


def test_fresh_noise_follows_the_detector_model(steel_sim) -> None:
    from spectral.dataset import fresh_noise, simulate_set

    plain = simulate_set(40, seed=5)
    kept = simulate_set(40, seed=5, keep_clean=True)
    assert kept.clean is not None and kept.noise_sd is not None
    # keeping the noiseless counts does not change the spectra or their hash
    assert np.array_equal(plain.spectra, kept.spectra) and plain.sha256() == kept.sha256()
    assert plain.clean is None and kept.subset(np.arange(3)).clean.shape == (3, 4001)
    z = (kept.spectra - kept.clean) / kept.noise_sd
    assert abs(z.mean()) < 0.02 and z.std() == pytest.approx(1.0, abs=0.02)
    gen = torch.Generator().manual_seed(0)
    clean, sd = torch.from_numpy(kept.clean), torch.from_numpy(kept.noise_sd)
    a = fresh_noise(clean, sd, kept.full_scale, gen)
    b = fresh_noise(clean, sd, kept.full_scale, gen)
    assert not torch.equal(a, b)
    za = ((a - clean) / sd).numpy()
    assert za.std() == pytest.approx(1.0, abs=0.02)
    assert a.min() >= 0 and a.max() <= kept.full_scale


@contextlib.contextmanager
def _killed_after_first_checkpoint() -> Iterator[None]:
    """Interrupt the training run inside the block right after it writes its first
    checkpoint, as a killed process would stop."""
    import spectral.train as st

    real, calls = st.atomic_write_bytes, {"n": 0}

    def die_after_first(path, blob):
        real(path, blob)
        calls["n"] += 1
        if calls["n"] == 1:
            raise KeyboardInterrupt

    st.atomic_write_bytes = die_after_first
    try:
        with pytest.raises(KeyboardInterrupt):
            yield
    finally:
        st.atomic_write_bytes = real


@pytest.mark.slow
def test_train_resume_and_baselines(tmp_path, steel_sim) -> None:
    from spectral.baselines import PLSBaseline, UnivariateCalibration
    from spectral.dataset import simulate_set
    from spectral.predict import load_saca, predict
    from spectral.train import train_saca

    data = simulate_set(320, seed=3)
    tr, te = np.arange(240), np.arange(240, 320)
    pls = PLSBaseline((2, 5)).fit(data.spectra[tr], data.wt_pct[tr], data.spectra[te],
                                  data.wt_pct[te])  # fmt: skip
    err = np.abs(pls.predict(data.spectra[te]) - data.wt_pct[te]).mean(0)
    assert err[1] < np.abs(data.wt_pct[te, 1] - data.wt_pct[tr, 1].mean()).mean()  # Cr
    uni = UnivariateCalibration().fit(data.spectra[tr], data.wt_pct[tr])
    assert 350 < uni.wavelengths["Cr"] < 700
    assert np.abs(uni.predict(data.spectra[te])[:, 1] - data.wt_pct[te, 1]).mean() < 4.0

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

    ft = train_saca(data, tmp_path / "ft", max_epochs=0, progress=False,
                    init_from=tmp_path / "full", jitter=0.0)  # fmt: skip
    full_cfg = json.loads((tmp_path / "full" / "config.json").read_text())
    ft_cfg = json.loads((tmp_path / "ft" / "config.json").read_text())
    assert ft_cfg["fingerprint"]["init_from_sha256"] == full_cfg["weights"]["sha256"]
    assert ft_cfg["model"]["saca"]["calibrated"] and "metrics_uncalibrated" in ft_cfg
    # no epoch: the same weights, calibrated again on the same validation spectra
    assert ft["metrics"] == full["metrics"]
    m3, _ = load_saca(tmp_path / "ft")
    assert np.allclose(predict(m3, data.spectra[:8])[0], w1, atol=1e-4)
    # the cosine schedule runs every epoch (no early stopping) down to the floor rate
    cos = train_saca(data, tmp_path / "cos", max_epochs=3, patience=0, progress=False,
                     lr_schedule="cosine", min_lr=1e-5)  # fmt: skip
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


def test_training_device_is_checked() -> None:
    from spectral.train import resolve_device

    assert resolve_device("cpu").type == "cpu"
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(UserError, match="unknown device"):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(UserError, match="no CUDA GPU"):
            resolve_device("cuda")
