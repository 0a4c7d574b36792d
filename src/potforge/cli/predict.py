"""``potforge predict MODEL INPUT -o OUTPUT.xyz``."""

from __future__ import annotations

import argparse
import sys

from ..core.dtypes import DTYPES
from .common import add_species_option, add_unit_options, non_negative_int, progress

EXAMPLE = """\
example (n2p2's water model, files in Bohr/Hartree):
  potforge predict ../shared/data/n2p2/H2O_RPBE-D3 ../shared/data/n2p2/H2O_RPBE-D3/input.data \\
      --length-unit bohr --energy-unit hartree -o water.xyz
"""


def add_parser(sub, name: str, help_text: str) -> None:
    p = sub.add_parser(name, help=help_text, description=help_text + ".", epilog=EXAMPLE,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", help="potforge model directory (model.json) or n2p2 model directory (input.nn)")
    p.add_argument("input", help="structures: extended XYZ, n2p2 input.data or ASE database")
    p.add_argument("-o", "--output", required=True,
                   help="output file: *.xyz extended XYZ (eV, Å; charge models add a charges column), "
                        "*.data n2p2 input.data (in --length-unit/--energy-unit, predicted charges in "
                        "its charge column) or *.db")
    add_unit_options(p)
    add_species_option(p)
    p.add_argument("--keep-reference", action="store_true",
                   help="keep the input's energy/forces/charges as ref_energy / ref_forces / ref_charges")
    p.add_argument("--threads", type=non_negative_int, default=0, help="threads (0: all cores, default)")
    p.add_argument("--dtype", choices=DTYPES, default=None,
                   help="arithmetic of the model's kernels (default: the model's own, float64 "
                        "for n2p2 models); float32 is faster, energies good to ~1e-7 relative")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import os

    from ..core.provenance import __version__
    from ..export import load_model
    from ..validation.predict import predict_file

    model = load_model(args.model, length_unit=args.length_unit, energy_unit=args.energy_unit,
                       species=args.species)
    model.configure(n_threads=args.threads, dtype=args.dtype)
    summary = predict_file(
        model, args.input, args.output, length_unit=args.length_unit, energy_unit=args.energy_unit,
        keep_reference=args.keep_reference,
        progress=lambda frames: progress(frames, len(frames), "predict"),
        provenance={"model": os.path.abspath(args.model), "potforge_version": __version__})
    print(f"wrote {args.output}: {summary.line()}", file=sys.stderr if summary.n_extrapolations else sys.stdout)
    return 0
