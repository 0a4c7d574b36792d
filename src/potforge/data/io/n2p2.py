"""n2p2 / RuNNer ``input.data`` files.

Layout (one block per structure)::

    begin
    comment <free text>                  (any number of lines)
    lattice <ax> <ay> <az>               (exactly three lines for periodic structures, none otherwise)
    atom <x> <y> <z> <element> <charge> <atomic energy> <fx> <fy> <fz>
    energy <E>
    charge <Q>
    end

The file has no units of its own; n2p2 data are often in Bohr and Hartree. ``length_unit``
and ``energy_unit`` say what the file uses and the reader converts to Å and eV (forces in
energy/length). Labels the format cannot hold (stress, config_type, group, weight, other
metadata) are written to one extra ``comment potforge {json}`` line that n2p2 ignores and
this reader restores, so potforge frames round-trip exactly.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator

import numpy as np
from ase import Atoms

from ...core.atomic import atomic_write
from ...core.elements import is_element
from ...core.errors import DataFormatError, located
from ...core.text import open_text, parse_floats, shorten, split_fields
from ...core.units import energy_factor, length_factor
from ..frame import Frame, check_frame, frame_problem

__all__ = ["read_input_data", "iter_input_data", "write_input_data"]

_META_PREFIX = "potforge "


def iter_input_data(path: str | os.PathLike, *, length_unit: str = "angstrom",
                    energy_unit: str = "ev") -> Iterator[Frame]:
    """Yield the frames of an ``input.data`` file one by one (see module docstring)."""
    lf = length_factor(length_unit, "length_unit")
    ef = energy_factor(energy_unit, "energy_unit")
    with open_text(path, "an input.data file") as handle:
        yield from _blocks(handle, os.fspath(path), lf, ef)


def _blocks(handle, name: str, lf: float, ef: float) -> Iterator[Frame]:
    block: _Block | None = None
    lineno = 0
    for lineno, raw in enumerate(handle, start=1):
        fields = split_fields(raw)
        if not fields or fields[0].startswith("#"):
            continue
        key = fields[0]
        if key in ("begin", "end") and len(fields) > 1:
            raise DataFormatError(f"'{key}' takes nothing after it, found {shorten(' '.join(fields[1:]))!r}",
                                  path=name, line=lineno)
        if key == "begin":
            if block is not None:
                raise DataFormatError(f"'begin' inside the structure opened at line "
                                      f"{block.start}; expected 'end' first", path=name, line=lineno)
            block = _Block(lineno)
            continue
        if block is None:
            raise DataFormatError(f"{shorten(key)!r} outside a begin/end block; expected 'begin'",
                                  path=name, line=lineno)
        if key == "end":
            yield block.to_frame(name, lineno, lf, ef)
            block = None
        elif key == "atom":
            block.add_atom(fields, name, lineno)
        elif key == "lattice":
            if len(fields) != 4:
                raise DataFormatError(f"'lattice' needs 3 numbers, found {len(fields) - 1}",
                                      path=name, line=lineno)
            block.lattice.append(_floats(fields[1:4], name, lineno, "lattice"))
        elif key in ("energy", "charge"):
            block.once(key, name, lineno)
            setattr(block, key, _one_float(fields, name, lineno))
        elif key == "comment":
            text = raw.strip()[len("comment"):].strip()
            if text.startswith(_META_PREFIX + "{"):
                block.once("potforge metadata comment", name, lineno)
                block.meta = _metadata_json(text[len(_META_PREFIX):], name, lineno)
            else:
                block.comments.append(text)
        else:
            raise DataFormatError(f"unknown keyword {shorten(key)!r}; expected begin, comment, lattice,"
                                  " atom, energy, charge or end", path=name, line=lineno)
    if block is not None:
        raise DataFormatError(f"structure opened at line {block.start} has no 'end'",
                              path=name, line=lineno)


def read_input_data(path: str | os.PathLike, *, length_unit: str = "angstrom",
                    energy_unit: str = "ev") -> list[Frame]:
    """Read all frames of an ``input.data`` file (units: see :func:`iter_input_data`)."""
    return list(iter_input_data(path, length_unit=length_unit, energy_unit=energy_unit))


def _json_int(digits: str) -> int | float:
    """A JSON integer as an int where it fits int64 (as written), else as a float."""
    if len(digits) <= 20:
        value = int(digits)
        if -2**63 <= value < 2**63:
            return value
    return float(digits)


def _metadata_json(text: str, path: str, lineno: int):
    """The JSON of a ``comment potforge {...}`` line; a key given twice is an error, not
    "the last one wins"."""
    def pairs(items):
        out = {}
        for key, value in items:
            if key in out:
                raise DataFormatError(f"potforge metadata comment names {shorten(key)!r} twice; "
                                      "expected each key once", path=path, line=lineno)
            out[key] = value
        return out

    try:
        # integers past int64 (or past Python's 4300-digit limit) become floats, which the
        # checks below then treat as any other number (finite or not)
        return json.loads(text, object_pairs_hook=pairs,
                          parse_int=_json_int)
    except json.JSONDecodeError as err:
        raise DataFormatError(f"unreadable potforge metadata comment ({err.msg})",
                              path=path, line=lineno) from None
    except RecursionError:
        raise DataFormatError("potforge metadata comment nested too deeply", path=path,
                              line=lineno) from None


class _Block:
    __slots__ = ("start", "lattice", "symbols", "rows", "energy", "charge", "comments", "meta", "seen")

    def __init__(self, start: int) -> None:
        self.start = start
        self.seen: dict[str, int] = {}
        self.lattice: list[list[float]] = []
        self.symbols: list[str] = []
        self.rows: list[list[float]] = []
        self.energy: float | None = None
        self.charge: float | None = None
        self.comments: list[str] = []
        self.meta: dict | None = None

    def once(self, record: str, path: str, lineno: int) -> None:
        """A record a structure holds at most once (energy, charge, metadata): a second one
        is an error naming both lines."""
        first = self.seen.setdefault(record, lineno)
        if first != lineno:
            raise DataFormatError(f"second {record!r} line in the structure opened at line "
                                  f"{self.start} (first at line {first}); expected one",
                                  path=path, line=lineno)

    def add_atom(self, fields: list[str], path: str, lineno: int) -> None:
        if len(fields) != 10:
            raise DataFormatError(
                f"'atom' line has {len(fields) - 1} fields; expected 9: "
                "x y z element charge atomic_energy fx fy fz", path=path, line=lineno)
        symbol = fields[4]
        if not is_element(symbol):
            raise DataFormatError(f"unknown element {shorten(symbol)!r} in 'atom' line", path=path,
                                  line=lineno)
        self.symbols.append(symbol)
        self.rows.append(_floats(fields[1:4] + fields[5:10], path, lineno, "atom"))

    def to_frame(self, path: str, lineno: int, lf: float, ef: float) -> Frame:
        if len(self.lattice) not in (0, 3):
            raise DataFormatError(f"structure opened at line {self.start} has {len(self.lattice)} "
                                  "'lattice' lines; expected 3 (periodic) or 0 (open)",
                                  path=path, line=lineno)
        if not self.rows:
            raise DataFormatError(f"structure opened at line {self.start} has no atoms",
                                  path=path, line=lineno)
        data = np.array(self.rows, dtype=np.float64)
        periodic = len(self.lattice) == 3
        cell = np.array(self.lattice, dtype=np.float64) * lf if periodic else np.zeros((3, 3))
        atoms = Atoms(symbols=self.symbols, positions=data[:, 0:3] * lf, cell=cell, pbc=periodic)
        meta = self.meta if self.meta is not None else {}
        problem = _check_metadata(meta)
        if problem:
            raise DataFormatError(f"potforge metadata comment of the structure opened at line "
                                  f"{self.start}: {problem}", path=path, line=lineno)
        present = set(meta.get("labels", ("energy", "forces", "charges", "total_charge",
                                           "atomic_energies")))
        if "labels" not in meta and self.charge and not data[:, 3].any():
            # a plain n2p2 file always has the atom-charge column: zeros with a non-zero total
            # charge are n2p2's "no reference charges" (2G data of an ion), no contradiction
            present.discard("charges")
        info = dict(meta.get("info", {}))
        if "comment" in meta:
            info["comment"] = meta["comment"]
        elif self.comments:
            info["comment"] = "\n".join(self.comments)
        try:
            frame = Frame(
                atoms,
                energy=self.energy * ef if self.energy is not None and "energy" in present else None,
                forces=data[:, 5:8] * (ef / lf) if "forces" in present else None,
                stress=meta.get("stress"),
                charges=data[:, 3].copy() if "charges" in present else None,
                total_charge=self.charge if "total_charge" in present else None,
                atomic_energies=data[:, 4] * ef if "atomic_energies" in present else None,
                config_type=meta.get("config_type"),
                group=meta.get("group"),
                weight=meta.get("weight", 1.0),
                info=info,
            )
        except (TypeError, ValueError) as err:
            reason = err.reason if isinstance(err, DataFormatError) else err
            raise DataFormatError(f"bad potforge metadata in structure opened at line {self.start}:"
                                  f" {reason}", path=path, line=lineno) from None
        problem = frame_problem(frame)
        if problem is not None:
            raise DataFormatError(f"structure opened at line {self.start}: {problem}", path=path,
                                  line=lineno)
        return frame


def _check_metadata(meta) -> str | None:
    """What is wrong with a decoded ``comment potforge {...}`` payload, or None."""
    from ..frame import LABELS

    if not isinstance(meta, dict):
        return "expected a JSON object"
    labels = meta.get("labels", [])
    if not isinstance(labels, list) or any(x not in LABELS for x in labels):
        return f"'labels' must be a list of {', '.join(LABELS)}, found {shorten(repr(labels))}"
    if not isinstance(meta.get("info", {}), dict):
        return f"'info' must be an object, found {shorten(repr(meta['info']))}"
    for key in ("config_type", "group", "comment"):
        if key in meta and not isinstance(meta[key], str):
            return f"{key!r} must be a string, found {shorten(repr(meta[key]))}"
    weight = meta.get("weight", 1.0)
    if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not np.isfinite(weight):
        return f"'weight' must be a finite number, found {shorten(repr(weight))}"
    stress = meta.get("stress")
    if stress is not None and (not isinstance(stress, list) or len(stress) != 6
                               or not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                          and np.isfinite(v) for v in stress)):
        return f"'stress' must be 6 finite numbers, found {shorten(repr(stress))}"
    return None


def _floats(tokens: list[str], path: str, lineno: int, key: str) -> list[float]:
    """Strict ASCII, finite numbers (n2p2 reads them with C's strtod, never '١٢' or '1_0')."""
    return parse_floats(tokens, f"{key!r} line", path=path, line=lineno)


def _one_float(fields: list[str], path: str, lineno: int) -> float:
    if len(fields) != 2:
        raise DataFormatError(f"{fields[0]!r} needs exactly one number, found {len(fields) - 1}",
                              path=path, line=lineno)
    return _floats(fields[1:], path, lineno, fields[0])[0]


def _fmt(x: float) -> str:
    return repr(float(x))


def write_input_data(path: str | os.PathLike, frames: Iterable[Frame], *,
                     length_unit: str = "angstrom", energy_unit: str = "ev") -> None:
    """Write frames to an ``input.data`` file atomically, converting to the given units.

    Numbers are written with the shortest representation that reads back to the same
    float64, so a round trip in the same units is exact.
    """
    lf = length_factor(length_unit, "length_unit")
    ef = energy_factor(energy_unit, "energy_unit")
    with located(os.fspath(path)):
        with atomic_write(path) as out:
            for index, frame in enumerate(frames):
                check_frame(frame, index=index)   # never write what the reader would refuse
                out.write(_format_frame(frame, lf, ef, index))


def _format_frame(frame: Frame, lf: float, ef: float, index: int = 0) -> str:
    lines = ["begin"]
    atoms = frame.atoms
    if atoms.pbc.any() and not atoms.pbc.all():
        raise DataFormatError(f"frame {index} is periodic along some axes only (pbc "
                              f"{atoms.pbc.tolist()}); input.data holds fully periodic or open "
                              "structures")
    comment = frame.info.get("comment")
    if not isinstance(comment, str):
        comment = None  # a non-text "comment" travels with the other info (metadata JSON)
    meta = _metadata(frame)
    plain = isinstance(comment, str) and "\r" not in comment and comment.strip() == comment \
        and not any(c.strip() != c or c.startswith(_META_PREFIX + "{") for c in comment.split("\n"))
    if comment is not None and not plain:
        meta["comment"] = comment  # not representable as comment lines: keep it exactly
    elif comment:
        lines.extend(f"comment {c}" for c in comment.split("\n"))
    if meta:
        try:
            lines.append("comment " + _META_PREFIX + json.dumps(meta, separators=(",", ":")))
        except (TypeError, ValueError) as err:
            raise DataFormatError(f"frame {index}: metadata cannot be written to input.data ({err})") from None
    if atoms.pbc.any():
        for vec in np.asarray(atoms.cell):
            lines.append("lattice " + " ".join(_fmt(v / lf) for v in vec))
    n = len(atoms)
    zeros = np.zeros(n)
    charges = frame.charges if frame.charges is not None else zeros
    eatom = frame.atomic_energies / ef if frame.atomic_energies is not None else zeros
    forces = frame.forces * (lf / ef) if frame.forces is not None else np.zeros((n, 3))
    pos = atoms.positions / lf
    for k, sym in enumerate(atoms.get_chemical_symbols()):
        x, y, z = pos[k]
        fx, fy, fz = forces[k]
        lines.append(f"atom {_fmt(x)} {_fmt(y)} {_fmt(z)} {sym} {_fmt(charges[k])} {_fmt(eatom[k])} "
                     f"{_fmt(fx)} {_fmt(fy)} {_fmt(fz)}")
    if frame.energy is not None:
        lines.append(f"energy {_fmt(frame.energy / ef)}")
    if frame.total_charge is not None:
        lines.append(f"charge {_fmt(frame.total_charge)}")
    lines.append("end\n")
    return "\n".join(lines)


_DEFAULT_LABELS = {"energy", "forces", "charges", "total_charge", "atomic_energies"}


def _metadata(frame: Frame) -> dict:
    """What input.data cannot say natively; empty for a plain n2p2 frame."""
    meta: dict = {}
    if frame.config_type is not None:
        meta["config_type"] = frame.config_type
    if frame.group is not None:
        meta["group"] = frame.group
    if frame.weight != 1.0:
        meta["weight"] = frame.weight
    if frame.stress is not None:
        meta["stress"] = [float(v) for v in frame.stress]
    present = set(frame.labels()) - {"stress"}
    if present != _DEFAULT_LABELS:
        meta["labels"] = sorted(present)
    info = {k: v for k, v in frame.info.items() if not (k == "comment" and isinstance(v, str))}
    if info:
        meta["info"] = _jsonable(info)
    return meta


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value
