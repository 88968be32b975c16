"""Fixtures for the spectral tests: NIST data from the libskit wheel (the ``spectral`` extra)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
AALTO = REPO.parent / "shared" / "reference" / "libs_aalto"


@pytest.fixture(scope="session", autouse=True)
def _atomic_cache(tmp_path_factory: pytest.TempPathFactory):
    """Keep the parsed NIST tables of the test session out of the user's cache."""
    old = os.environ.get("EFTGAN_HOME")
    os.environ["EFTGAN_HOME"] = str(tmp_path_factory.mktemp("eftgan_home"))
    yield
    if old is None:
        os.environ.pop("EFTGAN_HOME", None)
    else:
        os.environ["EFTGAN_HOME"] = old


@pytest.fixture(scope="session")
def nist():
    pytest.importorskip("libskit", reason="NIST tables come with the spectral extra (libskit)")
    from spectral.atomic import load_atomic_data
    from spectral.dataset import STEEL_ELEMENTS

    return load_atomic_data(STEEL_ELEMENTS)


@pytest.fixture(scope="session")
def steel_sim(nist):
    from spectral.dataset import simulator

    return simulator("saca2021")


@pytest.fixture
def aalto() -> Path:
    if not (AALTO / "Fe_spectrum.csv").is_file():
        pytest.skip(f"measured LIBS spectra not found at {AALTO} (../shared beside the repo)")
    return AALTO
