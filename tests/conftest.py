"""Shared fixtures: tiny synthetic DFT-format datasets and a tiny trained model.

The core suite builds its own data; tests that read ../shared skip when it is absent.
"""

from __future__ import annotations

import csv
import itertools
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
SHARED_DFT = SHARED / "datasets" / "fenicocrmnpd_dft"

ELS = ("Fe", "Ni", "Co", "Cr")
MU = {"Fe": -8.24, "Ni": -5.47, "Co": -7.04, "Cr": -9.51}  # eV/atom, like the real table
MOMENT = {"Fe": 2.2, "Ni": 0.6, "Co": 1.6, "Cr": 0.1}  # mu_B


def random_alloy(counts: dict[str, int], phase: str, seed: int, a: float | None = None):
    """A 12-atom random fcc (3x1x1 conventional) or bcc (3x2x1) cell with small displacements."""
    from pymatgen.core import Lattice, Structure

    rng = np.random.default_rng(seed)
    if phase == "fcc":
        a = a or 3.56
        basis = np.array([[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]])
        reps = (3, 1, 1)
    else:
        a = a or 2.86
        basis = np.array([[0, 0, 0], [0.5, 0.5, 0.5]])
        reps = (3, 2, 1)
    coords = np.array(
        [
            (b + np.array(r)) / np.array(reps)
            for r in itertools.product(*map(range, reps))
            for b in basis
        ]
    )
    species = [el for el, n in counts.items() for _ in range(n)]
    assert len(species) == len(coords)
    species = list(rng.permutation(species))
    lattice = Lattice.orthorhombic(a * reps[0], a * reps[1], a * reps[2])
    coords = coords + rng.normal(0, 0.004, coords.shape)
    return Structure(lattice, species, coords)


def synthetic_labels(
    counts: dict[str, int], phase: str, n_atoms: int, volume: float
) -> dict[str, float]:
    c = {k: v / n_atoms for k, v in counts.items()}
    pair = sum(
        c[a] * c[b] * (0.1 if "Cr" in (a, b) else -0.08) for a, b in itertools.combinations(c, 2)
    )
    shift = 0.0 if phase == "fcc" else 0.03
    eform = pair + shift * c.get("Ni", 0) - shift * c.get("Cr", 0)
    emix = eform - 0.02 * c.get("Fe", 0)
    etot = eform + sum(c[k] * MU[k] for k in c)
    ms = sum(c[k] * MOMENT[k] for k in c) * (1.1 if phase == "bcc" else 1.0)
    return {"etot": etot, "eform": eform, "emix": emix, "ms": ms, "v0": volume / n_atoms}


COMPOSITIONS = [
    {"Fe": 6, "Ni": 6},
    {"Fe": 9, "Ni": 3},
    {"Fe": 3, "Ni": 9},
    {"Fe": 6, "Co": 6},
    {"Ni": 6, "Co": 6},
    {"Fe": 6, "Cr": 6},
    {"Ni": 9, "Cr": 3},
    {"Co": 6, "Cr": 6},
    {"Fe": 4, "Ni": 4, "Co": 4},
    {"Fe": 4, "Ni": 4, "Cr": 4},
    {"Fe": 6, "Ni": 3, "Co": 3},
    {"Ni": 6, "Co": 3, "Cr": 3},
    {"Fe": 3, "Ni": 3, "Co": 3, "Cr": 3},
    {"Co": 4, "Ni": 4, "Cr": 4},
]


def name_of(counts: dict[str, int]) -> str:
    from math import gcd

    g = 0
    for v in counts.values():
        g = gcd(g, v)
    return "".join(f"{k}{v // g if v // g > 1 else ''}" for k, v in counts.items())


def write_dft_table(folder: Path, compositions=COMPOSITIONS, seed: int = 0) -> Path:
    """Write labels.csv + POSCARS/ in the ECNet/EFTGAN format with synthetic labels."""
    pos = folder / "POSCARS"
    pos.mkdir(parents=True, exist_ok=True)
    header = [
        "structure",
        "Etot (eV/atom)",
        "Etot (eV)",
        "Emix (eV/atom)",
        "Eform (eV/atom)",
        "Ms (emu/g)",
        "Ms (mub/atom)",
        "mb (mub/cell)",
        "rmsd (\\AA)",
        "V0 (A3/atom)",
        "phase",
    ]
    rows = []
    for i, counts in enumerate(compositions):
        for phase in ("fcc", "bcc"):
            s = random_alloy(counts, phase, seed=seed * 1000 + 2 * i + (phase == "bcc"))
            name = f"{name_of(counts)}_sqs{phase}"
            s.to(filename=str(pos / name), fmt="poscar")
            n = len(s)
            lab = synthetic_labels(counts, phase, n, s.volume)
            rows.append(
                [
                    name,
                    lab["etot"],
                    lab["etot"] * n,
                    lab["emix"],
                    lab["eform"],
                    100.0,
                    lab["ms"],
                    lab["ms"] * n,
                    0.05,
                    lab["v0"],
                    phase,
                ]
            )
    with open(folder / "labels.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return folder


@pytest.fixture(scope="session")
def tiny_dft(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_dft_table(tmp_path_factory.mktemp("tiny_dft"))


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory, tiny_dft: Path) -> Path:
    """A small ECNet trained for a few epochs on the tiny dataset (a model folder)."""
    from eftgan.dataset import load_dataset
    from eftgan.ecnet import ECNetConfig
    from eftgan.train import TrainConfig, Trainer

    ds = load_dataset(tiny_dft)
    out = tmp_path_factory.mktemp("models") / "tiny-ecnet"
    Trainer(
        ds,
        out,
        ECNetConfig(elements=ds.elements, hidden=16, n_rbf=16, n_interactions=2, n_elemental=1),
        TrainConfig(seed=1, max_epochs=6, patience=10, batch_size=8, split=(0.6, 0.2, 0.2)),
        progress=False,
    ).run()
    return out


@pytest.fixture
def shared_dft() -> Path:
    if not (SHARED_DFT / "labels.csv").is_file():
        pytest.skip(f"shared DFT dataset not found at {SHARED_DFT} (../shared beside the repo)")
    return SHARED_DFT


def killed_at(real, n: int | None):
    """``real`` wrapped to raise KeyboardInterrupt (a kill) at its ``n``-th call, never with
    None; ``wrapper.calls`` counts the calls, so a resumed run shows how much it redid."""

    def wrapper(*args, **kwargs):
        wrapper.calls += 1
        if wrapper.calls == n:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    wrapper.calls = 0
    return wrapper


def dies_after(real, n: int = 1):
    """``real`` wrapped to run and then raise KeyboardInterrupt at its ``n``-th call: a kill
    right after the work it does, such as writing a checkpoint."""

    def wrapper(*args, **kwargs):
        out = real(*args, **kwargs)
        wrapper.calls += 1
        if wrapper.calls == n:
            raise KeyboardInterrupt
        return out

    wrapper.calls = 0
    return wrapper
