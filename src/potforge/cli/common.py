"""Helpers shared by the CLI verbs (argument groups, progress)."""

from __future__ import annotations

import argparse
import sys


def add_unit_options(parser: argparse.ArgumentParser, what: str = "n2p2 model and data files") -> None:
    parser.add_argument("--length-unit", default="angstrom", metavar="UNIT",
                        help=f"length unit of {what}: angstrom (default) or bohr")
    parser.add_argument("--energy-unit", default="ev", metavar="UNIT",
                        help=f"energy unit of {what}: ev (default) or hartree")


def add_species_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--species", default=None, metavar="NAMES",
                        help="LAMMPS potential files: the file's elements to use, in order, as in "
                             "'pair_coeff * * FILE el1 el2'; NAME=SYMBOL reads the file's element NAME "
                             "as the chemical element SYMBOL (e.g. --species 'Si(D)=Si,C')")


def progress(iterable, total: int | None, description: str, *, minimum: int = 20):
    """A tqdm progress bar on stderr for long inputs (imports tqdm only then)."""
    if total is not None and total < minimum:
        return iterable
    from tqdm import tqdm

    return tqdm(iterable, total=total, desc=description, unit="frame", file=sys.stderr,
                dynamic_ncols=True, leave=False)


def non_negative_int(text: str, *, minimum: int = 0) -> int:
    """argparse type: an integer >= 0 (>= ``minimum``)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {value}")
    return value


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    return non_negative_int(text, minimum=1)
