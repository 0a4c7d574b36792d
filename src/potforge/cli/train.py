"""``potforge train CONFIG.yaml [-o DIR] [--set key=value ...] [--resume]``."""

from __future__ import annotations

import argparse
import sys

from .config import add_config_options, config_from_args

EXAMPLE = """\
example (mlearn Cu, the Zuo et al. 2020 setting; about 3 min on one core):
  potforge train examples/mlearn-cu-zuo/config.yaml -o cu-zuo
  potforge train examples/mlearn-cu-zuo/config.yaml -o cu-quick --set training.epochs=2
  potforge train examples/mlearn-cu-zuo/config.yaml -o cu-zuo --resume     # after a kill
  potforge evaluate cu-zuo ../shared/data/mlearn/Cu/test.xyz --report cu-zuo/report

The output directory is a model (potforge predict / evaluate / export and the ASE calculator
load it) plus config.yaml (resolved), learning_curve.csv/.png, summary.json, training.log
and checkpoint.pt.
"""


def add_parser(sub, name: str, help_text: str) -> None:
    p = sub.add_parser(name, help=help_text, description=help_text + ".", epilog=EXAMPLE,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    add_config_options(p)
    p.add_argument("-o", "--output", default="model", help="output directory (default: ./model)")
    p.add_argument("--resume", action="store_true",
                   help="continue the killed run in the output directory (same config)")
    p.add_argument("--committee", type=int, metavar="N", default=None,
                   help="train N >= 2 models (seeds seed, seed+1, ...) into OUTPUT/member-K and save their "
                        "committee (mean and calibrated spread) as the model in OUTPUT")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..training.fit import fit

    config = config_from_args(args)
    if args.committee is not None:
        from ..training.committee import fit_committee

        fit_committee(config, args.output, args.committee, resume=args.resume,
                      log=lambda line: print(line, flush=True))
        return 0
    fit(config, args.output, resume=args.resume, log=lambda line: print(line, flush=True))
    out = Path(args.output)
    try:
        from ..validation.plots import learning_curve_plot

        learning_curve_plot(out / "learning_curve.csv", out / "learning_curve.png")
        print(f"learning curve plot: {out / 'learning_curve.png'}")
    except ImportError as err:  # matplotlib missing: the CSV is there
        print(f"no learning-curve plot ({err})", file=sys.stderr)
    return 0
