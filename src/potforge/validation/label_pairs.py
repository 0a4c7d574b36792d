"""Pairs of labelled frames close enough to integrate between, and the work of their labels.

Two frames are *integrable* when they hold the same atoms in the same order (same species
sequence and periodicity), their cells differ by a small deformation and the atoms' positions
relative to the cell (fractional coordinates, translation removed) differ by a small
displacement. Along the straight path between them (cell ``C(t) = C_a + t ΔC`` and fractional
coordinates ``s(t) = s_a + t Δs``, ASE's row-vector cells, ``r = s C``) the energy changes by

    dE/dt = V σ : (C⁻¹ ΔC)  −  Σ_i F_i · (Δs_i C)

with the ASE stress ``σ = (1/V) ∂E/∂ε`` (a deformation ``r → r (I + ε)``; the antisymmetric part
of ``C⁻¹ ΔC`` is a rotation and does no work). With labels at both ends only, the work is the
trapezoid of the two end values; the left and right rules (one end's labels) bracket it. The
trapezoid's error is ``E'''/12`` (path parameter t ∈ [0, 1]) and ``W_right − W_left = E''``, so
``ρ |W_right − W_left| / 12`` estimates it where the curvature changes by the fraction ρ over
the step; ρ = min(1, ε/0.1 + d/0.5 Å) from the pair's strain ε and largest displacement d
(ρ = 1, a bound for any step, is far too cautious for ordinary steps: 1 % strain changes an
elastic constant by about 10 %).

A hydrostatic stress ``s·I`` present in both labels adds ``s · c`` to the trapezoid, with
``c = ½ (V_a tr(C_a⁻¹ΔC) + V_b tr(C_b⁻¹ΔC))``, which is ΔV to second order (``∫ V d ln V = ΔV``).

Which pairs (:func:`pair_sets`): for the stress offset, every integrable pair whose cells
differ; for the energy-vs-forces check, within each set of mutually integrable frames, the
edges of the minimum spanning tree under the distance ``sqrt(ℓ² ‖ε‖² + mean_i |Δr_i|²)``
(``ε`` the Green–Lagrange strain between the cells, ``ℓ = (V/N)^⅓``, ``Δr`` the non-affine
displacements, Å). For a strain series these are the neighbours in strain (−2 % with −1 %,
−1 % with 0, ...), every frame is in at least one pair and no energy difference is counted
twice (the tree's differences are independent).
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..data.frame import Frame

__all__ = ["PairWork", "integrable_pairs", "strain_pairs", "pair_sets", "pair_work", "green_strain",
           "ANHARMONIC_STRAIN", "ANHARMONIC_LENGTH", "MAX_STRAIN_PAIRS",
           "MAX_EDGES_PER_FRAME"]

#: strain and displacement (Å) over which the curvature of the energy changes by its own size:
#: third-order elastic constants are about ten times the second-order ones, and a bond's
#: third derivative is a few times its second per Å (less for many atoms moving at random)
ANHARMONIC_STRAIN = 0.1
ANHARMONIC_LENGTH = 0.5
#: most strained pairs for the stress-offset fit (the closest are kept; mlearn's 108 Cu Elastic
#: frames give 2,234)
MAX_STRAIN_PAIRS = 20000
#: candidate edges kept per frame (to later frames), the nearest: bounds the edge list of MD
#: sets to O(n) (every pair of 20,000 close frames would be 2·10⁸); larger than any mlearn group
MAX_EDGES_PER_FRAME = 128


@dataclass(frozen=True)
class PairWork:
    """The energy difference of two frames and the work of their labels between them (eV, Å³).

    ``delta_energy = E_b − E_a``; ``work`` is the trapezoid of stresses and forces, ``work_left``
    and ``work_right`` the rules with the labels of ``a`` or ``b`` alone, ``offset_coefficient``
    the change of ``work`` per unit hydrostatic stress in both labels (≈ ΔV). ``strain``: the
    largest principal Green–Lagrange strain between the cells; ``displacement``: the largest
    non-affine displacement (Å); ``volume_change``: V_b − V_a (Å³)."""

    a: int
    b: int
    n_atoms: int
    strain: float
    volume_change: float
    volume: float
    displacement: float
    delta_energy: float
    work: float
    work_left: float
    work_right: float
    offset_coefficient: float

    @property
    def mismatch(self) -> float:
        """ΔE − W (eV): zero for consistent labels up to the trapezoid's error."""
        return self.delta_energy - self.work

    @property
    def integration_error(self) -> float:
        """Estimate of the trapezoid's error (eV): ``ρ |W_right − W_left| / 12`` with the
        relative change of the curvature over the step ``ρ = min(1, ε/ε₀ + d/d₀)``."""
        rho = min(1.0, self.strain / ANHARMONIC_STRAIN + self.displacement / ANHARMONIC_LENGTH)
        return rho * abs(self.work_right - self.work_left) / 12.0


