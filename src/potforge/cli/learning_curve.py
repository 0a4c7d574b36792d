"""``potforge learning-curve CONFIG --fractions 0.1,0.2,0.5,1.0 [-o DIR]``."""

from __future__ import annotations

import argparse

from .config import add_config_options, config_from_args

EXAMPLE = """\
example (mlearn Cu: does more data help?):
  potforge learning-curve examples/mlearn-cu-zuo/config.yaml --fractions 0.1,0.2,0.5,1.0 -o cu-lc

Trains one model per fraction of the training groups (whole configurations) and scores each
on the same test set; writes learning_curve.json/.csv and learning_curve.png.
"""


def _fractions(text: str) -> list[float]:
    try:
        return [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None


def add_parser(sub, name: str, help_text: str) -> None:
    p = sub.add_parser(name, help=help_text, description=help_text + ".", epilog=EXAMPLE,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    add_config_options(p)
    p.add_argument("--fractions", type=_fractions, default=[0.1, 0.2, 0.5, 1.0],
                   help="fractions of the training groups (default 0.1,0.2,0.5,1.0)")
    p.add_argument("--seed", type=int, default=0, help="seed of the subset selection")
    p.add_argument("-o", "--output", default="learning-curve", help="output directory")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..training.crossval import learning_curve
    from ..validation.plots import subset_curve_plot

    config = config_from_args(args)
    result = learning_curve(config, args.fractions, args.output, seed=args.seed,
                            log=lambda line: print(line, flush=True))
    path = subset_curve_plot(result.rows, Path(args.output) / "learning_curve.png")
    print(f"plot: {path}")
    return 0
