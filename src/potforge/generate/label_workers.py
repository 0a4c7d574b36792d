"""Running the labelling: in this process, in local worker processes that share the cores, or
on a Dask cluster; and the work of one structure (a fresh calculator state, retries with the
spec's overrides, a timeout)."""

from __future__ import annotations

import contextlib
import json
import math
import os
import threading
import time
from collections.abc import Iterator
from typing import Any

import numpy as np

from ..core.errors import ConfigError
from .calculators import CalculatorSpec, build_calculator
from .label_store import LabellingError

__all__ = ["run_tasks", "label_one", "worker_threads", "THREAD_VARIABLES"]


def run_tasks(tasks: list[tuple[int, str, Any]], spec: CalculatorSpec, workers: int,
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
