"""DFT convergence study: which settings are good enough for the potential's accuracy target?

A potential fitted to 1 meV/atom and 0.02 eV/Å needs reference data whose *numerical* error is
well below that. For each setting (plane-wave cutoff, k-point density, smearing, SCF thresholds:
any dotted key of the calculator's parameters) the study varies that one setting over the
given values, loosest first, with every other setting at its tightest value, and compares each
structure's energy per atom, forces and stress against the all-tightest reference:

    δE = max_s |(E_s − E_ref,s)/N_s − (E_0 − E_ref,0)/N_0|   (energy per atom relative to the
         first structure: what a potential with a fitted energy offset sees; the absolute error
         per atom is reported too),
    δF = max_s max_i,c |F − F_ref|,      δσ = max_s max_a |σ − σ_ref|.

The recommended value of a setting is the loosest one from which on every value meets all
targets (tighter values may not break it again). Where only the tightest value meets them, the
study cannot tell that value's own error: the axis is reported as *not converged* and the
last step's change (second-tightest against tightest) stands in for it. The chosen settings
(the recommendation, or values the user picks with ``use``, e.g. a cheaper k-point density
where the converged one costs too much) are then computed once more against the reference;
the RMS of their errors (and of the last steps of unconverged axes) are the measured noise
levels of the data: ``noise.yaml`` holds them as the training config's
``loss.energy_sigma``, ``force_sigma`` and ``stress_sigma`` (the floors of what fitting can
resolve; RMS rather than maxima, since maximum-likelihood weights need the spread).

The calculator comes from a factory ``make(settings) -> ase Calculator`` (``settings`` is the
calculator's parameter mapping with overrides applied), so the study runs with any ASE
calculator; GPAW is the documented default.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from ase import Atoms
from ase.units import GPa

from ..core.errors import ConfigError

__all__ = ["ConvergenceResult", "convergence_study", "with_override", "DEFAULT_TARGETS",
           "representative_structures", "plot_convergence", "report_markdown"]

#: accuracy targets: eV/atom, eV/Å, GPa
DEFAULT_TARGETS = {"energy": 1e-3, "forces": 0.02, "stress": 0.1}


def with_override(parameters: Mapping[str, Any], key: str, value: Any) -> dict:
    """A deep copy of ``parameters`` with the dotted ``key`` (e.g. ``mode.ecut``) set to value."""
    out = copy.deepcopy(dict(parameters))
    node = out
    parts = key.split(".")
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, Mapping):
            raise ConfigError(f"axes.{key}: parameters.{part} is not a mapping ({child!r}); "
                              "name a key inside a mapping, e.g. mode.ecut")
        node[part] = child = dict(child)
        node = child
    node[parts[-1]] = value
    return out


@dataclass
class Point:
    key: str
    value: Any
    energy_error: float          # eV/atom, relative to the first structure
    energy_error_absolute: float  # eV/atom
    force_error: float           # eV/Å
    stress_error: float          # GPa
    seconds: float               # total calculation time of all structures
    # root mean squares over structures (energy) and components (forces, stress): the spread
    # that maximum-likelihood weights need (the maxima above are what the targets judge)
    energy_rms: float = 0.0      # eV/atom, relative to the first structure
    force_rms: float = 0.0       # eV/Å
    stress_rms: float = 0.0      # GPa

    def meets(self, targets: Mapping[str, float]) -> bool:
        return (self.energy_error <= targets["energy"] and self.force_error <= targets["forces"]
                and (math.isnan(self.stress_error) or self.stress_error <= targets["stress"]))


@dataclass
class ConvergenceResult:
    reference: dict                       # the tightest settings
    points: dict[str, list[Point]]        # per setting, loosest first
    recommended: dict[str, Any]           # per setting
    settings: dict                        # the parameters chosen: recommended, or ``use``
    combined: Point                       # errors of those settings against the reference
    targets: dict[str, float]
    reference_seconds: float
    notes: list[str] = field(default_factory=list)
    unconverged: list[str] = field(default_factory=list)   # axes whose tightest value is needed
    used: dict[str, Any] = field(default_factory=dict)      # values chosen instead (``use``)

    def noise(self) -> dict[str, float]:
        """Measured noise levels of data computed with the chosen settings: the RMS of their
        errors against the reference (energies per atom relative to the first structure over
        the other structures, every force and stress component), at least the RMS of the last
        step of each unconverged axis (its tightest value's error is unknown), and at least
        1 % of each target (a weight never becomes infinite). RMS, not the maxima the targets
        judge, because maximum-likelihood weights 1/σ² need the spread of the errors."""
        c, t = self.combined, self.targets
        energy, forces = c.energy_rms, c.force_rms
        stress = c.stress_rms if not math.isnan(c.stress_rms) else t["stress"]
        for key in self.unconverged:
            step = self.points[key][-2]
            energy, forces = max(energy, step.energy_rms), max(forces, step.force_rms)
            if not math.isnan(step.stress_rms):
                stress = max(stress, step.stress_rms)
        return {"energy_sigma": max(energy, 0.01 * t["energy"]),
                "force_sigma": max(forces, 0.01 * t["forces"]),
                "stress_sigma": max(stress, 0.01 * t["stress"])}

    def to_dict(self) -> dict:
        def point(p: Point) -> dict:
            return {"value": p.value, "energy_error_ev_per_atom": p.energy_error,
                    "energy_error_absolute_ev_per_atom": p.energy_error_absolute,
                    "force_error_ev_per_angstrom": p.force_error, "stress_error_gpa": p.stress_error,
                    "energy_rms_ev_per_atom": p.energy_rms, "force_rms_ev_per_angstrom": p.force_rms,
                    "stress_rms_gpa": p.stress_rms,
                    "seconds": p.seconds, "meets_targets": p.meets(self.targets)}

        return {"targets": self.targets, "reference": self.reference, "recommended": self.recommended,
                "settings": self.settings, "combined": point(self.combined), "noise": self.noise(),
                "reference_seconds": self.reference_seconds, "unconverged": self.unconverged,
                "used": self.used,
                "points": {k: [point(p) for p in v] for k, v in self.points.items()}, "notes": self.notes}


def _evaluate(structures: Sequence[Atoms], calc) -> list[dict]:
    out = []
    for atoms in structures:
        a = atoms.copy()
        a.calc = calc
        row = {"energy": a.get_potential_energy() / len(a), "forces": a.get_forces().copy(),
               "stress": a.get_stress().copy() / GPa if a.pbc.all() else None}
        out.append(row)
    return out


def _errors(rows: list[dict], ref: list[dict]) -> tuple[float, ...]:
    """Maxima (energy relative, energy absolute, forces, stress), then RMS (energy relative,
    forces, stress) of the differences between two sets of results."""
    de = np.array([r["energy"] - q["energy"] for r, q in zip(rows, ref)])
    relative = de - de[0]
    df = np.concatenate([(r["forces"] - q["forces"]).ravel() for r, q in zip(rows, ref)])
    ds = [r["stress"] - q["stress"] for r, q in zip(rows, ref) if r["stress"] is not None]
    ds = np.concatenate(ds) if ds else np.array([])

    def rms(x):
        return float(np.sqrt(np.mean(np.square(x)))) if x.size else math.nan

    return (float(np.max(np.abs(relative))), float(np.max(np.abs(de))),
            float(np.max(np.abs(df))) if df.size else 0.0,
            float(np.max(np.abs(ds))) if ds.size else math.nan,
            rms(relative[1:]) if relative.size > 1 else 0.0, rms(df) if df.size else 0.0, rms(ds))


def convergence_study(structures: Sequence[Atoms], make: Callable[[dict], Any], parameters: Mapping[str, Any],
                      axes: Mapping[str, Sequence[Any]], *, targets: Mapping[str, float] | None = None,
                      use: Mapping[str, Any] | None = None,
                      progress: Callable[[str], None] | None = None) -> ConvergenceResult:
    """Run the study (see the module docstring).

    Parameters
    ----------
    structures : representative structures (bulk, strained, defect, surface, ...); the first
        is the energy reference for relative energies
    make : settings -> ASE calculator
    parameters : the calculator's parameters; the axes' keys are dotted paths into them
    axes : dotted key -> values, loosest first, tightest last
    targets : energy (eV/atom), forces (eV/Å), stress (GPa); defaults 1 meV/atom, 0.02 eV/Å, 0.1 GPa
    use : axis -> value to take instead of the recommendation (one of the axis' values); the
        combined errors and the noise levels are then those of the settings actually used
    """
    say = progress or (lambda line: None)
    targets = {**DEFAULT_TARGETS, **dict(targets or {})}
    if not structures:
        raise ConfigError("structures: the study needs at least one structure")
    for key, values in axes.items():
        if len(values) < 2:
            raise ConfigError(f"axes.{key}: give at least two values, loosest first")
    use = dict(use or {})
    for key, value in use.items():
        if key not in axes:
            raise ConfigError(f"use.{key}: not an axis of the study ({', '.join(axes)})")
        if value not in list(axes[key]):
            raise ConfigError(f"use.{key}: {value!r} is not one of the axis' values "
                              f"{list(axes[key])} (its error would be unmeasured)")
    reference = dict(parameters)
    for key, values in axes.items():
        reference = with_override(reference, key, values[-1])
    t0 = time.perf_counter()
    ref_rows = _evaluate(structures, make(reference))
    t_ref = time.perf_counter() - t0
    say(f"reference (all tightest): {t_ref:.1f} s for {len(structures)} structures")
    points: dict[str, list[Point]] = {}
    recommended: dict[str, Any] = {}
    notes: list[str] = []
    unconverged: list[str] = []
    for key, values in axes.items():
        points[key] = []
        for value in values[:-1]:
            t = time.perf_counter()
            rows = _evaluate(structures, make(with_override(reference, key, value)))
            e, ea, f, s, *rms = _errors(rows, ref_rows)
            p = Point(key, value, e, ea, f, s, time.perf_counter() - t, *rms)
            points[key].append(p)
            say(f"{key} = {value}: δE {e * 1000:.3f} meV/atom, δF {f:.4f} eV/Å, δσ {s:.3f} GPa "
                f"({p.seconds:.1f} s)")
        has_stress = any(r["stress"] is not None for r in ref_rows)
        zero_stress = 0.0 if has_stress else math.nan
        points[key].append(Point(key, values[-1], 0.0, 0.0, 0.0, zero_stress, t_ref, 0.0, 0.0, zero_stress))
        # loosest value from which on every value meets the targets
        choice = values[-1]
        for k in range(len(values) - 1, -1, -1):
            if points[key][k].meets(targets):
                choice = values[k]
            else:
                break
        recommended[key] = choice
        say(f"{key}: recommended {choice}")
        if choice == values[-1]:
            step = points[key][-2]
            unconverged.append(key)
            notes.append(f"{key}: not converged within the values studied: only the tightest "
                         f"({values[-1]}) meets the targets, so its own error is unknown; the last "
                         f"step ({values[-2]} → {values[-1]}) changed energies by "
                         f"{step.energy_error * 1000:.3g} meV/atom and forces by "
                         f"{step.force_error:.3g} eV/Å, which the noise levels take as its error; "
                         "extend the axis to tighter values")
            say(f"{key}: not converged within the values studied")
    settings = dict(parameters)
    for key, value in {**recommended, **use}.items():
        settings = with_override(settings, key, value)
    for key, value in use.items():
        if value != recommended[key]:
            k = list(axes[key]).index(value)
            notes.append(f"{key}: {value} used instead of the recommended {recommended[key]} "
                         f"(errors alone: {points[key][k].energy_error * 1000:.3g} meV/atom, "
                         f"{points[key][k].force_error:.3g} eV/Å)")
    t = time.perf_counter()
    rows = _evaluate(structures, make(settings))
    e, ea, f, s, *rms = _errors(rows, ref_rows)
    combined = Point("combined", None, e, ea, f, s, time.perf_counter() - t, *rms)
    if not combined.meets(targets) and not use:
        notes.append("the combined recommendation misses a target although each setting alone meets "
                     "it (errors add up); tighten the setting with the largest error")
    say(f"{'chosen' if use else 'combined'}: δE {e * 1000:.3f} meV/atom, δF {f:.4f} eV/Å, δσ {s:.3f} GPa")
    return ConvergenceResult(reference, points, recommended, settings, combined, targets, t_ref, notes,
                             unconverged, use)


def plot_convergence(result: ConvergenceResult, path) -> None:
    """One panel per setting: errors against its value, with the targets as dashed lines."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = list(result.points)
    fig, axes = plt.subplots(len(keys), 3, figsize=(11, 3.0 * len(keys)), squeeze=False)
    t = result.targets
    for row, key in enumerate(keys):
        pts = result.points[key][:-1]
        labels = [str(p.value) for p in pts]
        x = np.arange(len(pts))
        for col, (what, attr, target, unit) in enumerate((
                ("energy", "energy_error", t["energy"] * 1000, "meV/atom"),
                ("forces", "force_error", t["forces"], "eV/Å"),
                ("stress", "stress_error", t["stress"], "GPa"))):
            ax = axes[row][col]
            y = np.array([getattr(p, attr) for p in pts]) * (1000 if what == "energy" else 1)
            ax.semilogy(x, np.maximum(y, 1e-9), "o-")
            ax.axhline(target, ls="--", color="k", lw=0.8)
            ax.set_xticks(x, labels, rotation=30)
            ax.set_title(f"{key}: {what}" + (" (not converged)" if key in result.unconverged else ""))
            ax.set_ylabel(unit)
            values = [p.value for p in pts]
            if result.recommended.get(key) in values:   # green: recommended, orange: used instead
                ax.axvline(values.index(result.recommended[key]), color="tab:green", lw=0.8)
            if key in result.used and result.used[key] in values:
                ax.axvline(values.index(result.used[key]), color="tab:orange", lw=1.2, ls=":")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def representative_structures(element: str, lattice: str, a: float, *, seed: int = 0) -> list[Atoms]:
    """Small cells of the kinds a training set holds: the primitive crystal, a strained and
    rattled conventional cell, a vacancy and a (100) slab (≤ 8 atoms each, for cheap DFT)."""
    from ase.build import bulk, surface

    if lattice not in ("fcc", "bcc", "diamond", "sc"):
        raise ConfigError(f"structures.lattice: {lattice!r}; expected fcc, bcc, diamond or sc")
    primitive = bulk(element, lattice, a)
    primitive.info.update(config_type="bulk", group="converge-bulk")
    strained = bulk(element, lattice, a, cubic=True)
    strained.set_cell(np.asarray(strained.cell) @ np.diag([1.02, 1.0, 0.99]), scale_atoms=True)
    strained.rattle(0.03, seed=seed)
    strained.info.update(config_type="strain", group="converge-strain")
    cubic = bulk(element, lattice, a, cubic=True)
    if len(cubic) < 4:
        cubic = cubic.repeat((2, 1, 1))
    vacancy = cubic.copy()
    del vacancy[0]
    vacancy.info.update(config_type="vacancy", group="converge-vacancy")
    slab = surface(bulk(element, lattice, a, cubic=True), (1, 0, 0), 2, vacuum=5.0)
    slab.pbc = True
    slab.info.update(config_type="surface", group="converge-surface")
    return [primitive, strained, vacancy, slab]


def report_markdown(result: ConvergenceResult) -> str:
    t = result.targets
    lines = ["# DFT convergence study", "",
             f"Targets: energy {t['energy'] * 1000:g} meV/atom (relative between structures), forces "
             f"{t['forces']:g} eV/Å, stress {t['stress']:g} GPa; errors against the all-tightest "
             f"settings (reference: {result.reference_seconds:.1f} s).", ""]
    for key, pts in result.points.items():
        status = " (not converged within these values)" if key in result.unconverged else ""
        used = f", used {result.used[key]}" if key in result.used else ""
        lines += [f"## {key}: recommended {result.recommended[key]}{status}{used}", "",
                  "| value | δE (meV/atom) | δE absolute (meV/atom) | δF (eV/Å) | δσ (GPa) | time (s) | meets |",
                  "|---|---|---|---|---|---|---|"]
        for p in pts:
            lines.append(f"| {p.value} | {p.energy_error * 1000:.3f} | {p.energy_error_absolute * 1000:.3f} | "
                         f"{p.force_error:.4f} | {p.stress_error:.3f} | {p.seconds:.1f} | "
                         f"{'yes' if p.meets(t) else 'no'} |")
        lines.append("")
    c = result.combined
    n = result.noise()
    lines += ["## Settings used" if result.used else "## Combined recommendation", "",
              f"Errors (largest): δE {c.energy_error * 1000:.3f} meV/atom, δF {c.force_error:.4f} eV/Å, "
              f"δσ {c.stress_error:.3f} GPa; RMS: {c.energy_rms * 1000:.3f} meV/atom, {c.force_rms:.4f} eV/Å, "
              f"{c.stress_rms:.3f} GPa; {c.seconds:.1f} s for all structures.", "",
              f"Noise levels for training (`noise.yaml`): energy_sigma {n['energy_sigma'] * 1000:.3g} meV/atom, "
              f"force_sigma {n['force_sigma']:.3g} eV/Å, stress_sigma {n['stress_sigma']:.3g} GPa.", ""]
    lines += [f"- {note}" for note in result.notes]
    return "\n".join(lines) + "\n"
