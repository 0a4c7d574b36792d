"""A committee's uncertainty on held-out data (issue 16): does the calibrated spread predict
the error?

Builds a committee of trained models (``potforge train --committee N`` output, or any model
directories of the same config), fits the calibration factors on the config's validation split,
and reports on the test set: committee and members' RMSE, the calibration factors, the fraction
of errors within 1 and 2 calibrated spreads (0.68 / 0.95 if the errors were Gaussian with that
spread), the rank correlation between spread and |error| (per frame for energies, per component
for forces), and a reliability plot (RMS error in bins of spread).

    python bench/bench_committee.py CONFIG MODEL_DIR [MODEL_DIR ...] -o DIR
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    ra, rb = np.argsort(np.argsort(a)), np.argsort(np.argsort(b))
    return float(np.corrcoef(ra, rb)[0, 1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("config")
    ap.add_argument("models", nargs="+")
    ap.add_argument("-o", "--output", type=Path, required=True)
    args = ap.parse_args()
    from potforge.core.metrics import mae
    from potforge.models.committee.potential import Committee, calibration_factors
    from potforge.models.registry import load_potential
    from potforge.training.committee import _reliability_plot
    from potforge.training.config import load_config
    from potforge.training.data import load_data

    args.output.mkdir(parents=True, exist_ok=True)
    members = [load_potential(p).configure(n_threads=1) for p in args.models]
    _, validation, test = load_data(load_config(args.config))
    # the committee's mean against its members on the validation split (MAE, meV/atom): does
    # averaging remove the energy error?
    val_members = [1000 * mae(np.array([(m.predict(f.atoms, forces=False, stress=False).energy - f.energy)
                                        / f.n_atoms for f in validation])) for m in members]
    val_mean = 1000 * mae(np.array([(Committee(members).predict(f.atoms, stress=False).energy - f.energy)
                                    / f.n_atoms for f in validation]))
    print(f"validation energy MAE (meV/atom): members {', '.join(f'{v:.3f}' for v in val_members)}; "
          f"their mean {val_mean:.3f}")
    cal = calibration_factors(Committee(members), validation)
    committee = Committee(members, calibration=cal["factors"])
    e_err, e_sd, f_err, f_sd = [], [], [], []
    member_e = [[] for _ in members]
    for f in test:
        p = committee.predict(f.atoms, stress=False)
        e_err.append((p.energy - f.energy) / f.n_atoms)
        e_sd.append(p.extras["energy_std_per_atom"])
        f_err.append((p.forces - f.forces).ravel())
        f_sd.append(p.extras["forces_std"].ravel())
        for k, m in enumerate(members):
            member_e[k].append((m.predict(f.atoms, stress=False).energy - f.energy) / f.n_atoms)
    e_err, e_sd = np.array(e_err), np.array(e_sd)
    f_err, f_sd = np.concatenate(f_err), np.concatenate(f_sd)
    test_pairs = {"energy": np.column_stack([e_sd, np.abs(e_err)]), "forces": np.column_stack([f_sd, np.abs(f_err)])}
    _reliability_plot({q: np.column_stack([v[:, 0] / cal["factors"][q], v[:, 1]]) for q, v in test_pairs.items()},
                      cal["factors"], args.output / "reliability_test.png")
    rms = lambda x: float(np.sqrt(np.mean(np.square(x))))  # noqa: E731
    result = {
        "models": args.models, "calibration": cal["factors"],
        "validation_energy_mae_mev_per_atom": {"mean": val_mean, "members": val_members},
        "test_energy_rmse_mev_per_atom": {"committee": 1000 * rms(e_err),
                                          "members": [1000 * rms(np.array(m)) for m in member_e]},
        "test_force_rmse_ev_per_angstrom": rms(f_err),
        "energy_within_1_2_spreads": [float(np.mean(np.abs(e_err) <= e_sd)), float(np.mean(np.abs(e_err) <= 2 * e_sd))],
        "force_within_1_2_spreads": [float(np.mean(np.abs(f_err) <= f_sd)), float(np.mean(np.abs(f_err) <= 2 * f_sd))],
        "rank_correlation_spread_error": {"energy": spearman(e_sd, np.abs(e_err)),
                                          "forces": spearman(f_sd, np.abs(f_err))},
        "test_rms_error_over_rms_spread": {"energy": rms(e_err) / rms(e_sd), "forces": rms(f_err) / rms(f_sd)},
    }
    (args.output / "committee_bench.json").write_text(json.dumps(result, indent=1))
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
