"""``eftgan data label``: label quasirandom alloys of any elements with a universal potential.

A run samples compositions over the simplex of the requested elements (:mod:`eftgan.sqs`),
builds a special quasirandom structure per composition and phase, relaxes it with the oracle
(:mod:`eftgan.oracle`) and writes the result in the layout of the DFT table, so that every
reader and trainer of the project takes it as it takes DFT data::

    OUT/labels.csv        one row per structure, the DFT table's columns plus ``source`` and
                          how each label was made (SQS correlations, relaxation steps, time)
    OUT/POSCARS/<name>    the relaxed structures
    OUT/provenance.json   oracle, version, model, settings, references, time per structure
    OUT/references.json   the oracle's relaxed pure elements on fcc, bcc and hcp
    OUT/run.json          the run's settings (a rerun with other settings is refused)
    OUT/done/<name>.json  one record per finished structure, written atomically

Resuming. Each structure's record is written atomically after its POSCAR; only records are
read back, so a killed run continues with the structures it had not finished and never reads
a half-written label. ``labels.csv`` is assembled from the records when all are done. A
relaxation the oracle could not finish physically (:meth:`eftgan.oracle.Oracle.relax`: the
cell collapsed or blew up) has a record but no row; ``provenance.json`` lists it with the
reason.

On a Dask cluster (``--scheduler``) each structure is one task; the oracle is loaded once per
worker process, and a task whose worker dies is rerun elsewhere by the scheduler.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import time
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from eftgan.errors import UserError
from eftgan.files import atomic_write_json, atomic_write_text, refuse_existing
from eftgan.sqs import SQS_PHASES, make_sqs, sample_compositions, site_counts, smallest_size

__all__ = ["LABEL_COLUMNS", "LabelJob", "label_one", "plan_jobs", "run_labels"]

LABEL_COLUMNS = [
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
    "source",
    "n_atoms",
    "sqs_alpha_max_1",
    "sqs_alpha_max_2",
    "sqs_alpha_max_3",
    "relax_steps",
    "max_force_ev_per_angstrom",
    "converged",
    "seconds",
]
SQS_STEPS = 4000
#: The largest supercell: the search over supercell shapes grows fast with the size.
MAX_SITES = 128


@dataclass(frozen=True)
class LabelJob:
    """One structure to label: a composition on a lattice with its supercell size and seed."""

    name: str
    fractions: dict[str, float]
    phase: str
    n_sites: int
    seed: int


def _job_name(counts: Mapping[str, int], phase: str) -> str:
    return "".join(f"{e}{c}" for e, c in counts.items()) + f"_sqs{phase}"


def job_seed(seed: int, name: str) -> int:
    return int(np.random.SeedSequence([seed, zlib.crc32(name.encode())]).generate_state(1)[0])


def plan_jobs(
    elements: Sequence[str],
    phases: Sequence[str],
    n: int,
    size: int,
    seed: int,
    compositions: Sequence[Mapping[str, float]] | None = None,
) -> list[LabelJob]:
    """The structures of a run: ``n`` in all, the same compositions on every phase.

    Given ``compositions``, those are labelled (each must fit ``size`` sites); otherwise
    ``ceil(n / len(phases))`` are sampled. A sampled equiatomic alloy whose count of elements
    does not divide ``size`` is built on the next size that it does divide.
    """
    bad = [p for p in phases if p not in SQS_PHASES]
    if bad or not phases or len(set(phases)) < len(phases):
        raise UserError(
            f"--phases {','.join(phases)}: choose among {', '.join(SQS_PHASES)}, each once"
        )
    if compositions is None:
        rng = np.random.default_rng(seed)
        comps = sample_compositions(elements, math.ceil(n / len(phases)), size, rng)
        sized = [(c, smallest_size(c, size)) for c in comps]
    else:
        sized = [(dict(c), size) for c in compositions]
    jobs: list[LabelJob] = []
    for fractions, n_sites in sized:
        if n_sites > MAX_SITES:
            raise UserError(
                f"{n_sites} sites per cell are more than {MAX_SITES}; choose a smaller --size"
            )
        counts = site_counts(fractions, n_sites)
        ordered = {e: counts[e] for e in elements if e in counts}
        for phase in phases:
            name = _job_name(ordered, phase)
            if any(j.name == name for j in jobs):
                raise UserError(f"composition {name[: -len(phase) - 4]} is given twice")
            frac = {e: c / n_sites for e, c in ordered.items()}
            jobs.append(LabelJob(name, frac, phase, n_sites, job_seed(seed, name)))
    return jobs


def _lattice_constant(fractions: Mapping[str, float], phase: str, refs: Mapping) -> float:
    """Vegard's law on the oracle's relaxed pure-element volumes in the same lattice."""
    v = sum(x * refs[e][phase]["volume_a3_per_atom"] for e, x in fractions.items())
    return float(((4.0 if phase == "fcc" else 2.0) * v) ** (1.0 / 3.0))


def label_one(
    job: Mapping[str, Any], settings: Mapping[str, Any], refs: Mapping, threads: int | None = None
) -> dict[str, Any]:
    """Build, relax and label one structure; a plain-data record (the POSCAR as text)."""
    from pymatgen.io.vasp import Poscar

    from eftgan.oracle import label_values, load_oracle

    if threads:
        import torch

        torch.set_num_threads(threads)
    oracle = load_oracle(
        settings["oracle"], settings["fmax_ev_per_angstrom"], settings["max_steps"]
    )
    t0 = time.perf_counter()
    a = _lattice_constant(job["fractions"], job["phase"], refs)
    rng = np.random.default_rng(job["seed"])
    sqs = make_sqs(job["fractions"], job["phase"], job["n_sites"], a, rng, steps=SQS_STEPS)
    relaxed = oracle.relax(sqs.structure)
    values = {} if relaxed.failed else label_values(relaxed, job["fractions"], job["phase"], refs)
    row = {"structure": job["name"], **values, "phase": job["phase"], "source": oracle.name}
    row.update({f"sqs_alpha_max_{i + 1}": round(x, 4) for i, x in enumerate(sqs.alpha_max)})
    row.update(
        n_atoms=job["n_sites"],
        relax_steps=relaxed.steps,
        max_force_ev_per_angstrom=round(relaxed.max_force, 4),
        converged=relaxed.converged,
        seconds=round(time.perf_counter() - t0, 3),
    )
    poscar = Poscar(relaxed.structure, comment=job["name"]).get_str(significant_figures=10)
    record = {"row": row, "poscar": poscar, "lattice_constant_start": a}
    return record | {"failed": relaxed.failed} if relaxed.failed else record


def _in_random_order(pending: list[LabelJob], jobs: Sequence[LabelJob]) -> list[LabelJob]:
    """``pending`` in an order drawn from the plan's seeds: whatever part of a run is done
    when it stops is a uniform subsample of the plan, not its first compositions."""
    rng = np.random.default_rng([j.seed for j in jobs][:8])
    order = rng.permutation(len(jobs))
    rank = {jobs[i].name: r for r, i in enumerate(order)}
    return sorted(pending, key=lambda j: rank[j.name])


def _fingerprint(jobs: Sequence[LabelJob], settings: Mapping[str, Any]) -> dict[str, Any]:
    names = json.dumps([asdict(j) for j in jobs], sort_keys=True).encode()
    return {
        "settings": dict(settings),
        "sqs_steps": SQS_STEPS,
        "n_structures": len(jobs),
        "jobs_sha256": hashlib.sha256(names).hexdigest(),
    }


def open_run(out: Path, jobs: Sequence[LabelJob], settings: Mapping, force: bool) -> set[str]:
    """Prepare ``out`` and return the names already labelled there (resume).

    A folder of another run, a complete run or foreign files are refused unless ``force``.
    """
    import shutil

    fp = _fingerprint(jobs, settings)
    run_file = out / "run.json"
    if out.exists() and not run_file.is_file():
        raise UserError(f"{out} exists and is not a labelling run; choose another --out")
    if out.exists() and force:
        refuse_existing(out, force)  # never the current folder or one that holds it
        shutil.rmtree(out)
    if out.exists():
        if json.loads(run_file.read_text()) != fp:
            raise UserError(
                f"{out} holds a labelling run with other settings; pass --force to start "
                "afresh or choose another --out"
            )
        if (out / "labels.csv").is_file():
            raise UserError(f"{out} already holds finished labels; pass --force to relabel")
    (out / "done").mkdir(parents=True, exist_ok=True)
    (out / "POSCARS").mkdir(exist_ok=True)
    atomic_write_json(run_file, fp)
    return {p.stem for p in (out / "done").glob("*.json")} & {j.name for j in jobs}


def _save_record(out: Path, record: Mapping[str, Any]) -> None:
    """The POSCAR (of a structure that has labels), then the record that marks it done."""
    name = record["row"]["structure"]
    if not record.get("failed"):
        atomic_write_text(out / "POSCARS" / name, record["poscar"])
    atomic_write_json(out / "done" / f"{name}.json", record)


def _local(jobs: Iterable[LabelJob], settings: Mapping, refs: Mapping) -> Iterable[dict[str, Any]]:
    for job in jobs:
        yield label_one(asdict(job), settings, refs)


def _dask(
    address: str, jobs: Sequence[LabelJob], settings: Mapping, refs: Mapping
) -> Iterable[dict[str, Any]]:
    from distributed import as_completed

    from eftgan.distributed import client_for

    client = client_for(address)
    run = hashlib.sha256(json.dumps([settings, refs], sort_keys=True).encode()).hexdigest()[:12]
    try:
        if not client.scheduler_info().get("workers"):
            raise UserError(f"the Dask scheduler at {address} has no workers; start some")
        futures = [
            client.submit(label_one, asdict(j), settings, refs, 1, key=f"label-{run}-{j.name}")
            for j in jobs
        ]
        for fut in as_completed(futures):
            yield fut.result()
    finally:
        client.close()


def run_labels(
    out: str | Path,
    jobs: Sequence[LabelJob],
    oracle_name: str = "chgnet",
    fmax: float = 0.1,
    steps: int = 300,
    scheduler: str | None = None,
    force: bool = False,
    progress: bool = True,
) -> dict[str, Any]:
    """Label ``jobs`` into ``out`` (resuming there); the provenance record."""
    from eftgan.oracle import load_oracle

    out = Path(out)
    elements = sorted({e for j in jobs for e in j.fractions})
    oracle = load_oracle(oracle_name, fmax, steps)
    done = open_run(out, jobs, oracle.settings, force)
    refs = _references(out, oracle, elements)
    pending = _in_random_order([j for j in jobs if j.name not in done], jobs)
    t0 = time.perf_counter()
    stream = (
        _dask(scheduler, pending, oracle.settings, refs)
        if scheduler
        else _local(pending, oracle.settings, refs)
    )
    _consume(out, stream, len(jobs), len(done), progress)
    wall = time.perf_counter() - t0
    records = [json.loads((out / "done" / f"{j.name}.json").read_text()) for j in jobs]
    labelled = [r for r in records if not r.get("failed")]
    atomic_write_text(out / "labels.csv", labels_csv(r["row"] for r in labelled))
    prov = provenance(oracle, refs, records, wall, len(pending), scheduler)
    atomic_write_json(out / "provenance.json", prov)
    return prov


def _consume(out: Path, stream: Iterable[dict], total: int, done: int, progress: bool) -> None:
    from tqdm import tqdm

    bar = tqdm(total=total, initial=done, unit="structure", disable=not progress, leave=True)
    for record in stream:
        _save_record(out, record)
        bar.set_postfix_str(record["row"]["structure"], refresh=False)
        bar.update(1)
    bar.close()


def _references(out: Path, oracle: Any, elements: Sequence[str]) -> dict[str, Any]:
    """The oracle's pure-element references, computed once per run folder."""
    from eftgan.oracle import reference_energies

    path = out / "references.json"
    refs = json.loads(path.read_text()) if path.is_file() else {}
    missing = [e for e in elements if e not in refs]
    if missing:
        refs.update(reference_energies(oracle, missing))
        atomic_write_json(path, refs)
    return refs


