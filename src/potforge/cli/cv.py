"""``potforge cv CONFIG --folds K --grid key=v1,v2,... [-o DIR]``."""

from __future__ import annotations

import argparse

from .config import add_config_options, config_from_args

EXAMPLE = """\
example (L2 strength for mlearn Cu, 5-fold leave-group-out; each fit short):
  potforge cv examples/mlearn-cu-zuo/config.yaml --folds 5 --grid training.l2=0.1,10,1000 \\
      --set training.epochs=4 -o cu-cv

Every grid point is trained K times on K-1 folds of whole groups (with their own validation
split for early stopping) and scored on the held-out fold. Several --grid options make a
product grid; separate values by ';' when they contain commas (model.network.hidden=[8,8];[16,16]).
Writes cv.json, cv.csv and cv.png (for a one-key grid) into the output directory.
"""


def add_parser(sub, name: str, help_text: str) -> None:
    p = sub.add_parser(name, help=help_text, description=help_text + ".", epilog=EXAMPLE,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    add_config_options(p)
    p.add_argument("--folds", type=int, default=5, help="number of folds (default 5)")
    p.add_argument("--grid", action="append", default=[], metavar="KEY=V1,V2,...",
                   help="config key and the values to try (repeatable: product grid)")
    p.add_argument("--seed", type=int, default=0, help="seed of the fold assignment")
    p.add_argument("-o", "--output", default="cv", help="output directory (default: ./cv)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..training.crossval import cross_validate, parse_grid

    config = config_from_args(args)
    grid = parse_grid(args.grid)
    result = cross_validate(config, args.folds, grid, args.output, seed=args.seed,
                            log=lambda line: print(line, flush=True))
    if len(result.key_names) == 1:
        from ..validation.plots import cv_plot

        key = result.key_names[0]
        rows = [{"value": r["values"][key],
                 "energy_rmse_mean": r["energy_rmse_mev_per_atom_mean"],
                 "energy_rmse_std": r["energy_rmse_mev_per_atom_std"],
                 "force_rmse_mean": r["force_rmse_ev_per_angstrom_mean"],
                 "force_rmse_std": r["force_rmse_ev_per_angstrom_std"],
                 "charge_rmse_mean": r.get("charge_rmse_me_mean"),  # charge models only
                 "charge_rmse_std": r.get("charge_rmse_me_std"),
                 "chosen": r is result.chosen} for r in result.rows]
        path = cv_plot(rows, key, Path(args.output) / "cv.png")
        print(f"plot: {path}")
    return 0
