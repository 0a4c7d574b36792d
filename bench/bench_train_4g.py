"""4G training on n2p2's Carbon_chain_4G training set (128 chains, 90/10 split, fixed seed):
stage 1 (χ networks + hardness to reference charges) then stage 2 (short-range networks on
E_ref − E_elec, F_ref − F_elec of the fitted stage 1), both with the Kalman filter and n2p2's
settings of train/input.nn (stage 2: all energies and 2.5 % of the force components per
epoch, σ_E = 1 Ha/atom and σ_F = 0.1 Ha/Bohr, i.e. n2p2's force_weight 10), one core;
per-epoch time and test RMSEs after 10 epochs and at the end (``--patience``: early stopping
on the test loss, n2p2 has none).

    OMP_NUM_THREADS=1 PYTHONPATH=src python bench/bench_train_4g.py [--epochs 10] [--epochs2 10]
        [--seed 0] [--patience N]

n2p2 (quoted, measured on this machine by a previous session, one core): stage 1 0.46 s/epoch,
stage 2 0.87 s/epoch; after 10 epochs test 4.83 meV/atom, 0.390 eV/Å, 13.9 me.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from potforge.data.io import read_frames
from potforge.core.units import Bohr, Hartree
from potforge.models.hdnnp_charges.train_n2p2 import stage1_from_n2p2, stage2_from_n2p2
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
    p.add_argument("--epochs2", type=int, default=10, help="stage-2 epochs (0: stage 1 only)")
    p.add_argument("--energy-sigma", type=float, default=1 / 12,
                   help="stage-2 σ_E (Ha/atom; n2p2 fits total energies of 12-atom chains, σ 1 Ha)")
    p.add_argument("--force-sigma", type=float, default=0.1, help="stage-2 σ_F (Ha/Bohr)")
    p.add_argument("--output-scale", type=float, default=Hartree,
                   help="stage-2 output scale (eV; n2p2's networks output Ha; 0: the residuals' spread)")
    p.add_argument("--n2p2-stage1", action="store_true", help="stage 2 on n2p2's pre-trained stage 1")
    p.add_argument("--patience", type=int, default=None, help="early stopping (epochs)")
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
                      options=TrainingOptions(epochs=args.epochs, seed=args.seed, patience=args.patience),
                      log=print)
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
    if args.epochs2 > 0:
        stage2(root, model, train, test, args)


def stage2(root, stage1, train, test, args) -> None:
    """Stage 2 on the fitted stage 1 (its best epoch's weights are what the trainer left)."""
    model = stage2_from_n2p2(root / "train", stage1 if not args.n2p2_stage1 else None,
                             electronegativity_from=root if args.n2p2_stage1 else None,
                             length_unit="bohr", energy_unit="hartree")
    model.initialize(torch.Generator().manual_seed(args.seed))
    t = time.perf_counter()
    tr = model.prepare(train, [f"train {k}" for k in range(len(train))])
    te = model.prepare(test, [f"test {k}" for k in range(len(test))])
    prep = time.perf_counter() - t
    model.fit_offsets(tr, output_scale=not args.output_scale)
    if args.output_scale:
        model.output_scale = args.output_scale
    opt = KalmanOptimizer(selection="random", energy_fraction=1.0, force_fraction=0.025, epsilon=0.01,
                          q0=0.01, q_tau=2.302, q_min=1e-6, eta0=0.001, eta_tau=2.302, eta_max=1.0,
                          noise_scale=args.noise_scale)
    loss = Loss(LossWeights.from_noise(args.energy_sigma * Hartree, args.force_sigma * Hartree / Bohr,
                                         None, None))
    trainer = Trainer(model, loss, opt, tr, te, options=TrainingOptions(
        epochs=args.epochs2, seed=args.seed, patience=args.patience), log=print)
    t = time.perf_counter()
    trainer.run()
    wall = time.perf_counter() - t
    h = trainer.history
    per_epoch = h[-1].time / max(len(h) - 1, 1)
    print(f"stage 2: prepare (descriptors, charges, dq/dr) {prep:.2f} s, {per_epoch:.3f} s/epoch "
          f"(optimizer only), {wall / max(len(h) - 1, 1):.3f} s/epoch with evaluations")
    for r in h:
        if r.epoch in (10, len(h) - 1):
            v = r.validation
            print(f"epoch {r.epoch}: test {v['energy_rmse_mev_per_atom']:.2f} meV/atom, "
                  f"{1000 * v['force_rmse_ev_per_angstrom']:.1f} meV/Å, {v['charge_rmse_me']:.2f} me")
    best = min(h, key=lambda r: r.validation_loss)
    v = best.validation
    print(f"best epoch {best.epoch}: test {v['energy_rmse_mev_per_atom']:.2f} meV/atom, "
          f"{1000 * v['force_rmse_ev_per_angstrom']:.1f} meV/Å (n2p2 quoted after 10 epochs: "
          "4.83 meV/atom, 390 meV/Å, 13.9 me, 0.87 s/epoch)")


if __name__ == "__main__":
    main()
