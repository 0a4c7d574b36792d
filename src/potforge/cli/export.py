"""``potforge export MODEL --format n2p2|lammps -o DIR``."""

from __future__ import annotations

import argparse

EXAMPLE = """\
examples:
  potforge export cu-zuo --format n2p2 -o cu-zuo-n2p2
  potforge export cu-zuo --format n2p2 -o cu-zuo-n2p2-bohr --length-unit bohr --energy-unit hartree
  potforge export si-tersoff --format lammps -o si-lammps
  potforge export cu-eam --format lammps -o cu-lammps --rho-max 60

n2p2: the files (input.nn, scaling.data, weights.ZZZ.data) predict the same energies and
forces as the model; LAMMPS reads them with pair_style hdnnp (give cflength/cfenergy if the
files are not in Å/eV).

lammps (classical models): a potential file (.table, .eam.alloy, .tersoff or .sw) and
in.lammps with the pair_style/pair_coeff lines; run it with
  cd si-lammps && lmp -in in.lammps -var data structure.data
"""


def add_parser(sub, name: str, help_text: str) -> None:
    p = sub.add_parser(name, help=help_text, description=help_text + ".", epilog=EXAMPLE,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", help="potforge model directory (or any model potforge loads)")
    p.add_argument("--format", required=True, choices=("n2p2", "lammps"), help="output format")
    p.add_argument("-o", "--output", required=True, help="output directory")
    p.add_argument("--length-unit", default="angstrom", help="n2p2: length unit of the files (default angstrom)")
    p.add_argument("--energy-unit", default="ev", help="n2p2: energy unit of the files (default ev)")
    p.add_argument("--rho-max", type=float, default=None,
                   help="lammps, EAM: largest tabulated host density (default: 2x a compressed fcc crystal's)")
    p.add_argument("--table-points", type=int, default=None,
                   help="lammps: points per table (pair tables default 10000, EAM 10000)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..export import export_model, load_model

    model = load_model(args.model)
    written = export_model(model, args.format, args.output, length_unit=args.length_unit,
                           energy_unit=args.energy_unit, rho_max=args.rho_max,
                           table_points=args.table_points)
    if args.format == "n2p2":
        print(f"wrote {args.output} ({args.format})")
        return 0
    for path in written["files"]:
        print(f"wrote {path}")
    if "pair_style" in written:
        print(f"pair_style {written['pair_style']}")
        for line in written["pair_coeff"]:
            print(line)
    offsets = written.get("energy_offsets", {})
    if any(v != 0.0 for v in offsets.values()):
        text = ", ".join(f"{s} {v:g}" for s, v in offsets.items())
        print(f"note: LAMMPS leaves out the per-atom energy offsets (eV) {text}; see in.lammps")
    return 0
