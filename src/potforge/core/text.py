"""Small helpers for the text formats (readers report what was wrong and where)."""

from __future__ import annotations

import contextlib
import math
import os
import re
from collections.abc import Iterator
from typing import IO

from .errors import DataFormatError, PotforgeError

__all__ = ["is_number", "first_non_number", "parse_float", "parse_int", "shorten", "open_text"]

# What the file formats potforge reads mean by a number: ASCII digits with an optional sign,
# decimal point and exponent, or nan/inf. Python's float() also takes Unicode digits ("١٢"),
# underscores ("1_0") and surrounding whitespace, which no C/Fortran program (n2p2, LAMMPS,
# VASP) would read as the same number, so readers use this stricter test.
_NUMBER = re.compile(r"[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|nan|inf|infinity)",
                     re.IGNORECASE)
_INTEGER = re.compile(r"[+-]?[0-9]+")


def is_number(text: str) -> bool:
    """Whether ``text`` is a plain ASCII number (``float`` syntax without Unicode digits,
    underscores or spaces; nan and inf count as numbers, finiteness is checked elsewhere)."""
    return _NUMBER.fullmatch(text) is not None


def shorten(text: object, limit: int = 60) -> str:
    """``repr``-free short form of a value for an error message: at most ``limit`` characters,
    with the length of what was left out (a message never echoes a whole 800 kB line)."""
    text = str(text)
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text)} characters)"


def parse_float(token: str, what: str, *, error: type[PotforgeError] = DataFormatError,
                path: object | None = None, line: int | None = None, finite: bool = True) -> float:
    """``token`` as a float, or a one-line ``error`` naming ``what`` (and file and line):
    strict ASCII syntax (:func:`is_number`); with ``finite`` nan and ±inf are refused too."""
    if not is_number(token):
        raise error(f"{what}: expected a number, found {shorten(token)!r}", path=path, line=line)
    value = float(token)
    if finite and not math.isfinite(value):
        raise error(f"{what}: expected a finite number, found {token}", path=path, line=line)
    return value


def parse_int(token: str, what: str, *, error: type[PotforgeError] = DataFormatError,
              path: object | None = None, line: int | None = None) -> int:
    """``token`` as an int (ASCII digits with an optional sign), or a one-line ``error``."""
    if _INTEGER.fullmatch(token) is None:
        raise error(f"{what}: expected an integer, found {shorten(token)!r}", path=path, line=line)
    return int(token)


def first_non_number(tokens) -> str | None:
    """The first token that is not a number, or None."""
    return next((t for t in tokens if not is_number(t)), None)


@contextlib.contextmanager
def open_text(path: str | os.PathLike, what: str,
              error: type[PotforgeError] = DataFormatError) -> Iterator[IO[str]]:
    """Open a UTF-8 text file for reading; a missing file, a directory or bytes that are not
    UTF-8 become one-line errors of class ``error`` naming the file (``what`` names the
    expected kind)."""
    name = os.fspath(path)
    try:
        handle = open(path, encoding="utf-8")
    except FileNotFoundError:
        raise error("no such file", path=name) from None
    except IsADirectoryError:
        raise error(f"is a directory, expected {what}", path=name) from None
    with handle:
        try:
            yield handle
        except UnicodeDecodeError as err:
            raise error(f"not UTF-8 text ({err.reason} at byte {err.start} of a block)",
                        path=name) from None


def read_text(path: str | os.PathLike, what: str,
              error: type[PotforgeError] = DataFormatError) -> str:
    """The whole text of a file, with the errors of :func:`open_text`."""
    with open_text(path, what, error) as handle:
        return handle.read()
