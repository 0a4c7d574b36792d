"""Molecular-dynamics snapshots with any ASE calculator the caller passes in: NVT/NPT runs,
liquids (checked to have melted) and melt-quench amorphous structures. Temperatures in K,
times in fs."""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np
from ase import Atoms

from ..core.errors import ConfigError
from .common import Progress, check_structure_valid, group_name, min_allowed_distance, tag

__all__ = ["MELTED_RMS_FRACTION", "check_melted", "md_snapshots", "liquid_snapshots",
           "quench_steps", "amorphous_snapshots"]


def _prepare_md(atoms: Atoms, calculator: Any, temperature: float, rng: np.random.Generator) -> Atoms:
    from ase.md import velocitydistribution as vd

    if calculator is None:
        raise ConfigError("calculator: missing; molecular dynamics needs an ASE calculator "
                          "(e.g. calculator: {name: emt})")
    from ase.constraints import FixCom

    work = atoms.copy()
    work.info = {}
    work.calc = calculator
    # The start is a perfect crystal (zero forces): about half the kinetic energy flows into
    # potential energy within a few vibrations, so velocities start at twice the target.
    thermalize = getattr(vd, "thermalize_momenta", None)  # ASE >= 3.29
    if thermalize is None:
        vd.MaxwellBoltzmannDistribution(work, temperature_K=2.0 * temperature, rng=rng)
    else:
        thermalize(work, 2.0 * temperature, rng=rng)
    vd.Stationary(work)
    work.set_constraint(FixCom())  # the centre of mass stays put (ASE's advice over fixcm)
    return work


def _dynamics(work: Atoms, temperature: float, timestep: float, friction: float,
              ensemble: str, pressure: float, rng: np.random.Generator):
    from ase import units

    if ensemble == "nvt":
        from ase.md.langevin import Langevin

        return Langevin(work, timestep * units.fs, temperature_K=temperature,
                        friction=friction / units.fs, fixcm=False, rng=rng)
    if ensemble == "npt":
        from ase.md.nptberendsen import NPTBerendsen

        # Berendsen: deterministic weak coupling; compressibility of a soft metal (1/50 GPa)
        return NPTBerendsen(work, timestep * units.fs, temperature_K=temperature,
                            pressure_au=pressure * units.GPa, taut=100 * units.fs,
                            taup=1000 * units.fs, compressibility_au=1.0 / (50.0 * units.GPa),
                            fixcm=False)
    raise ConfigError(f"ensemble: {ensemble!r} is not one of nvt, npt")


def _snapshot(work: Atoms, parent: Atoms, config_type: str, group: str, step: int,
              target: float, min_distance: float, what: str) -> Atoms:
    snap = Atoms(work.get_chemical_symbols(), positions=work.positions.copy(),
                 cell=np.array(work.cell), pbc=work.pbc.copy())
    snap.wrap(eps=1e-9)
    snap.info = {k: v for k, v in parent.info.items() if k in ("phase", "lattice_constant",
                                                                 "lattice_constant_c")}
    tag(snap, config_type, group, temperature=float(target), md_step=int(step),
         kinetic_temperature=float(work.get_temperature()))
    check_structure_valid(snap, min_distance, f"{what} step {step}")
    return snap


#: a structure counts as melted once the rms displacement of its atoms from the starting
#: crystal exceeds this fraction of the nearest-neighbour distance. A hot crystal vibrates with
#: an rms amplitude near Lindemann's 0.1–0.15 d_nn and stays there (EMT Al, 32 atoms, 1.6 ps:
#: 0.10 d_nn at 700 K, 0.14 d_nn superheated at 1200 K); a liquid diffuses past it (0.3 d_nn
#: after 0.4 ps at 2000 K, 0.7 d_nn after 1.6 ps).
MELTED_RMS_FRACTION = 0.3


def check_melted(work: Atoms, start: np.ndarray, parent: Atoms, key: str, what: str) -> float:
    """The rms displacement (Å) of ``work``'s atoms from their start positions ``start`` (MD
    positions are unwrapped); a ConfigError naming ``key`` if it is below
    :data:`MELTED_RMS_FRACTION` of the parent's nearest-neighbour distance, i.e. the crystal
    is still a (superheated) crystal and its snapshots would not be a liquid."""
    rms = float(np.sqrt(np.mean(np.sum((work.positions - start) ** 2, axis=1))))
    d_nn = min_allowed_distance(parent, 1.0)
    if rms < MELTED_RMS_FRACTION * d_nn:
        raise ConfigError(f"{key}: {what}: the crystal did not melt (rms displacement {rms:.2f} Å < "
                          f"{MELTED_RMS_FRACTION:g} × nearest-neighbour distance {d_nn:.2f} Å); raise "
                          "the temperature or the number of melting steps")
    return rms


