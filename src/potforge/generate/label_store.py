"""The labelling database: one ASE SQLite database per run, its settings hash, an exclusive
lock against a second writer, and one transaction per result."""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path

from ..core.errors import ConfigError, DataFormatError, PotforgeError
from ..core.provenance import versions
from ..data.frame import Frame
from .calculators import CalculatorSpec

__all__ = ["METADATA_KEY", "LabelStore", "LabellingError"]

#: key of potforge's entry in ``db.metadata``
METADATA_KEY = "potforge_label"
_REASON_CHARS = 500


class LabellingError(PotforgeError, RuntimeError):
    """Labelling could not go on (a worker process died, the database is busy)."""


class LabelStore:
    """The output database: opened, checked against the settings hash, written one row a time."""

    def __init__(self, path: str | os.PathLike, spec: CalculatorSpec) -> None:
        self.path = Path(path)
        self.spec = spec
        self.hash = spec.settings_hash()
        self.db = None
        self._lock = None

    def __enter__(self) -> "LabelStore":
        from ase.db import connect

        name = os.fspath(self.path)
        exists = self.path.exists() and self.path.stat().st_size > 0
        if exists:
            with open(self.path, "rb") as handle:
                if handle.read(16) != b"SQLite format 3\x00":
                    raise DataFormatError("not an SQLite database (ASE .db); use a new --db",
                                          path=name)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._acquire_lock()
        try:
            # ASE's own lock file outlives a killed process and would block the next run;
            # the flock above (released by the kernel) is the one that counts
            self.db = connect(name, type="db", use_lock_file=False, append=True)
            if exists:
                try:
                    meta = self.db.metadata.get(METADATA_KEY)
                    n_rows = self.db.count()
                except Exception as err:  # sqlite3.DatabaseError and friends
                    raise DataFormatError(f"not a readable ASE database ({type(err).__name__}: "
                                          f"{err})", path=name) from None
                if meta is None and n_rows:
                    raise ConfigError(f"database {name} holds {n_rows} rows that potforge label "
                                      "did not write (no settings hash); use a new --db")
                if meta is not None and meta.get("settings_hash") != self.hash:
                    raise ConfigError(
                        f"database {name} was labelled with different settings (hash "
                        f"{str(meta.get('settings_hash'))[:16]}, these settings "
                        f"{self.hash[:16]}); use a new --db or the same calculator.yaml")
                if meta is not None:
                    return self
            metadata = dict(self.db.metadata)
            metadata[METADATA_KEY] = {
                "settings_hash": self.hash, "calculator": self.spec.to_dict(),
                "versions": _versions(self.spec), "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            }
            self.db.metadata = metadata
        except BaseException:
            self._release_lock()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self._release_lock()

    def _acquire_lock(self) -> None:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX: no guard against two runs
            return
        lock_path = self.path.with_name(self.path.name + ".label-lock")
        handle = open(lock_path, "a+")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            raise LabellingError(f"database {self.path} is being labelled by another run "
                                 f"(lock {lock_path.name} held); wait for it or use a new --db")\
                from None
        self._lock = (handle, lock_path)

    def _release_lock(self) -> None:
        if self._lock is None:
            return
        handle, lock_path = self._lock
        self._lock = None
        with contextlib.suppress(OSError):
            lock_path.unlink()
        handle.close()

    def index(self) -> dict[str, tuple[int, str]]:
        """structure_key -> (row id, status) of the rows this run may skip or replace."""
        out: dict[str, tuple[int, str]] = {}
        for row in self.db.select(include_data=False):
            kvp = row.key_value_pairs
            key = kvp.get("structure_key")
            if isinstance(key, str) and key not in out:
                out[key] = (row.id, str(kvp.get("status", "done")))
        return out

    def write(self, frame: Frame, index: int, key: str, result: dict,
              replace_id: int | None) -> None:
        """Store one result (or failure) in one transaction."""
        from ..data.io.asedb import frame_to_row

        extra = {}
        if result["status"] == "done":
            frame = Frame(frame.atoms, energy=result["energy"], forces=result["forces"],
                          stress=result["stress"], total_charge=frame.total_charge,
                          config_type=frame.config_type, group=frame.group, weight=frame.weight,
                          info=frame.info)
            if result.get("free_energy") is not None:
                extra["free_energy"] = result["free_energy"]
        atoms, kvp, data = frame_to_row(frame, index, **extra)
        kvp.update(structure_key=key, input_index=index, status=result["status"],
                   attempts=result["attempts"])
        if result["status"] == "done":
            kvp["label_seconds"] = result["seconds"]
        else:
            kvp["reason"] = _kvp_text(result["reason"])
        if result["reasons"]:
            data["label_failures"] = list(result["reasons"])
        with self.db:  # one transaction: the row is there completely or not at all
            self.db.write(atoms, key_value_pairs=kvp, data=data, id=replace_id)


def _kvp_text(text: str) -> str:
    """A reason as an ASE key-value string (one line, bounded, never number-like)."""
    text = " ".join(text.split())[:_REASON_CHARS] or "unknown"
    from ..data.io.asedb import _ase_would_convert

    return text if not _ase_would_convert(text) else f"error: {text}"


def _versions(spec: CalculatorSpec) -> dict[str, str | None]:
    package = (spec.name if ":" not in spec.name else spec.name.split(":")[0]).split(".")[0]
    return versions(*([package] if package not in ("ase", "emt") else []))
