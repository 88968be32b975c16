"""Print CHGNet total energies per atom (JSON list) for pymatgen-JSON structure files.

Run with an interpreter that has chgnet installed (its weights ship in the wheel):
    python benchmarks/chgnet_energies.py LIST_OF_JSON_FILES.txt [--time]
With --time, the last line is instead {"n": ..., "seconds": ...} for one timed pass after a
warm-up on the first four structures (2 threads; batch 8, since batch 32 of 160-atom cells
ran out of memory on a 24 GiB machine).
"""

from __future__ import annotations

import json
import sys
import time
import warnings

warnings.filterwarnings("ignore")

import torch  # noqa: E402
from chgnet.model import CHGNet  # noqa: E402
from pymatgen.core import Structure  # noqa: E402

torch.set_num_threads(2)
paths = open(sys.argv[1]).read().split()
structures = [Structure.from_dict(json.load(open(p))) for p in paths]
model = CHGNet.load(verbose=False)
if "--time" in sys.argv:
    model.predict_structure(structures[:4], task="e", batch_size=8)
    t0 = time.perf_counter()
    model.predict_structure(structures, task="e", batch_size=8)
    print(json.dumps({"n": len(structures), "seconds": time.perf_counter() - t0}))
else:
    preds = model.predict_structure(structures, task="e", batch_size=16)
    print(json.dumps([float(p["e"]) for p in preds]))
