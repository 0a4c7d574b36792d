"""``potforge properties MODEL --element EL --lattice LAT [--only ...] [--json] [--dft DATA]``."""

from __future__ import annotations

import argparse
import sys

from .common import add_species_option, add_unit_options, non_negative_int

EXAMPLE = """\
example (a Cu model; lattice constant and elastic constants only, compared with the mlearn DFT data):
  potforge properties my-cu-model --element Cu --lattice fcc --only lattice,elastic \\
      --dft ../shared/data/mlearn/Cu/train.xyz

properties (--only, comma-separated; default: all that apply to the lattice):
  lattice         a0 (and c for hcp), cohesive energy          (always computed)
  eos             Birch-Murnaghan E0, V0, B0, B0'
  elastic         Cij (stress-strain, ±0.5 %), C11, C12, C44, Cauchy pressure
  vacancy         relaxed mono-vacancy formation energy (>= 100-atom cell)
  surfaces        (100), (110), (111) surface energies (fcc, bcc; diamond (100), (111))
  stacking_fault  fcc intrinsic stacking-fault energy
  phonons         frequencies at high-symmetry points (finite displacements)

--json prints one JSON object (Å, eV, GPa, J/m², mJ/m², THz; the unit is in each key).
--dft DATA adds the properties that labelled DFT frames (extended XYZ with config_type
Elastic/Vacancy, as in mlearn) allow, and prints a model | DFT | difference table.
Progress lines go to stderr.
"""


def add_parser(sub, name: str, help_text: str) -> None:
    p = sub.add_parser(name, help=help_text, description=help_text + ".", epilog=EXAMPLE,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", help="potforge model directory (model.json) or n2p2 model directory (input.nn)")
    p.add_argument("--element", required=True, help="chemical symbol, e.g. Cu")
    p.add_argument("--lattice", required=True, metavar="LATTICE",
                   help="fcc, bcc, hcp, diamond or sc")
    p.add_argument("--only", metavar="LIST",
                   help="comma-separated subset: lattice,eos,elastic,vacancy,surfaces,"
                        "stacking_fault,phonons")
    p.add_argument("--a-guess", type=float, default=None, metavar="A0",
                   help="starting lattice constant (default: ASE's reference state)")
    p.add_argument("--dft", metavar="DATA", help="labelled DFT frames (extended XYZ) to compare with")
    p.add_argument("--json", action="store_true", help="print the properties as one JSON object")
    add_unit_options(p, what="an n2p2 model")
    add_species_option(p)
    p.add_argument("--threads", type=non_negative_int, default=0, help="threads (0: all cores, default)")
    p.set_defaults(run=run)


def _format_value(key: str, value) -> str:
    if key == "phonons_thz":
        return "; ".join(f"{point}: {' '.join(f'{f:.3f}' for f in freqs)}"
                         for point, freqs in value.items())
    if key == "cij_gpa":
        return "\n" + "\n".join("    " + " ".join(f"{c:9.2f}" for c in row) for row in value)
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def _read_dft(path: str) -> list:
    from ase.io import read

    from ..core.errors import DataFormatError

    try:
        frames = read(path, ":")
    except FileNotFoundError:
        raise DataFormatError("no such file", path=path) from None
    except Exception as err:  # ASE raises many kinds for malformed files
        raise DataFormatError(f"cannot read as labelled structures: {err}", path=path) from None
    return frames if isinstance(frames, list) else [frames]


def run(args: argparse.Namespace) -> int:
    import json

    from ..calculators.ase import PotforgeCalculator
    from ..core.crystals import check_lattice
    from ..core.elements import check_element
    from ..core.errors import ConfigError, UnknownElementError, located
    from ..export import load_model
    from ..validation.properties import comparison_table, property_table, reference_properties

    element = check_element(args.element.strip())
    lattice = check_lattice(args.lattice)
    which = None
    if args.only is not None:
        which = [name for name in args.only.split(",") if name.strip()]
        if not which:
            raise ConfigError("--only: give at least one property name")
    calc = PotforgeCalculator(load_model(args.model, length_unit=args.length_unit,
                                         energy_unit=args.energy_unit, species=args.species))
    if hasattr(calc.potential, "n_threads"):
        calc.potential.configure(n_threads=args.threads)
    species = tuple(calc.potential.species)
    if element not in species:
        raise UnknownElementError(f"--element {element}: the model does not know {element}; "
                                  f"model species: {', '.join(species)}")
    dft = None
    if args.dft is not None:
        with located(args.dft):
            dft = reference_properties(_read_dft(args.dft), element, lattice)

    try:
        props = property_table(calc, element, lattice, which=which, a_guess=args.a_guess,
                               progress=lambda line: print(f"properties: {line}", file=sys.stderr,
                                                           flush=True))
    except UnknownElementError as err:
        raise UnknownElementError(f"--element {element}: {err.reason}") from None

    if args.json:
        out = {**props}
        if dft is not None:
            out["dft"] = dft
        print(json.dumps(_finite(out), allow_nan=False))
        return 0
    print(f"{args.model}: {element} {lattice}")
    for key, value in props.items():
        if key in ("element", "lattice", "warnings"):
            continue
        print(f"  {key:32s} {_format_value(key, value)}")
    for text in props.get("warnings", ()):
        print(f"  warning: {text}")
    if dft is not None:
        print()
        print(f"Comparison with {args.dft}:")
        print(comparison_table(props, dft))
    return 0


def _finite(value):
    """NaN and infinities as null: JSON has no spelling for them."""
    import math

    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value