def green_strain(cell_a: np.ndarray, cell_b: np.ndarray) -> np.ndarray:
    """Green–Lagrange strain (3, 3) taking cell ``a`` to cell ``b`` (rows: lattice vectors);
    ``cell_b`` may be a stack (n, 3, 3), giving (n, 3, 3).

    ``D = C_a⁻¹ C_b`` maps row vectors of ``a`` to ``b``; the strain ``(D Dᵀ − I)/2`` is blind to
    rotations of ``b``."""
    d = np.linalg.solve(cell_a, cell_b) if np.ndim(cell_b) == 2 else \
        np.einsum("ij,njk->nik", np.linalg.inv(cell_a), cell_b)
    return 0.5 * (d @ np.swapaxes(d, -1, -2) - np.eye(3))


def _stress_tensor(voigt: np.ndarray) -> np.ndarray:
    xx, yy, zz, yz, xz, xy = voigt
    return np.array([[xx, xy, xz], [xy, yy, yz], [xz, yz, zz]])


def _fully_periodic(frame: Frame) -> bool:
    return bool(np.all(frame.atoms.pbc)) and abs(np.linalg.det(np.asarray(frame.atoms.cell))) > 1e-9


def pair_work(frames: Sequence[Frame], a: int, b: int) -> PairWork:
    """ΔE and the work of the labels of ``frames[a]`` and ``frames[b]`` (same atoms in the same
    order) along the straight path between them. Stress terms need both stresses where the
    cells differ, force terms both force sets where the atoms move relative to the cell."""
    fa, fb = frames[a], frames[b]
    ca, cb = np.asarray(fa.atoms.cell, float), np.asarray(fb.atoms.cell, float)
    periodic = _fully_periodic(fa)
    ds = _displacement(fa, fb, periodic)
    dc = cb - ca
    terms, coefficient = [], 0.0
    for frame, cell in ((fa, ca), (fb, cb)):
        term = 0.0
        if periodic:
            grad = np.linalg.solve(cell, dc)        # C⁻¹ ΔC
            volume = abs(np.linalg.det(cell))
            if np.any(dc != 0) and frame.stress is not None:
                term += volume * float(np.sum(_stress_tensor(frame.stress) * grad))
            coefficient += 0.5 * volume * float(np.trace(grad))
            dr = ds @ cell
        else:
            dr = ds
        if frame.forces is not None:
            term -= float(np.sum(frame.forces * dr))
        terms.append(term)
    strain, dv, volume = 0.0, 0.0, 0.0
    if periodic:
        strain = float(np.max(np.abs(np.linalg.eigvalsh(green_strain(ca, cb)))))
        va, vb = abs(np.linalg.det(ca)), abs(np.linalg.det(cb))
        dv, volume = vb - va, 0.5 * (va + vb)
        disp = float(np.max(np.linalg.norm(ds @ (0.5 * (ca + cb)), axis=1)))
    else:
        disp = float(np.max(np.linalg.norm(ds, axis=1)))
    return PairWork(a, b, fa.n_atoms, strain, float(dv), float(volume), disp,
                    float(fb.energy - fa.energy), 0.5 * (terms[0] + terms[1]), 2.0 * terms[0],
                    2.0 * terms[1], coefficient)


