"""``potforge demo``: the shipped water model against its DFT reference data."""

from __future__ import annotations

import argparse

from .common import non_negative_int


def add_parser(sub, name: str, help_text: str) -> None:
    p = sub.add_parser(name, help=help_text,
                       description="Predict the 20 DFT (RPBE-D3) water boxes shipped with potforge "
                                   "with n2p2's 2G water model (also shipped) and print the errors.",
                       epilog="example: potforge demo")
    p.add_argument("--threads", type=non_negative_int, default=0, help="threads (0: all cores, default)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..validation.demo import run_demo

    print(run_demo(args.threads).report())
    return 0
