"""Small helpers for the text formats (readers report what was wrong and where)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import IO

from .errors import DataFormatError, PotforgeError

__all__ = ["is_number", "first_non_number", "open_text"]


def is_number(text: str) -> bool:
    """Whether ``float(text)`` succeeds."""
    try:
        float(text)
    except ValueError:
        return False
    return True


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
