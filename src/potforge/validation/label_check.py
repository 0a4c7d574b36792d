"""Consistency of a data set's labels with each other (``potforge data check``).

Four checks, each blind to any model:

1. **Energies against the work of the stresses along strain series** (every pair of frames
   that are the same structure in slightly deformed cells, :func:`.label_pairs.strain_pairs`).
   A constant hydrostatic stress in the stress labels (the Pulay stress of a plane-wave basis
   at a fixed cut-off) changes each pair's work by ``c ≈ ΔV`` per unit stress; the stress
   ``s`` that, ADDED to the labels, makes their work match the energies is fitted robustly
   (:func:`fit_stress_offset`) and reported as ``stress_offset_gpa``, ASE sign convention:
   ``σ_consistent = σ_label + s·I``. The labels carry ``−s·I``; mlearn Cu: s ≈ −2.4 GPa, i.e.
   labels with a spurious tensile stress of 2.4 GPa (as a pressure, labels off by ``+s``).
   ``loss.stress_offset`` takes the same number.
2. **Energies against the work of the forces** (and stresses) for the integrable pairs of
   the minimum spanning tree (neighbours, independent differences), with
   an estimate of the trapezoid's error; pairs whose mismatch is well above that estimate and
   above the energy tolerance are named.
3. **Duplicated structures with different labels** (:mod:`.label_duplicates`).
4. **Reference energies**: ``E ≈ Σ_el n_el μ_el`` fitted over the set; frames whose residual
   per atom lies far outside the others of their config_type (median/MAD statistics); for
   several elements also a per-element shift that explains a subset (a source file or a
   config_type), as frames computed with other DFT settings would show.

The result is one JSON-able dict (meV/atom, GPa, Å); :mod:`.label_check_report` formats and
plots it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..core.errors import DataFormatError
from ..core.metrics import robust_sigma
from ..core.units import GPa
from ..data.frame import Frame
from .label_duplicates import find_duplicates
from .label_pairs import PairWork, pair_sets, pair_work

__all__ = ["LabelCheckOptions", "check_labels", "fit_stress_offset", "strain_series", "OFFSET_MEANING"]

OFFSET_MEANING = ("hydrostatic stress s·I that, added to the stress labels, makes them consistent with "
                  "the energies (ASE sign convention, σ = (1/V) ∂E/∂ε: σ_consistent = σ_label + s·I; "
                  "the labels carry −s·I)")

MEV = 1e3
#: GPa: smaller offsets are not reported as significant however well determined: over a 2 %
#: volume strain they change a pair's work by under 0.15 meV/atom (12 Å³/atom; mlearn Si's
#: +0.04 ± 0.016 GPa is such a case), far less than the label noise of such frames
MIN_OFFSET_GPA = 0.1
#: Tukey's biweight tuning constant (95 % efficiency for Gaussian residuals)
BIWEIGHT_C = 4.685
#: eV/Å², about the force constant of the stiffest bonds (C=O about 75, N≡N about 140): how
#: much the forces of two near-duplicates may differ per Å of displacement between them before
#: their labels count as different
NEAR_DUPLICATE_STIFFNESS = 100.0


@dataclass(frozen=True)
class LabelCheckOptions:
    """Tolerances of :func:`check_labels` (Å, eV/atom, eV/Å, GPa)."""

    max_strain: float = 0.05          # largest principal strain between paired cells
    max_displacement: float = 0.1     # Å, largest non-affine displacement between paired frames
    duplicate_tolerance: float = 0.01  # Å, largest displacement between duplicates
    energy_tolerance: float = 0.5e-3  # eV/atom, smallest mismatch worth naming
    duplicate_energy_tolerance: float = 1e-4  # eV/atom, duplicates (after the force work)
    force_tolerance: float = 0.05     # eV/Å, duplicates
    stress_tolerance_gpa: float = 0.05  # duplicates
    outlier_z: float = 10.0           # robust z-score of a frame's energy residual
    n_worst: int = 10


def fit_stress_offset(mismatch: np.ndarray, coefficient: np.ndarray, integration_error: np.ndarray,
                      pair_frames: np.ndarray | None = None) -> tuple[float, float]:
    """Offset ``s`` (eV/Å³) with ``mismatch − s·coefficient ≈ 0`` and its standard error.

    Per-pair arrays, per atom: mismatch ΔE − W of the labels (eV/atom), coefficient ∂W/∂s
    (Å³/atom), integration-error estimates (eV/atom). ``s`` is the hydrostatic stress that,
    added to the stress labels, makes their work match the energies.

    Tukey's biweight M-estimate (c = 4.685) by iteratively reweighted least squares from the
    weighted least-squares start: weights ``1/(e_int² + τ²)`` times the biweight of the
    standardised residual, τ² the scatter beyond the integration errors (robust: (1.4826·MAD)²
    less the median e_int²). Mislabelled frames (mlearn Cu frame 207) give pairs whose residual
    is many τ off; the biweight gives them no weight, where least squares lets them pull.

    The error: with ``pair_frames`` ((n_pairs, 2) frame indices), the delete-a-group jackknife
    over the frames (at most 50 groups; a group's frames leave with all their pairs), which
    counts that one frame's label enters many pairs; else, and never less than, the weighted
    least-squares standard error."""
    r, c, e = (np.asarray(x, float) for x in (mismatch, coefficient, integration_error))
    s, w = _biweight(r, c, e)
    if not np.sum(w * c * c) > 0:
        return s, np.inf
    err = float(np.sqrt(1.0 / np.sum(w * c * c)))
    # the trapezoid's error is odd in the step (E‴ Δ³/12) and so correlates with c ≈ ΔV: a
    # bias, not noise; bounded by moving every pair by its error estimate along c
    bias = float(np.sum(w * e * np.abs(c)) / np.sum(w * c * c))
    if pair_frames is not None and len(r) > 2:
        frames = np.unique(pair_frames)
        n_groups = min(len(frames), 50)
        g = np.searchsorted(frames, np.asarray(pair_frames)) % n_groups
        values = []
        for k in range(n_groups):
            keep = (g[:, 0] != k) & (g[:, 1] != k)
            if np.any(keep & (np.abs(c) > 0)):
                values.append(_biweight(r[keep], c[keep], e[keep])[0])
        if len(values) > 1:
            v = np.asarray(values)
            err = max(err, float(np.sqrt((len(v) - 1) / len(v) * np.sum((v - v.mean()) ** 2))))
    return s, float(np.hypot(err, bias))


def _biweight(r: np.ndarray, c: np.ndarray, e: np.ndarray) -> tuple[float, np.ndarray]:
    """:func:`fit_stress_offset`'s estimate and final weights (least squares where the
    biweight would leave no pair with weight)."""
    floor = 1e-12  # (1 µeV/atom)²: keeps exact pairs from taking infinite weight
    base = 1.0 / (e ** 2 + floor)
    s = float(np.sum(base * r * c) / np.sum(base * c * c))
    w = base
    for _ in range(100):
        res = r - s * c
        tau2 = max(0.0, robust_sigma(res) ** 2
                   - float(np.median(e ** 2)))
        base = 1.0 / (e ** 2 + tau2 + floor)
        z = np.abs(res) * np.sqrt(base) / BIWEIGHT_C
        w = base * np.where(z < 1.0, (1.0 - z ** 2) ** 2, 0.0)
        if np.sum(w * c * c) <= 0:
            w = base
        new = float(np.sum(w * r * c) / np.sum(w * c * c))
        converged = abs(new - s) <= 1e-6 * GPa
        s = new
        if converged:
            break
    return s, w


def check_labels(frames: Sequence[Frame], names: Sequence[str] | None = None,
                 sources: Sequence[str] | None = None,
                 options: LabelCheckOptions = LabelCheckOptions()) -> dict:
    """All four checks on ``frames``. ``names``: one label per frame for the report (e.g.
    ``train.xyz:frame 7 (Elastic)``); ``sources``: the file each frame came from (subsets of
    the reference-energy check). Returns one JSON-able dict."""
    if len(frames) == 0:
        raise DataFormatError("no frames to check; expected at least one labelled frame")
    names = list(names) if names is not None else [f"frame {k}" for k in range(len(frames))]
    tree, strained = pair_sets(frames, options.max_strain, options.max_displacement)
    works = {ab: pair_work(frames, *ab) for ab in set(tree) | set(strained)}
    pairs = [works[ab] for ab in tree]
    strain = strain_series([works[ab] for ab in strained], names, set(tree))
    offset = strain["_offset_ev_per_a3"] if strain["stress_offset_significant"] else 0.0
    report = {
        "n_frames": len(frames),
        "n_atoms": int(sum(f.n_atoms for f in frames)),
        "n_energy": sum(f.energy is not None for f in frames),
        "stress_offset_gpa": strain.pop("stress_offset_gpa"),
        "stress_offset_uncertainty_gpa": strain.pop("stress_offset_uncertainty_gpa"),
        "stress_offset_significant": strain.pop("stress_offset_significant"),
        "stress_offset_meaning": OFFSET_MEANING,
        "energy_stress_mismatch_mev_per_atom": strain.pop("energy_stress_mismatch_mev_per_atom"),
    }
    strain.pop("_offset_ev_per_a3")
    report["strain_series"] = strain
    report["energy_force_pairs"] = _energy_force(pairs, names, offset, options)
    report["duplicates"] = _duplicates(frames, names, options)
    report["reference_energies"] = _reference_energies(frames, names, sources, options)
    return report


def strain_series(pairs: list[PairWork], names: Sequence[str],
                  neighbours: set[tuple[int, int]] | None = None) -> dict:
    """Check 1 on integrable ``pairs`` (:func:`.label_pairs.pair_work`; normally every pair of
    :func:`.label_pairs.strain_pairs`): the pairs whose cells differ, the fitted offset
    (``stress_offset_gpa``: the hydrostatic stress to ADD to the labels, its uncertainty,
    significance: ``|s| > 3σ`` and ``|s| ≥`` :data:`MIN_OFFSET_GPA`; ``_offset_ev_per_a3``: the
    same in eV/Å³) and the rms mismatch per atom before and after it over the ``neighbours``
    among them (the spanning tree's pairs: small steps, where the trapezoid is accurate; all
    pairs when None; ``all_pairs_mismatch_mev_per_atom``: over every pair); ``None`` values and
    a note without strain series."""
    strained = [p for p in pairs if p.strain > 1e-6]
    out = {"n_pairs": len(strained), "n_series": _n_components([(p.a, p.b) for p in strained]),
           "pairing": "every pair of frames that are the same atoms in cells within the strain limit "
                      "(each frame in many pairs); Tukey biweight fit, frame-jackknife uncertainty",
           "stress_offset_gpa": None, "stress_offset_uncertainty_gpa": None,
           "stress_offset_significant": None, "_offset_ev_per_a3": 0.0,
           "energy_stress_mismatch_mev_per_atom": {"before": None, "after": None},
           "all_pairs_mismatch_mev_per_atom": {"before": None, "after": None}, "n_neighbour_pairs": 0,
           "pairs": []}
    if len(strained) < 2 or not np.any([abs(p.volume_change) > 1e-9 * p.volume for p in strained]):
        out["note"] = ("no strain series (fewer than two pairs of frames that are the same "
                       "structure in slightly different cells, or no volume change): no stress "
                       "offset fitted")
        return out
    n = np.array([p.n_atoms for p in strained], float)
    r = np.array([p.mismatch for p in strained]) / n
    c = np.array([p.offset_coefficient for p in strained]) / n
    e = np.array([p.integration_error for p in strained]) / n
    s, err = fit_stress_offset(r, c, e, np.array([(p.a, p.b) for p in strained]))
    after = r - s * c
    near = np.array([neighbours is None or (p.a, p.b) in neighbours for p in strained])
    near = near if near.any() else np.ones(len(r), bool)
    out.update({
        "stress_offset_gpa": s / GPa, "stress_offset_uncertainty_gpa": err / GPa,
        "stress_offset_significant": bool(abs(s) > 3.0 * err and abs(s) >= MIN_OFFSET_GPA * GPa),
        "_offset_ev_per_a3": s,
        "energy_stress_mismatch_mev_per_atom": _rms_pair(r[near], after[near]),
        "all_pairs_mismatch_mev_per_atom": _rms_pair(r, after), "n_neighbour_pairs": int(near.sum())})
    out["pairs"] = [{"a": names[p.a], "b": names[p.b], "strain": p.strain,
                     "volume_strain": p.volume_change / p.volume, "before_mev_per_atom": MEV * rb,
                     "after_mev_per_atom": MEV * ra, "integration_error_mev_per_atom": MEV * ek,
                     "neighbours": bool(nk)} for p, rb, ra, ek, nk in zip(strained, r, after, e, near)]
    return out


def _rms_pair(before: np.ndarray, after: np.ndarray) -> dict:
    return {"before": MEV * float(np.sqrt(np.mean(before ** 2))),
            "after": MEV * float(np.sqrt(np.mean(after ** 2)))}


def _n_components(edges: list[tuple[int, int]]) -> int:
    parent: dict[int, int] = {}

    def root(k: int) -> int:
        parent.setdefault(k, k)
        while parent[k] != k:
            k = parent[k]
        return k

    for a, b in edges:
        parent[root(a)] = root(b)
    return len({root(k) for k in list(parent)})


def _energy_force(pairs: list[PairWork], names: Sequence[str], offset: float,
                  options: LabelCheckOptions) -> dict:
    """Every (spanning-tree) pair: mismatch (after adding the significant stress offset to the
    labels) against the