def labels_csv(rows: Iterable[Mapping[str, Any]]) -> str:
    """The rows as CSV in :data:`LABEL_COLUMNS` order (floats at full precision)."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=LABEL_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: row.get(k, "") for k in LABEL_COLUMNS})
    return buf.getvalue()


def provenance(
    oracle: Any,
    refs: Mapping,
    records: Sequence[Mapping],
    wall_s: float,
    n_new: int,
    scheduler: str | None,
) -> dict[str, Any]:
    """Who made the labels and how: oracle, settings, references, time per structure."""
    from eftgan.checkpoint import package_versions

    secs = np.array([r["row"]["seconds"] for r in records], float)
    alpha = np.array([r["row"]["sqs_alpha_max_1"] for r in records], float)
    failed = {r["row"]["structure"]: r["failed"] for r in records if r.get("failed")}
    return {
        "oracle": oracle.settings,
        "versions": package_versions() | {oracle.name: oracle.version},
        "references": refs,
        "reference_note": "Eform uses each element's lowest-energy lattice among fcc, bcc, hcp "
        "as relaxed by the oracle; Mn's true ground state (alpha-Mn) is not among them",
        "sqs": {"shells": 3, "annealing_steps": SQS_STEPS, "alpha_max_1_median": _median(alpha)},
        "n_structures": len(records) - len(failed),
        "n_converged": int(sum(bool(r["row"]["converged"]) for r in records)),
        "failed": failed,
        "seconds_per_structure_median": _median(secs),
        "seconds_per_structure_mean": float(secs.mean()) if len(secs) else math.nan,
        "this_run": {"structures": n_new, "wall_s": round(wall_s, 2), "scheduler": scheduler},
    }


def _median(x: np.ndarray) -> float:
    return float(np.median(x)) if len(x) else math.nan


def parse_compositions(text: str, elements: Sequence[str]) -> list[dict[str, float]]:
    """``"Al0.5CoCrFeNi,CoCrFeNi"`` -> normalised fractions, restricted to ``elements``."""
    from eftgan.composition import check_elements, parse_composition

    out = []
    for part in (p.strip() for p in text.split(",")):
        if part:
            frac = parse_composition(part)
            check_elements(frac, elements, f"composition {part}")
            out.append(frac)
    if not out:
        raise UserError("--compositions is empty; give formulas such as CoCrFeNi,Al0.5CoCrFeNi")
    return out
