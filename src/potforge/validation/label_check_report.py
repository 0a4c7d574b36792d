"""The text report and the PNG plot of :func:`potforge.validation.label_check.check_labels`."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

__all__ = ["format_label_check", "label_check_plot"]


def _f(x, fmt: str = ".3f") -> str:
    return "n/a" if x is None else format(x, fmt)


def format_label_check(report: dict, files: list[str] | None = None) -> str:
    """A short text report: counts, the stress offset with its uncertainty, the worst pairs and
    frames by name."""
    lines = []
    if files:
        lines.append(", ".join(map(str, files)))
    lines.append(f"  frames {report['n_frames']} ({report['n_energy']} with energies), atoms {report['n_atoms']}")
    lines += _strain_lines(report)
    lines += _pair_lines(report["energy_force_pairs"])
    lines += _duplicate_lines(report["duplicates"])
    lines += _reference_lines(report["reference_energies"])
    return "\n".join(lines)


def _strain_lines(report: dict) -> list[str]:
    series = report["strain_series"]
    lines = ["energy vs stress work along strain series:"]
    if report["stress_offset_gpa"] is None:
        return lines + [f"  {series.get('note', 'no strain series')}"]
    mismatch = report["energy_stress_mismatch_mev_per_atom"]
    verdict = ("significant" if report["stress_offset_significant"]
               else "not significant (|s| < 3 sigma or < 0.1 GPa)")
    lines += [f"  {series['n_pairs']} strained pairs in {series['n_series']} series (every pair within the "
              "strain limit, robust fit)",
              f"  stress offset: {report['stress_offset_gpa']:+.3f} +- "
              f"{report['stress_offset_uncertainty_gpa']:.3f} GPa, {verdict}",
              "    (ASE sign: labels + s*I are consistent with the energies, the labels carry -s*I; "
              "loss.stress_offset takes s)",
              f"  rms mismatch dE - work, {series['n_neighbour_pairs']} neighbour pairs: "
              f"{_f(mismatch['before'])} meV/atom, with the offset {_f(mismatch['after'])} meV/atom "
              f"(all pairs: {_f(series['all_pairs_mismatch_mev_per_atom']['before'])} -> "
              f"{_f(series['all_pairs_mismatch_mev_per_atom']['after'])})"]
    return lines


def _pair_lines(pairs: dict) -> list[str]:
    lines = [f"energy vs work of forces and stresses: {pairs['n_pairs']} integrable pairs "
             f"({pairs['n_displacement_pairs']} same cell), {pairs['n_close_enough']} close enough "
             f"(rms mismatch {_f(pairs['rms_mismatch_mev_per_atom'])} meV/atom)",
             f"  inconsistent (mismatch > 3x integration error and > tolerance): {pairs['n_inconsistent']}"]
    for row in pairs["worst"]:
        lines.append(f"    {row['a']} -> {row['b']}: {row['mismatch_mev_per_atom']:+.3f} meV/atom "
                     f"(integration error {row['integration_error_mev_per_atom']:.3f})")
    return lines


def _duplicate_lines(dups: dict) -> list[str]:
    lines = [f"duplicates (within {dups['tolerance_angstrom']} A, any basis/translation/permutation): "
             f"{dups['n_pairs']} pairs, {dups['n_with_different_labels']} with different labels"]
    for row in dups["pairs"]:
        if not row["differs_in"]:
            continue
        lines.append(f"    {row['a']} = {row['b']}: {', '.join(row['differs_in'])} differ "
                     f"(dE {_f(row['energy_difference_mev_per_atom'])} meV/atom, "
                     f"dF {_f(row['force_difference_ev_per_angstrom'], '.4f')} eV/A, "
                     f"dsigma {_f(row['stress_difference_gpa'])} GPa)")
    return lines


def _reference_lines(ref: dict) -> list[str]:
    if not ref.get("mu_ev"):
        return ["reference energies: no energies"]
    mu = ", ".join(f"{k} {v:.4f}" for k, v in ref["mu_ev"].items())
    lines = [f"reference energies (least squares, eV): {mu}; residual rms "
             f"{ref['residual_rms_mev_per_atom']:.1f} meV/atom; outliers {ref['n_outliers']}"]
    for row in ref["outliers"]:
        lines.append(f"    {row['frame']}: {row['residual_mev_per_atom']:+.1f} meV/atom "
                     f"(robust z {row['robust_z']:.1f})")
    for row in ref["subset_shifts"]:
        shift = ", ".join(f"{k} {1e3 * v:+.1f}" for k, v in row["shift_ev"].items())
        lines.append(f"    {row['subset']} ({row['n_frames']} frames) explained by per-element shifts "
                     f"(meV): {shift}; rms {row['rms_before_mev_per_atom']:.1f} -> "
                     f"{row['rms_after_mev_per_atom']:.1f} meV/atom")
    return lines


def label_check_plot(report: dict, path: str | os.PathLike) -> Path:
    """Mismatch ΔE − W (meV/atom) of each strain pair against its volume strain ΔV/V, before
    and after the fitted offset; a second panel: every pair's |mismatch| against its
    integration-error estimate. Written atomically as PNG."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from ..core.atomic import atomic_path

    fig = Figure(figsize=(9.0, 4.0), layout="constrained")
    FigureCanvasAgg(fig)
    ax1, ax2 = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    rows = report["strain_series"]["pairs"]
    if rows:
        x = np.array([r["volume_strain"] for r in rows]) * 100
        ax1.scatter(x, [r["before_mev_per_atom"] for r in rows], s=14, label="labels as they are")
        ax1.scatter(x, [r["after_mev_per_atom"] for r in rows], s=14, marker="x",
                    label=f"{report['stress_offset_gpa']:+.2f} GPa added to the labels")
        ax1.axhline(0.0, color="0.6", lw=0.8)
        ax1.legend(fontsize=8)
    else:
        ax1.text(0.5, 0.5, "no strain series", ha="center", va="center", transform=ax1.transAxes)
    ax1.set_xlabel("volume strain ΔV/V of the pair (%)")
    ax1.set_ylabel("ΔE − ∫σ:dε (meV/atom)")
    ax1.set_title("energy vs stress work, strain pairs")
    if rows:
        err = np.array([r["integration_error_mev_per_atom"] for r in rows])
        ax2.scatter(np.maximum(err, 1e-4), np.maximum(np.abs([r["after_mev_per_atom"] for r in rows]), 1e-4), s=14)
        lim = [1e-4, max(1e-3, float(np.max(err)) * 2)]
        ax2.plot(lim, [3 * v for v in lim], color="0.6", lw=0.8, label="3 × integration error")
        ax2.set_xscale("log")
        ax2.set_yscale("log")
        ax2.legend(fontsize=8)
    ax2.set_xlabel("integration error estimate (meV/atom)")
    ax2.set_ylabel("|mismatch| after the offset (meV/atom)")
    ax2.set_title("are the pairs close enough?")
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    return path
