"""``potforge demo``: the shipped water model against its DFT reference data."""

from __future__ import annotations

import argparse
import time


def add_parser(sub, name: str, help_text: str) -> None:
    p = sub.add_parser(name, help=help_text,
                       description="Predict the 20 DFT (RPBE-D3) water boxes shipped with potforge "
                                   "with n2p2's 2G water model (also shipped) and print the errors.",
                       epilog="example: potforge demo")
    p.add_argument("--threads", type=int, default=0, help="threads (0: all cores, default)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from importlib.resources import files

    from ..data.io import read_frames
    from ..export import load_model
    from ..validation.metrics import error_metrics
    from ..validation.predict import PredictionSummary, predict_frames

    root = files("potforge") / "demo_data" / "H2O_RPBE-D3"
    start = time.perf_counter()
    model = load_model(str(root), length_unit="bohr", energy_unit="hartree")
    model.n_threads = args.threads
    reference = read_frames(str(root / "reference.data"), length_unit="bohr", energy_unit="hartree")
    summary = PredictionSummary()
    predicted = list(predict_frames(model, reference, summary=summary))
    elapsed = time.perf_counter() - start
    m = error_metrics(reference, predicted)
    print("potforge demo: n2p2's 2G HDNNP for liquid water (RPBE-D3) on its DFT reference data")
    print(f"  {m.n_frames} periodic structures, {m.n_atoms} atoms, species "
          f"{'/'.join(model.species)}, cutoff {model.cutoff:.3f} Å")
    print(f"  energy error vs DFT: RMSE {m.energy_rmse_mev_per_atom:.3f} meV/atom, "
          f"MAE {m.energy_mae_mev_per_atom:.3f}, max {m.energy_max_mev_per_atom:.3f}")
    print(f"  force error vs DFT:  RMSE {m.force_rmse_ev_per_angstrom:.4f} eV/Å, "
          f"MAE {m.force_mae_ev_per_angstrom:.4f}, max {m.force_max_ev_per_angstrom:.4f}")
    print(f"  {summary.line()}")
    print(f"  time: {elapsed:.2f} s (loading the model and data, predicting energies and forces)")
    return 0
