"""What PyTorch Lightning would cost for ECNet training on this machine.

Trains the same ECNet on the same graphs for the same number of epochs twice: with eftgan's
plain loop body and inside a ``pytorch_lightning.Trainer`` (checkpointing, logging and the
progress bar off, so only the loop machinery is compared). Writes
benchmarks/results/lightning_overhead.json. Needs ``pip install pytorch-lightning``.

    python benchmarks/lightning_overhead.py [--epochs 5] [--repeats 3]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import SHARED, machine, write_json


def plain_epoch_s(cfg: Any, graphs: list[Any], epochs: int) -> float:
    """Seconds per epoch of eftgan's plain loop body (Adam, shuffled batches of 16)."""
    from torch_geometric.loader import DataLoader

    from eftgan.ecnet import ECNet
    from eftgan.train import masked_loss

    torch.manual_seed(0)
    net = ECNet(cfg)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    loader = DataLoader(graphs, batch_size=16, shuffle=True)
    t0 = time.perf_counter()
    for _ in range(epochs):
        for batch in loader:
            loss = masked_loss(net(batch), batch)
            opt.zero_grad()
            loss.backward()
            opt.step()
    return (time.perf_counter() - t0) / epochs


def lightning_epoch_s(pl: Any, cfg: Any, graphs: list[Any], epochs: int) -> float:
    """Seconds per epoch of the same training inside a ``pytorch_lightning.Trainer``."""
    from torch_geometric.loader import DataLoader

    from eftgan.ecnet import ECNet
    from eftgan.train import masked_loss

    class Module(pl.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.net = ECNet(cfg)

        def training_step(self, batch, _):
            return masked_loss(self.net(batch), batch)

        def configure_optimizers(self):
            return torch.optim.Adam(self.parameters(), lr=1e-3)

    torch.manual_seed(0)
    trainer = pl.Trainer(
        max_epochs=epochs,
        accelerator="cpu",
        enable_checkpointing=False,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    loader = DataLoader(graphs, batch_size=16, shuffle=True)
    t0 = time.perf_counter()
    trainer.fit(Module(), loader)
    return (time.perf_counter() - t0) / epochs


def main() -> None:
    """Time both loops ``--repeats`` times and write the medians."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    try:
        import pytorch_lightning as pl
    except ImportError:
        sys.exit("pytorch-lightning is not installed: pip install pytorch-lightning")
    from eftgan.dataset import load_dataset
    from eftgan.ecnet import ECNetConfig
    from eftgan.train import dataset_graphs

    ds = load_dataset(SHARED / "datasets" / "fenicocrmnpd_dft")
    cfg = ECNetConfig(elements=ds.elements)
    graphs = dataset_graphs(ds, cfg)
    for g in graphs:
        g.y = torch.zeros_like(g.y)
    p = [plain_epoch_s(cfg, graphs, args.epochs) for _ in range(args.repeats)]
    lt = [lightning_epoch_s(pl, cfg, graphs, args.epochs) for _ in range(args.repeats)]
    res = {
        "plain_s_per_epoch": float(np.median(p)),
        "lightning_s_per_epoch": float(np.median(lt)),
        "plain_all": p,
        "lightning_all": lt,
        "overhead_pct": 100.0 * (np.median(lt) / np.median(p) - 1.0),
        "epochs": args.epochs,
        "repeats": args.repeats,
        "structures": len(graphs),
        "pytorch_lightning": pl.__version__,
        "machine": machine(),
    }
    print(res)
    write_json("lightning_overhead.json", res)


if __name__ == "__main__":
    main()