def _displacement(fa: Frame, fb: Frame, periodic: bool) -> np.ndarray:
    """Fractional (periodic) or Cartesian displacements b − a, wrapped and without their mean."""
    if periodic:
        d = fb.atoms.get_scaled_positions(wrap=False) - fa.atoms.get_scaled_positions(wrap=False)
        d -= np.round(d)
        d -= np.round(d - d[0])  # the same image as atom 0 for everyone before taking the mean
    else:
        d = fb.atoms.positions - fa.atoms.positions
    return d - d.mean(axis=0)


def _group_key(frame: Frame) -> tuple:
    return (tuple(frame.atoms.numbers), tuple(bool(p) for p in frame.atoms.pbc))


def _edges_of_group(frames: Sequence[Frame], max_strain: float, max_displacement: float):
    """Candidate edges (i, j, distance) between frames of one group (same atoms, same order)."""
    periodic = _fully_periodic(frames[0])
    n = len(frames)
    cells = np.array([np.asarray(f.atoms.cell, float) for f in frames])
    if periodic:
        coords = np.array([f.atoms.get_scaled_positions(wrap=False) for f in frames])
    else:
        coords = np.array([f.atoms.positions for f in frames])
    volumes = np.abs(np.linalg.det(cells))
    # a principal strain ≤ ε bounds the volume ratio by ((1 ± 2ε)^½)³: a cheap first filter
    low, high = (1 - 2 * min(max_strain, 0.49)) ** 1.5, (1 + 2 * max_strain) ** 1.5
    edges = []
    for i in range(n - 1):
        rest = np.arange(i + 1, n)
        if periodic:
            ratio = volumes[rest] / volumes[i]
            rest = rest[(ratio >= low * (1 - 1e-12)) & (ratio <= high * (1 + 1e-12))]
            if len(rest) == 0:
                continue
            strains = green_strain(cells[i], cells[rest])
            principal = np.max(np.abs(np.linalg.eigvalsh(strains)), axis=1)
            d = coords[rest] - coords[i]
            d -= np.round(d)
            d -= np.round(d - d[:, :1])
            d -= d.mean(axis=1, keepdims=True)
            dr = d @ (0.5 * (cells[rest] + cells[i]))
            length = (abs(np.linalg.det(cells[i])) / len(coords[i])) ** (1 / 3)
            strain_term = length ** 2 * np.sum(strains ** 2, axis=(1, 2))
        else:
            principal = np.where(np.all(np.abs(cells[rest] - cells[i]) < 1e-9, axis=(1, 2)), 0.0, np.inf)
            dr = coords[rest] - coords[i]
            dr -= dr.mean(axis=1, keepdims=True)
            strain_term = np.zeros(len(rest))
        norms = np.linalg.norm(dr, axis=2)
        ok = (principal <= max_strain) & (np.max(norms, axis=1) <= max_displacement)
        dist = np.sqrt(strain_term + np.mean(norms ** 2, axis=1))
        rest, dist = rest[ok], dist[ok]
        if len(rest) > MAX_EDGES_PER_FRAME:  # MD or thermal sets: the nearest suffice, memory O(n)
            keep = np.sort(np.argsort(dist, kind="stable")[:MAX_EDGES_PER_FRAME])
            rest, dist = rest[keep], dist[keep]
        edges.extend(zip(itertools.repeat(i), rest.tolist(), dist.tolist()))
    return edges


def _spanning_tree(n: int, edges: list) -> list[tuple[int, int]]:
    """Edges of the minimum spanning forest (Kruskal: ties keep the input order)."""
    parent = list(range(n))

    def root(k: int) -> int:
        while parent[k] != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    tree = []
    for i, j, _ in sorted(edges, key=lambda e: e[2]):
        ri, rj = root(i), root(j)
        if ri != rj:
            parent[ri] = rj
            tree.append((i, j))
    return tree


