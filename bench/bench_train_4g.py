"""4G training on n2p2's Carbon_chain_4G training set (128 chains, 90/10 split, fixed seed):
stage 1 (χ networks + hardness to reference charges, Kalman filter with n2p2's settings of
train/input.nn), one core; per-epoch time and test charge RMSE after 10 epochs and at the end.

    OMP_NUM_THREADS=1 PYTHONPATH=src python bench/bench_train_4g.py [--epochs 10] [--seed 0]

n2p2 (quoted, measured on this machine by a previous session, one core): stage 1 0.46 s/epoch,
stage 2 0.87 s/epoch; after 10 epochs test 4.83 meV/atom, 0.390 eV/Å, 13.9 me.
Stage 2 (short-range networks) is not in this script yet.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from potforge.data.io import read_frames
from potforge.models.hdnnp_charges.trainable4g import stage1_from_n2p2
from potforge.training.loss import Loss, LossWeights
from potforge.training.optimizers.kalman import KalmanOptimizer
from potforge.training.trainer import Trainer, TrainingOptions

ROOT = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "n2p2" / "Carbon_chain_4G"


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--charge-sigma", type=float, default=0.01, help="σ_Q (e)")
    p.add_argument("--noise-scale", type=float, default=1.0)
    args = p.parse_args()
    torch.set_num_threads(1)
    root = ROOT if ROOT.is_dir() else Path("/work/shared/data/n2p2/Carbon_chain_4G")
    frames = read_frames(root / "train" / "input.data", length_unit="bohr", energy_unit="hartree")
    perm = torch.randperm(len(frames), generator=torch.Generator().manual_seed(args.seed)).tolist()
    n_test = round(0.1 * len(frames))  # n2p2 test_fraction 0.1
    test = [frames[k] for k in perm[:n_test]]
    train = [frames[k] for k in perm[n_test:]]
    model = stage1_from_n2p2(root / "train", length_unit="bohr", energy_unit="hartree", pretrained=False)
    model.initialize(torch.Generator().manual_seed(args.seed))
    t = time.perf_counter()
    tr = model.prepare(train, [f"train {k}" for k in range(len(train))])
    te = model.prepare(test, [f"test {k}" for k in range(len(test))])
    prep = time.perf_counter() - t
    opt = KalmanOptimizer(selection="random", force_fraction=0.0, epsilon=0.01, q0=0.01, q_tau=2.302,
                          q_min=1e-6, eta0=0.001, eta_tau=2.302, eta_max=1.0, noise_scale=args.noise_scale)
    trainer = Trainer(model, Loss(LossWeights.from_noise(None, None, None, args.charge_sigma)), opt, tr, te,
                      options=TrainingOptions(epochs=args.epochs, seed=args.seed), log=print)
    t = time.perf_counter()
    trainer.run()
    wall = time.perf_counter() - t
    h = trainer.history
    per_epoch = h[-1].time / max(len(h) - 1, 1)
    print(f"stage 1: {len(train)} train / {len(test)} test frames, prepare {prep:.2f} s, "
          f"{per_epoch:.3f} s/epoch (optimizer only), {wall / args.epochs:.3f} s/epoch with evaluations")
    for r in h:
        if r.epoch in (10, len(h) - 1):
            print(f"epoch {r.epoch}: train {r.train['charge_rmse_me']:.2f} me, "
                  f"test {r.validation['charge_rmse_me']:.2f} me")
    best = min(h, key=lambda r: r.validation_loss)
    print(f"best epoch {best.epoch}: test charge RMSE {best.validation['charge_rmse_me']:.2f} me "
          "(n2p2 quoted: 13.9 me after 10 epochs, 0.46 s/epoch)")


if __name__ == "__main__":
    main()
