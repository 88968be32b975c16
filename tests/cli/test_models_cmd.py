"""``eftgan models``: a readable table and its JSON form."""

from __future__ import annotations

import json

import pytest
from eftgan_cli.main import main

from eftgan.paths import DEFAULT_MODELS


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    with pytest.raises(SystemExit) as exc:
        main(list(args))
    out, _ = capsys.readouterr()
    return int(exc.value.code or 0), out


def test_models_table_lists_each_default_with_its_figure(capsys) -> None:
    code, out = run(capsys, "models")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["model", "kind", "MB", "headline", "trained", "on"]
    for kind, name in DEFAULT_MODELS.items():
        row = next(ln for ln in lines if ln.startswith(name + " *"))
        assert f" {kind} " in row and any(w in row for w in ("MAE", "error", "boundary F", "IoU"))
        assert any(ln.strip().startswith(f"{name}: ") for ln in lines), "its source is listed"
    assert "test MAE of Eform" in out and "eV/atom" in out and "wt %" in out


def test_models_json(capsys) -> None:
    code, out = run(capsys, "models", "--json")
    assert code == 0
    rows = json.loads(out)
    assert {r["name"] for r in rows if r["default"]} == set(DEFAULT_MODELS.values())
    for r in rows:
        assert set(r) >= {"name", "kind", "training_data", "size_mb", "metric", "value", "unit"}
        assert set(r) >= {"source", "folder"}
