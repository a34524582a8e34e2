"""``bench loader``: what a training epoch's data loading costs, with loader workers started afresh every epoch (as
before 27 Nov 2026) and kept up across epochs (``persistent_workers``, the epoch riding with each index: see
``train.data.EpochSampler``). A GPU run uses loader workers (the tables' GPU script: one per run), a CPU run none;
the small subsets run many short epochs (5 %: 60 epochs of 6 batches), where starting workers was most of the cost.
"""

from __future__ import annotations

import time


def _epoch_s(train_set, loader, epochs: int) -> float:
    t0 = time.perf_counter()
    for e in range(epochs):
        train_set.epoch = e
        for _ in loader:
            pass
    return (time.perf_counter() - t0) / epochs


def bench_loader(quick: bool = False) -> dict:
    import torch
    from torch.utils.data import DataLoader

    from asc_core.data import open_dataset
    from asc_core.devtools.bench import _machine
    from asc_core.paths import default_dataset_root
    from asc_core.train.data import ASCDataModule, die_with_parent

    ds = open_dataset(default_dataset_root())
    epochs, rows = (3 if quick else 20), []
    for subset in (25,) if quick else (5, 25):
        dm = ASCDataModule(ds, subset, batch_size=64, seed=0)
        dm.setup()
        row = {"dataset": ds.root.name, "subset %": subset, "clips": len(dm.train_set)}
        dm.num_workers = 0
        row["no workers: ms/epoch"] = round(1000 * _epoch_s(dm.train_set, dm.train_dataloader(), epochs), 1)
        g = torch.Generator().manual_seed(0)  # the loader before: shuffle=True, its one worker started every epoch
        before = DataLoader(dm.train_set, batch_size=64, shuffle=True, generator=g, num_workers=1,
                            worker_init_fn=die_with_parent, pin_memory=torch.cuda.is_available())  # fmt: skip
        row["1 worker started each epoch: ms/epoch"] = round(1000 * _epoch_s(dm.train_set, before, epochs), 1)
        dm.num_workers = 1
        row["1 worker kept: ms/epoch"] = round(1000 * _epoch_s(dm.train_set, dm.train_dataloader(), epochs), 1)
        rows.append(row)
    return {"bench": "loader", "machine": _machine(), "epochs": epochs, "rows": rows}
