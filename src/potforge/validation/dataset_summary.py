"""Counts and label statistics of a data set, for the terminal (``potforge data info``)."""

from __future__ import annotations

from collections.abc import Sequence

from ..core.units import GPa
from ..data.dataset import Dataset

__all__ = ["dataset_summary", "format_dataset_summary"]


def dataset_summary(data: Dataset) -> dict:
    """Counts and label statistics of a data set as a JSON-able dict (eV, Å units)."""
    stats = data.statistics()
    periodic = sum(1 for f in data if f.is_periodic)
    return {
        "n_frames": len(data),
        "n_atoms": data.n_atoms,
        "n_periodic": periodic,
        "n_open": len(data) - periodic,
        "atoms_per_frame_min": min((f.n_atoms for f in data), default=0),
        "atoms_per_frame_max": max((f.n_atoms for f in data), default=0),
        "elements": data.element_counts(),
        "config_types": {k: {"frames": v[0], "atoms": v[1]} for k, v in data.config_type_counts().items()},
        "labels": {
            "energy": stats.n_energy, "forces": stats.n_forces, "stress": stats.n_stress,
        },
        "energy_per_atom_ev": None if stats.energy_per_atom_mean is None else {
            "min": stats.energy_per_atom_min, "max": stats.energy_per_atom_max,
            "mean": stats.energy_per_atom_mean, "std": stats.energy_per_atom_std},
        "force_component_rms_ev_per_angstrom": stats.force_component_rms,
        "force_max_norm_ev_per_angstrom": stats.force_max_norm,
        "stress_abs_max_gpa": None if stats.stress_abs_max is None else stats.stress_abs_max / GPa,
    }


def format_dataset_summary(summary: dict, files: Sequence[str]) -> str:
    lines = [f"{', '.join(map(str, files))}",
             f"  frames {summary['n_frames']} ({summary['n_periodic']} periodic, {summary['n_open']} open), "
             f"atoms {summary['n_atoms']} ({summary['atoms_per_frame_min']}-{summary['atoms_per_frame_max']} per frame)",
             "  elements: " + ", ".join(f"{k} {v}" for k, v in summary["elements"].items())]
    lines.append("  config_type            frames    atoms")
    for name, c in summary["config_types"].items():
        lines.append(f"    {name:<20} {c['frames']:>6} {c['atoms']:>8}")
    lab = summary["labels"]
    lines.append(f"  labelled: energy {lab['energy']}, forces {lab['forces']}, stress {lab['stress']} frames")
    e = summary["energy_per_atom_ev"]
    if e:
        lines.append(f"  energy/atom (eV): min {e['min']:.6f}  max {e['max']:.6f}  mean {e['mean']:.6f}  "
                     f"std {e['std']:.6f}")
    if summary["force_component_rms_ev_per_angstrom"] is not None:
        lines.append(f"  forces (eV/Å): component RMS {summary['force_component_rms_ev_per_angstrom']:.4f}  "
                     f"max |F| {summary['force_max_norm_ev_per_angstrom']:.4f}")
    if summary["stress_abs_max_gpa"] is not None:
        lines.append(f"  stress: max |component| {summary['stress_abs_max_gpa']:.3f} GPa")
    return "\n".join(lines)
