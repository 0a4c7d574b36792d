"""Fit a 1G neural network potential to the MP2 water-monomer PES (h2o_pes.xyz).

Frames are split by group (one group per geometry) into training, validation and test sets;
the model is :class:`~potforge.models.hdnnp_1g.trainable.TrainableMolecularNetwork` (Morse
variables of the three distances, network averaged over the two H permutations), trained with
full-batch L-BFGS on energies and forces; the epoch with the lowest validation loss is kept.
The test errors are computed with the fitted :class:`MolecularNetworkPotential` (the object
one would save and use), per molecule and per atom.

Usage::

    python examples/h2o-1g/fit.py                      # defaults of the README run
    python examples/h2o-1g/fit.py --epochs 20 --save /tmp/h2o-1g-model
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from potforge.data import Dataset
from potforge.training.loss import Loss, LossWeights
from potforge.models.hdnnp_1g.trainable import TrainableMolecularNetwork
from potforge.training.optimizers.first_order import AdamOptimizer, LBFGSOptimizer
from potforge.training.trainer import Trainer, TrainingOptions

HERE = Path(__file__).resolve().parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=HERE / "h2o_pes.xyz")
    parser.add_argument("--hidden", type=int, nargs="+", default=[20, 20])
    parser.add_argument("--activations", default="ttl")
    parser.add_argument("--length", type=float, default=1.0, help="λ of exp(-r/λ), Å")
    parser.add_argument("--optimizer", choices=("lbfgs", "adam"), default="lbfgs")
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--iterations", type=int, default=100, help="L-BFGS iterations per epoch")
    parser.add_argument("--energy-sigma", type=float, default=1e-4, help="eV/atom")
    parser.add_argument("--force-sigma", type=float, default=3e-3, help="eV/Å")
    parser.add_argument("--l2", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--save", type=Path, default=None, help="write the fitted model here")
    args = parser.parse_args()
    start = time.perf_counter()

    data = Dataset.read(args.data)
    train, validation, test = data.split_by_group([0.7, 0.15, 0.15], seed=args.seed)
    print(f"{len(data)} frames: {len(train)} training, {len(validation)} validation, {len(test)} test")

    model = TrainableMolecularNetwork(["O", "H", "H"], args.hidden, args.activations,
                                      coordinates="morse", length=args.length)
    names = lambda part, label: [f"{label} frame {k}" for k in range(len(part))]  # noqa: E731
    train_data = model.prepare(list(train), names(train, "training"))
    validation_data = model.prepare(list(validation), names(validation, "validation"))
    model.fit_scaling(train_data)
    model.initialize(torch.Generator().manual_seed(args.seed))

    loss = Loss(LossWeights.from_noise(args.energy_sigma, args.force_sigma), l2=args.l2)
    optimizer = (LBFGSOptimizer(iterations=args.iterations) if args.optimizer == "lbfgs"
                 else AdamOptimizer(lr=3e-3, batch_size=16, schedule="cosine", min_lr=1e-5))
    trainer = Trainer(model, loss, optimizer, train_data, validation_data,
                      options=TrainingOptions(epochs=args.epochs, seed=args.seed),
                      log=lambda line: print(line, flush=True) if _every(line) else None)
    trainer.run()
    print(f"best epoch {trainer.best_epoch}; {trainer.stop_reason}")

    potential = model.to_potential({"data": str(args.data.name), "level_of_theory": "MP2/aug-cc-pVDZ"})
    for label, part in (("training", train), ("validation", validation), ("test", test)):
        de, df = [], []
        for frame in part:
            p = potential.predict(frame.atoms)
            de.append(p.energy - frame.energy)
            df.append(p.forces - frame.forces)
        de, df = np.array(de), np.concatenate(df)
        rmse = float(np.sqrt(np.mean(de**2))) * 1000
        print(f"{label:>10}: energy RMSE {rmse:.3f} meV/molecule = {rmse / 3:.3f} meV/atom "
              f"(MAE {np.mean(np.abs(de)) * 1000:.3f} meV/molecule, max {np.abs(de).max() * 1000:.3f}), "
              f"force RMSE {np.sqrt(np.mean(df**2)) * 1000:.2f} meV/Å")
    if args.save is not None:
        potential.save(args.save)
        print(f"saved to {args.save}")
    print(f"wall time {time.perf_counter() - start:.1f} s")


def _every(line: str) -> bool:
    """Log epoch 0, every tenth epoch and improvements."""
    epoch = int(line.split()[1].split("/")[0])
    return epoch % 10 == 0 or line.rstrip().endswith("*") and epoch < 10


if __name__ == "__main__":
    main()
