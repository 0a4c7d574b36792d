"""``potforge label INPUT --calculator CALC.yaml --db OUT.db [--workers N] [--dask local|ADDRESS]``."""

from __future__ import annotations

import argparse
import sys

from .common import add_unit_options, positive_int

EXAMPLE = """\
examples:
  # fast stand-in (EMT) for a dry run, two local worker processes
  printf 'name: emt\\n' > emt.yaml
  potforge label structures.xyz --calculator emt.yaml --db labelled.db --workers 2

  # GPAW plane waves for Al (examples/al-gpaw/calculator.yaml); kill it any time and run the
  # same command again: finished structures are skipped
  potforge label structures.xyz --calculator examples/al-gpaw/calculator.yaml --db al.db \\
      --workers 4
  potforge label structures.xyz --calculator calc.yaml --db al.db --dask tcp://host:8786

calculator YAML:
  name: gpaw              # gpaw, emt, or an import path package.module:ClassName
  parameters: {...}       # constructor keyword arguments
  retry: [{mixing: {beta: 0.05}}]   # overrides for the 1st, 2nd, ... retry after a failure
  max_retries: 1          # default: the number of retry entries
  timeout: 600 s          # per structure and attempt (default: none)

The database (ASE SQLite) holds one row per input structure: status=done with energy, forces
and stress (periodic cells), or status=failed with the reason. It is a potforge data file:
  potforge data info labelled.db; training configs may list labelled.db as data.
"""


def add_parser(sub, name: str, help_text: str) -> None:
    p = sub.add_parser(name, help=help_text, description=help_text + ".", epilog=EXAMPLE,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("input", help="structures: extended XYZ, n2p2 input.data or ASE database")
    p.add_argument("--calculator", required=True, metavar="CALC.yaml",
                   help="calculator YAML (name, parameters, retry, max_retries, timeout)")
    p.add_argument("--db", required=True, metavar="OUT.db",
                   help="output ASE database; an existing one with the same settings is resumed")
    p.add_argument("--workers", type=positive_int, default=1, metavar="N",
                   help="worker processes (default 1: in this process); with --dask local, "
                        "the number of Dask workers")
    p.add_argument("--dask", metavar="local|ADDRESS", default=None,
                   help="run on Dask: 'local' starts a LocalCluster of --workers processes; an "
                        "address (tcp://host:8786) connects to a running scheduler")
    p.add_argument("--retry-failed", action="store_true",
                   help="retry structures that failed in an earlier run")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    add_unit_options(p, "an n2p2 input file")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..core.errors import located
    from ..data.io import read_frames
    from ..generate.calculators import check_calculator, load_calculator_spec
    from ..generate.labelling import label

    with located(args.calculator):
        spec = load_calculator_spec(args.calculator)
        check_calculator(spec)
    with located(args.input):
        frames = read_frames(args.input, length_unit=args.length_unit,
                             energy_unit=args.energy_unit)
    report = label(frames, spec, args.db, workers=args.workers, dask=args.dask,
                   retry_failed=args.retry_failed, progress=None if args.quiet else True)
    print(report.summary())
    sys.stdout.flush()
    return 0
