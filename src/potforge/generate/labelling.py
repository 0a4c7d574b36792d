"""Label structures with any ASE calculator into an ASE database, resumably and in parallel.

:func:`label` evaluates energy, forces and (for fully periodic cells) stress of every input
structure with the calculator a :class:`~potforge.generate.calculators.CalculatorSpec`
describes (GPAW for real DFT, EMT as a fast stand-in, or any importable ASE calculator) and
writes each result to an ASE SQLite database as soon as it arrives:

- **One row per input structure**, keyed by ``structure_key`` (SHA-256 of the input index,
  atomic numbers, positions rounded to 1e-8 Å, cell and pbc). Rows carry ``status`` (``done``
  or ``failed``), ``attempts``, ``input_index``, ``label_seconds`` and, for failures,
  ``reason``; the input's ``config_type``, ``group``, ``weight``, ``total_charge`` and ``info``
  are kept as :func:`potforge.data.io.asedb.frame_to_row` stores them, so
  :func:`read_labelled`, ``potforge train`` (``*.db`` data files) and ``potforge data`` read
  the database directly. Failed rows are never read as training data.
- **Resumable**: only the parent process writes, one SQLite transaction per result. A run
  killed at any moment (even SIGKILL) leaves every finished result and nothing half-written;
  the same command again skips finished structures. Failed structures are retried only with
  ``retry_failed``.
- **Settings hash**: ``db.metadata["potforge_label"]["settings_hash"]`` is the SHA-256 of the
  calculator's ``{name, parameters}``; a database labelled with other settings is refused
  before anything is written.
- **Failures** (SCF not converged, any exception, a timeout, an element the calculator lacks)
  are rows with the reason; each is retried up to ``max_retries`` times with the spec's
  ``retry`` overrides, then the run goes on.
- **Reproducible**: every structure starts from the calculator's initial state (it is reset,
  or built afresh where it cannot be), so a label does not depend on which structures a worker
  happened to compute before (no wave functions carried over): a resumed or parallel run
  gives the same numbers as a clean serial one.
- **Parallel**: ``workers`` local processes (spawned; each builds its calculator once), or a
  Dask distributed cluster (``dask="local"`` starts a ``LocalCluster`` of ``workers``
  single-threaded processes; an address connects to a running scheduler). Local workers share
  the cores: each gets ``cores // workers`` OpenMP/BLAS threads unless the user has set
  ``OMP_NUM_THREADS`` (and friends) already (:func:`~potforge.generate.label_workers.worker_threads`).

Timeouts interrupt the calculation at its next Python-level step (SIGALRM in a process's main
thread, an asynchronous exception in worker threads); a calculation stuck inside a single C
call returns only when that call does.
"""

from __future__ import annotations

import hashlib
import os
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..core.errors import ConfigError, StructureError
from ..data.frame import Frame
from .calculators import CalculatorSpec, calculator_spec as _as_spec, check_calculator
from .label_store import METADATA_KEY, LabellingError, LabelStore
from .label_workers import run_tasks

__all__ = ["label", "read_labelled", "LabelReport", "LabellingError", "structure_key",
           "METADATA_KEY"]

# -- the report --------------------------------------------------------------------------------
@dataclass
class LabelReport:
    """What one :func:`label` call did.

    Attributes
    ----------
    total : int
        Structures in the input.
    labelled : int
        Labelled successfully in this run.
    skipped : int
        Already labelled in the database (from an earlier run), left as they were.
    failed : int
        Failed in this run (after all retries); recorded with their reasons.
    failed_before : int
        Failed in an earlier run and not retried (pass ``retry_failed`` to retry them).
    seconds_mean, seconds_max : float or None, s
        Time of the successful attempt per structure labelled in this run.
    wall_seconds : float, s
    failures : list of (int, str)
        Input index and reason of each failure in this run.
    foreign_rows : int
        Rows in the database whose structure is not in this input.
    """

    db_path: str
    settings_hash: str
    total: int = 0
    labelled: int = 0
    skipped: int = 0
    failed: int = 0
    failed_before: int = 0
    seconds_mean: float | None = None
    seconds_max: float | None = None
    wall_seconds: float = 0.0
    failures: list[tuple[int, str]] = field(default_factory=list)
    foreign_rows: int = 0

    def summary(self) -> str:
        """A few lines for people."""
        lines = [f"{self.db_path}: {self.total} structures: {self.labelled} labelled, "
                 f"{self.skipped} already done, {self.failed} failed"
                 + (f", {self.failed_before} failed earlier (not retried; --retry-failed)"
                    if self.failed_before else "")]
        if self.seconds_mean is not None:
            lines.append(f"time per structure: mean {_duration(self.seconds_mean)}, max "
                         f"{_duration(self.seconds_max)}; wall {_duration(self.wall_seconds)}")
        for index, reason in self.failures[:10]:
            lines.append(f"  failed: structure {index}: {reason}")
        if len(self.failures) > 10:
            lines.append(f"  ... and {len(self.failures) - 10} more (rows with status=failed)")
        if self.foreign_rows:
            lines.append(f"note: {self.foreign_rows} rows of the database are not structures of "
                         "this input (another input file, or a changed one)")
        lines.append(f"settings hash {self.settings_hash[:16]}")
        return "\n".join(lines)


