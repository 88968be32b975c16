"""RunState: save and restore everything a training loop needs, so a resumed run is bit-exact."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

from eftgan.errors import UserError
from eftgan.runstate import STATE_FILE, RunState, check_output_folder

FINGERPRINT = {"lr": 0.01, "epochs": 6, "widths": (4, 8)}


class Toy:
    """Everything a real loop tracks: two modules, two optimizers, both kinds of scheduler,
    a torch and a NumPy generator; the loop also draws from the three global generators."""

    def __init__(self, epochs: int = 6) -> None:
        self.net = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Dropout(0.2), nn.Linear(8, 1))
        self.head = nn.Linear(1, 1)
        self.opt = torch.optim.Adam(self.net.parameters(), lr=0.01)
        self.cosine = torch.optim.lr_scheduler.CosineAnnealingLR(self.opt, T_max=epochs)
        self.opt_head = torch.optim.SGD(self.head.parameters(), lr=0.05, momentum=0.9)
        self.plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(
            self.opt_head, factor=0.5, patience=0
        )
        self.gen = torch.Generator().manual_seed(3)
        self.rng = np.random.default_rng(4)

    def objects(self) -> dict[str, Any]:
        return {
            "net": self.net,
            "head": self.head,
            "opt": self.opt,
            "cosine": self.cosine,
            "opt_head": self.opt_head,
            "plateau": self.plateau,
            "gen": self.gen,
            "rng": self.rng,
        }

    def epoch(self) -> float:
        x = torch.randn(16, 4, generator=self.gen)
        noise = torch.from_numpy(self.rng.normal(0, 0.1, (16, 1)).astype(np.float32))
        shift = float(np.random.rand()) + random.random()  # noqa: NPY002 (global on purpose)
        y = x.sum(1, keepdim=True) + noise + shift
        self.net.train()
        loss = ((self.head(self.net(x)) - y) ** 2).mean()
        self.opt.zero_grad()
        self.opt_head.zero_grad()
        loss.backward()
        self.opt.step()
        self.opt_head.step()
        self.cosine.step()
        self.plateau.step(loss.item() + 10.0 * (torch.rand(()).item() > 0.5))
        return loss.item()


def run(out: Path, epochs: int = 6, stop_after: int | None = None, **kw: Any) -> Toy:
    """The toy loop as a trainer writes it; ``stop_after`` simulates a kill after a save."""
    torch.manual_seed(0)  # a trainer seeds every global generator at the start
    np.random.seed(0)  # noqa: NPY002
    random.seed(0)
    toy = Toy(epochs)
    state = RunState(out, FINGERPRINT, **kw).track(**toy.objects())
    saved = state.restore()
    start = saved.scalars["epoch"] + 1 if saved else 0
    history = saved.scalars["history"] if saved else []
    for epoch in range(start, epochs):
        history.append(toy.epoch())
        state.save({"epoch": epoch, "history": history}, best=toy.net.state_dict())
        if stop_after is not None and epoch == stop_after:
            return toy
    toy.history = history  # type: ignore[attr-defined]
    return toy


def scramble_globals() -> None:
    """What a new process would have: other global generator states."""
    torch.manual_seed(12345)
    np.random.seed(12345)  # noqa: NPY002
    random.seed(12345)


def assert_same(a: Toy, b: Toy) -> None:
    for name in ("net", "head"):
        for (k, va), vb in zip(
            getattr(a, name).state_dict().items(),
            getattr(b, name).state_dict().values(),
            strict=True,
        ):
            assert torch.equal(va, vb), f"{name}.{k}"
    for name in ("opt", "opt_head"):
        sa, sb = getattr(a, name).state_dict(), getattr(b, name).state_dict()
        # JSON keeps tuples (Adam's betas) as lists; the optimizer reads either
        assert json.loads(json.dumps(sa["param_groups"])) == json.loads(
            json.dumps(sb["param_groups"])
        )
        for pid, slots in sa["state"].items():
            for slot, v in slots.items():
                assert torch.equal(torch.as_tensor(v), torch.as_tensor(sb["state"][pid][slot]))
    assert a.cosine.state_dict() == b.cosine.state_dict()
    assert a.plateau.state_dict() == b.plateau.state_dict()
    assert torch.equal(a.gen.get_state(), b.gen.get_state())
    assert a.rng.bit_generator.state == b.rng.bit_generator.state


def test_killed_and_resumed_equals_uninterrupted_bit_for_bit(tmp_path: Path) -> None:
    whole = run(tmp_path / "whole")
    after_whole = (torch.rand(3), np.random.rand(3), random.random())  # noqa: NPY002
    run(tmp_path / "split", stop_after=2)
    scramble_globals()
    resumed = run(tmp_path / "split")
    after_resumed = (torch.rand(3), np.random.rand(3), random.random())  # noqa: NPY002
    assert resumed.history == whole.history  # type: ignore[attr-defined]
    assert_same(resumed, whole)
    assert torch.equal(after_whole[0], after_resumed[0])
    assert np.array_equal(after_whole[1], after_resumed[1])
    assert after_whole[2] == after_resumed[2]


def test_round_trip_of_every_tracked_kind(tmp_path: Path) -> None:
    scramble_globals()
    first = Toy()
    for _ in range(3):
        first.epoch()
    state = RunState(tmp_path, FINGERPRINT).track(**first.objects())
    state.save({"epoch": 2, "best": 0.5, "history": [1.0, 0.7]}, best={"w": torch.arange(3.0)})
    draws = (torch.rand(2), np.random.rand(2), random.random())  # noqa: NPY002
    assert (tmp_path / STATE_FILE).is_file()

    scramble_globals()
    second = Toy()
    restored = RunState(tmp_path, FINGERPRINT).track(**second.objects()).restore()
    assert restored is not None
    assert restored.scalars == {"epoch": 2, "best": 0.5, "history": [1.0, 0.7]}
    assert set(restored.tensors) == {"best"}
    assert torch.equal(restored.tensors["best"]["w"], torch.arange(3.0))
    assert_same(second, first)
    assert torch.equal(torch.rand(2), draws[0])
    assert np.array_equal(np.random.rand(2), draws[1])  # noqa: NPY002
    assert random.random() == draws[2]


def test_a_fresh_start_restores_nothing(tmp_path: Path) -> None:
    assert RunState(tmp_path / "new", FINGERPRINT).restore() is None


def test_fingerprint_compares_as_json(tmp_path: Path) -> None:
    RunState(tmp_path, {"widths": (4, 8)}).save({"epoch": 0})
    assert RunState(tmp_path, {"widths": [4, 8]}).restore() is not None


def test_another_fingerprint_is_refused_with_one_line(tmp_path: Path) -> None:
    RunState(tmp_path, FINGERPRINT).save({"epoch": 0})
    with pytest.raises(UserError, match="other settings") as err:
        RunState(tmp_path, {**FINGERPRINT, "lr": 0.02}).restore()
    assert "\n" not in str(err.value)


def test_a_damaged_state_is_refused_with_one_line(tmp_path: Path) -> None:
    RunState(tmp_path, FINGERPRINT).save({"epoch": 0})
    path = tmp_path / STATE_FILE
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(UserError, match="damaged") as err:
        RunState(tmp_path, FINGERPRINT).restore()
    assert "\n" not in str(err.value)


def test_force_starts_afresh(tmp_path: Path) -> None:
    run(tmp_path, stop_after=1)
    state = RunState(tmp_path, {"other": 1}, force=True)
    assert not (tmp_path / STATE_FILE).exists()
    assert state.restore() is None
    scramble_globals()
    fresh = run(tmp_path / "fresh")
    scramble_globals()
    again = run(tmp_path, force=True)
    assert again.history == fresh.history  # type: ignore[attr-defined]


def test_finish_removes_the_state(tmp_path: Path) -> None:
    state = RunState(tmp_path, FINGERPRINT)
    state.save({"epoch": 0})
    state.finish()
    assert not (tmp_path / STATE_FILE).exists()


def test_a_finished_model_folder_is_refused_unless_force(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(UserError, match="already holds a trained model") as err:
        RunState(tmp_path, FINGERPRINT)
    assert "\n" not in str(err.value)
    RunState(tmp_path, FINGERPRINT, force=True)
    assert not (tmp_path / "config.json").exists()


def test_check_output_folder(tmp_path: Path) -> None:
    check_output_folder(tmp_path / "absent", force=False)
    check_output_folder(tmp_path, force=False)  # empty: fine
    (tmp_path / STATE_FILE).write_bytes(b"")
    check_output_folder(tmp_path, force=False)  # an unfinished run resumes there
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(UserError, match="not an eftgan run folder"):
        check_output_folder(foreign, force=False)
    check_output_folder(foreign, force=True)
    with pytest.raises(UserError):
        check_output_folder(foreign / "notes.txt", force=False)


def test_tracked_names_must_not_contain_dots(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="dot"):
        RunState(tmp_path, FINGERPRINT).track(**{"a.b": nn.Linear(1, 1)})


def test_a_generator_named_like_a_global_rng_keeps_both(tmp_path: Path) -> None:
    gen = torch.Generator().manual_seed(5)
    torch.manual_seed(11)
    global_state, gen_state = torch.get_rng_state(), gen.get_state()
    state = RunState(tmp_path / "run", {"a": 1}).track(torch=gen)
    state.save({"step": 0})
    torch.manual_seed(0)
    gen.manual_seed(0)
    assert state.restore() is not None
    assert torch.equal(torch.get_rng_state(), global_state)
    assert torch.equal(gen.get_state(), gen_state)


def test_a_state_of_another_format_is_refused_with_one_line(tmp_path: Path) -> None:
    from safetensors.torch import save

    (tmp_path / "run").mkdir()
    meta = {"fingerprint": {"a": 1}, "scalars": {}}
    (tmp_path / "run" / STATE_FILE).write_bytes(
        save({"x": torch.zeros(1)}, metadata={"run": json.dumps(meta)})
    )
    with pytest.raises(UserError, match="another version") as info:
        RunState(tmp_path / "run", {"a": 1}).restore()
    assert "\n" not in str(info.value)
