"""``eftgan micro``: one-line errors for bad input, and nothing written."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.test_cli import assert_user_error, run


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["synth", "--si", "30"], "outside 0-25"),
        (["synth", "--si", "7", "--size", "8"], "too small"),
        (["train", "--images", "nowhere", "--lr", "0"], "not a learning rate"),
        (["train", "--images", "nowhere", "--condition-si", "4,x"], "not a list of numbers"),
        (["train", "--images", "nowhere", "--condition-si", "4,7"], "one --condition-si value"),
    ],
)
def test_synth_bad_input(capsys, tmp_path: Path, args, needle) -> None:
    out = tmp_path / "o"
    code, _, err = run(capsys, "micro", *args, "--out", str(out))
    assert_user_error(code, err, needle)
    assert not out.exists() and not list(tmp_path.iterdir())
