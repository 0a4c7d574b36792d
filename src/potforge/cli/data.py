"""``potforge data info FILE...``, ``potforge data convert IN OUT`` and ``potforge data check FILE...``."""

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
  potforge data check ../shared/data/mlearn/Cu/train.xyz -o cu-check   # labels against each other
  potforge data check train.xyz --json | jq .stress_offset_gpa
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
    _add_check_parser(verbs)


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, found {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number, found {text!r}")
    return value


def _add_check_parser(verbs) -> None:
    check = verbs.add_parser(
        "check", help="labels against each other: energies vs the work of stresses and forces "
        "(with the fitted hydrostatic stress offset), duplicates, reference energies",
        description="Check a data set's labels against each other (docs/data_check.md).",
        epilog=EXAMPLE, formatter_class=argparse.RawDescriptionHelpFormatter)
    check.add_argument("files", nargs="+", metavar="DATA", help="files potforge reads (as data info)")
    add_unit_options(check, "n2p2 input.data files")
    _add_read_options(check)
    check.add_argument("--json", action="store_true", help="print one JSON object")
    check.add_argument("-o", "--output", metavar="DIR",
                       help="also write DIR/label_check.{txt,json,png} (the plot)")
    check.add_argument("--max-strain", type=_positive_float, default=0.05,
                       help="largest principal strain between paired cells (default 0.05)")
    check.add_argument("--max-displacement", type=_positive_float, default=0.1, metavar="ANGSTROM",
                       help="largest non-affine displacement between paired frames (default 0.1)")
    check.add_argument("--duplicate-tolerance", type=_positive_float, default=0.01, metavar="ANGSTROM",
                       help="largest displacement between duplicates (default 0.01)")
    check.add_argument("--energy-tolerance", type=_positive_float, default=0.5, metavar="MEV_PER_ATOM",
                       help="smallest energy mismatch worth naming (default 0.5)")
    check.add_argument("--outlier-z", type=_positive_float, default=10.0,
                       help="robust z-score above which a frame's energy is an outlier (default 10)")
    check.set_defaults(run=run_check)


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


def run_check(args: argparse.Namespace) -> int:
    import os
    from pathlib import Path

    from ..core.atomic import atomic_write
    from ..data.io import iter_frames
    from ..validation.label_check import LabelCheckOptions, check_labels
    from ..validation.label_check_report import format_label_check, label_check_plot

    frames, names, sources = [], [], []
    for path in args.files:
        for k, frame in enumerate(iter_frames(path, args.format, **_read_options(args))):
            frames.append(frame)
            names.append(f"{path}:frame {k} ({frame.config_type or '-'})")
            sources.append(os.fspath(path))
    options = LabelCheckOptions(max_strain=args.max_strain, max_displacement=args.max_displacement,
                                duplicate_tolerance=args.duplicate_tolerance,
                                energy_tolerance=args.energy_tolerance * 1e-3, outlier_z=args.outlier_z)
    report = check_labels(frames, names, sources, options)
    text = format_label_check(report, args.files)
    if args.output:
        out = Path(args.output)
        out.mkdir(parents=True, exist_ok=True)
        with atomic_write(out / "label_check.json") as fh:
            json.dump(report, fh, indent=1)
        with atomic_write(out / "label_check.txt") as fh:
            fh.write(text + "\n")
        label_check_plot(report, out / "label_check.png")
        text += f"\nwrote {out / 'label_check.txt'}, label_check.json, label_check.png"
    print(json.dumps(report, indent=1) if args.json else text)
    return 0
