"""spectral.dataset: steel compositions, augmentation and fresh detector noise."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from spectral.dataset import augment, minmax, sample_compositions


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
