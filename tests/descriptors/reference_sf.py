"""Independent reference implementation of the symmetry-function formulas, for tests.

Written from the published formulas (Behler, J. Chem. Phys. 134, 074106 (2011); n2p2
documentation for the weighted (Gastegger et al. 2018) and polynomial (Bircher et al. 2021)
types; Smith et al., Chem. Sci. 8, 3192 (2017) for ANI) as plain loops over ASE's neighbour
list, sharing nothing with potforge's kernels except the cutoff functions (tested apart).
"""

from __future__ import annotations

import math

import numpy as np
from ase.data import atomic_numbers
from ase.neighborlist import neighbor_list

from potforge.descriptors.cutoffs import core_function, cutoff_function


def _fc(r, sf):
    f, _ = cutoff_function(np.array([r]), sf.cutoff_radius, sf.cutoff_type, sf.cutoff_alpha)
    return float(f[0])


def _compact(a, left, right, subtype):
    """C(a) = core(|a - c| / w), zero outside (left, right); 'a' suffix: x -> (2 - x) x."""
    if not left < a < right:
        return 0.0
    c, w = 0.5 * (left + right), 0.5 * (right - left)
    x = abs(a - c) / w
    if x >= 1:
        return 0.0
    if subtype.startswith("e"):
        kind = "exp"
    else:
        kind = {"p1": "poly1", "p2": "poly2", "p3": "poly3", "p4": "poly4"}[subtype[:2]]
    if len(subtype) == 3 and subtype[2] == "a":
        x = (2 - x) * x
    return float(core_function(kind, np.array([x]))[0][0])


def environments(atoms, cutoff):
    """For each atom: list of (neighbour index, vector, distance)."""
    i, j, D, d = neighbor_list("ijDd", atoms, cutoff, self_interaction=False)
    envs = [[] for _ in range(len(atoms))]
    for a, b, v, r in zip(i, j, D, d):
        envs[a].append((int(b), np.array(v), float(r)))
    return envs


def reference_value(sf, atoms, i, env):
    """G of symmetry function ``sf`` for atom ``i`` with neighbour list ``env`` (see module doc)."""
    sym = atoms.get_chemical_symbols()
    Z = atoms.numbers
    t = sf.type
    rc = sf.cutoff_radius
    total = 0.0
    if t in (2, 12, 20, 23):
        for j, v, r in env:
            if r >= rc:
                continue
            if t in (2, 20) and sym[j] != sf.neighbors[0]:
                continue
            w = Z[j] if t in (12, 23) else 1.0
            if t in (2, 12):
                total += w * math.exp(-sf.eta * (r - sf.shift) ** 2) * _fc(r, sf)
            else:
                total += w * _compact(r, sf.inner_radius, rc, sf.subtype)
        return total
    n = len(env)
    if n == 0:
        return 0.0
    # cutoff values of all neighbour distances and all neighbour-neighbour distances, once
    vecs = np.array([v for _, v, _ in env])
    dists = np.array([r for _, _, r in env])
    fc_n = cutoff_function(dists, rc, sf.cutoff_type, sf.cutoff_alpha)[0]
    djk = np.linalg.norm(vecs[None, :, :] - vecs[:, None, :], axis=2)
    fc_jk = cutoff_function(djk.ravel(), rc, sf.cutoff_type, sf.cutoff_alpha)[0].reshape(n, n)
    for a in range(n):
        for b in range(a + 1, n):
            j, vj, rj = env[a]
            k, vk, rk = env[b]
            if t in (3, 9, 21, 22, 100):
                pair = sorted([sym[j], sym[k]], key=lambda s: atomic_numbers[s])
                if tuple(pair) != tuple(sf.neighbors):
                    continue
                w = 1.0
            else:
                w = float(Z[j] * Z[k])
            if rj >= rc or rk >= rc:
                continue
            cos = float(np.dot(vj, vk) / (rj * rk))
            cos = min(1.0, max(-1.0, cos))
            rjk = float(np.linalg.norm(vk - vj))
            if t in (3, 9, 13):
                if t in (3, 13) and rjk >= rc:
                    continue
                base = max(0.0, 1 + sf.lambda_ * cos)
                term = 2 ** (1 - sf.zeta) * base ** sf.zeta
                rs = sf.shift
                expo = (rj - rs) ** 2 + (rk - rs) ** 2
                cut = fc_n[a] * fc_n[b]
                if t in (3, 13):
                    expo += (rjk - rs) ** 2
                    cut *= fc_jk[a, b]
                total += w * term * math.exp(-sf.eta * expo) * cut
            elif t in (21, 22, 24, 25):
                rl = sf.inner_radius
                if not (rl < rj < rc and rl < rk < rc):
                    continue
                theta = math.acos(cos)  # collinear triplets count by continuity (see potforge doc)
                left, right = math.radians(sf.angle_left), math.radians(sf.angle_right)
                if not left <= theta <= right:
                    continue
                term = _compact(rj, rl, rc, sf.subtype) * _compact(rk, rl, rc, sf.subtype)
                if t in (21, 24):
                    if not (rjk < rc and rjk > max(rl, 0.0)):
                        continue
                    term *= _compact(rjk, rl, rc, sf.subtype)
                ang_sub = sf.subtype[:2]  # the angular part never uses the asymmetric variant
                term *= _compact(theta, left, right, ang_sub)
                total += w * term
            else:  # ANI
                theta = math.acos(cos)
                shift = math.radians(sf.angle_shift)
                total += (2 ** (1 - sf.zeta) * (1 + math.cos(theta - shift)) ** sf.zeta
                          * math.exp(-sf.eta * ((rj + rk) / 2 - sf.shift) ** 2)
                          * fc_n[a] * fc_n[b])
    return total


def reference_values(sfs, atoms):
    """(n_atoms, n_max) reference values for a SymmetryFunctionSet."""
    envs = environments(atoms, sfs.cutoff)
    n_max = max(sfs.n_functions(s) for s in sfs.species)
    out = np.zeros((len(atoms), n_max))
    for i, s in enumerate(atoms.get_chemical_symbols()):
        for q, sf in enumerate(sfs.functions[s]):
            out[i, q] = reference_value(sf, atoms, i, envs[i])
    return out
