"""The long fuzz run: every reader's property test with 10,000 cases (``make test`` runs 40).

Each ``test_fuzz_*`` function of ``tests/*/test_fuzz_readers.py`` runs in its own process with
``EFTGAN_FUZZ_EXAMPLES`` cases and ``EFTGAN_FUZZ_COLLECT=1`` (a failing case is counted, not
fatal; a case over ``EFTGAN_FUZZ_CASE_LIMIT_S`` seconds counts as a failure). Per test the
reader, the cases tried, the valid results, the user errors, the failures (0 expected) with up
to ten distinct examples, the slowest case and the wall time go to
``benchmarks/results/fuzz.json`` with the machine.

    python benchmarks/fuzz.py                      # 10,000 cases per test, one process per core
    python benchmarks/fuzz.py --examples 500 --jobs 2 --only spectral
    python benchmarks/fuzz.py --fewer model_folders=2000   # the run in results/fuzz.json
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import REPO, RESULTS, machine, write_json

TEST_FILES = sorted((REPO / "tests").glob("*/test_fuzz_readers.py"))


def fuzz_tests(only: list[str] | None) -> list[str]:
    """Node ids of every ``test_fuzz_*`` function (optionally those whose id holds one of
    ``only``)."""
    ids = []
    for f in TEST_FILES:
        for node in ast.parse(f.read_text()).body:
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_fuzz_"):
                ids.append(f"{f.relative_to(REPO)}::{node.name}")
    return [i for i in ids if not only or any(o in i for o in only)]


def worker(node_id: str, out: str) -> int:
    """Run one fuzz test in this process and write its statistics to ``out``."""
    import pytest

    import tests.fuzzing as fuzzing

    rc = pytest.main(["-q", "-p", "no:cacheprovider", "-W", "ignore", node_id])
    Path(out).write_text(json.dumps({"rc": int(rc), "stats": fuzzing.STATS}))
    return 0


def run_one(node_id: str, examples: int, case_limit_s: float) -> dict:
    """One fuzz test in a subprocess; its statistics and wall time."""
    env = dict(
        os.environ,
        EFTGAN_FUZZ_EXAMPLES=str(examples),
        EFTGAN_FUZZ_COLLECT="1",
        EFTGAN_FUZZ_CASE_LIMIT_S=str(case_limit_s),
        OMP_NUM_THREADS="1",
    )
    with tempfile.TemporaryDirectory() as d:
        out = Path(d) / "stats.json"
        start = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, __file__, "--worker", node_id, str(out)],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
        )
        wall = time.perf_counter() - start
        result = json.loads(out.read_text()) if out.is_file() else {"rc": proc.returncode}
    result.update(test=node_id, examples=examples, wall_s=round(wall, 1))
    if result.get("rc") != 0:
        result["output_tail"] = (proc.stdout + proc.stderr)[-2000:]
    print(f"{node_id}: {summary(result)}", flush=True)
    return result


def summary(result: dict) -> str:
    """One line per test: cases, failures, wall time."""
    stats = result.get("stats", {})
    cases = sum(s["cases"] for s in stats.values())
    failures = sum(s["failures"] for s in stats.values())
    return f"{cases} cases, {failures} failures, {result['wall_s']} s (rc {result.get('rc')})"


def _merge(old: dict, results: list[dict], wall: float) -> tuple[list[dict], float]:
    """The tests of an earlier run with the rerun ones replaced; the wall time of both runs."""
    rerun = {r["test"] for r in results}
    kept = []
    for t in old["tests"]:
        if t["test"] in rerun:
            continue
        name = t["test"].split("::")[-1]
        stats = {
            key[len(name) + 2 : -1]: {k: v for k, v in s.items() if k != "test_wall_s"}
            for key, s in old["readers"].items()
            if key.startswith(f"{name} (")
        }
        kept.append({**t, "stats": stats})
    return kept + [{**r, "rerun": True} for r in results], round(old["wall_s"] + wall, 1)


def main() -> None:
    """Run the fuzz tests in parallel and write ``benchmarks/results/fuzz.json``."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--examples", type=int, default=10_000, help="cases per test")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument(
        "--fewer",
        action="append",
        default=[],
        metavar="NAME=N",
        help="N cases for the tests whose name holds NAME (for a reader too slow for 10,000)",
    )
    ap.add_argument(
        "--only", action="append", help="run the tests whose node id holds this (repeatable)"
    )
    ap.add_argument(
        "--update", action="store_true", help="replace only these tests' entries in --out"
    )
    ap.add_argument("--case-limit-s", type=float, default=60.0, help="a slower case fails")
    ap.add_argument("--out", default="fuzz.json", help="file name under benchmarks/results")
    args = ap.parse_args()
    ids = fuzz_tests(args.only)
    fewer = {k: int(v) for k, _, v in (f.partition("=") for f in args.fewer)}

    def examples(node_id: str) -> int:
        return next((n for k, n in fewer.items() if k in node_id), args.examples)

    start = time.perf_counter()
    with ThreadPoolExecutor(args.jobs) as pool:
        results = list(pool.map(lambda i: run_one(i, examples(i), args.case_limit_s), ids))
    wall = round(time.perf_counter() - start, 1)
    if args.update:
        results, wall = _merge(json.loads((RESULTS / args.out).read_text()), results, wall)
    readers = {}
    for r in results:
        for name, s in r.get("stats", {}).items():
            readers[f"{r['test'].split('::')[-1]} ({name})"] = {**s, "test_wall_s": r["wall_s"]}
    payload = {
        "machine": machine(),
        "examples_per_test": args.examples,
        "fewer": fewer,
        "jobs": args.jobs,
        "wall_s": wall,
        "cases": sum(s["cases"] for s in readers.values()),
        "failures": sum(s["failures"] for s in readers.values()),
        "readers": readers,
        "tests": [{k: v for k, v in r.items() if k != "stats"} for r in results],
    }
    print(
        f"wrote {write_json(args.out, payload)}: {payload['cases']} cases, "
        f"{payload['failures']} failures, {payload['wall_s']} s"
    )


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--worker":
        sys.exit(worker(sys.argv[2], sys.argv[3]))
    main()
