"""MD-time extrapolation actions: an ASE observer that watches a potforge calculator's
extrapolation counts (descriptor values outside the training range, per atom) during
molecular dynamics, relaxations or any ASE loop, and warns, stops or records.

    >>> from ase.md.verlet import VelocityVerlet
    >>> from potforge.calculators.guard import ExtrapolationGuard
    >>> atoms.calc = potforge.calculator("model")
    >>> dyn = VelocityVerlet(atoms, timestep=0.5 * units.fs)
    >>> guard = ExtrapolationGuard(atoms, action="record", path="extrapolated.xyz")
    >>> dyn.attach(guard, interval=1)
    >>> dyn.run(10000)
    >>> guard.events                     # [(call, atoms_outside, functions_outside), ...]

Actions: ``warn`` (default: a warning for the first ``max_warnings`` events, all counted),
``stop`` (raises :class:`ExtrapolationStop`, which ends ``dyn.run`` with a one-line message
naming the call and the atoms; the structure is recorded first if ``path`` is given) and
``record`` (appends every extrapolating structure to the extended XYZ file ``path``, with its
per-atom counts as the array ``extrapolations``: the candidates to label next). An event is a
call where at least ``min_atoms`` atoms extrapolate.

Committees are watched through their spread (``max_force_std``: atoms whose calibrated force
spread exceeds it count). Models without extrapolation counts of their own (classical potentials) are watched through
their training domain (``domain=load_domain(MODEL_DIR)``: distances and coordinations seen in
training, :mod:`potforge.descriptors.domain`); with both, an atom's count is the sum.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np

from ..core.errors import ConfigError, PotforgeError

__all__ = ["ExtrapolationGuard", "ExtrapolationStop", "ExtrapolationWarning"]

ACTIONS = ("warn", "stop", "record")


class ExtrapolationStop(PotforgeError):
    """Raised by a guard with action ``stop`` when the structure leaves the training range."""


class ExtrapolationWarning(UserWarning):
    """Issued by a guard with action ``warn``."""


class ExtrapolationGuard:
    """Observer for ASE dynamics (``dyn.attach(guard, interval=N)``) or any loop (call it).

    Parameters
    ----------
    atoms : ase.Atoms with a potforge calculator
    action : {"warn", "stop", "record"}
    path : str or Path, optional
        Extended XYZ file that extrapolating structures are appended to (``record``; with
        ``stop`` the last structure is written before stopping).
    min_atoms : int
        How many atoms must extrapolate for an event (default 1).
    max_warnings : int
        Warnings issued for ``warn`` (later events are counted, not printed).
    domain : TrainingDomain, optional
        Also (or, for models without descriptor ranges, only) count the atoms outside the
        training domain's distances and coordinations.
    max_force_std : float, eV/Å, optional
        Committees: also count the atoms whose calibrated force spread (``force_std``)
        exceeds this.
    """

    def __init__(self, atoms, *, action: str = "warn", path: str | os.PathLike | None = None,
                 min_atoms: int = 1, max_warnings: int = 10, domain=None,
                 max_force_std: float | None = None) -> None:
        if action not in ACTIONS:
            raise ConfigError(f"action: expected one of {', '.join(ACTIONS)}, got {action!r}")
        if action == "record" and path is None:
            raise ConfigError("action record needs a path (an extended XYZ file to append to)")
        if int(min_atoms) < 1:
            raise ConfigError(f"min_atoms: expected >= 1, got {min_atoms}")
        self.atoms = atoms
        self.action = action
        self.path = None if path is None else Path(path)
        self.min_atoms = int(min_atoms)
        self.max_warnings = int(max_warnings)
        if max_force_std is not None and not max_force_std > 0:
            raise ConfigError(f"max_force_std: expected a positive spread in eV/Å, got {max_force_std}")
        self.domain = domain
        self.max_force_std = max_force_std
        self.calls = 0
        self.events: list[tuple[int, int, int]] = []

    def _counts(self) -> np.ndarray | None:
        calc = self.atoms.calc
        getter = getattr(calc, "get_extrapolations", None)
        if getter is None and self.domain is None:
            raise ConfigError("the guard needs a potforge calculator (atoms.calc = potforge.calculator(...)) "
                              "or a training domain (domain=...)")
        counts = getter(self.atoms) if getter is not None else None
        if self.domain is not None:
            outside = self.domain.outside(self.atoms)
            counts = outside if counts is None else np.asarray(counts) + outside
        if self.max_force_std is not None:
            spread = calc.results.get("force_std") if calc is not None else None
            if spread is None:
                raise ConfigError("max_force_std needs a committee model (its calculator gives force_std)")
            uncertain = (np.asarray(spread) > self.max_force_std).astype(np.int64)
            counts = uncertain if counts is None else np.asarray(counts) + uncertain
        return counts

    def __call__(self) -> None:
        self.calls += 1
        counts = self._counts()
        if counts is None:
            raise ConfigError("the guard has nothing to watch: this model gives no extrapolation counts "
                              "(classical models); give domain=load_domain(MODEL_DIR) or max_force_std")
        outside = np.flatnonzero(np.asarray(counts) > 0)
        if outside.size < self.min_atoms:
            return
        self.events.append((self.calls, int(outside.size), int(np.sum(counts))))
        if self.path is not None and self.action in ("record", "stop"):
            self._record(counts)
        atoms_text = ", ".join(map(str, outside[:8])) + (" ..." if outside.size > 8 else "")
        message = (f"call {self.calls}: {outside.size} atoms ({atoms_text}) outside the training domain "
                   f"({int(np.sum(counts))} counts: descriptor ranges, distances/coordination or committee "
                   "spread)")
        if self.action == "stop":
            raise ExtrapolationStop(message + "; stopped (ExtrapolationGuard action stop)")
        if self.action == "warn" and len(self.events) <= self.max_warnings:
            suffix = " (further events are counted in guard.events, not printed)" \
                if len(self.events) == self.max_warnings else ""
            warnings.warn(message + suffix, ExtrapolationWarning, stacklevel=2)

    def _record(self, counts) -> None:
        from ase.io import write

        snapshot = self.atoms.copy()
        snapshot.calc = None
        snapshot.arrays["extrapolations"] = np.asarray(counts, dtype=np.int64)
        snapshot.info["guard_call"] = self.calls
        self.path.parent.mkdir(parents=True, exist_ok=True)
        write(self.path, snapshot, format="extxyz", append=True)
