"""ECNet on DFT and oracle rows together: the source is an input, predictions are for DFT."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from eftgan.dataset import combine_datasets, label_sources, load_dataset, load_datasets
from eftgan.errors import UserError
from tests.conftest import COMPOSITIONS, write_dft_table

OFFSET = 0.25  # eV/atom added to the oracle's energies: the fidelity gap to learn


def _oracle_table(folder: Path) -> Path:
    """The tiny table relabelled by a pretend oracle: energies shifted, a `source` column."""
    write_dft_table(folder, COMPOSITIONS, seed=7)
    with open(folder / "labels.csv") as f:
        rows = list(csv.DictReader(f))
    for r in rows:
        r["structure"] = r["structure"].replace("_sqs", "_o_sqs")
        (folder / "POSCARS" / r["structure"].replace("_o_sqs", "_sqs")).rename(
            folder / "POSCARS" / r["structure"]
        )
        n_atoms = float(r["Etot (eV)"]) / float(r["Etot (eV/atom)"])
        r["Etot (eV/atom)"] = str(float(r["Etot (eV/atom)"]) + OFFSET)
        r["Etot (eV)"] = str(float(r["Etot (eV)"]) + OFFSET * n_atoms)
        r["source"] = "chgnet"
    with open(folder / "labels.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=[*rows[0].keys()])
        w.writeheader()
        w.writerows(rows)
    return folder


def test_sources_are_read_and_combined(tiny_dft: Path, tmp_path: Path) -> None:
    oracle = _oracle_table(tmp_path / "oracle")
    ds = load_datasets([tiny_dft, oracle])
    assert label_sources(ds) == ("dft", "chgnet")
    assert {e.source for e in load_dataset(oracle)} == {"chgnet"}
    assert ds.data_hash != load_dataset(tiny_dft).data_hash
    with pytest.raises(UserError, match="is in both"):
        combine_datasets([load_dataset(tiny_dft), load_dataset(tiny_dft)])


def test_each_source_is_checked_against_its_own_references(tiny_dft: Path, tmp_path: Path) -> None:
    from eftgan.validate import validate

    oracle = _oracle_table(tmp_path / "oracle")
    assert validate(load_dataset(oracle)) == []
    assert validate(load_datasets([tiny_dft, oracle])) == []


@pytest.fixture(scope="module")
def trained(tiny_dft: Path, tmp_path_factory) -> tuple[Path, Any]:
    """An ECNet trained on the tiny DFT table and its shifted oracle twin, and their data."""
    from eftgan.ecnet import ECNetConfig
    from eftgan.train import TrainConfig, Trainer

    tmp = tmp_path_factory.mktemp("mf")
    ds = load_datasets([tiny_dft, _oracle_table(tmp / "oracle")])
    cfg = ECNetConfig(
        elements=ds.elements, sources=label_sources(ds), hidden=16, n_rbf=16, n_interactions=2
    )
    Trainer(
        ds,
        tmp / "mf",
        cfg,
        TrainConfig(seed=0, max_epochs=60, patience=60, batch_size=8, split=(0.8, 0.2, 0.0)),
        progress=False,
    ).run()
    return tmp / "mf", ds


@pytest.mark.slow
def test_the_oracle_offset_is_learned(trained) -> None:
    from eftgan.model import load_model

    out, ds = trained
    model = load_model(out)
    assert model.model_config.sources == ("dft", "chgnet")
    oracle_rows = [e for e in ds if e.source == "chgnet"]
    pred = model.predict_structures(
        [e.structure for e in oracle_rows], phase=[e.phase for e in oracle_rows]
    )
    etot_pred = np.array([p["etot_ev_per_atom"] for p in pred])
    etot_oracle = np.array([e.targets["etot_ev_per_atom"] for e in oracle_rows])
    # predicted for DFT: about OFFSET below the oracle's own labels of the same cells
    assert np.median(etot_oracle - etot_pred) == pytest.approx(OFFSET, abs=0.1)
    record = json.loads((out / "training.json").read_text())
    assert set(record["metrics"]["by_source"]) == {"dft", "chgnet"}
    assert "rows chgnet" in (out / "card.md").read_text()


@pytest.mark.slow
def test_eftgan_learns_the_first_source(trained) -> None:
    from eftgan.model import load_model
    from eftgan.pipeline import first_source_targets

    out, ds = trained
    y = first_source_targets(load_model(out), ds)
    raw = ds.targets()
    is_dft = np.array([e.source == "dft" for e in ds])
    assert np.array_equal(y[is_dft], raw[is_dft], equal_nan=True)
    gap = raw[~is_dft, 0] - y[~is_dft, 0]  # Etot: oracle label minus DFT-fidelity prediction
    assert np.median(gap) == pytest.approx(OFFSET, abs=0.1)
