"""``potforge lammps plugin [--force]``: build (once, cached) and print the path of potforge's
LAMMPS plugin (``pair_style potforge``) for the installed LAMMPS."""

from __future__ import annotations

import argparse
import sys

EXAMPLE = """\
examples:
  potforge lammps plugin                      # build if needed, print the .so path
  potforge export cu-model --format lammps -o cu-md   # potforge.lammps + in.lammps with 'plugin load'
  potforge export ../shared/data/n2p2/H2O_RPBE-D3 --format lammps -o water-md \\
      --length-unit bohr --energy-unit hartree        # an n2p2 model (units of its files)

In any LAMMPS input (units metal or real):
  plugin load /path/printed/above/potforge_lammps.so
  pair_style potforge [extrapolation warn|stop|ignore] [max_warnings N] [threads N]
  pair_coeff * * cu-md Cu
  compute ex all pair potforge        # c_ex[1] atoms, c_ex[2] functions out of range this step
"""


def add_parser(sub, name: str, help_text: str) -> None:
    p = sub.add_parser(name, help=help_text, description=help_text + ".", epilog=EXAMPLE,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    verbs = p.add_subparsers(dest="lammps_verb", metavar="ACTION", required=True)
    plug = verbs.add_parser("plugin", help="build the plugin for the installed LAMMPS (cached) and print its path",
                            epilog=EXAMPLE, formatter_class=argparse.RawDescriptionHelpFormatter)
    plug.add_argument("--force", action="store_true", help="rebuild even if a cached build exists")
    plug.set_defaults(run=run_plugin)


def run_plugin(args: argparse.Namespace) -> int:
    from ..data.lammps.plugin import plugin_path

    path = plugin_path(force=args.force, progress=lambda text: print(text, file=sys.stderr))
    print(path)
    return 0
