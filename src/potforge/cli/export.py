"""``potforge export MODEL --format n2p2|lammps -o DIR``."""

from __future__ import annotations

import argparse

EXAMPLE = """\
examples:
  potforge export cu-zuo --format n2p2 -o cu-zuo-n2p2
  potforge export cu-zuo --format n2p2 -o cu-zuo-n2p2-bohr --length-unit bohr --energy-unit hartree
  potforge export si-tersoff --format lammps -o si-lammps
  potforge export cu-eam --format lammps -o cu-lammps --rho-max 60
  potforge export cu-eam --format lammps -o cu-lammps-fs --style eam/fs

n2p2: the files (input.nn, scaling.data, weights.ZZZ.data) predict the same energies and
forces as the model; LAMMPS reads them with pair_style hdnnp (give cflength/cfenergy if the
files are not in Å/eV).

models with baselines: --format lammps (classical models) overlays them in in.lammps;
--format n2p2 (HDNNPs) writes the model's n2p2 files and baselines.lammps with the LAMMPS lines
that add the baselines (n2p2 itself does not add them).

lammps (classical models): a potential file (.table, .eam.alloy, .eam.fs, .eam, .tersoff or .sw) and
in.lammps with the pair_style/pair_coeff lines; run it with
  cd si-lammps && lmp -in in.lammps -var data structure.data
lammps (2G HDNNPs, potforge or n2p2 models): potforge.lammps for pair_style potforge, potforge's LAMMPS
plugin (built on first use for the installed LAMMPS: potforge lammps plugin), and in.lammps with its
plugin load line; for an n2p2 directory --length-unit/--energy-unit are the units of its files:
  potforge export ../shared/data/n2p2/H2O_RPBE-D3 --format lammps -o water-md --length-unit bohr --energy-unit hartree
"""


def add_parser(sub, name: str, help_text: str) -> None:
    p = sub.add_parser(name, help=help_text, description=help_text + ".", epilog=EXAMPLE,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", help="potforge model directory (model.json); for --format lammps also an "
                   "n2p2 model directory (input.nn; --length-unit/--energy-unit: the units of its files)")
    p.add_argument("--format", required=True, metavar="FORMAT",
                   help="one the model's family writes: n2p2 (HDNNPs), lammps (classical models, and 2G "
                        "HDNNPs for potforge's LAMMPS plugin, pair_style potforge)")
    p.add_argument("-o", "--output", required=True, help="output directory")
    p.add_argument("--length-unit", default=None,
                   help="n2p2: length unit of the files (default angstrom; 4G models: bohr)")
    p.add_argument("--energy-unit", default=None,
                   help="n2p2: energy unit of the files (default ev; 4G models: hartree)")
    p.add_argument("--rho-max", type=float, default=None,
                   help="lammps, EAM: largest tabulated host density (default: 2x a compressed fcc crystal's)")
    p.add_argument("--table-points", type=int, default=None,
                   help="lammps, pair and EAM: points per table (default 10000)")
    p.add_argument("--style", default=None,
                   help="lammps, EAM: the pair style to write, eam/alloy (default for fitted EAM), eam/fs "
                        "or eam (funcfl; repulsive pairs mixed as geometric means only)")
    p.add_argument("--drop-unsupported", action="store_true", default=None,
                   help="lammps/n2p2, models with baselines: write what LAMMPS has styles for and leave out "
                        "the rest (e.g. D3's three-body term), saying so in in.lammps")
    p.add_argument("--allow-charged-difference", action="store_true", default=None,
                   help="n2p2, 4G models in the physical convention: write them although n2p2 has no "
                        "neutralising background (charged periodic cells then predict differently)")
    p.set_defaults(run=run)


#: the options of this command that go to the exporter
_OPTIONS = ("length_unit", "energy_unit", "rho_max", "table_points", "style", "drop_unsupported",
            "allow_charged_difference")


def run(args: argparse.Namespace) -> int:
    # potforge models; for --format lammps (always metal units) also n2p2 model directories,
    # read in the units --length-unit/--energy-unit name (for n2p2 output they are those of
    # the files written, so an n2p2 directory cannot be exported to n2p2 here)
    from pathlib import Path

    from ..core.errors import ConfigError, ModelFormatError
    from ..export import export_model, export_options
    from ..models.registry import family, load_potential

    if args.format == "lammps" and not (Path(args.model) / "model.json").is_file():
        from ..export import load_model

        model = load_model(args.model, length_unit=args.length_unit or "angstrom",
                           energy_unit=args.energy_unit or "ev")
        args.length_unit = args.energy_unit = None
    else:
        model = load_potential(args.model)
    try:
        accepted = export_options(model, args.format)
    except ModelFormatError as err:
        hint = ""
        if args.format == "lammps" and "n2p2" in family(model.kind).exporter_refs:
            hint = ("; the LAMMPS plugin runs 2G HDNNPs only; LAMMPS builds with n2p2's pair_style hdnnp "
                    "run the files of --format n2p2")
        raise ModelFormatError(err.reason + hint, path=args.model) from None
    options = {name: getattr(args, name) for name in _OPTIONS if getattr(args, name) is not None}
    for name in options:
        if name not in accepted:
            flags = ", ".join("--" + n.replace("_", "-") for n in _OPTIONS if n in accepted)
            raise ConfigError(f"--{name.replace('_', '-')}: does not apply to the {args.format} export "
                              f"of a {model.kind} model (it takes: {flags or 'none of the options'})")
    written = export_model(model, args.format, args.output, **options)
    for path in written["files"]:
        print(f"wrote {path}")
    if "pair_style" in written:
        print(f"pair_style {written['pair_style']}")
        for line in written["pair_coeff"]:
            print(line)
    if written.get("note"):
        print(f"note: {written['note']}")
    offsets = written.get("energy_offsets", {})
    if any(v != 0.0 for v in offsets.values()):
        text = ", ".join(f"{s} {v:g}" for s, v in offsets.items())
        print(f"note: LAMMPS leaves out the per-atom energy offsets (eV) {text}; see in.lammps")
    return 0
