"""Small helpers for the text formats (readers report what was wrong and where)."""

from __future__ import annotations

import contextlib
import math
import os
import re
import stat
from collections.abc import Iterator
from typing import IO

from .errors import DataFormatError, PotforgeError

__all__ = ["is_number", "first_non_number", "parse_float", "parse_floats", "parse_int", "shorten",
           "split_fields", "split_lines", "number_characters_only", "open_text", "read_text", "decode_error_location"]

# What the file formats potforge reads mean by a number: ASCII digits with an optional sign,
# decimal point and exponent, or nan/inf. Python's float() also takes Unicode digits ("١٢"),
# underscores ("1_0") and surrounding whitespace, which no C/Fortran program (n2p2, LAMMPS,
# VASP) would read as the same number, so readers use this stricter test.
# (written so that no string can make the match backtrack: "[0-9]+\.?[0-9]*" would try every
# split of a long run of digits between its two parts, minutes for an 800 kB token)
_NUMBER = re.compile(r"[+-]?(?:(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|nan|inf|infinity)",
                     re.IGNORECASE)
_INTEGER = re.compile(r"[+-]?[0-9]{1,19}")  # int64 has 19 digits; longer is never a count


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


_ASCII_SPACE = re.compile(r"[ \t\n\r\f\v]+")
_NUMBER_CHARACTERS = re.compile(r"[0-9.eE+\-nNaAiIfFtTyY]*")


def split_fields(line: str) -> list[str]:
    """The fields of a line split at ASCII whitespace only, as C and Fortran programs split
    them: ``str.split`` would also split at a no-break space or a Unicode line separator
    and so read two numbers where n2p2 or LAMMPS see one broken token."""
    if line.isascii() and "\x1c" not in line and "\x1d" not in line and "\x1e" not in line \
            and "\x1f" not in line:    # (four substring tests cost less than one regex search)
        return line.split()
    return [t for t in _ASCII_SPACE.split(line) if t]


def number_characters_only(text: str) -> bool:
    """Whether ``text`` holds only characters that numbers are written with (ASCII digits,
    ``.eE+-`` and the letters of nan/inf/infinity): for such text Python's ``float`` and
    ``int`` accept exactly the strict syntax of :func:`is_number`, so a reader may use them."""
    return _NUMBER_CHARACTERS.fullmatch(text) is not None


def split_lines(lines: list[str]) -> list[list[str]]:
    """:func:`split_fields` of each line (one check of the whole block where it is plain ASCII)."""
    block = "".join(lines)
    if block.isascii() and "\x1c" not in block and "\x1d" not in block and "\x1e" not in block \
            and "\x1f" not in block:
        return [line.split() for line in lines]
    return [split_fields(line) for line in lines]


def parse_floats(tokens: list[str], what: str, *, error: type[PotforgeError] = DataFormatError,
                 path: object | None = None, line: int | None = None,
                 finite: bool = True) -> list[float]:
    """Every token as a float with the rules of :func:`parse_float` (fast when all is well:
    a token made of the characters of numbers only, which ``float`` accepts, is exactly
    what :func:`is_number` accepts)."""
    joined = "".join(tokens)
    values = None
    if number_characters_only(joined):
        try:
            values = [float(t) for t in tokens]
        except ValueError:
            values = None
    if values is None:
        return [parse_float(t, what, error=error, path=path, line=line, finite=finite) for t in tokens]
    # (a finite sum means all are finite; an infinite one is looked at value by value)
    if finite and not math.isfinite(sum(values)) and not all(math.isfinite(v) for v in values):
        bad = next(t for t, v in zip(tokens, values) if not math.isfinite(v))
        raise error(f"{what} holds a non-finite number ({shorten(bad)}); expected finite numbers",
                    path=path, line=line)
    return values


def _regular_file(path: str | os.PathLike, what: str, error: type[PotforgeError]) -> str:
    """The name of ``path`` if it is a file that can be read to its end (a FIFO or a device
    such as /dev/zero would block or never end), else a one-line ``error``."""
    name = os.fspath(path)
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise error("no such file", path=name) from None
    except OSError as err:
        raise error(f"cannot read ({err.strerror or err})", path=name) from None
    if stat.S_ISDIR(mode):
        raise error(f"is a directory, expected {what}", path=name)
    if not stat.S_ISREG(mode):
        raise error(f"not a regular file, expected {what}", path=name)
    return name


def decode_error_location(path: str | os.PathLike,
                          chunk_size: int = 1 << 20) -> tuple[int, int, int, str] | None:
    """Where the first byte sequence that is not UTF-8 lies in a file: ``(line, column,
    byte offset, reason)``, line and column counted from 1 (the column in characters; lines
    end at \\n, \\r\\n or \\r, as Python's text mode reads them), or None if the whole
    file decodes. Reads the file in chunks, so any size is fine."""
    line, line_start, offset = 1, 0, 0
    carry = b""
    last_was_cr = False
    with open(path, "rb") as handle:
        while True:
            block = handle.read(chunk_size)
            data = carry + block
            problem = None
            try:
                data.decode("utf-8")
                good = len(data)
            except UnicodeDecodeError as err:
                good = err.start
                if block and err.end == len(data) and err.reason == "unexpected end of data":
                    pass                # a character cut by the chunk border: read on
                else:
                    problem = err
            text = data[:good]
            breaks = text.count(b"\n") + text.count(b"\r") - text.count(b"\r\n")
            if last_was_cr and text.startswith(b"\n"):
                breaks -= 1             # a \r\n split by the chunk border is one line end
            line += breaks
            last_end = max(text.rfind(b"\n"), text.rfind(b"\r"))
            if last_end >= 0:
                line_start = offset + last_end + 1
            if text:
                last_was_cr = text.endswith(b"\r")
            if problem is not None:
                at = offset + good
                handle.seek(line_start)
                column = len(handle.read(at - line_start).decode("utf-8")) + 1
                found = data[problem.start:problem.end].hex(" ")
                return line, column, at, f"{problem.reason} (0x{found})"
            if not block:
                return None
            offset += good
            carry = data[good:]


def _not_utf8(path: str | os.PathLike, error: type[PotforgeError]) -> PotforgeError:
    name = os.fspath(path)
    where = decode_error_location(path)
    if where is None:   # the file changed under us; still one line
        return error("not UTF-8 text", path=name)
    line, column, offset, reason = where
    return error(f"not UTF-8 text at column {column} (byte {offset} of the file): {reason}",
                 path=name, line=line)


@contextlib.contextmanager
def open_text(path: str | os.PathLike, what: str,
              error: type[PotforgeError] = DataFormatError) -> Iterator[IO[str]]:
    """Open a UTF-8 text file for reading; a missing file, a directory, something that is not
    a regular file or bytes that are not UTF-8 become one-line errors of class ``error``
    naming the file (and for bad bytes the line, column and byte offset; ``what`` names the
    expected kind)."""
    name = _regular_file(path, what, error)
    try:
        handle = open(path, encoding="utf-8")
    except OSError as err:
        raise error(f"cannot read ({err.strerror or err})", path=name) from None
    with handle:
        try:
            yield handle
        except UnicodeDecodeError:
            raise _not_utf8(path, error) from None


def read_text(path: str | os.PathLike, what: str,
              error: type[PotforgeError] = DataFormatError) -> str:
    """The whole text of a file, with the errors of :func:`open_text`."""
    with open_text(path, what, error) as handle:
        return handle.read()
