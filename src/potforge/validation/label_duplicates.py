"""Duplicated and near-duplicated structures in a data set, and how far their labels differ.

Two frames are duplicates when they hold the same composition and number of atoms and one maps
onto the other within ``tolerance`` (Å) by a choice of cell basis, a translation and a
permutation of like atoms (periodic frames), or have the same sorted interatomic distances
within ``tolerance`` (open and partly periodic frames, where a rotation is free; their labels
are compared in file order). Candidates are found first with a
cheap permutation- and rotation-invariant fingerprint: per species, the sorted multiset of every
atom's distances to its nearest neighbours. Displacing atoms by at most δ moves every entry of
the sorted multiset by at most 2δ, so the filter never loses a true match.
"""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..core.neighbors import neighbor_list
from ..data.frame import Frame

__all__ = ["DuplicatePair", "find_duplicates", "structure_fingerprint"]

N_NEIGHBOURS = 8
#: mappings (symmetry-related ways to lay one structure onto the other) tried per duplicate
#: before its labels count as different: correct labels agree under every one of them, so
#: more are needed only where a frame's own labels break its symmetry
MAX_MAPPINGS = 6
#: neighbours per atom in the per-atom test that rejects most near misses before the search
#: for a mapping (:func:`_atoms_match`): the first three shells of fcc (12 + 6 + 24); fewer
#: let a quarter of thermal near misses (0.015 Å rms) through for 12
MATCH_NEIGHBOURS = 42
#: slack (Å) on that test, far above float32 rounding of distances up to 12 Å
ENV_SLACK = 1e-4


@dataclass(frozen=True)
class DuplicatePair:
    """Two frames with the same structure within the tolerance, and their label differences.

    ``energy_difference``: |E_b − E_a − W|/N (eV/atom), W the work of the forces over the
    small displacement between them (zero for exact duplicates); ``force_difference``: largest
    force component difference (eV/Å) after the permutation and rotation; ``stress_difference``:
    largest stress component difference (eV/Å³). ``None`` where a label is missing."""

    a: int
    b: int
    displacement: float
    energy_difference: float | None
    force_difference: float | None
    stress_difference: float | None


def structure_fingerprint(frame: Frame, k: int = N_NEIGHBOURS) -> np.ndarray:
    """Per species (in order of atomic number), the sorted distances (Å) of each atom to its
    ``k`` nearest neighbours (all others in small open frames), concatenated."""
    nearest = _nearest_distances(frame, k)
    numbers = frame.atoms.numbers
    if len(nearest) < 2:
        return np.zeros(0)
    return np.concatenate([np.sort(nearest[numbers == z].ravel()) for z in np.unique(numbers)])


def _nearest_distances(frame: Frame, k: int) -> np.ndarray:
    """(n, k): each atom's distances (Å) to its ``k`` nearest neighbours, sorted (inf where an
    atom has fewer; ``min(k, n − 1)`` columns for open frames)."""
    atoms = frame.atoms
    n = len(atoms)
    if n < 2:
        return np.zeros((n, 0))
    periodic = bool(np.any(atoms.pbc))
    k = k if periodic else min(k, n - 1)
    if periodic:
        i, d = _periodic_neighbours(frame, k)
    else:
        dist = np.linalg.norm(atoms.positions[:, None] - atoms.positions[None], axis=2)
        i = np.repeat(np.arange(n), n - 1)
        d = dist[~np.eye(n, dtype=bool)]
    order = np.lexsort((d, i))
    i, d = i[order], d[order]
    rank = np.arange(len(i)) - np.searchsorted(i, i)   # position among the atom's neighbours
    nearest = np.full((n, k), np.inf)
    keep = rank < k
    nearest[i[keep], rank[keep]] = d[keep]
    return nearest