def md_snapshots(atoms: Atoms, calculator: Any, temperature: float, *, steps: int, interval: int,
                 equilibration: int = 0, timestep: float = 1.0, friction: float = 0.01,
                 ensemble: Literal["nvt", "npt"] = "nvt", pressure: float = 0.0,
                 seed: int | np.random.SeedSequence = 0, progress: Progress | None = None,
                 config_type: str = "md", group: str | None = None,
                 min_distance_fraction: float = 0.5, require_melting: bool = False) -> list[Atoms]:
    """Snapshots of an MD run at ``temperature`` K with ``calculator``.

    Velocities are drawn from Maxwell–Boltzmann (seeded), the system runs ``equilibration``
    steps, then ``steps`` more, of which every ``interval``-th is kept (decorrelated snapshots,
    ``steps // interval`` of them). ``nvt``: Langevin (``friction`` in 1/fs); ``npt``:
    Berendsen thermostat and barostat at ``pressure`` GPa. ``timestep`` in fs.
    ``info`` holds ``temperature`` (target), ``md_step`` and ``kinetic_temperature``.
    With ``require_melting``, :func:`check_melted` runs at the end of the equilibration (and
    each snapshot records its ``rms_displacement``).
    """
    if steps < 0 or interval < 1 or equilibration < 0:
        raise ConfigError(f"steps: expected steps >= 0, interval >= 1, equilibration >= 0; got "
                          f"{steps}, {interval}, {equilibration}")
    rng = np.random.default_rng(seed)
    work = _prepare_md(atoms, calculator, temperature, rng)
    dyn = _dynamics(work, temperature, timestep, friction, ensemble, pressure, rng)
    group = group or group_name(config_type, atoms.info.get("phase"), f"{temperature:g}K")
    dmin = min_allowed_distance(atoms, min_distance_fraction)
    what = f"{config_type} {temperature:g} K"
    total = equilibration + steps
    report_every = max(1, total // 10)
    start = work.positions.copy()
    out = []
    for step in range(1, total + 1):
        dyn.run(1)
        if require_melting and step == equilibration:
            check_melted(work, start, atoms, "temperature", f"{what} after {step} steps")
        if step > equilibration and (step - equilibration) % interval == 0:
            snap = _snapshot(work, atoms, config_type, group, step, temperature, dmin, what)
            if require_melting:
                snap.info["rms_displacement"] = float(
                    np.sqrt(np.mean(np.sum((work.positions - start) ** 2, axis=1))))
            out.append(snap)
        if progress is not None and (step % report_every == 0 or step == total):
            progress(f"{what}: step {step}/{total}, T = {work.get_temperature():.0f} K, "
                     f"{len(out)} snapshots")
    return out


def liquid_snapshots(atoms: Atoms, calculator: Any, temperature: float, *, steps: int,
                     interval: int, equilibration: int = 500, timestep: float = 1.0,
                     friction: float = 0.02, ensemble: Literal["nvt", "npt"] = "nvt",
                     seed: int | np.random.SeedSequence = 0, progress: Progress | None = None,
                     group: str | None = None, min_distance_fraction: float = 0.5) -> list[Atoms]:
    """Liquid snapshots: :func:`md_snapshots` of the crystal held above its melting point for
    ``equilibration`` steps, ``config_type`` ``liquid``. Whether it melted is checked
    (:func:`check_melted`) before any snapshot is taken: a ConfigError if not."""
    if equilibration < 1:
        raise ConfigError(f"equilibration: expected >= 1 melting steps for a liquid, got {equilibration}")
    return md_snapshots(atoms, calculator, temperature, steps=steps, interval=interval,
                        equilibration=equilibration, timestep=timestep, friction=friction,
                        ensemble=ensemble, seed=seed, progress=progress, config_type="liquid",
                        group=group, min_distance_fraction=min_distance_fraction,
                        require_melting=True)


def quench_steps(melt: float, final: float, quench_rate: float, timestep: float) -> int:
    """MD steps of a linear quench from ``melt`` to ``final`` K at ``quench_rate`` K/s."""
    return max(1, math.ceil(abs(melt - final) / (quench_rate * timestep * 1e-15)))


def amorphous_snapshots(atoms: Atoms, calculator: Any, *, melt: float, quench_rate: float,
                        final: float = 300.0, melt_steps: int = 500, snapshots: int = 3,
                        timestep: float = 1.0, friction: float = 0.02,
                        seed: int | np.random.SeedSequence = 0, progress: Progress | None = None,
                        group: str | None = None, min_distance_fraction: float = 0.5) -> list[Atoms]:
    """Melt–quench: Langevin at ``melt`` K for ``melt_steps``, then a linear ramp to ``final`` K
    at ``quench_rate`` K/s (target updated every step); ``snapshots`` structures evenly spaced
    along the ramp, the last at its end (``info["temperature"]`` is the target there).
    Whether the crystal melted is checked (:func:`check_melted`) before the quench."""
    if snapshots < 1 or not quench_rate > 0 or melt_steps < 1:
        raise ConfigError(f"snapshots: expected snapshots >= 1, quench_rate > 0, melt_steps >= 1; "
                          f"got {snapshots}, {quench_rate}, {melt_steps}")
    rng = np.random.default_rng(seed)
    work = _prepare_md(atoms, calculator, melt, rng)
    dyn = _dynamics(work, melt, timestep, friction, "nvt", 0.0, rng)
    n_quench = quench_steps(melt, final, quench_rate, timestep)
    keep = {round(n_quench * (k + 1) / snapshots) for k in range(snapshots)}
    group = group or group_name("amorphous", atoms.info.get("phase"), f"{melt:g}K", f"{quench_rate:g}")
    dmin = min_allowed_distance(atoms, min_distance_fraction)
    total = melt_steps + n_quench
    report_every = max(1, total // 10)
    start = work.positions.copy()
    out = []
    for step in range(1, total + 1):
        q = step - melt_steps
        target = melt if q <= 0 else melt + (final - melt) * q / n_quench
        if q > 0:
            dyn.set_temperature(temperature_K=target)
        dyn.run(1)
        if q == 0:
            check_melted(work, start, atoms, "melt", f"amorphous, {step} steps at {melt:g} K")
        if q in keep:
            snap = _snapshot(work, atoms, "amorphous", group, step, target, dmin, "amorphous")
            snap.info.update(melt_temperature=float(melt), quench_rate=float(quench_rate))
            out.append(snap)
        if progress is not None and (step % report_every == 0 or step == total):
            progress(f"amorphous: step {step}/{total}, target {target:.0f} K, "
                     f"T = {work.get_temperature():.0f} K")
    return out
