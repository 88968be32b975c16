"""Model folders: the one way a run ends (write_finished_run), the one loader (load), and
half-precision copies (half_precision_copy)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import torch
from torch import nn

import eftgan
import eftgan.checkpoint as ckpt
from eftgan.checkpoint import (
    LOADERS,
    history_csv,
    load,
    read_kind,
    read_model_folder,
    versions_line,
    write_finished_run,
)
from eftgan.errors import CheckpointError
from eftgan.paths import DEFAULT_MODELS, default_model_dir

HISTORY = [
    {"epoch": 1, "train_loss": 0.5, "val_loss": 0.25},
    {"epoch": 2, "train_loss": 0.25, "val_loss": 0.125, "lr": 0.001},
    {"epoch": 3, "train_loss": 0.125},
]


def _finished(folder: Path, history: list | None = None) -> nn.Module:
    torch.manual_seed(0)
    net = nn.Linear(3, 2)
    write_finished_run(
        folder,
        net,
        kind="ecnet",
        model_config={"hidden": 3},
        card="# A model\n\nTrained on nothing.\n\n",
        history=HISTORY if history is None else history,
        curves={"train": "train_loss", "validation": "val_loss"},
        x="epoch",
        extra={"metrics": {"mae": 0.1}},
    )
    return net


def test_history_csv_columns_in_first_seen_order() -> None:
    text = history_csv(HISTORY)
    rows = list(csv.reader(text.splitlines()))
    assert rows[0] == ["epoch", "train_loss", "val_loss", "lr"]
    assert rows[1] == ["1", "0.5", "0.25", ""]
    assert rows[2] == ["2", "0.25", "0.125", "0.001"]
    assert rows[3] == ["3", "0.125", "", ""]
    assert history_csv([{"x": 1 / 3}]) == "x\n0.33333333\n"


def test_write_finished_run_writes_the_whole_folder(tmp_path: Path) -> None:
    net = _finished(tmp_path)
    assert {p.name for p in tmp_path.iterdir()} == {
        "history.csv",
        "loss.png",
        "card.md",
        "weights.safetensors",
        "config.json",
    }
    assert (tmp_path / "history.csv").read_text() == history_csv(HISTORY)
    assert (tmp_path / "loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    card = (tmp_path / "card.md").read_text()
    assert card.startswith("# A model\n")
    assert card.endswith("\n\n" + versions_line() + "\n")
    assert card.splitlines()[-1].startswith("Versions: python ")
    config, state = read_model_folder(tmp_path, "ecnet")
    assert config["kind"] == "ecnet" and config["model"] == {"hidden": 3}
    assert config["metrics"] == {"mae": 0.1}
    for k, v in net.state_dict().items():
        assert torch.equal(state[k], v)


def test_config_is_written_last(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    order: list[str] = []
    for name in ("atomic_write_text", "atomic_write_bytes"):
        real = getattr(ckpt, name)

        def spy(path, data, _real=real):  # type: ignore[no-untyped-def]
            order.append(Path(path).name)
            return _real(path, data)

        monkeypatch.setattr(ckpt, name, spy)
    _finished(tmp_path)
    assert order[-1] == "config.json"
    assert set(order) == {"history.csv", "card.md", "weights.safetensors", "config.json"}


def test_an_empty_history_writes_no_plot(tmp_path: Path) -> None:
    _finished(tmp_path, history=[])
    assert not (tmp_path / "loss.png").exists()
    assert read_kind(tmp_path) == "ecnet"


@pytest.mark.parametrize("kind", sorted(DEFAULT_MODELS))
def test_load_dispatches_on_the_kind_of_each_shipped_model(kind: str) -> None:
    folder = default_model_dir(kind)
    assert read_kind(folder) == kind
    loaded = eftgan.load(folder)
    if kind == "ecnet":
        from eftgan.model import ECNetModel

        assert isinstance(loaded, ECNetModel)
    elif kind == "eftgan":
        from eftgan.explore import Screener

        assert isinstance(loaded, Screener)
    else:
        module, config = loaded
        assert isinstance(module, nn.Module) and not module.training
        assert config["kind"] == kind


def test_every_loader_names_an_existing_function() -> None:
    import importlib

    assert set(LOADERS) == set(DEFAULT_MODELS)
    for kind, target in LOADERS.items():
        module, attr = target.split(":")
        assert callable(getattr(importlib.import_module(module), attr)), kind


@pytest.mark.parametrize(
    ("config", "match"),
    [
        (None, "no config.json"),
        ('{"kind": "unet", "format_version": 1}', "kind 'unet'; eftgan loads ecnet"),
        ("{}", "kind None"),
        ("[1, 2]", "is not a model configuration"),
        ("{not json", "is not a model configuration"),
        (b"\xff\xfe\x00", "is not a model configuration"),
    ],
)
def test_load_refuses_with_one_line(tmp_path: Path, config: str | bytes | None, match: str) -> None:
    if isinstance(config, str):
        (tmp_path / "config.json").write_text(config)
    elif isinstance(config, bytes):
        (tmp_path / "config.json").write_bytes(config)
    with pytest.raises(CheckpointError, match=match) as err:
        load(tmp_path)
    assert "\n" not in str(err.value)


def test_load_of_a_missing_folder_is_a_checkpoint_error(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError):
        load(tmp_path / "absent")


def test_a_typed_loader_refuses_another_kind(tmp_path: Path) -> None:
    _finished(tmp_path)
    with pytest.raises(CheckpointError, match="holds a 'ecnet' model, not 'saca'"):
        read_model_folder(tmp_path, "saca")


@pytest.mark.parametrize("kind", sorted(DEFAULT_MODELS))
def test_weights_that_do_not_fit_give_one_line(tmp_path: Path, kind: str) -> None:
    """A folder of a known kind whose weights fit another architecture: one-line error."""
    folder = tmp_path / kind
    _finished(folder)
    config = json.loads((folder / "config.json").read_text())
    source = json.loads((default_model_dir(kind) / "config.json").read_text())
    config.update({k: v for k, v in source.items() if k not in ("weights", "format_version")})
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError) as err:
        load(folder)
    assert "\n" not in str(err.value)


_TYPED_LOADERS = {
    "ecnet": ("eftgan.model", "load_model"),
    "eftgan": ("eftgan.explore", "load_screener"),
    "saca": ("spectral.predict", "load_saca"),
    "dcgan": ("microstructure.generate", "load_generator"),
    "unet-grains": ("microstructure.segment", "load_segmenter"),
    "unet-phases": ("microstructure.phaseseg", "load_phase_segmenter"),
}


@pytest.mark.parametrize("kind", sorted(DEFAULT_MODELS))
def test_a_typed_loader_turns_a_config_lacking_a_key_into_one_line(
    tmp_path: Path, kind: str
) -> None:
    """Called directly, not only through eftgan.load: a config.json with a foreign architecture
    (the weights' hash still matches) is a CheckpointError naming the kind, in one line."""
    import importlib
    import shutil

    folder = tmp_path / kind
    shutil.copytree(default_model_dir(kind), folder)
    config = json.loads((folder / "config.json").read_text())
    config["model"] = {"no_such_setting": 1}
    (folder / "config.json").write_text(json.dumps(config))
    module, name = _TYPED_LOADERS[kind]
    with pytest.raises(CheckpointError, match=f"do not make a {kind} model") as err:
        getattr(importlib.import_module(module), name)(folder)
    assert "\n" not in str(err.value)


def test_half_precision_copy_halves_the_weights_and_keeps_the_record(tmp_path: Path) -> None:
    import torch

    from eftgan.checkpoint import half_precision_copy, write_model_folder

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.BatchNorm1d(32))
    net(torch.randn(8, 64))  # batch-norm statistics and a step counter
    src = write_model_folder(tmp_path / "src", net, kind="toy", model_config={}, card="# toy\n")
    (src / "history.csv").write_text("epoch,loss\n1,0.5\n")
    dst = half_precision_copy(src, tmp_path / "half", kind="toy")
    cfg, state = read_model_folder(dst, kind="toy")  # the new hash checks out
    assert cfg["weights"]["dtype"] == "float16"
    src_cfg = json.loads((src / "config.json").read_text())
    assert cfg["weights"]["float32_sha256"] == src_cfg["weights"]["sha256"]
    size = {p: (p / "weights.safetensors").stat().st_size for p in (src, dst)}
    assert size[dst] < 0.6 * size[src]
    assert state["0.weight"].dtype == torch.float16
    assert state["1.num_batches_tracked"].dtype == torch.int64  # integers are kept
    back = torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.BatchNorm1d(32))
    back.load_state_dict(state)  # read back into float32
    for k, v in net.state_dict().items():
        assert torch.allclose(back.state_dict()[k].double(), v.double(), rtol=1e-3, atol=1e-7), k
    assert "float16" in (dst / "card.md").read_text()
    assert (dst / "history.csv").read_text() == (src / "history.csv").read_text()
    with pytest.raises(CheckpointError, match="exists"):
        half_precision_copy(src, dst, kind="toy")


@pytest.mark.parametrize(
    ("key", "value"), [("hidden", 4000), ("n_interactions", 10**6), ("cutoff", 1e-300)]
)
def test_a_config_claiming_a_huge_architecture_is_refused_before_it_is_built(
    tmp_path: Path, key: str, value: int
) -> None:
    """Shapes are compared on the meta device and layer counts bounded, so a damaged config
    never allocates (4000 hidden units) or builds (a million layers) the network."""
    import shutil

    folder = tmp_path / "ecnet"
    shutil.copytree(default_model_dir("ecnet"), folder)
    config = json.loads((folder / "config.json").read_text())
    config["model"]["members"][-1][key] = value  # the shipped ECNet is an ensemble
    (folder / "config.json").write_text(json.dumps(config))
    expected = {
        "hidden": "weights do not fit",
        "n_interactions": "from 1 to 32",
        "cutoff": "0.5-20",
    }
    with pytest.raises(CheckpointError, match=expected[key]) as err:
        load(folder)
    assert "\n" not in str(err.value)
