"""``potforge export MODEL --format n2p2 -o DIR``."""

from __future__ import annotations

import argparse

EXAMPLE = """\
example (a trained model to n2p2 / LAMMPS pair_style hdnnp files):
  potforge export cu-zuo --format n2p2 -o cu-zuo-n2p2
  potforge export cu-zuo --format n2p2 -o cu-zuo-n2p2-bohr --length-unit bohr --energy-unit hartree

The n2p2 files (input.nn, scaling.data, weights.ZZZ.data) predict the same energies and
forces as the model; LAMMPS reads them with pair_style hdnnp (give cflength/cfenergy if the
files are not in Å/eV).
"""


def add_parser(sub, name: str, help_text: str) -> None:
    p = sub.add_parser(name, help=help_text, description=help_text + ".", epilog=EXAMPLE,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", help="potforge model directory")
    p.add_argument("--format", required=True, choices=("n2p2",), help="output format")
    p.add_argument("-o", "--output", required=True, help="output directory (new or an n2p2 model)")
    p.add_argument("--length-unit", default="angstrom", help="length unit of the files (default angstrom)")
    p.add_argument("--energy-unit", default="ev", help="energy unit of the files (default ev)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..core.errors import ModelFormatError
    from ..export.n2p2 import write_n2p2_model
    from ..models.hdnnp import HDNNP
    from ..models.potential import load_potential

    model = load_potential(args.model)
    if args.format == "n2p2":
        if not isinstance(model, HDNNP):
            raise ModelFormatError(f"a {model.kind} model has no n2p2 form; n2p2 export needs a "
                                   "2G HDNNP", path=args.model)
        write_n2p2_model(model, args.output, length_unit=args.length_unit, energy_unit=args.energy_unit)
    print(f"wrote {args.output} ({args.format})")
    return 0
