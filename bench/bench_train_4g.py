"""4G training on n2p2's Carbon_chain_4G training set (128 chains, 90/10 split, fixed seed):
stage 1 (χ networks + hardness to reference charges) then stage 2 (short-range networks on
E_ref − E_elec, F_ref − F_elec of the fitted stage 1), both with the Kalman filter and n2p2's
settings of train/input.nn (stage 1: one update per frame on its charges, by default n2p2's
scalar norm of the charge errors, ``--charge-update vector`` for the vector of all its atoms';
stage 2: all energies and 2.5 % of the force components per epoch, σ_E = 1 Ha/atom and
σ_F = 0.1 Ha/Bohr, i.e. n2p2's force_weight 10), one core; per-epoch time and test RMSEs
after 10 epochs and at the end (``--patience``: early stopping on the test loss, n2p2 has none).

    OMP_NUM_THREADS=1 PYTHONPATH=src python bench/bench_train_4g.py [--epochs 10] [--epochs2 10]
        [--seed 0] [--patience N] [--charge-update norm|vector] [--n2p2 /path/to/n2p2/bin]

``--n2p2 DIR``: first runs n2p2's own ``nnp-train`` (DIR/nnp-train under ``mpirun -np 1``, one
thread) for both stages with the same epochs in a temporary folder, prints its per-epoch times
and test RMSEs (measured in the same run, on the same machine), and trains potforge on n2p2's
own train/test split (its train.data/test.data).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
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
    p.add_argument("--set", default="Carbon_chain_4G", help="n2p2 4G folder under shared/data/n2p2 "
                   "(Carbon_chain_4G, H2O_RPBE-D3_4G, AlAuMgO_4G): its train/ is used")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--charge-sigma", type=float, default=0.01, help="σ_Q (e)")
    p.add_argument("--noise-scale", type=float, default=1.0)
    p.add_argument("--charge-update", choices=("vector", "norm"), default="norm",
                   help="stage-1 Kalman measurement per frame: n2p2's norm of the charge errors, or the vector")
    p.add_argument("--output-fit", choices=("start", "epoch", "none"), default="epoch",
                   help="stage 1: χ output layers by least squares on the training charges before the first "
                   "epoch (start) and after every epoch (epoch, potforge's default), or never (none: n2p2)")
    p.add_argument("--epsilon", type=float, default=None, help="Kalman P0 = I/epsilon (default: input.nn's)")
    p.add_argument("--initial-ridge", type=float, default=1e-6, help="relative ridge of that fit")
    p.add_argument("--epochs2", type=int, default=10, help="stage-2 epochs (0: stage 1 only)")
    p.add_argument("--energy-sigma", type=float, default=None,
                   help="stage-2 σ_E (Ha/atom; default 1 Ha / the smallest atom count: n2p2 fits total "
                   "energies with σ 1 Ha, 1/12 for the 12-atom chains)")
    p.add_argument("--force-sigma", type=float, default=0.1, help="stage-2 σ_F (Ha/Bohr)")
    p.add_argument("--output-scale", type=float, default=Hartree,
                   help="stage-2 output scale (eV; n2p2's networks output Ha; 0: the residuals' spread)")
    p.add_argument("--n2p2-stage1", action="store_true", help="stage 2 on n2p2's pre-trained stage 1")
    p.add_argument("--patience", type=int, default=None, help="early stopping (epochs)")
    p.add_argument("--n2p2", default=None, help="folder with n2p2's nnp-train: run its stages 1 and 2 "
                   "first (mpirun -np 1, same epochs) and train potforge on n2p2's own train/test split")
    args = p.parse_args()
    torch.set_num_threads(1)
    root = ROOT.parent / args.set
    root = root if root.is_dir() else Path("/work/shared/data/n2p2") / args.set
    frames = read_frames(root / "train" / "input.data", length_unit="bohr", energy_unit="hartree")
    args.kalman = n2p2_kalman(root / "train" / "input.nn", args.epsilon)
    if args.energy_sigma is None:
        args.energy_sigma = 1.0 / min(len(f.atoms) for f in frames)
    print(f"{args.set}: {len(frames)} frames; Kalman {args.kalman}; stage-2 σ_E {args.energy_sigma:.4g} Ha/atom")
    if args.n2p2:
        train, test = run_n2p2(Path(args.n2p2), root / "train", frames, args)
    else:
        perm = torch.randperm(len(frames), generator=torch.Generator().manual_seed(args.seed)).tolist()
        n_test = round(0.1 * len(frames))  # n2p2 test_fraction 0.1
        test = [frames[k] for k in perm[:n_test]]
        train = [frames[k] for k in perm[n_test:]]
    model = stage1_from_n2p2(root / "train", length_unit="bohr", energy_unit="hartree", pretrained=False)
    model.initialize(torch.Generator().manual_seed(args.seed))
    model.output_fit, model.initial_ridge = args.output_fit, args.initial_ridge
    t = time.perf_counter()
    tr = model.prepare(train, [f"train {k}" for k in range(len(train))])
    te = model.prepare(test, [f"test {k}" for k in range(len(test))])
    prep = time.perf_counter() - t
    kal = {k: v for k, v in args.kalman.items() if k != "force_fraction"}
    opt = KalmanOptimizer(selection="random", force_fraction=0.0, noise_scale=args.noise_scale,
                          charge_update=args.charge_update, **kal)
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
    model.output_fit, model.initial_ridge = args.output_fit, args.initial_ridge
    t = time.perf_counter()
    tr = model.prepare(train, [f"train {k}" for k in range(len(train))])
    te = model.prepare(test, [f"test {k}" for k in range(len(test))])
    prep = time.perf_counter() - t
    model.fit_offsets(tr, output_scale=not args.output_scale)
    if args.output_scale:
        model.output_scale = args.output_scale
    opt = KalmanOptimizer(selection="random", energy_fraction=1.0, noise_scale=args.noise_scale, **args.kalman)
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


def n2p2_kalman(input_nn: Path, epsilon: float | None) -> dict:
    """The Kalman settings of an n2p2 training input.nn (kalman_*, short_force_fraction)."""
    text = input_nn.read_text()

    def get(key, default):
        m = re.search(rf"(?m)^{key}\s+(\S+)", text)
        return float(m.group(1)) if m else default

    return dict(epsilon=epsilon or get("kalman_epsilon", 0.01), q0=get("kalman_q0", 0.01),
                q_tau=get("kalman_qtau", 2.302), q_min=get("kalman_qmin", 1e-6), eta0=get("kalman_eta", 0.01),
                eta_tau=get("kalman_etatau", 2.302), eta_max=get("kalman_etamax", 1.0),
                force_fraction=get("short_force_fraction", 0.025))


def _n2p2_table(log: str, tag: str) -> list[list[float]]:
    rows = [line.split() for line in log.splitlines() if line.startswith(tag + " ")]
    return [[float(v) for v in r[1:]] for r in rows if len(r) > 1 and r[1].isdigit()]


def run_n2p2(bindir: Path, folder: Path, frames, args):
    """n2p2's nnp-train stage 1 then stage 2 (its last-epoch weightse/hardness) on the same
    folder, one MPI rank, one thread; prints its per-epoch times and test RMSEs after
    ``--epochs`` epochs and returns its split (train.data/test.data) as our frames."""
    env = dict(os.environ, OMP_NUM_THREADS="1")
    mpirun = shutil.which("mpirun") or str(Path(bindir).parent.parent / "main" / ".venv" / "bin" / "mpirun")
    work = Path(tempfile.mkdtemp(prefix="n2p2-4g-"))
    out = {}
    for stage in (1, 2):
        d = work / f"stage{stage}"
        d.mkdir()
        for name in ("input.data", "scaling.data"):
            shutil.copy(folder / name, d / name)
        text = (folder / "input.nn").read_text()
        epochs = args.epochs if stage == 1 else args.epochs2
        (d / "input.nn").write_text(re.sub(r"(?m)^epochs\s+\d+", f"epochs {epochs}", text))
        if stage == 2:
            for z in sorted({f.name.split(".")[1] for f in (work / "stage1").glob("weightse.*.out")}):
                shutil.copy(work / "stage1" / f"weightse.{z}.{args.epochs:06d}.out", d / f"weightse.{z}.data")
                shutil.copy(work / "stage1" / f"hardness.{z}.{args.epochs:06d}.out", d / f"hardness.{z}.data")
        t = time.perf_counter()
        log = subprocess.run([mpirun, "-np", "1", str(bindir / "nnp-train"), str(stage)], cwd=d, env=env,
                             capture_output=True, text=True, check=True).stdout
        wall = time.perf_counter() - t
        timing = _n2p2_table(log, "TIMING")[1:]
        out[stage] = (sum(r[-2] for r in timing) / len(timing), wall, log)
    q = _n2p2_table(out[1][2], "CHARGE")[-1]
    e, f = _n2p2_table(out[2][2], "ENERGY")[-1], _n2p2_table(out[2][2], "FORCE")[-1]
    print(f"n2p2 nnp-train (measured now, one rank, one thread): stage 1 {out[1][0]:.3f} s/epoch "
          f"(wall {out[1][1]:.1f} s), stage 2 {out[2][0]:.3f} s/epoch (wall {out[2][1]:.1f} s); "
          f"test after {args.epochs}+{args.epochs2} epochs: {1000 * e[3] * Hartree:.2f} meV/atom, "
          f"{1000 * f[3] * Hartree / Bohr:.1f} meV/Å, {1000 * q[3]:.2f} me")
    # n2p2 wraps periodic positions into the cell in train.data: tell frames by energy and forces
    key = lambda fr: (round(float(fr.energy), 4), len(fr.atoms), tuple(np.round(fr.forces[:2, 0], 4)))  # noqa
    index = {key(fr): fr for fr in frames}
    split = [[index[key(fr)] for fr in read_frames(work / "stage1" / name, length_unit="bohr",
                                                  energy_unit="hartree")]
             for name in ("train.data", "test.data")]
    shutil.rmtree(work, ignore_errors=True)
    print(f"n2p2's split: {len(split[0])} train / {len(split[1])} test frames (used for potforge below)")
    return split


if __name__ == "__main__":
    main()
