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
  ``OMP_NUM_THREADS`` (and friends) already (:func:`worker_threads`).

Timeouts interrupt the calculation at its next Python-level step (SIGALRM in a process's main
thread, an asynchronous exception in worker threads); a calculation stuck inside a single C
call returns only when that call does.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..core.errors import ConfigError, DataFormatError, PotforgeError, StructureError
from ..core.provenance import versions
from ..data.frame import Frame
from .calculators import CalculatorSpec, build_calculator, check_calculator
from .calculators import calculator_spec as _as_spec

__all__ = ["label", "read_labelled", "LabelReport", "LabellingError", "structure_key",
           "METADATA_KEY"]

#: key of potforge's entry in ``db.metadata``
METADATA_KEY = "potforge_label"
_REASON_CHARS = 500


class LabellingError(PotforgeError, RuntimeError):
    """Labelling could not go on (a worker process died, the database is busy)."""


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
    with _Store(db_path, spec) as store:
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
            for index, result in _run(tasks, spec, workers, dask):
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


# -- the database --------------------------------------------------------------------------------------
class _Store:
    """The output database: opened, checked against the settings hash, written one row a time."""

    def __init__(self, path: str | os.PathLike, spec: CalculatorSpec) -> None:
        self.path = Path(path)
        self.spec = spec
        self.hash = spec.settings_hash()
        self.db = None
        self._lock = None

    def __enter__(self) -> "_Store":
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


def _run(tasks: list[tuple[int, str, Any]], spec: CalculatorSpec, workers: int,
         dask: Any) -> Iterator[tuple[int, dict]]:
    """Yield ``(input index, result)`` as results arrive."""
    if not tasks:
        return
    if dask is not None:
        yield from _run_dask(tasks, spec, workers, dask)
    elif workers == 1:
        for index, key, atoms in tasks:
            yield index, label_one(spec, index, key, atoms)
    else:
        yield from _run_processes(tasks, spec, workers)


#: thread-count variables of OpenMP and the BLAS libraries numpy, SciPy and GPAW load
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def _available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


