"""``potforge evaluate MODEL DATA [--json] [--report DIR]``."""

from __future__ import annotations

import argparse
import sys

from ..core.dtypes import DTYPES
from .common import add_species_option, add_unit_options, non_negative_int, progress

EXAMPLE = """\
example (from the repository root: the shipped water model and its 20 DFT boxes, Bohr/Hartree):
  potforge evaluate src/potforge/demo_data/H2O_RPBE-D3 \\
      src/potforge/demo_data/H2O_RPBE-D3/reference.data \\
      --length-unit bohr --energy-unit hartree --report water-report

--json prints one JSON object (meV/atom, eV/Å, GPa; null where the data have no such label).
--report writes parity.png, metrics.json, report.md and, if MODEL holds learning_curve.csv,
learning_curve.png.
"""


def add_parser(sub, name: str, help_text: str) -> None:
    p = sub.add_parser(name, help=help_text, description=help_text + ".", epilog=EXAMPLE,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", help="potforge model directory (model.json) or n2p2 model directory (input.nn)")
    p.add_argument("data", help="labelled structures: extended XYZ, n2p2 input.data or ASE database")
    p.add_argument("--json", action="store_true", help="print the errors as one JSON object")
    p.add_argument("--report", metavar="DIR",
                   help="write parity plots, metrics.json and report.md into DIR")
    add_unit_options(p)
    add_species_option(p)
    p.add_argument("--threads", type=non_negative_int, default=0, help="threads (0: all cores, default)")
    p.add_argument("--dtype", choices=DTYPES, default=None,
                   help="arithmetic of the model's kernels (default: the model's own)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import json
    import os
    from pathlib import Path

    from ..data.dataset import Dataset
    from ..export import load_model
    from ..validation.evaluate import evaluate
    from ..validation.report import write_report

    model = load_model(args.model, length_unit=args.length_unit, energy_unit=args.energy_unit,
                       species=args.species)
    model.configure(dtype=args.dtype)
    frames = Dataset.read(args.data, length_unit=args.length_unit, energy_unit=args.energy_unit)
    result = evaluate(model, frames, n_threads=args.threads, source=os.fspath(args.data),
                      progress=lambda fs: progress(fs, len(fs), "evaluate"))
    if result.summary.n_extrapolations:
        print(result.summary.line(), file=sys.stderr)
    if result.note:
        print(f"note: {result.note}", file=sys.stderr)
    if result.stress_offset is not None:
        o = result.stress_offset
        print(f"note: the model was fitted to stress labels + s·I (loss.stress_offset, s = {o['offset_gpa']:.3f} "
              f"GPa); against the labels so corrected: stress RMSE {o['stress_rmse_gpa']:.3f} GPa, MAE "
              f"{o['stress_mae_gpa']:.3f} GPa (the table: against the labels as given)", file=sys.stderr)

    written = None
    if args.report is not None:
        curve = Path(args.model) / "learning_curve.csv"
        written = write_report(result, args.report, title=f"Evaluation of {Path(args.model).name}",
                               model_path=os.path.abspath(args.model), data_path=os.path.abspath(args.data),
                               learning_curve_csv=curve if curve.is_file() else None)

    if args.json:
        out = {"model": os.path.abspath(args.model), "data": os.path.abspath(args.data),
               **result.to_dict()}
        print(json.dumps(out, allow_nan=False))
        if written is not None:
            print(f"wrote {written}", file=sys.stderr)
    else:
        print(f"{args.model} on {args.data}: {result.n_frames} frames, {result.n_atoms} atoms")
        print(result.table())
        if written is not None:
            print(f"wrote {written}")
    return 0
