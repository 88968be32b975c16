"""Time and peak memory of ``eftgan explore --elements Fe,Ni,Co,Cr,Mn --step 0.01``.

4,598,126 compositions x 2 phases; a few minutes on 2 cores. Runs the command under
``/usr/bin/time -v`` (peak RSS of the whole process) and merges the figures into
``benchmarks/results/eftgan.json`` under ``speed``.

    python benchmarks/explore_large.py [--step 0.01]
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, machine

from eftgan.files import atomic_write_json


def main() -> None:
    """Run the command once under ``/usr/bin/time -v`` and merge its figures."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--step", type=float, default=0.01)
    args = ap.parse_args()
    exe = str(Path(sys.executable).parent / "eftgan")
    with tempfile.TemporaryDirectory() as tmp:
        cmd = ["/usr/bin/time", "-v", exe, "explore", "--elements", "Fe,Ni,Co,Cr,Mn"]
        cmd += ["--step", str(args.step), "--out", f"{tmp}/e"]
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, check=True, capture_output=True, text=True)
        wall = time.perf_counter() - t0
    rss_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr).group(1))
    print(f"step {args.step}: {wall:.1f} s, peak RSS {rss_kb / 1024:.0f} MB")
    if args.step != 0.01:
        return
    path = RESULTS / "eftgan.json"
    report = json.loads(path.read_text()) if path.is_file() else {"speed": {}}
    report.setdefault("speed", {}).update(
        {
            "explore_step001_wall_s": wall,
            "explore_step001_peak_rss_mb": rss_kb / 1024,
            "explore_step001_how": "benchmarks/explore_large.py: /usr/bin/time -v eftgan explore "
            "--elements Fe,Ni,Co,Cr,Mn --step 0.01 (4,598,126 compositions x 2 phases), "
            f"on {machine()}",
        }
    )
    atomic_write_json(path, report)


if __name__ == "__main__":
    main()