def _environments(frames: Sequence[Frame]) -> tuple[np.ndarray, np.ndarray, list[slice]]:
    """(n_frames, n_atoms, k) :func:`_nearest_distances` (float32, inf as 1e9) of frames of
    one composition, atoms in file order and ordered by species (stably), and the slice of each
    species in the latter."""
    numbers = frames[0].atoms.numbers
    envs = np.array([_nearest_distances(f, MATCH_NEIGHBOURS) for f in frames])
    envs = np.where(np.isfinite(envs), envs, 1e9).astype(np.float32)
    by_species = np.array([e[np.argsort(f.atoms.numbers, kind="stable")] for e, f in zip(envs, frames)])
    counts = np.bincount(np.searchsorted(np.unique(numbers), numbers))
    ends = np.cumsum(counts)
    return envs, by_species, [slice(e - c, e) for e, c in zip(ends, counts)]


def _atoms_match(env: np.ndarray, others: np.ndarray, blocks: list[slice], bound: float) -> np.ndarray:
    """Per frame of ``others``, a necessary condition for a mapping onto ``env`` with every
    displacement ≤ bound/2 (:func:`_environments`): each atom of either frame has an atom of the
    same species in the other whose sorted neighbour distances all lie within ``bound`` (each
    moves by at most twice the largest displacement). Much sharper than the frame fingerprint
    under thermal noise, where the sorted multiset barely changes but single atoms' environments
    do; O(N² k) per pair, vectorised over the frames."""
    ok = np.ones(len(others), dtype=bool)
    if ok.size == 0 or env.shape[1] == 0:
        return ok
    # the first shell alone rejects most large misses at a fifth of the cost
    for columns in (slice(0, N_NEIGHBOURS), slice(None)):
        for block in blocks:
            a = env[block, columns]
            step = max(1, 4_000_000 // (a.shape[0] ** 2 * a.shape[1]))
            alive = np.nonzero(ok)[0]
            for start in range(0, len(alive), step):
                rows = alive[start:start + step]
                b = others[rows][:, block, columns]                                # (R, n, k)
                close = np.max(np.abs(a[None, :, None] - b[:, None]), axis=3) <= bound  # (R, n, n)
                ok[rows] = close.any(axis=2).all(axis=1) & close.any(axis=1).all(axis=1)
    return ok


def _periodic_neighbours(frame: Frame, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Centres and distances of all pairs within a cutoff that gives every atom ``k``
    neighbours (grown from the mean spacing; the list stops growing at 12 Å)."""
    atoms = frame.atoms
    n = len(atoms)
    cell = np.asarray(atoms.cell, float)
    volume = abs(np.linalg.det(cell)) if np.all(atoms.pbc) else 0.0
    cutoff = 1.5 * (volume / n) ** (1 / 3) if volume > 0 else 3.0
    while True:
        pairs = neighbor_list(atoms.positions, cell, atoms.pbc, min(cutoff, 12.0))
        if np.bincount(pairs.centers, minlength=n).min() >= k or cutoff >= 12.0:
            return pairs.centers, pairs.distances
        cutoff *= 1.5


def _cell_fingerprint(frame: Frame) -> np.ndarray:
    """Sorted lengths (Å) of the Minkowski-reduced cell vectors and, sorted, of their sums and
    differences: unchanged by a change of basis among reduced ones (signed permutations), and
    moved by a strain much as atoms are (open frames: zeros)."""
    from ase.geometry import minkowski_reduce

    if not np.all(frame.atoms.pbc):
        return np.zeros(9)
    a, b, c = minkowski_reduce(np.asarray(frame.atoms.cell, float))[0]
    faces = [a + b, a - b, a + c, a - c, b + c, b - c]
    return np.concatenate([np.sort(np.linalg.norm([a, b, c], axis=1)),
                           np.sort(np.linalg.norm(faces, axis=1))])


def _composition(frame: Frame) -> tuple:
    return (tuple(sorted(Counter(frame.atoms.numbers).items())), tuple(bool(p) for p in frame.atoms.pbc))


def find_duplicates(frames: Sequence[Frame], tolerance: float = 0.01,
                    label_tolerances: tuple[float, float, float] = (5e-4, 0.05, 3e-4)) -> list[DuplicatePair]:
    """Every pair of frames with the same structure within ``tolerance`` (Å, largest atomic
    displacement), with their label differences under the mapping that fits them best
    (``label_tolerances``: energy eV/atom, force eV/Å, stress eV/Å³ that count as equal)."""
    groups: dict[tuple, list[int]] = defaultdict(list)
    for k, frame in enumerate(frames):
        groups[_composition(frame)].append(k)
    found = []
    for members in groups.values():
        if len(members) < 2:
            continue
        envs, by_species, blocks = _environments([frames[k] for k in members])
        bound = 2 * tolerance + ENV_SLACK
        # per species, each column (k-th nearest distance) sorted over the atoms: moves by at
        # most 2·tolerance too, and is cheaper than the per-atom test that follows it
        columns = np.concatenate([np.sort(by_species[:, block, :N_NEIGHBOURS], axis=1).reshape(len(members), -1)
                                  for block in blocks], axis=1)
        prints = np.array([np.concatenate([_cell_fingerprint(frames[k]), structure_fingerprint(frames[k])])
                           for k in members])
        finite = np.where(np.isfinite(prints), prints, 1e9)
        # entries within 2·tolerance have means within 2·tolerance: a sweep over sorted means
        # keeps the comparisons near linear for large sets
        order = np.argsort(finite.mean(axis=1), kind="stable")
        means = finite.mean(axis=1)[order]
        for x in range(len(order) - 1):
            stop = int(np.searchsorted(means, means[x] + 2 * tolerance, side="right"))
            window = order[x + 1:stop]
            close = np.max(np.abs(finite[window] - finite[order[x]]), axis=1, initial=0.0) <= 2 * tolerance
            window = window[close]
            window = window[np.max(np.abs(columns[window] - columns[order[x]]), axis=1, initial=0.0) <= bound]
            for y in window[_atoms_match(by_species[order[x]], by_species[window], blocks, bound)]:
                (a, ea), (b, eb) = sorted([(members[order[x]], envs[order[x]]), (members[int(y)], envs[int(y)])],
                                          key=lambda m: m[0])
                za, zb = frames[a].atoms.numbers, frames[b].atoms.numbers
                anchor = _anchor(za)
                partners = (zb == za[anchor]) & (np.max(np.abs(eb - ea[anchor]), axis=1) <= bound)
                pair = _compare(frames, a, b, tolerance, label_tolerances, partners)
                if pair is not None:
                    found.append(pair)
    return sorted(found, key=lambda p: (p.a, p.b))


def _compare(frames: Sequence[Frame], a: int, b: int, tolerance: float,
             label_tolerances: tuple[float, float, float], partners: np.ndarray | None = None) -> DuplicatePair | None:
    """The label differences of ``a`` and ``b`` under the mapping that explains them best, or
    None when no mapping exists. Every symmetry-related mapping is a valid one, so labels
    differ only if none of the first :data:`MAX_MAPPINGS` fits (the first that fits within the
    tolerances is taken). ``partners``: b's atoms that the anchor atom of a (:func:`_anchor`)
    may map onto (all of its species where None)."""
    fa, fb = frames[a], frames[b]
    if np.all(fa.atoms.pbc) and np.all(fb.atoms.pbc):
        mappings = _periodic_matches(fa, fb, tolerance, partners)
    else:  # open or partly periodic: in file order after the best rotation (Kabsch), else
        # (atoms in another order) the sorted interatomic distances decide, labels in file order
        mapping = _aligned_in_file_order(fa, fb, tolerance)
        if mapping is None:
            full_a, full_b = _all_distances(fa), _all_distances(fb)
            if (fa.atoms.numbers == fb.atoms.numbers).all() or full_a.shape != full_b.shape \
                    or np.max(np.abs(full_a - full_b), initial=0.0) > tolerance:
                return None
            dr = fb.atoms.positions - fa.atoms.positions
            mapping = (np.arange(len(fa.atoms)), np.eye(3), dr - dr.mean(axis=0))
        mappings = iter([mapping])
    best, best_score = None, np.inf
    for perm, rotation, dr in itertools.islice(mappings, MAX_MAPPINGS):
        pair = _label_differences(fa, fb, a, b, perm, rotation, dr)
        score = max((x or 0.0) / t for x, t in zip(
            (pair.energy_difference, pair.force_difference, pair.stress_difference), label_tolerances))
        if score < best_score:
            best, best_score = pair, score
        if score <= 1.0:
            break
    return best


def _aligned_in_file_order(fa: Frame, fb: Frame, tolerance: float):
    """(identity permutation, rotation R with r_b ≈ r_a R, displacements) when b is a rigidly
    moved a within ``tolerance`` with the atoms in the same order (Kabsch), else None."""
    if not (fa.atoms.numbers == fb.atoms.numbers).all():
        return None
    pa = fa.atoms.positions - fa.atoms.positions.mean(axis=0)
    pb = fb.atoms.positions - fb.atoms.positions.mean(axis=0)
    u, _, vt = np.linalg.svd(pa.T @ pb)
    rotation = u @ vt   # proper or improper: a mirror image has the same energy
    dr = pb @ rotation.T - pa
    if np.max(np.linalg.norm(dr, axis=1), initial=0.0) > tolerance:
        return None
    return np.arange(len(fa.atoms)), rotation, dr


def _all_distances(frame: Frame) -> np.ndarray:
    pos = frame.atoms.positions
    numbers = frame.atoms.numbers
    parts = []
    for za, zb in itertools.combinations_with_replacement(np.unique(numbers), 2):
        d = np.linalg.norm(pos[numbers == za][:, None] - pos[numbers == zb][None], axis=2)
        parts.append(np.sort(d.ravel()))
    return np.concatenate(parts) if parts else np.zeros(0)


def _signed_permutations():
    for perm in itertools.permutations(range(3)):
        for signs in itertools.product((1, -1), repeat=3):
            m = np.zeros((3, 3))
            m[range(3), perm] = signs
            yield m


def _periodic_matches(fa: Frame, fb: Frame, tolerance: float, partners: np.ndarray | None = None):
    """Each (permutation of b's atoms onto a's, rotation R with r_b ≈ r_a R, displacements in a's
    frame), one per cell basis that fits. Both cells are Minkowski-reduced; b's reduced basis may still differ from
    a's by a signed permutation of its vectors, so each one that matches the metric is tried."""
    from ase.geometry import minkowski_reduce

    ca, _ = minkowski_reduce(np.asarray(fa.atoms.cell, float))
    cb0, _ = minkowski_reduce(np.asarray(fb.atoms.cell, float))
    ga = ca @ ca.T
    scale = np.max(np.linalg.norm(ca, axis=1))
    sa = np.linalg.solve(ca.T, fa.atoms.positions.T).T
    bases = [p @ cb0 for p in _signed_permutations()]
    bases = [cb for cb in bases if np.max(np.abs(cb @ cb.T - ga)) <= 2 * scale * tolerance + tolerance ** 2]
    if not bases:
        return
    sbs = np.linalg.solve(np.transpose(bases, (0, 2, 1)), fb.atoms.positions.T[None]).transpose(0, 2, 1)
    if partners is None:
        partners = fb.atoms.numbers == fa.atoms.numbers[_anchor(fa.atoms.numbers)]
    # the first basis alone (it fits true duplicates in the same setting), then all others at once
    for chunk in (slice(0, 1), slice(1, None)):
        if len(sbs[chunk]) == 0:
            break
        alive = _bases_alive(sa, sbs[chunk], fa.atoms.numbers, fb.atoms.numbers, ca, tolerance, partners)
        for cb, sb in zip(np.array(bases)[chunk][alive], sbs[chunk][alive]):
            found = _translation_match(sa, sb, fa.atoms.numbers, fb.atoms.numbers, ca, tolerance, partners)
            if found is not None:
                perm, ds = found
                rotation = np.linalg.solve(ca, cb)  # r_b ≈ r_a R for the matched bases
                yield perm, rotation, ds @ ca


def _translation_match(sa, sb, za, zb, cell, tolerance, partners):
    """Map b's atoms onto a's (fractional coordinates in matching bases) by a translation and
    a permutation within each species: (perm, fractional displacements) or None. The anchor atom
    of a (:func:`_anchor`) goes onto one of b's ``partners``."""
    counts = Counter(za)
    anchor = _anchor(za)
    candidates = np.nonzero(partners)[0]
    shifts = sb[candidates] - sa[anchor]
    for i in _probe_atoms(sa):  # a wrong translation fails on a few atoms in O(N) each
        d = sb[zb == za[i]][None] - shifts[:, None] - sa[i]
        d -= np.round(d)
        keep = np.min(np.linalg.norm(d @ cell, axis=2), axis=1) <= tolerance
        shifts = shifts[keep]
    for shift in shifts:
        perm = np.empty(len(za), dtype=int)
        ds = np.empty_like(sa)
        ok = True
        for z in counts:
            ia, ib = np.nonzero(za == z)[0], np.nonzero(zb == z)[0]
            d = sb[ib][None] - shift - sa[ia][:, None]
            d -= np.round(d)
            dist = np.linalg.norm(d @ cell, axis=2)
            nearest = np.argmin(dist, axis=1)
            if len(set(nearest.tolist())) != len(ia) or np.max(dist[np.arange(len(ia)), nearest]) > tolerance:
                ok = False
                break
            perm[ia] = ib[nearest]
            ds[ia] = d[np.arange(len(ia)), nearest]
        if ok:
            return perm, ds - ds.mean(axis=0)
    return None


def _bases_alive(sa, sbs, za, zb, cell, tolerance, partners) -> np.ndarray:
    """Per basis (``sbs``: b's fractional coordinates in each), whether some translation
    survives the probe atoms of :func:`_translation_match`: all bases at once, so that near
    misses in a cell of high symmetry (48 bases for a cube) cost a few array operations."""
    anchor = _anchor(za)
    candidates = np.nonzero(partners)[0]
    basis = np.repeat(np.arange(len(sbs)), len(candidates))
    shifts = (sbs[:, candidates] - sa[anchor]).reshape(-1, 3)
    for i in _probe_atoms(sa):
        d = sbs[basis][:, zb == za[i]] - shifts[:, None] - sa[i]
        d -= np.round(d)
        keep = np.min(np.linalg.norm(d @ cell, axis=2), axis=1) <= tolerance
        basis, shifts = basis[keep], shifts[keep]
    return np.isin(np.arange(len(sbs)), basis)


def _anchor(za: np.ndarray) -> int:
    """The first atom of the rarest species (lowest atomic number among equals)."""
    counts = Counter(za)
    species = min(counts, key=lambda z: (counts[z], z))
    return int(np.nonzero(za == species)[0][0])


def _probe_atoms(sa: np.ndarray) -> np.ndarray:
    """A few atoms far apart (extreme fractional coordinates along each cell vector): a wrong
    translation or basis, or a slightly different strain, fails on them in O(N) each."""
    wrapped = sa - np.floor(sa)
    return np.unique(np.concatenate([np.argmin(wrapped, axis=0), np.argmax(wrapped, axis=0)]))


def _label_differences(fa: Frame, fb: Frame, a: int, b: int, perm, rotation, dr) -> DuplicatePair:
    n = len(fa.atoms)
    forces_b = None if fb.forces is None else fb.forces[perm] @ rotation.T
    de = None
    if fa.energy is not None and fb.energy is not None:
        work = 0.0
        if fa.forces is not None and forces_b is not None:
            work = -0.5 * float(np.sum((fa.forces + forces_b) * dr))
        de = abs(fb.energy - fa.energy - work) / n
    df = None if fa.forces is None or forces_b is None else float(np.max(np.abs(fa.forces - forces_b)))
    ds = None
    if fa.stress is not None and fb.stress is not None:
        ds = float(np.max(np.abs(_tensor(fa.stress) - rotation @ _tensor(fb.stress) @ rotation.T)))
    disp = float(np.max(np.linalg.norm(dr, axis=1))) if len(dr) else 0.0
    return DuplicatePair(a, b, disp, de, df, ds)


def _tensor(voigt: np.ndarray) -> np.ndarray:
    xx, yy, zz, yz, xz, xy = voigt
    return np.array([[xx, xy, xz], [xy, yy, yz], [xz, yz, zz]])
