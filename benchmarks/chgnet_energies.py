"""Print CHGNet total energies per atom (JSON list) for pymatgen-JSON structure files.

Run with an interpreter that has chgnet installed (its weights ship in the wheel):
    python benchmarks/chgnet_energies.py LIST_OF_JSON_FILES.txt
"""

from __future__ import annotations

import json
import sys
import warnings

warnings.filterwarnings("ignore")

from chgnet.model import CHGNet  # noqa: E402
from pymatgen.core import Structure  # noqa: E402

paths = open(sys.argv[1]).read().split()
structures = [Structure.from_dict(json.load(open(p))) for p in paths]
model = CHGNet.load(verbose=False)
preds = model.predict_structure(structures, task="e", batch_size=16)
print(json.dumps([float(p["e"]) for p in preds]))