# -- keys ------------------------------------------------------------------------------------------
def structure_key(atoms, index: int) -> str:
    """Stable key of input structure ``index``: SHA-256 (hex) of the index, atomic numbers,
    positions rounded to 1e-8 Å, cell (same rounding) and pbc, in fixed byte order."""
    h = hashlib.sha256(b"potforge-structure-v1")
    h.update(np.asarray([index], dtype="<i8").tobytes())
    h.update(np.asarray(atoms.numbers, dtype="<i8").tobytes())
    h.update((np.round(np.asarray(atoms.positions, dtype=float), 8) + 0.0).astype("<f8").tobytes())
    h.update((np.round(np.asarray(atoms.cell, dtype=float), 8) + 0.0).astype("<f8").tobytes())
    h.update(np.asarray(atoms.pbc, dtype=np.uint8).tobytes())
    return h.hexdigest()


# -- the public API --------------------------------------------------------------------------------
def label(structures: Iterable[Any] | str | os.PathLike,
          calculator_spec: CalculatorSpec | dict | str | os.PathLike,
          db_path: str | os.PathLike, *, workers: int = 1, dask: Any = None,
          retry_failed: bool = False,
          progress: bool | str | Callable[[str], None] | None = None) -> LabelReport:
    """Label structures with an ASE calculator into an ASE database (resumable).

    Parameters
    ----------
    structures : iterable of Frame or ase.Atoms, or a data file path
        The structures; their existing labels are ignored, ``config_type``, ``group``,
        ``weight``, ``total_charge`` and ``info`` are kept.
    calculator_spec : CalculatorSpec, mapping or YAML path
        The calculator (see :mod:`potforge.generate.calculators`).
    db_path : path
        ASE SQLite database; created if missing, resumed if it holds a run with the same
        settings hash, refused (unchanged) otherwise.
    workers : int
        Local worker processes (1: in this process), or Dask workers with ``dask="local"``.
    dask : None, "local", scheduler address or ``dask.distributed.Client``
        Run on a Dask cluster instead of local processes.
    retry_failed : bool
        Retry structures that failed in an earlier run.
    progress : None, True/"auto", or a callable
        None: quiet. True: a tqdm bar on stderr (a line per structure with an ETA when stderr
        is not a terminal). A callable gets those lines instead.

    Returns
    -------
    LabelReport
    """
    started = time.perf_counter()
    spec = _as_spec(calculator_spec)
    if not isinstance(workers, int) or isinstance(workers, bool) or workers < 1:
        raise ConfigError(f"workers: expected a positive integer, got {workers!r}")
    frames = _input_frames(structures)
    keys = [structure_key(frame.atoms, i) for i, frame in enumerate(frames)]
    check_calculator(spec)  # bad settings fail here, before the database is touched
    settings_hash = spec.settings_hash()
    report = LabelReport(db_path=os.fspath(db_path), settings_hash=settings_hash,
                         total=len(frames))
    with LabelStore(db_path, spec) as store:
        existing = store.index()
        wanted = set(keys)
        report.foreign_rows = sum(1 for k in existing if k not in wanted)
        todo: list[int] = []
        replace: dict[int, int] = {}
        for i, key in enumerate(keys):
            row = existing.get(key)
            if row is None:
                todo.append(i)
            elif row[1] == "done":
                report.skipped += 1
            elif retry_failed:
                todo.append(i)
                replace[i] = row[0]
            else:
                report.failed_before += 1
        bar = _Progress(progress, len(todo), report.skipped + report.failed_before, len(frames),
                        atoms_todo=sum(len(frames[i].atoms) for i in todo))
        times: list[float] = []
        tasks = [(i, keys[i], frames[i].atoms) for i in todo]
        try:
            for index, result in run_tasks(tasks, spec, workers, dask):
                store.write(frames[index], index, keys[index], result, replace.get(index))
                if result["status"] == "done":
                    report.labelled += 1
                    times.append(result["seconds"])
                else:
                    report.failed += 1
                    report.failures.append((index, result["reason"]))
                bar.update(index, frames[index], result)
        finally:
            bar.close()
    report.failures.sort()
    if times:
        report.seconds_mean = float(np.mean(times))
        report.seconds_max = float(np.max(times))
    report.wall_seconds = time.perf_counter() - started
    return report


