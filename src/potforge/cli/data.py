"""``potforge data info FILE...`` and ``potforge data convert IN OUT``."""

from __future__ import annotations

import argparse
import json

from .common import add_unit_options

EXAMPLE = """\
examples:
  potforge data info ../shared/data/mlearn/Cu/train.xyz
  potforge data convert ../shared/data/n2p2/H2O_RPBE-D3/train/input.data water.xyz \\
      --length-unit bohr --energy-unit hartree
  potforge data convert water.xyz input.data --out-length-unit bohr --out-energy-unit hartree
  potforge data convert runs/Cu_vac/OUTCAR cu_vac.xyz          # every ionic step, free energy
  potforge data info runs/*/vasprun.xml relax.pwo --dft-energy sigma0
"""


def _add_read_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", metavar="NAME", help="format of the input files (default: from "
                        "the name or content): extxyz, n2p2, ase-db, or a DFT output: outcar, "
                        "vasprun, espresso, aims, castep, gpaw, cp2k or another ase.io format name")
    parser.add_argument("--dft-energy", choices=("free", "sigma0"), default="free",
                        help="energy of DFT outputs: free (default, the free energy the forces "
                        "belong to) or sigma0 (extrapolated to zero smearing)")
    parser.add_argument("--config-type", metavar="NAME",
                        help="config_type of every frame read (DFT outputs: default from the file name)")
    parser.add_argument("--group", metavar="NAME",
                        help="group of every frame read (DFT outputs: default the file's path)")


def _read_options(args: argparse.Namespace) -> dict:
    return {"length_unit": args.length_unit, "energy_unit": args.energy_unit,
            "dft_energy": args.dft_energy, "config_type": args.config_type, "group": args.group}


def add_parser(sub, name: str, help_text: str) -> None:
    p = sub.add_parser(name, help=help_text, description=help_text + ".", epilog=EXAMPLE,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    verbs = p.add_subparsers(dest="data_verb", metavar="ACTION", required=True)
    info = verbs.add_parser("info", help="counts per element and config_type, label statistics",
                            epilog=EXAMPLE, formatter_class=argparse.RawDescriptionHelpFormatter)
    info.add_argument("files", nargs="+", help="extended XYZ, n2p2 input.data, ASE database files "
                      "or DFT outputs (OUTCAR, vasprun.xml, pw.x, FHI-aims, CASTEP, GPAW, ...)")
    add_unit_options(info, "n2p2 input.data files")
    _add_read_options(info)
    info.add_argument("--json", action="store_true", help="print one JSON object")
    info.set_defaults(run=run_info)
    conv = verbs.add_parser("convert", help="convert between formats and units", epilog=EXAMPLE,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    conv.add_argument("input")
    conv.add_argument("output", help="format from the name: *.xyz, input.data / *.data, *.db")
    add_unit_options(conv, "the input if it is an n2p2 file")
    _add_read_options(conv)
    conv.add_argument("--out-length-unit", default="angstrom", metavar="UNIT",
                      help="length unit of an n2p2 output file (default angstrom)")
    conv.add_argument("--out-energy-unit", default="ev", metavar="UNIT",
                      help="energy unit of an n2p2 output file (default ev)")
    conv.set_defaults(run=run_convert)


def run_info(args: argparse.Namespace) -> int:
    from ..data.dataset import Dataset
    from ..validation.dataset_summary import dataset_summary, format_dataset_summary

    data = Dataset.read(args.files, args.format, **_read_options(args))
    summary = dataset_summary(data)
    if args.json:
        print(json.dumps(summary, indent=1))
    else:
        print(format_dataset_summary(summary, args.files))
    return 0


def run_convert(args: argparse.Namespace) -> int:
    from ..data.io import iter_frames, write_frames

    frames = list(iter_frames(args.input, args.format, **_read_options(args)))
    write_frames(args.output, frames, length_unit=args.out_length_unit,
                 energy_unit=args.out_energy_unit)
    print(f"wrote {len(frames)} frames to {args.output}")
    return 0
