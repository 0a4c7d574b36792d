"""The potforge error tree.

Every error a user can cause by their input is a :class:`PotforgeError`. Its message is one
line that says where (``input.data:1234``, ``frame 17``, or a dotted config key), what was
found and what was expected; the CLI prints exactly that line and exits with status 2.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

__all__ = [
    "PotforgeError",
    "ConfigError",
    "UnitError",
    "DataFormatError",
    "ModelFormatError",
    "StructureError",
    "OutputError",
    "UnknownElementError",
    "NotFittedError",
    "NonFiniteError",
    "location",
    "located",
    "nearest",
]


MESSAGE_LIMIT = 500


def nearest(name: str, options) -> str | None:
    """The option closest to ``name`` (difflib), or None: the "did you mean" of messages."""
    import difflib  # stdlib, needed on error paths only

    close = difflib.get_close_matches(name, list(options), n=1, cutoff=0.5)
    return close[0] if close else None


def location(path: object | None = None, line: int | None = None, frame: int | None = None) -> str:
    """Format a location prefix such as ``input.data:12`` or ``data.xyz frame 3``."""
    parts = []
    if path is not None:
        parts.append(f"{path}:{line}" if line is not None else str(path))
    elif line is not None:
        parts.append(f"line {line}")
    if frame is not None:
        parts.append(f"frame {frame}")
    return " ".join(parts)


class PotforgeError(Exception):
    """Base class of all errors caused by user input (files, configs, structures)."""

    def __init__(self, message: str, *, path: object | None = None, line: int | None = None,
                 frame: int | None = None) -> None:
        self.path = path
        self.line = line
        self.frame = frame
        # one line, of a readable length, whatever value the caller put in it (a reader that
        # echoes a corrupted 800 kB line must not flood the terminal)
        message = " ".join(str(message).split("\n"))
        if len(message) > MESSAGE_LIMIT:
            message = f"{message[:MESSAGE_LIMIT]}… (message cut at {MESSAGE_LIMIT} characters)"
        self.reason = message
        where = location(path, line, frame)
        super().__init__(f"{where}: {message}" if where else message)


class ConfigError(PotforgeError, ValueError):
    """A configuration value or option is invalid (the message names the dotted key)."""


class UnitError(ConfigError):
    """An unknown or inconsistent unit name."""


class DataFormatError(PotforgeError, ValueError):
    """A data file (extxyz, input.data, ASE db) is malformed."""


class ModelFormatError(PotforgeError, ValueError):
    """A model file (input.nn, scaling.data, weights, a potforge model) is malformed or inconsistent."""


class OutputError(PotforgeError):
    """An output cannot be written (no such folder, not writable, disk full); any existing
    output is left as it was."""


class StructureError(PotforgeError, ValueError):
    """A structure cannot be evaluated: NaN/inf coordinates, overlapping atoms, singular cell."""


class UnknownElementError(PotforgeError, KeyError):
    """A structure holds an element that the model does not know."""

    def __str__(self) -> str:  # KeyError would otherwise quote the message
        return Exception.__str__(self)


class NotFittedError(PotforgeError, RuntimeError):
    """A fitter or model was used before ``fit`` was called."""


class NonFiniteError(PotforgeError, FloatingPointError):
    """A model gave NaN or infinity (a prediction, a loss, a parameter); the message names the
    frame (or epoch and batch) and the quantity. Nothing non-finite is ever written."""


@contextlib.contextmanager
def located(path: object) -> Iterator[None]:
    """Add ``path`` to PotforgeErrors raised inside that do not name a file yet (e.g. a
    writer's complaint about a frame gets the name of the file being written)."""
    try:
        yield
    except PotforgeError as err:
        if err.path is not None:
            raise
        raise type(err)(err.reason, path=path, line=err.line, frame=err.frame) from None