def read_labelled(db_path: str | os.PathLike, *, include_failed: bool = False) -> list[Frame]:
    """The labelled frames of a database :func:`label` wrote, in input order.

    Failed rows (no labels) are left out unless ``include_failed``.
    """
    from ..data.io.asedb import read_ase_db

    return read_ase_db(db_path, include_failed=include_failed)


# -- input -------------------------------------------------------------------------------------------
def _input_frames(structures) -> list[Frame]:
    if isinstance(structures, (str, os.PathLike)):
        from ..data.io import read_frames

        items = read_frames(structures)
    else:
        items = list(structures)
    frames = []
    for index, item in enumerate(items):
        frame = _as_frame(item, index)
        _check_structure(frame, index)
        frames.append(frame)
    return frames


def _as_frame(item, index: int) -> Frame:
    from ase import Atoms

    if isinstance(item, Frame):
        atoms = item.atoms.copy()
        atoms.calc = None
        return Frame(atoms, total_charge=item.total_charge, config_type=item.config_type,
                     group=item.group, weight=item.weight, info=dict(item.info))
    if isinstance(item, Atoms):
        atoms = item.copy()
        atoms.calc = None
        info = dict(atoms.info)
        atoms.info = {}
        extra = {k: info.pop(k) for k in ("config_type", "group") if k in info}
        return Frame(atoms, config_type=None if extra.get("config_type") is None
                     else str(extra["config_type"]),
                     group=None if extra.get("group") is None else str(extra["group"]),
                     weight=float(info.pop("weight", 1.0)), info=info)
    raise StructureError(f"expected a potforge Frame or an ase.Atoms, got {type(item).__name__}",
                         frame=index)


def _check_structure(frame: Frame, index: int) -> None:
    atoms = frame.atoms
    if len(atoms) == 0:
        raise StructureError("has no atoms", frame=index)
    if not np.all(np.isfinite(atoms.positions)):
        raise StructureError("has non-finite (NaN or inf) positions", frame=index)
    cell = np.asarray(atoms.cell, dtype=float)
    if not np.all(np.isfinite(cell)):
        raise StructureError("has a non-finite cell", frame=index)
    pbc = np.asarray(atoms.pbc, dtype=bool)
    if pbc.any():
        lengths = np.linalg.norm(cell, axis=1)
        if np.any(lengths[pbc] <= 1e-8):
            raise StructureError("is periodic along a cell vector of zero length", frame=index)
        if pbc.all() and abs(np.linalg.det(cell)) <= 1e-10 * max(float(np.prod(lengths)), 1e-300):
            raise StructureError("has a singular (zero-volume) periodic cell", frame=index)


# -- progress ------------------------------------------------------------------------------------------
class _Progress:
    """A tqdm bar on a terminal, else one line per structure with an ETA (stderr).

    The ETA weighs structures by their atom count (``atoms_todo``): at a fixed k-point density
    a DFT calculation costs roughly in proportion to it, and training sets mix 1-atom cells
    with 30-atom ones, so a per-structure average would promise far too early an end.
    """

    def __init__(self, mode, n_todo: int, n_skipped: int, total: int, atoms_todo: int | None = None) -> None:
        self.n_todo = n_todo
        self.atoms_todo = atoms_todo
        self.atoms_done = 0
        self.count = 0
        self.failed = 0
        self.start = time.perf_counter()
        self.bar = None
        self.emit: Callable[[str], None] | None = None
        if mode is None or mode is False or n_todo == 0:
            return
        if callable(mode):
            self.emit = mode
        elif sys.stderr.isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=n_todo, desc="label", unit="structure", file=sys.stderr,
                            dynamic_ncols=True)
        else:
            self.emit = lambda line: print(line, file=sys.stderr, flush=True)
        if self.emit is not None and n_skipped:
            self.emit(f"label: {n_skipped} of {total} structures already in the database; "
                      f"{n_todo} to do")

    def update(self, index: int, frame: Frame, result: dict) -> None:
        self.count += 1
        self.failed += result["status"] != "done"
        if self.bar is not None:
            self.bar.set_postfix(failed=self.failed, refresh=False)
            self.bar.update(1)
        elif self.emit is not None:
            elapsed = time.perf_counter() - self.start
            self.atoms_done += len(frame.atoms)
            if self.atoms_todo:
                eta = elapsed / self.atoms_done * max(self.atoms_todo - self.atoms_done, 0)
            else:
                eta = elapsed / self.count * (self.n_todo - self.count)
            what = (f"done in {_duration(result['seconds'])}" if result["status"] == "done"
                    else f"FAILED after {result['attempts']} attempts: {result['reason']}")
            self.emit(f"label: {self.count}/{self.n_todo} structure {index} "
                      f"({frame.atoms.get_chemical_formula()}) {what}; {self.failed} failed; "
                      f"ETA {_duration(eta)}")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.2f} s"
    if seconds < 3600:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"
