"""ASE databases (SQLite ``.db``): one row per frame.

Energy, forces, stress and per-atom charges are stored as the results of a
SinglePointCalculator, as ASE itself does, so other ASE tools see them; per-atom energies
(which ASE's database does not keep as a result) go to the row's ``data``. ``config_type``,
``group``, ``weight`` and ``total_charge`` are searchable key-value pairs; ``Frame.info`` goes
to the row's ``data``. Floats are stored in binary, so the round trip is exact.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from ...core.atomic import atomic_path
from ...core.errors import DataFormatError, located
from ...core.text import shorten
from ..frame import Frame, check_frame

__all__ = ["read_ase_db", "iter_ase_db", "write_ase_db", "frame_to_row", "row_to_frame"]

_KVP = ("config_type", "group", "weight", "total_charge")


def iter_ase_db(path: str | os.PathLike, selection: str | None = None, *,
                include_failed: bool = False) -> Iterator[Frame]:
    """Yield frames from an ASE database, optionally filtered by an ASE selection string.

    Rows that ``potforge label`` recorded as failed (``status=failed``: no labels, a reason)
    are skipped unless ``include_failed``. Rows written by ``potforge label`` (which finish in
    any order) come in the order of the labelled input (``input_index``), others by row id.
    """
    from ase.db import connect

    name = os.fspath(path)
    if not Path(path).exists():
        raise DataFormatError("no such database", path=name)
    with open(path, "rb") as handle:
        magic = handle.read(16)
    if magic != b"SQLite format 3\x00":
        # checked before ASE opens it: ase.db would turn an empty file into a new database
        raise DataFormatError("not an SQLite database (ASE .db)", path=name)
    try:
        db = connect(os.fspath(path), type="db", use_lock_file=False)
        rows = list(db.select(selection) if selection else db.select())
    except Exception as err:  # sqlite3.DatabaseError and friends: report one line
        raise DataFormatError(f"not a readable ASE database ({type(err).__name__}: {shorten(err, 200)})",
                              path=os.fspath(path)) from None
    if not include_failed:
        rows = [row for row in rows if row.key_value_pairs.get("status") != "failed"]
    if rows and all(isinstance(row.key_value_pairs.get("input_index"), int) for row in rows):
        rows.sort(key=lambda row: (row.key_value_pairs["input_index"], row.id))
    for index, row in enumerate(rows):
        try:
            frame = row_to_frame(row)
            check_frame(frame)
        except DataFormatError as err:
            raise DataFormatError(f"row id {row.id}: {err.reason}", path=name, frame=index) from None
        except Exception as err:  # anything else a foreign row holds: still one line
            raise DataFormatError(f"row id {row.id}: unreadable ({type(err).__name__}: "
                                  f"{shorten(err, 200)})", path=name, frame=index) from None
        yield frame


def row_to_frame(row) -> Frame:
    """The frame stored in one ASE database row (see :func:`frame_to_row`)."""
    atoms = row.toatoms()
    kvp = row.key_value_pairs
    data = dict(row.data) if row.get("data") else {}
    info = data.pop("potforge_info", {})
    labels = data.pop("potforge_labels", None)
    present = set(labels) if labels is not None else None

    def result(name):
        value = row.get(name)
        if present is not None and name not in present:
            return None
        return value

    meta = data.pop("potforge_meta", {})
    if not isinstance(info, dict) or not isinstance(meta, dict):
        raise DataFormatError("potforge_info and potforge_meta in the row data must be mappings")
    names = {}
    for key in ("config_type", "group"):
        value = meta.get(key, kvp.get(key))
        if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)):
            value = str(value)      # group=3 written by hand: the name "3", exactly
        if value is not None and not isinstance(value, str):
            raise DataFormatError(f"{key} must be text or an integer, found {shorten(repr(value))}")
        names[key] = value
    return Frame(
        atoms,
        energy=result("energy"),
        forces=result("forces"),
        stress=result("stress"),
        charges=result("charges"),
        atomic_energies=data.pop("potforge_atomic_energies", None),
        total_charge=kvp.get("total_charge"),
        config_type=names["config_type"],
        group=names["group"],
        weight=kvp.get("weight", 1.0),
        info=info,
    )


def read_ase_db(path: str | os.PathLike, selection: str | None = None, *,
                include_failed: bool = False) -> list[Frame]:
    """Read all (or the selected) frames of an ASE database (see :func:`iter_ase_db`)."""
    return list(iter_ase_db(path, selection, include_failed=include_failed))


def _ase_would_convert(text: str) -> bool:
    """Whether ASE's database would read this string back as a number or boolean."""
    lowered = text.strip().lower()
    if lowered in ("true", "false", "t", "f", "nan", "inf", "-inf", "+inf", "infinity", "-infinity"):
        return True
    try:
        float(text)
    except ValueError:
        return text != text.strip() or not text
    return True


def frame_to_row(frame: Frame, index: int | None = None, **results) -> tuple:
    """``(atoms, key_value_pairs, data)`` that store ``frame`` in an ASE database row.

    ``results`` (e.g. ``free_energy``) are stored beside the frame's labels in the row's
    SinglePointCalculator; ``index`` only names the frame in errors.
    """
    from ase.calculators.singlepoint import SinglePointCalculator

    atoms = frame.atoms.copy()
    atoms.calc = None
    results = dict(results)
    for name in ("energy", "forces", "stress", "charges"):
        value = getattr(frame, name)
        if value is not None:
            results[name] = value
    if results:
        atoms.calc = SinglePointCalculator(atoms, **results)
    kvp = {}
    for key in _KVP:
        value = getattr(frame, key)
        if value is not None and not (key == "weight" and value == 1.0):
            kvp[key] = value
    data = {"potforge_labels": list(frame.labels())}
    # ASE refuses strings that look like numbers or booleans as key-value pairs;
    # such names live in the row data (exact) and stay out of the searchable pairs
    meta = {}
    for key in ("config_type", "group"):
        value = getattr(frame, key)
        if value is not None and _ase_would_convert(value):
            meta[key] = kvp.pop(key)
    if meta:
        data["potforge_meta"] = meta
    if frame.atomic_energies is not None:
        data["potforge_atomic_energies"] = frame.atomic_energies
    if frame.info:
        data["potforge_info"] = {k: (v.tolist() if isinstance(v, np.ndarray) else v)
                                 for k, v in frame.info.items()}
        try:
            json.dumps(data["potforge_info"])
        except (TypeError, ValueError) as err:
            where = f"frame {index}: " if index is not None else ""
            raise DataFormatError(f"{where}info cannot be stored in an ASE "
                                  f"database ({err})") from None
    return atoms, kvp, data


def write_ase_db(path: str | os.PathLike, frames: Iterable[Frame]) -> None:
    """Write frames to a new ASE database atomically (an existing file is replaced)."""
    from ase.db import connect

    with located(os.fspath(path)):
        with atomic_path(path) as tmp:
            tmp.unlink()  # ase.db creates the file itself
            with connect(os.fspath(tmp), type="db", append=False) as db:
                for index, frame in enumerate(frames):
                    check_frame(frame, index=index)   # never write what the reader would refuse
                    atoms, kvp, data = frame_to_row(frame, index)
                    db.write(atoms, key_value_pairs=kvp, data=data)
