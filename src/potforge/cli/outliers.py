"""``potforge outliers MODEL_A MODEL_B [MODEL_C ...] DATA [-o DIR] [--json] [--clean FILE]``."""

from __future__ import annotations

import argparse
import json
import os
import sys

from .common import add_unit_options

EXAMPLE = """\
example (two models of mlearn Cu trained with different seeds, checked on data with wrong labels):
  potforge train examples/mlearn-cu/config.yaml -o cu-a --set training.seed=1
  potforge train examples/mlearn-cu/config.yaml -o cu-b --set training.seed=2
  potforge outliers cu-a cu-b data.xyz -o cu-outliers --clean data-clean.xyz
  potforge outliers cu-a cu-b data.xyz --json | jq .flagged

A frame is flagged when every model misses its label by more than --threshold robust standard
deviations of its errors on frames of the same config_type, in the same direction, and the
models agree with each other within --agreement x that error: the label, not the models, is then
the likely fault. Energies per frame, forces per atom and per frame (a wrong factor); details in
docs/outliers.md. -o writes outliers.csv and outliers.png.
"""


def add_parser(sub, name: str, help_text: str) -> None:
    p = sub.add_parser(name, help=help_text, description=help_text + ".", epilog=EXAMPLE,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("paths", nargs="+", metavar="MODEL ... DATA",
                   help="two or more model directories (potforge or n2p2), then the labelled data")
    p.add_argument("-o", "--output", metavar="DIR", help="write outliers.csv and outliers.png here")
    p.add_argument("--json", action="store_true", help="print one JSON object (flagged: 0-based frame indices)")
    p.add_argument("--clean", metavar="FILE", help="write the frames that are not flagged to FILE")
    p.add_argument("--threshold", type=float, default=5.0, help="robust z-score an error must exceed (default 5)")
    p.add_argument("--agreement", type=float, default=0.5,
                   help="the models' errors must differ by less than this fraction of the smallest (default 0.5)")
    add_unit_options(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..core.errors import ConfigError
    from ..data.dataset import Dataset
    from ..data.io import write_frames
    from ..export import load_model
    from ..validation.outliers import find_outliers, write_outlier_report

    if len(args.paths) < 3:
        raise ConfigError("outliers: give at least two models and the data (MODEL_A MODEL_B DATA)")
    if not args.threshold > 0:
        raise ConfigError(f"--threshold: expected a positive number, got {args.threshold}")
    if not 0 < args.agreement <= 1:
        raise ConfigError(f"--agreement: expected a fraction in (0, 1], got {args.agreement}")
    *model_paths, data = args.paths
    models = [load_model(p, length_unit=args.length_unit, energy_unit=args.energy_unit) for p in model_paths]
    frames = list(Dataset.read(data, length_unit=args.length_unit, energy_unit=args.energy_unit))
    bar = None if args.json else _bar(len(frames) * len(models))
    result = find_outliers(models, frames, names=[os.path.basename(os.path.normpath(p)) for p in model_paths],
                           threshold=args.threshold, agreement=args.agreement, source=data,
                           progress=bar)
    written = write_outlier_report(result, args.output) if args.output else []
    if args.clean:
        flagged = set(result.flagged)
        write_frames(args.clean, [f for i, f in enumerate(frames) if i not in flagged],
                     length_unit=args.length_unit, energy_unit=args.energy_unit)
        written.append(args.clean)
    if args.json:
        print(json.dumps(result.to_json()))
        return 0
    print(f"{len(result.flagged)} of {len(frames)} frames flagged as suspect labels "
          f"(threshold {args.threshold:g} robust sd, agreement {args.agreement:g})")
    for i in result.flagged:
        what = []
        if result.energy_suspect[i]:
            what.append("energy " + ", ".join(f"{1000 * v:+.2f}" for v in result.energy_errors[i]) + " meV/atom")
        if result.force_suspect_atoms[i]:
            atoms = result.force_suspect_atoms[i]
            what.append(f"forces of atom{'s' if len(atoms) > 1 else ''} {', '.join(map(str, atoms[:8]))}"
                        + (" ..." if len(atoms) > 8 else ""))
        print(f"  frame {i} ({result.config_types[i] or 'no config_type'}): {'; '.join(what)}")
    for path in written:
        print(f"wrote {path}")
    return 0


def _bar(total: int):
    state = {"next": 0}

    def update(done: int, _total: int) -> None:
        if done >= state["next"] or done == total:
            print(f"\rpredicting {done}/{total}", end="" if done < total else "\n", file=sys.stderr, flush=True)
            state["next"] = done + max(1, total // 20)
    return update