@contextlib.contextmanager
def worker_threads(workers: int) -> Iterator[dict[str, str]]:
    """Environment of worker processes started inside the block: the cores split evenly among
    ``workers`` (at least one thread each) for OpenMP and BLAS, so that N workers do not each
    start a thread per core. A variable the user has set is left as it is. Yields the values
    set; the parent's environment is restored on exit (its own libraries are already loaded)."""
    threads = str(max(1, _available_cores() // max(1, workers)))
    chosen = {name: threads for name in THREAD_VARIABLES if name not in os.environ}
    os.environ.update(chosen)
    try:
        yield chosen
    finally:
        for name in chosen:
            os.environ.pop(name, None)


def _run_processes(tasks, spec: CalculatorSpec, workers: int) -> Iterator[tuple[int, dict]]:
    with worker_threads(min(workers, len(tasks))):
        yield from _run_pool(tasks, spec, workers)


def _run_pool(tasks, spec: CalculatorSpec, workers: int) -> Iterator[tuple[int, dict]]:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from concurrent.futures.process import BrokenProcessPool

    # spawn, not fork: the parent may hold threads (progress bar, BLAS, MPI) that fork breaks
    pool = ProcessPoolExecutor(max_workers=min(workers, len(tasks)),
                               mp_context=multiprocessing.get_context("spawn"))
    clean = False
    try:
        futures = {pool.submit(label_one, spec, index, key, atoms): index
                   for index, key, atoms in tasks}
        for future in as_completed(futures):
            try:
                result = future.result()
            except BrokenProcessPool:
                raise LabellingError("a worker process died (crash or out of memory) while "
                                     "labelling; finished results are saved in the database; "
                                     "run the same command again to resume") from None
            yield futures[future], result
        clean = True
    finally:
        if not clean:
            # interrupted or failed: do not wait for the running calculations
            for process in list(getattr(pool, "_processes", {}).values()):
                with contextlib.suppress(Exception):
                    process.terminate()
        pool.shutdown(wait=True, cancel_futures=True)


def _run_dask(tasks, spec: CalculatorSpec, workers: int, dask: Any) -> Iterator[tuple[int, dict]]:
    try:
        from dask.distributed import Client, LocalCluster, as_completed
    except ImportError as err:
        raise ConfigError(f"dask: running on Dask needs dask.distributed ({err}); install it "
                          "with pip install 'dask[distributed]'") from None
    owned = []
    if isinstance(dask, Client):
        client = dask
    elif dask == "local":
        with worker_threads(workers):  # the worker processes start here
            cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                   dashboard_address=None)
        owned.append(cluster)
        client = Client(cluster)
        owned.insert(0, client)
    elif isinstance(dask, str) and dask.strip():
        try:
            client = Client(dask.strip(), timeout="30s")
        except Exception as err:  # OSError, TimeoutError: one line
            raise ConfigError(f"dask: cannot connect to the scheduler at {dask!r} "
                              f"({type(err).__name__}: {err}); expected 'local' or an address "
                              "such as tcp://host:8786") from None
        owned.append(client)
    else:
        raise ConfigError(f"dask: expected 'local', a scheduler address or a Client, got {dask!r}")
    try:
        pending = []
        index_of = {}
        for index, key, atoms in tasks:
            future = client.submit(label_one, spec, index, key, atoms, pure=False,
                                   key=f"potforge-label-{index}-{key[:12]}-{os.urandom(4).hex()}")
            pending.append(future)
            index_of[future.key] = index
        for future in as_completed(pending):
            index = index_of[future.key]
            try:
                result = future.result()
            except Exception as err:  # KilledWorker: this structure took workers down
                reason = f"{type(err).__name__}: {' '.join(str(err).split())}"
                result = _failure([f"attempt 1: {reason}"], 1)
            future.release()
            yield index, result
    finally:
        for thing in owned:
            with contextlib.suppress(Exception):
                thing.close()


# -- the work of one structure (runs in workers) ------------------------------------------------------
_local = threading.local()


def label_one(spec: CalculatorSpec, index: int, key: str, atoms) -> dict:
    """Label one structure: attempts with the spec's retry overrides and timeout.

    Returns a plain dict (``status``, ``energy``, ``free_energy``, ``forces``, ``stress``,
    ``attempts``, ``seconds``, ``reason``, ``reasons``); never raises for a failed calculation.
    """
    reasons: list[str] = []
    attempts = 1 + spec.max_retries
    for attempt in range(attempts):
        t0 = time.perf_counter()
        try:
            calc = _cached_calculator(spec, attempt)
            with _deadline(spec.timeout):
                energy, free_energy, forces, stress = _evaluate(calc, atoms)
        except _Timeout:
            _drop_calculator(spec, attempt)
            reasons.append(f"attempt {attempt + 1}: timeout after {spec.timeout:g} s")
            continue
        except Exception as err:  # any calculator failure is recorded, never raised
            _drop_calculator(spec, attempt)
            text = " ".join(str(err).split())
            reasons.append(f"attempt {attempt + 1}: {type(err).__name__}"
                           + (f": {text}" if text else ""))
            continue
        return {"status": "done", "energy": energy, "free_energy": free_energy, "forces": forces,
                "stress": stress, "attempts": attempt + 1, "seconds": time.perf_counter() - t0,
                "reason": None, "reasons": reasons}
    return _failure(reasons, attempts)


def _failure(reasons: list[str], attempts: int) -> dict:
    last = reasons[-1].split(": ", 1)[-1] if reasons else "unknown"
    return {"status": "failed", "energy": None, "free_energy": None, "forces": None,
            "stress": None, "attempts": attempts, "seconds": None, "reason": last,
            "reasons": reasons}


def _evaluate(calc, atoms) -> tuple[float, float | None, np.ndarray, np.ndarray | None]:
    from ase.calculators.calculator import PropertyNotImplementedError

    atoms = atoms.copy()
    atoms.calc = calc
    energy = float(atoms.get_potential_energy())
    forces = np.array(atoms.get_forces(), dtype=np.float64)
    stress = None
    if np.all(atoms.pbc) and "stress" in getattr(calc, "implemented_properties", ("stress",)):
        try:
            stress = np.array(atoms.get_stress(voigt=True), dtype=np.float64)
        except PropertyNotImplementedError:
            stress = None
    free = getattr(calc, "results", {}).get("free_energy")
    free_energy = None if free is None else float(free)
    if not math.isfinite(energy) or not np.all(np.isfinite(forces)) or \
            (stress is not None and not np.all(np.isfinite(stress))):
        raise FloatingPointError("the calculator returned non-finite energy, forces or stress")
    return energy, free_energy, forces, stress


def _variant(spec: CalculatorSpec, attempt: int) -> tuple[str, str]:
    return spec.name, json.dumps(spec.parameters_for(attempt), sort_keys=True)


def _cached_calculator(spec: CalculatorSpec, attempt: int):
    """A calculator in its initial state: built once per worker thread and parameter set, and
    reset before each structure, so that labels never depend on which structures a worker saw
    before (no wave functions or neighbour lists carried over). Calculators without
    ``reset()`` (GPAW's new ASE interface) are built afresh for every structure."""
    cache = getattr(_local, "calculators", None)
    if cache is None:
        cache = _local.calculators = {}
    variant = _variant(spec, attempt)
    calc = cache.get(variant)
    if calc is not None:
        calc.reset()
        return calc
    calc = build_calculator(spec, attempt)
    if callable(getattr(calc, "reset", None)):
        cache[variant] = calc
    return calc


def _drop_calculator(spec: CalculatorSpec, attempt: int) -> None:
    """Forget a calculator after a failure: its state (a half-converged SCF) is suspect."""
    cache = getattr(_local, "calculators", None)
    if cache is not None:
        cache.pop(_variant(spec, attempt), None)


class _Timeout(BaseException):
    """Raised into a calculation that ran past its time (BaseException: calculators that
    catch ``Exception`` do not swallow it)."""


@contextlib.contextmanager
def _deadline(seconds: float | None) -> Iterator[None]:
    """Interrupt the body with :class:`_Timeout` after ``seconds`` (None: no limit)."""
    if seconds is None:
        yield
        return
    import signal

    if threading.current_thread() is threading.main_thread() and hasattr(signal, "setitimer"):

        def handler(signum, frame):
            raise _Timeout()

        previous = signal.signal(signal.SIGALRM, handler)
        signal.setitimer(signal.ITIMER_REAL, seconds)
        try:
            yield
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
        return
    # a worker thread (Dask): raise the exception asynchronously in this thread
    import ctypes

    thread_id = threading.get_ident()
    lock = threading.Lock()
    state = {"armed": True, "fired": False}

    def fire() -> None:
        with lock:
            if state["armed"]:
                state["fired"] = True
                ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id),
                                                           ctypes.py_object(_Timeout))

    timer = threading.Timer(seconds, fire)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        with lock:
            state["armed"] = False
            timer.cancel()
            if state["fired"]:  # clear a pending exception that has not been raised yet
                ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id), None)


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