def _candidate_groups(frames: Sequence[Frame], max_strain: float, max_displacement: float):
    """(members, edges) of each set of frames with energies that hold the same atoms in the same
    order: ``members`` indexes ``frames``, ``edges`` are :func:`_edges_of_group`'s."""
    groups: dict[tuple, list[int]] = defaultdict(list)
    for k, frame in enumerate(frames):
        if frame.energy is not None and (frame.forces is not None or frame.stress is not None):
            groups[_group_key(frame)].append(k)
    for members in groups.values():
        if len(members) >= 2:
            yield members, _edges_of_group([frames[k] for k in members], max_strain, max_displacement)


Pairs = list[tuple[int, int]]


def pair_sets(frames: Sequence[Frame], max_strain: float = 0.05, max_displacement: float = 0.1,
              max_strain_pairs: int = MAX_STRAIN_PAIRS) -> tuple[Pairs, Pairs]:
    """Two sets of pairs ``(i, j)`` (``i < j``) of integrable frames with energies (largest
    principal strain ≤ ``max_strain``, every non-affine displacement ≤ ``max_displacement`` Å).

    The first: the minimum-spanning-tree edges of each set (neighbours in strain and
    displacement; independent energy differences, for the energy-vs-forces check). The second:
    every integrable pair whose cells differ (for the stress offset: each frame enters through
    many pairs, so one mislabelled frame cannot steer the fit, see
    :func:`potforge.validation.label_check.fit_stress_offset`); beyond ``max_strain_pairs`` only
    the closest pairs are kept."""
    tree_pairs, strained = [], []
    for members, edges in _candidate_groups(frames, max_strain, max_displacement):
        for i, j in _spanning_tree(len(members), edges):
            a, b = sorted((members[i], members[j]))
            if _labels_cover(frames[a], frames[b]):
                tree_pairs.append((a, b))
        cells = np.array([np.asarray(frames[k].atoms.cell, float) for k in members])
        ij = np.array([(i, j) for i, j, _ in edges], dtype=int).reshape(-1, 2)
        differ = np.max(np.abs(cells[ij[:, 0]] - cells[ij[:, 1]]), axis=(1, 2), initial=0.0) > 1e-8  # _cells_differ
        for k in np.nonzero(differ)[0]:
            i, j, dist = edges[k]
            a, b = sorted((members[i], members[j]))
            if _labels_cover(frames[a], frames[b]):
                strained.append((dist, a, b))
    strained.sort()
    return sorted(tree_pairs), sorted((a, b) for _, a, b in strained[:max_strain_pairs])


def integrable_pairs(frames: Sequence[Frame], max_strain: float = 0.05,
                     max_displacement: float = 0.1) -> list[tuple[int, int]]:
    """The minimum-spanning-tree pairs of :func:`pair_sets`."""
    return pair_sets(frames, max_strain, max_displacement)[0]


def strain_pairs(frames: Sequence[Frame], max_strain: float = 0.05, max_displacement: float = 0.1,
                 max_strain_pairs: int = MAX_STRAIN_PAIRS) -> list[tuple[int, int]]:
    """Every integrable pair whose cells differ: the second set of :func:`pair_sets`."""
    return pair_sets(frames, max_strain, max_displacement, max_strain_pairs)[1]


def _cells_differ(fa: Frame, fb: Frame) -> bool:
    return bool(np.max(np.abs(np.asarray(fa.atoms.cell) - np.asarray(fb.atoms.cell))) > 1e-8)


def _labels_cover(fa: Frame, fb: Frame) -> bool:
    """Both frames carry what the path needs: stresses where the cells differ, forces where
    atoms move relative to the cell (tolerances far below any meaningful work)."""
    if _cells_differ(fa, fb) and (fa.stress is None or fb.stress is None):
        return False
    moved = np.max(np.abs(_displacement(fa, fb, _fully_periodic(fa)))) > 1e-10
    return not (moved and (fa.forces is None or fb.forces is None))