integration error; close enough = error estimate below a third of the energy tolerance."""
    rows = []
    for p in pairs:
        m = (p.mismatch - offset * p.offset_coefficient) / p.n_atoms
        e = p.integration_error / p.n_atoms
        rows.append((p, m, e))
    close = [(p, m, e) for p, m, e in rows if e <= options.energy_tolerance / 3]
    bad = [(p, m, e) for p, m, e in rows if abs(m) > max(3 * e, options.energy_tolerance)]
    bad.sort(key=lambda t: -(abs(t[1]) - 3 * t[2]))
    return {
        "n_pairs": len(rows),
        "n_displacement_pairs": sum(p.strain <= 1e-6 for p, _, _ in rows),
        "n_close_enough": len(close),
        "rms_mismatch_mev_per_atom": MEV * float(np.sqrt(np.mean([m ** 2 for _, m, _ in close])))
        if close else None,
        "stress_offset_applied_gpa": offset / GPa,
        "n_inconsistent": len(bad),
        "worst": [{"a": names[p.a], "b": names[p.b], "mismatch_mev_per_atom": MEV * m,
                   "integration_error_mev_per_atom": MEV * e, "strain": p.strain,
                   "displacement_angstrom": p.displacement} for p, m, e in bad[:options.n_worst]],
    }


def _duplicates(frames: Sequence[Frame], names: Sequence[str], options: LabelCheckOptions) -> dict:
    found = find_duplicates(frames, options.duplicate_tolerance,
                            (options.duplicate_energy_tolerance, options.force_tolerance,
                             options.stress_tolerance_gpa * GPa))
    rows = []
    for d in found:
        problems = []
        if d.energy_difference is not None and d.energy_difference > options.duplicate_energy_tolerance:
            problems.append("energy")
        # near-duplicates: forces may differ by a stiff force constant times the displacement
        allowed = options.force_tolerance + NEAR_DUPLICATE_STIFFNESS * d.displacement
        if d.force_difference is not None and d.force_difference > allowed:
            problems.append("forces")
        if d.stress_difference is not None and d.stress_difference > options.stress_tolerance_gpa * GPa:
            problems.append("stress")
        rows.append({"a": names[d.a], "b": names[d.b], "displacement_angstrom": d.displacement,
                     "energy_difference_mev_per_atom": _scaled(d.energy_difference, MEV),
                     "force_difference_ev_per_angstrom": d.force_difference,
                     "stress_difference_gpa": _scaled(d.stress_difference, 1 / GPa),
                     "differs_in": problems})
    differing = [r for r in rows if r["differs_in"]]
    differing.sort(key=lambda r: -(r["energy_difference_mev_per_atom"] or 0.0))
    return {"n_pairs": len(rows), "n_with_different_labels": len(differing),
            "tolerance_angstrom": options.duplicate_tolerance,
            "pairs": differing[:options.n_worst] + [r for r in rows if not r["differs_in"]][:options.n_worst]}


def _scaled(x: float | None, factor: float) -> float | None:
    return None if x is None else x * factor


def _reference_energies(frames: Sequence[Frame], names: Sequence[str], sources: Sequence[str] | None,
                        options: LabelCheckOptions) -> dict:
    """Least-squares per-element energies and frames that do not fit them."""
    idx = [k for k, f in enumerate(frames) if f.energy is not None]
    if not idx:
        return {"note": "no energies", "mu_ev": {}, "n_outliers": 0, "outliers": [], "subset_shifts": []}
    species = sorted({s for k in idx for s in frames[k].symbols})
    x = np.array([[frames[k].symbols.count(s) for s in species] for k in idx], float)
    y = np.array([frames[k].energy for k in idx])
    n = x.sum(axis=1)
    mu = np.linalg.lstsq(x / n[:, None], y / n, rcond=None)[0]
    resid = (y - x @ mu) / n
    types = [frames[k].config_type or "" for k in idx]
    force2 = np.array([0.0 if frames[k].forces is None else float(np.mean(np.sum(frames[k].forces ** 2, axis=1)))
                       for k in idx])
    # an outlier both as it is and after the thermal trend: either view alone mistakes hot AIMD
    # frames (far from the median, or off a trend that is not quite linear) for wrong labels
    z_raw, gap_raw = _robust_z(resid, np.zeros_like(force2), types)
    z_hot, gap_hot = _robust_z(resid, force2, types)
    z = np.where(np.abs(z_raw) < np.abs(z_hot), z_raw, z_hot)
    gap = np.minimum(gap_raw, gap_hot)
    flagged = np.nonzero((np.abs(z) > options.outlier_z) & (gap > options.outlier_z)
                         & (np.abs(resid - np.median(resid)) > options.energy_tolerance))[0]
    flagged = sorted(flagged, key=lambda k: -abs(z[k]))
    out = {"mu_ev": dict(zip(species, map(float, mu))),
           "residual_rms_mev_per_atom": MEV * float(np.sqrt(np.mean(resid ** 2))),
           "n_outliers": len(flagged),
           "outliers": [{"frame": names[idx[k]], "residual_mev_per_atom": MEV * float(resid[k]),
                         "robust_z": float(z[k]), "gap_z": float(gap[k])} for k in flagged[:options.n_worst]],
           "subset_shifts": []}
    if len(species) > 1:
        out["subset_shifts"] = _subset_shifts(frames, sources, idx, x, n, resid, species, options)
    return out


def _detrended(resid: np.ndarray, force2: np.ndarray) -> np.ndarray:
    """Residuals less a robust straight line in the mean squared force: thermal energy, about
    ``⟨|F|²⟩ / 2k`` per atom for a harmonic solid, is no sign of a wrong label. Fitted twice,
    the second time without points beyond 5 MADs of the first."""
    keep = np.ones(len(resid), bool)
    out = resid - np.median(resid)
    for _ in range(2):
        if keep.sum() < 3 or np.ptp(force2[keep]) <= 0:
            break
        slope, intercept = np.polyfit(force2[keep], resid[keep], 1)
        out = resid - (intercept + slope * force2)
        mad = float(np.median(np.abs(out - np.median(out))))
        keep = np.abs(out - np.median(out)) <= 5 * 1.4826 * max(mad, 1e-9)
    return out


def _robust_z(resid: np.ndarray, force2: np.ndarray, types: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Two robust scores of each frame's residual within its config_type (at least 5 frames;
    else among all frames), after the thermal trend (:func:`_detrended`): the distance from the
    median and the gap to the nearest other frame, each in units of 1.4826 × its median
    (floored at 1 µeV/atom). A frame inside a cluster has a small gap score."""
    z, gap = np.zeros_like(resid), np.zeros_like(resid)
    by_type: dict[str, list[int]] = defaultdict(list)
    for k, t in enumerate(types):
        by_type[t].append(k)
    for members in by_type.values():
        ref = np.array(members if len(members) >= 5 else range(len(resid)))
        if len(ref) < 3:
            continue
        detrended = _detrended(resid[ref], force2[ref])
        med = np.median(detrended)
        mad = max(robust_sigma(detrended), 1e-6)
        d = np.abs(detrended[:, None] - detrended[None])
        np.fill_diagonal(d, np.inf)
        nn = d.min(axis=1)
        scale = max(1.4826 * float(np.median(nn)), 1e-6)
        where = {int(k): row for row, k in enumerate(ref)}
        for k in members:
            z[k] = (detrended[where[k]] - med) / mad
            gap[k] = nn[where[k]] / scale
    return z, gap


