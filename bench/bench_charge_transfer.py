"""Non-local charge transfer: a 2G and a 4G HDNNP trained on the same carbon chains.

n2p2's Carbon_chain_4G training set (Ko et al., Nat. Commun. 12, 398 (2021)): 66 neutral C10H2
chains and 62 protonated C10H3+ chains (one end CH2, total charge +1 e). The extra proton
changes the charges and bonds at the far end of the chain, beyond the 4.2 Å cutoff of the
symmetry functions: the far end of a C10H3+ chain looks locally like an end of C10H2, so a
2G model must predict the same forces there, while the reference differs; a 4G model sees
the total charge through charge equilibration.

Both models use the same symmetry functions and scaling (n2p2's train/input.nn: 36 for C, 24
for H), 15-15 tanh networks, the same Kalman filter (n2p2's settings of that file: all
energies and 2.5 % of the force components per epoch, σ_E = 1/12 Ha/atom, σ_F = 0.1 Ha/Bohr)
and the same frames: 90/10 test split (seed 0, as bench_train_4g.py), and 10 % of the
training frames held out for early stopping (``--patience``); the test frames are used only
for the report. 4G: stage 1 (χ networks + hardness, σ_Q = 0.01 e), then stage 2 on it.

    OMP_NUM_THREADS=1 PYTHONPATH=src python bench/bench_charge_transfer.py \
        [--epochs1 40] [--epochs2 80] [--patience 10] [--png docs/img/charge_transfer_2g_4g.png]

Reports test RMSEs by total charge and by structure (C10H2 / C10H3+), force errors by the
position of the carbon atom along the chain (counted from the CH2 end of the charged chains),
and the "look-alike" test: every atom of a charged test chain paired with the atom of a neutral
chain (training or test) whose scaled symmetry functions are nearest; where these are (nearly)
identical, 2G must predict (nearly) the same force, the reference differences show what it
cannot separate.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from potforge.core.units import Bohr, Hartree
from potforge.data.io import read_frames
from potforge.models.hdnnp.trainable import TrainableHDNNP
from potforge.models.hdnnp_charges.train_n2p2 import n2p2_setup, stage1_from_n2p2, stage2_from_n2p2
from potforge.training.loss import Loss, LossWeights
from potforge.training.optimizers.kalman import KalmanOptimizer
from potforge.training.trainer import Trainer, TrainingOptions

ROOT = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "n2p2" / "Carbon_chain_4G"
UNITS = dict(length_unit="bohr", energy_unit="hartree")
KALMAN = dict(selection="random", epsilon=0.01, q0=0.01, q_tau=2.302, q_min=1e-6, eta0=0.001,
              eta_tau=2.302, eta_max=1.0)


def split(frames, seed):
    perm = torch.randperm(len(frames), generator=torch.Generator().manual_seed(seed)).tolist()
    n_test = round(0.1 * len(frames))
    test, train = perm[:n_test], perm[n_test:]
    n_val = round(0.1 * len(train))
    return [frames[k] for k in train[n_val:]], [frames[k] for k in train[:n_val]], [frames[k] for k in test]


def names(frames, what):
    return [f"{what} {k}" for k in range(len(frames))]


def energy_loss():
    return Loss(LossWeights.from_noise(Hartree / 12, 0.1 * Hartree / Bohr, None, None))


def run(model, loss, opt, fit, val, epochs, patience, seed):
    tr, va = model.prepare(fit, names(fit, "fit")), model.prepare(val, names(val, "validation"))
    if hasattr(model, "fit_offsets"):
        model.fit_offsets(tr, output_scale=False)
    trainer = Trainer(model, loss, opt, tr, va, options=TrainingOptions(epochs=epochs, seed=seed,
                                                                        patience=patience))
    t = time.perf_counter()
    trainer.run()
    h = trainer.history
    best = min(h, key=lambda r: r.validation_loss)
    return (time.perf_counter() - t) / max(len(h) - 1, 1), len(h) - 1, best.epoch


def fit_offsets_2g(model, frames):
    """Element energies by least squares on composition, the mean per-atom residual as offset."""
    comp = np.array([[f.atoms.get_chemical_symbols().count(s) for s in model.species] for f in frames], float)
    e = np.array([f.energy for f in frames])
    ref = np.linalg.lstsq(comp, e, rcond=None)[0]
    model.element_energies = torch.tensor(ref, dtype=torch.float64)
    model.mean_energy = float(np.mean((e - comp @ ref) / comp.sum(1)))


def train_2g(setup, fit, val, args):
    sp = setup["species"]
    model = TrainableHDNNP(setup["sfs"], setup["scaling"], {s: (15, 15) for s in sp}, {s: "ttl" for s in sp},
                           normalize=setup["normalize"], output_scale=Hartree)
    model.initialize(torch.Generator().manual_seed(args.seed))
    fit_offsets_2g(model, fit)
    opt = KalmanOptimizer(energy_fraction=1.0, force_fraction=0.025, **KALMAN)
    info = run(model, energy_loss(), opt, fit, val, args.epochs2, args.patience, args.seed)
    return model.to_potential(), info


def train_4g(root, fit, val, args):
    one = stage1_from_n2p2(root / "train", pretrained=False, **UNITS)
    one.initialize(torch.Generator().manual_seed(args.seed))
    info1 = run(one, Loss(LossWeights.from_noise(None, None, None, 0.01)),
                KalmanOptimizer(force_fraction=0.0, **KALMAN), fit, val, args.epochs1, args.patience, args.seed)
    two = stage2_from_n2p2(root / "train", one, **UNITS, output_scale=Hartree)
    two.initialize(torch.Generator().manual_seed(args.seed))
    info2 = run(two, energy_loss(), KalmanOptimizer(energy_fraction=1.0, force_fraction=0.025, **KALMAN),
                fit, val, args.epochs2, args.patience, args.seed)
    return two.to_potential(), info1, info2


def chain_order(atoms):
    """Carbon indices ordered along the chain from its CH2 end (else from either end), and
    whether the chain carries a CH2 end."""
    c = np.array([k for k, s in enumerate(atoms.get_chemical_symbols()) if s == "C"])
    h = np.array([k for k, s in enumerate(atoms.get_chemical_symbols()) if s == "H"])
    x = atoms.positions[c] - atoms.positions[c].mean(0)
    axis = np.linalg.svd(x, full_matrices=False)[2][0]
    order = c[np.argsort(x @ axis)]
    d = np.linalg.norm(atoms.positions[h][:, None] - atoms.positions[order[[0, -1]]][None], axis=2)
    n_h = (d < 1.3).sum(0)  # H atoms bonded to the first and the last carbon
    if n_h[1] > n_h[0]:
        order = order[::-1]
    return order, bool(n_h.max() >= 2)


def evaluate(pot, frames):
    """Per frame: energy error (meV/atom), force errors (n, 3) eV/Å, charges (n,)."""
    rows = []
    for f in frames:
        p = pot.predict(f.atoms, forces=True, stress=False)
        rows.append(dict(de=1000 * (p.energy - f.energy) / len(f.atoms), df=p.forces - f.forces, f=p.forces,
                         q=p.charges, charge=float(f.atoms.info.get("total_charge", 0.0))))
    return rows


def rmse(x):
    x = np.asarray(x, dtype=float)
    return float(np.sqrt(np.mean(x ** 2))) if x.size else float("nan")


def descriptor_rows(pot, frames):
    """Scaled symmetry functions per atom (list per element) with (frame, atom) indices."""
    from potforge.descriptors.cache import DescriptorCache

    cache = DescriptorCache(frames, pot.symmetry_functions, derivatives=False, n_threads=1)
    values = cache.values.numpy()
    element = cache.labels.element.numpy()
    frame_of = cache.labels.frame_of_atom().numpy()
    offsets = cache.labels.atom_offsets.numpy()
    rows = {}
    for e, s in enumerate(pot.species):
        mask = element == e
        a, b = pot.scaling.affine(s)
        n = pot.symmetry_functions.n_functions(s)
        idx = np.nonzero(mask)[0]
        rows[s] = (values[mask, :n] * a + b, frame_of[idx], idx - offsets[frame_of[idx]])
    return rows


def pairs(pot2, neutral, charged):
    """For every atom of the charged frames: its nearest neutral-frame atom in scaled
    descriptor space (same element); returns arrays distance, (frame_c, atom_c, frame_n, atom_n)."""
    rn, rc = descriptor_rows(pot2, neutral), descriptor_rows(pot2, charged)
    out = []
    for s in rc:
        xc, fc, ac = rc[s]
        xn, fn, an = rn[s]
        d = np.linalg.norm(xc[:, None] - xn[None], axis=2)
        j = d.argmin(1)
        for k in range(len(xc)):
            out.append((d[k, j[k]], fc[k], ac[k], fn[j[k]], an[j[k]]))
    return out


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--epochs1", type=int, default=40, help="4G stage-1 epochs (at most)")
    p.add_argument("--epochs2", type=int, default=80, help="4G stage-2 and 2G epochs (at most)")
    p.add_argument("--patience", type=int, default=10)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--png", default=str(Path(__file__).resolve().parents[1] / "docs" / "img"
                                        / "charge_transfer_2g_4g.png"))
    args = p.parse_args()
    torch.set_num_threads(1)
    root = ROOT if ROOT.is_dir() else Path("/work/shared/data/n2p2/Carbon_chain_4G")
    frames = read_frames(root / "train" / "input.data", **UNITS)
    fit, val, test = split(frames, args.seed)
    setup = n2p2_setup(root / "train", **UNITS)
    t0 = time.perf_counter()
    pot2, info2g = train_2g(setup, fit, val, args)
    pot4, info1, info2 = train_4g(root, fit, val, args)
    for pot in (pot2, pot4):
        pot.n_threads = 1
    print(f"{len(fit)} fit / {len(val)} early-stopping / {len(test)} test frames; training {time.perf_counter() - t0:.0f} s")
    for what, (per, n, best) in (("2G", info2g), ("4G stage 1", info1), ("4G stage 2", info2)):
        print(f"  {what}: {n} epochs, {per:.2f} s/epoch, best (validation) epoch {best}")
    res2, res4 = evaluate(pot2, test), evaluate(pot4, test)
    report(test, res2, res4)
    alike = look_alike_report(pot2, pot4, fit + val + test, test)
    plot(args.png, test, res2, res4, alike)
    print(f"plot: {args.png}")


def report(test, res2, res4) -> None:
    groups = {"all": lambda r: True, "Q = 0 (C10H2)": lambda r: r["charge"] == 0,
              "Q = +1 (C10H3+)": lambda r: r["charge"] == 1}
    print("\ntest RMSE            frames  2G meV/atom  4G meV/atom  2G meV/Å  4G meV/Å  4G charges me")
    for name, keep in groups.items():
        k = [i for i, r in enumerate(res2) if keep(r)]
        dq = np.concatenate([res4[i]["q"] - test[i].charges for i in k])
        print(f"{name:20s} {len(k):6d} {rmse([res2[i]['de'] for i in k]):12.2f} {rmse([res4[i]['de'] for i in k]):12.2f}"
              f" {1000 * rmse(np.concatenate([res2[i]['df'] for i in k])):9.0f}"
              f" {1000 * rmse(np.concatenate([res4[i]['df'] for i in k])):9.0f} {1000 * rmse(dq):14.2f}")
    print("\nforce RMSE (meV/Å) of the carbon atoms by position along the chain (charged: from the CH2 end)")
    for charge in (1, 0):
        by2, by4 = position_errors(test, res2, charge), position_errors(test, res4, charge)
        print(f"  Q = {charge:+d}  2G " + " ".join(f"{1000 * v:5.0f}" for v in by2))
        print("          4G " + " ".join(f"{1000 * v:5.0f}" for v in by4))


def position_errors(test, res, charge):
    rows = [[] for _ in range(10)]
    for f, r in zip(test, res):
        if r["charge"] != charge:
            continue
        order, _ = chain_order(f.atoms)
        for pos, atom in enumerate(order):
            rows[pos].append(r["df"][atom])
    return [rmse(np.array(v)) for v in rows]


def far_atoms(frame, cutoff):
    """Atoms of a C10H3+ chain whose environment (cutoff sphere) holds neither H of its CH2 end."""
    order, _ = chain_order(frame.atoms)
    pos = frame.atoms.positions
    h = [k for k, s in enumerate(frame.atoms.get_chemical_symbols()) if s == "H"]
    h_end = [k for k in h if np.linalg.norm(pos[k] - pos[order[0]]) < 1.3]
    d = np.linalg.norm(pos[:, None] - pos[h_end][None], axis=2).min(1)
    return set(np.nonzero(d > cutoff)[0].tolist())


def look_alike_report(pot2, pot4, everything, test):
    """Atoms at the far end of the charged test chains (no atom of the protonated end within
    the cutoff) paired with the neutral-chain atom (any split) of nearest scaled symmetry
    functions: a local model must give both (nearly) the same charge and force."""
    neutral = [f for f in everything if float(f.atoms.info.get("total_charge", 0.0)) == 0]
    charged = [f for f in test if float(f.atoms.info.get("total_charge", 0.0)) == 1]
    memo = {}

    def predict(pot, frame):
        key = (id(pot), id(frame))
        if key not in memo:
            memo[key] = pot.predict(frame.atoms, stress=False)
        return memo[key]

    far = [far_atoms(f, pot2.cutoff) for f in charged]
    out = []
    for d, fc, ac, fn, an in pairs(pot2, neutral, charged):
        if ac not in far[fc]:
            continue
        a, b = charged[fc], neutral[fn]
        p2a, p2b, p4a, p4b = predict(pot2, a), predict(pot2, b), predict(pot4, a), predict(pot4, b)
        out.append(dict(d=d, symbol=a.atoms.get_chemical_symbols()[ac],
                        dq_ref=a.charges[ac] - b.charges[an], dq4=p4a.charges[ac] - p4b.charges[an],
                        ref=np.linalg.norm(a.forces[ac] - b.forces[an]),
                        g2=np.linalg.norm(p2a.forces[ac] - p2b.forces[an]),
                        g4=np.linalg.norm(p4a.forces[ac] - p4b.forces[an])))
    mean = lambda key, rows: float(np.mean([r[key] for r in rows]))  # noqa: E731
    close = sorted(out, key=lambda r: r["d"])[:max(len(out) // 2, 1)]
    print(f"\nfar-end look-alikes: {len(out)} atoms of {len(charged)} charged test chains with no atom of "
          f"the protonated end within the cutoff, each with its nearest neutral-chain atom; the closer half "
          f"(descriptor distance < {max(r['d'] for r in close):.3f}):")
    print(f"  charge difference q(charged) - q(neutral): reference {1000 * mean('dq_ref', close):+.0f} me, "
          f"4G {1000 * mean('dq4', close):+.0f} me (a local charge model: 0 at distance 0)")
    print(f"  mean |ΔF|: reference {1000 * mean('ref', close):.0f} meV/Å, 2G {1000 * mean('g2', close):.0f}, "
          f"4G {1000 * mean('g4', close):.0f}")
    return out


def plot(path, test, res2, res4, alike) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(2, 2, figsize=(11, 8.5))
    colours = {0: "tab:blue", 1: "tab:red"}
    # (a) per-structure energy errors, 2G vs 4G, coloured by total charge
    a = ax[0, 0]
    for r2, r4 in zip(res2, res4):
        a.scatter(abs(r2["de"]), abs(r4["de"]), c=colours[int(round(r2["charge"]))], s=25)
    top = max(max(abs(r["de"]) for r in res2), max(abs(r["de"]) for r in res4)) * 1.1
    a.plot([0, top], [0, top], "k:", lw=1)
    a.set_xlabel("|energy error| 2G (meV/atom)")
    a.set_ylabel("|energy error| 4G (meV/atom)")
    a.set_title("(a) test chains: red C10H3+ (Q=+1), blue C10H2 (Q=0)")
    # (b) force errors along the chain
    b = ax[0, 1]
    x = np.arange(10)
    for charge, style in ((1, "-"), (0, "--")):
        b.plot(x, 1000 * np.array(position_errors(test, res2, charge)), style, c="tab:orange", marker="o",
               label=f"2G, Q={charge:+d}")
        b.plot(x, 1000 * np.array(position_errors(test, res4, charge)), style, c="tab:green", marker="s",
               label=f"4G, Q={charge:+d}")
    b.set_xlabel("carbon position along the chain (0: CH2 end of C10H3+)")
    b.set_ylabel("force RMSE (meV/Å)")
    b.set_title("(b) force errors along the chain")
    b.legend(fontsize=8)
    # (c) charges along the chain, a neutral and a charged test chain
    c = ax[1, 0]
    for charge in (0, 1):
        k = next(i for i, r in enumerate(res4) if r["charge"] == charge)
        order, _ = chain_order(test[k].atoms)
        c.plot(x, test[k].charges[order], "o-", c=colours[charge], label=f"reference, Q={charge:+d}")
        c.plot(x, res4[k]["q"][order], "x--", c=colours[charge], label=f"4G, Q={charge:+d}")
    c.set_xlabel("carbon position along the chain (0: CH2 end of C10H3+)")
    c.set_ylabel("carbon charge (e)")
    c.set_title("(c) non-local charge: the proton's +1 e spreads along the chain")
    c.legend(fontsize=8)
    # (d) far-end look-alike atoms: charge differences at (nearly) equal environments
    d = ax[1, 1]
    dist = np.array([r["d"] for r in alike])
    d.scatter(dist, [1000 * r["dq_ref"] for r in alike], s=14, c="k", label="reference")
    d.scatter(dist, [1000 * r["dq4"] for r in alike], s=14, c="tab:green", marker="s", label="4G")
    d.axhline(0, c="tab:orange", lw=2, label="purely local model (no total-charge input): 0 at distance 0")
    d.set_xscale("log")
    d.set_xlabel("descriptor distance to the nearest neutral-chain atom")
    d.set_ylabel("q(C10H3+ far end) − q(C10H2 look-alike) (me)")
    d.set_title("(d) same local environment, different total charge")
    d.legend(fontsize=8)
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    main()
