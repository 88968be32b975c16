"""Inference imports no training code and no graph network; ``import eftgan`` imports no torch.

Each import runs in a fresh interpreter, so that what other tests imported does not count.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

TRAINING = (
    "torch_geometric",
    "eftgan.train",
    "eftgan.ecnet",
    "spectral.train",
    "microstructure.train",
)


def _modules_after(statement: str) -> set[str]:
    code = f"import sys, json\n{statement}\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return set(json.loads(done.stdout.splitlines()[-1]))


@pytest.mark.parametrize(
    "module", ["spectral.analyze", "spectral.predict", "microstructure.generate"]
)
def test_inference_imports_no_training_code(module: str) -> None:
    loaded = _modules_after(f"import {module}")
    assert module in loaded
    assert not loaded & set(TRAINING), f"import {module} pulls in {sorted(loaded & set(TRAINING))}"


@pytest.mark.parametrize("statement", ["import eftgan", "import eftgan.catalog"])
def test_eftgan_and_its_catalogue_import_no_torch(statement: str) -> None:
    loaded = _modules_after(statement)
    assert "torch" not in loaded, f"{statement} imports torch"