def _subset_shifts(frames, sources, idx, x, n, resid, species, options: LabelCheckOptions) -> list[dict]:
    """Per-element shifts that explain the residuals of one source file or config_type: named
    when the subset's residual exceeds the energy tolerance and the shifts remove far more of
    it than chance would (F statistic of the shifts against what remains > 10). Against the
    global fit the other frames then carry the opposite shift, so with two sources both show."""
    subsets: dict[str, list[int]] = defaultdict(list)
    for row, k in enumerate(idx):
        f = frames[k]
        if f.config_type:
            subsets[f"config_type {f.config_type}"].append(row)
        if sources is not None and len(set(sources)) > 1:
            subsets[f"file {sources[k]}"].append(row)
    found = []
    for name, rows in subsets.items():
        if len(rows) < 2 or len(rows) == len(idx):
            continue
        a = x[rows] / n[rows, None]
        shift, _, rank, _ = np.linalg.lstsq(a, resid[rows], rcond=None)
        before = float(np.sqrt(np.mean(resid[rows] ** 2)))
        after = float(np.sqrt(np.mean((resid[rows] - a @ shift) ** 2)))
        dof = len(rows) - rank
        explained = (before ** 2 - after ** 2) * len(rows) / rank
        f_stat = np.inf if after ** 2 * len(rows) <= 1e-18 * dof else explained / (after ** 2 * len(rows) / max(dof, 1))
        if before > options.energy_tolerance and dof > 0 and f_stat > 10.0:
            found.append({"subset": name, "n_frames": len(rows),
                          "shift_ev": dict(zip(species, map(float, shift))),
                          "rms_before_mev_per_atom": MEV * before, "rms_after_mev_per_atom": MEV * after})
    return found
