"""microstructure.synth: lever rule, synthetic micrographs, the synth folder writer."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from eftgan.errors import UserError
from microstructure.metrics import two_point
from microstructure.synth import (
    LABEL_SI,
    folder_si_wt_pct,
    lever_rule,
    synthesize,
    write_synth_folder,
)


def test_lever_rule() -> None:
    assert lever_rule(0.0).si_total == 0.0
    f7 = lever_rule(7.0)
    assert f7.primary_si == 0.0 and 0.45 < f7.primary_al < 0.55  # mass 0.511, Al denser
    eut = lever_rule(12.6)
    assert eut.primary_al == pytest.approx(0.0, abs=1e-9) and eut.eutectic == pytest.approx(1.0)
    assert 0.12 < eut.si_total < 0.13  # 11.1 wt % Si in the eutectic, as area
    f18 = lever_rule(18.0)
    assert f18.primary_al == 0.0 and f18.primary_si > 0.05
    assert f7.si_total < eut.si_total < f18.si_total
    with pytest.raises(UserError, match="outside 0-25"):
        lever_rule(26.0)


def test_synthetic_micrograph_matches_its_phase_fractions() -> None:
    img, labels = synthesize(7.0, 192, seed=3)
    assert img.shape == labels.shape == (192, 192)
    assert 0 <= img.min() and img.max() <= 1
    assert (labels == LABEL_SI).mean() == pytest.approx(lever_rule(7.0).si_total, abs=0.01)
    assert img[labels == LABEL_SI].mean() < img[labels != LABEL_SI].mean() - 0.3


def test_faster_cooling_gives_a_finer_structure() -> None:
    def corr_length(rate: float) -> float:
        _, lab = synthesize(7.0, 256, cooling_rate_k_s=rate, seed=1)
        s2 = two_point(lab == 0, 64)  # primary alpha-Al cells
        f = s2[0]
        return float(np.argmax(s2 - f * f < 0.5 * (f - f * f)))

    assert corr_length(100.0) < corr_length(1.0)


def test_write_synth_folder(tmp_path: Path) -> None:
    out = tmp_path / "s"
    meta = write_synth_folder(out, 7.0, n=2, size=48, seed=1)
    assert sorted(p.name for p in out.glob("*.png")) == ["alsi_7_0000.png", "alsi_7_0001.png"]
    assert len(list((out / "phase").glob("*.png"))) == 2
    assert json.loads((out / "synth.json").read_text()) == meta
    assert meta["lever_rule"]["si_total"] == lever_rule(7.0).si_total
    assert folder_si_wt_pct(out) == 7.0 and folder_si_wt_pct(tmp_path) is None
    with pytest.raises(UserError, match="already exists"):
        write_synth_folder(out, 7.0, n=1, size=48)
    with pytest.raises(UserError, match="too small"):
        write_synth_folder(tmp_path / "t", 7.0, n=1, size=8)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s"]
