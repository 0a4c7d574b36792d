"""Test helpers: random structures and synthetic models that exercise every code path."""

from __future__ import annotations

import numpy as np
from ase import Atoms

from potforge.descriptors.scaling import ScalingStatistics, SymmetryFunctionScaling
from potforge.descriptors.symmetry_functions import SymmetryFunction, SymmetryFunctionSet
from potforge.models.hdnnp.potential import HDNNP
from potforge.models.network import AtomicNetwork


def random_structure(rng, symbols=("H", "O"), n_atoms=12, *, periodic=True, cell_size=4.0,
                     min_distance=0.9, triclinic=True, max_tries=10000) -> Atoms:
    """Random atoms at least ``min_distance`` apart (in the periodic sense for cells)."""
    if periodic:
        cell = np.eye(3) * cell_size
        if triclinic:
            cell = cell + rng.uniform(-0.15, 0.15, (3, 3)) * cell_size
    else:
        cell = np.eye(3) * cell_size
    positions = []
    tries = 0
    while len(positions) < n_atoms:
        tries += 1
        if tries > max_tries:
            raise RuntimeError("could not place atoms")
        p = rng.uniform(0, 1, 3) @ cell
        ok = True
        for q in positions:
            d = p - q
            if periodic:
                frac = np.linalg.solve(cell.T, d)
                frac -= np.round(frac)
                d = frac @ cell
            if np.linalg.norm(d) < min_distance:
                ok = False
                break
        if ok:
            positions.append(p)
    syms = [symbols[k % len(symbols)] for k in range(n_atoms)]
    rng.shuffle(syms)
    return Atoms(symbols=syms, positions=np.array(positions), cell=cell if periodic else None,
                 pbc=periodic)


def all_type_functions(element: str, other: str, rc: float = 4.2, cutoff_type: str = "tanhu",
                       alpha: float = 0.0) -> list[SymmetryFunction]:
    """At least one function of every type (several parameter variants) for one element."""
    e, o = element, other
    kw = dict(element=e, cutoff_radius=rc, cutoff_type=cutoff_type, cutoff_alpha=alpha)
    return [
        SymmetryFunction(2, neighbors=(e,), eta=0.3, shift=0.0, **kw),
        SymmetryFunction(2, neighbors=(o,), eta=1.1, shift=1.4, **kw),
        SymmetryFunction(3, neighbors=(e, o), eta=0.05, lambda_=1.0, zeta=1.0, **kw),
        SymmetryFunction(3, neighbors=(o, o), eta=0.02, lambda_=-1.0, zeta=4.0, **kw),
        SymmetryFunction(3, neighbors=(e, e), eta=0.1, lambda_=1.0, zeta=2.0, shift=0.5, **kw),
        SymmetryFunction(3, neighbors=(e, o), eta=0.04, lambda_=1.0, zeta=3.5, **kw),
        SymmetryFunction(9, neighbors=(e, o), eta=0.03, lambda_=-1.0, zeta=2.0, **kw),
        SymmetryFunction(9, neighbors=(o, o), eta=0.07, lambda_=1.0, zeta=1.0, shift=0.3, **kw),
        SymmetryFunction(12, eta=0.2, shift=1.0, **kw),
        SymmetryFunction(13, eta=0.05, shift=0.0, lambda_=1.0, zeta=2.0, **kw),
        SymmetryFunction(13, eta=0.01, shift=0.8, lambda_=-1.0, zeta=1.0, **kw),
        SymmetryFunction(20, neighbors=(o,), inner_radius=-rc, subtype="p2", **kw),
        SymmetryFunction(20, neighbors=(e,), inner_radius=0.5, subtype="p3a", **kw),
        SymmetryFunction(21, neighbors=(e, o), inner_radius=-rc, angle_left=-90, angle_right=90,
                         subtype="p2", **kw),
        SymmetryFunction(21, neighbors=(o, o), inner_radius=0.2, angle_left=40, angle_right=160,
                         subtype="p4", **kw),
        SymmetryFunction(22, neighbors=(e, e), inner_radius=-rc, angle_left=90, angle_right=270,
                         subtype="p1", **kw),
        SymmetryFunction(22, neighbors=(e, o), inner_radius=0.0, angle_left=0, angle_right=120,
                         subtype="e", **kw),
        SymmetryFunction(23, inner_radius=-rc, subtype="p2a", **kw),
        SymmetryFunction(24, inner_radius=-rc, angle_left=30, angle_right=150, subtype="p3", **kw),
        SymmetryFunction(25, inner_radius=0.3, angle_left=-60, angle_right=60, subtype="p2", **kw),
        SymmetryFunction(100, neighbors=(e, o), eta=0.5, shift=1.5, zeta=4.0, angle_shift=60.0, **kw),
        SymmetryFunction(100, neighbors=(o, o), eta=0.3, shift=1.0, zeta=1.0, angle_shift=0.0, **kw),
    ]


def all_types_set(symbols=("H", "O"), rc: float = 4.2, cutoff_type: str = "tanhu",
                  alpha: float = 0.0) -> SymmetryFunctionSet:
    a, b = symbols
    return SymmetryFunctionSet(symbols, {a: all_type_functions(a, b, rc, cutoff_type, alpha),
                                         b: all_type_functions(b, a, rc, cutoff_type, alpha)})


def synthetic_hdnnp(rng, sfs: SymmetryFunctionSet, *, hidden=(8, 6), activations="tsl",
                    normalize=False, structures=None) -> HDNNP:
    """A random-weight HDNNP on ``sfs`` whose scaling statistics come from ``structures``
    (so that scaled inputs are O(1) and the network is far from trivial)."""
    stats = {}
    if structures:
        from potforge.core.neighbors import neighbor_list
        from potforge.core.elements import species_indices

        values = {s: [] for s in sfs.species}
        for atoms in structures:
            idx, z = species_indices(atoms, sfs.species)
            nl = neighbor_list(atoms.positions, np.asarray(atoms.cell), atoms.pbc, sfs.cutoff)
            g, _ = sfs.compute(idx, z, nl)
            for e, s in enumerate(sfs.species):
                values[s].append(g[idx == e, :sfs.n_functions(s)])
        for s in sfs.species:
            v = np.concatenate(values[s])
            st = ScalingStatistics.from_values(v)
            width = np.maximum(st.maximum - st.minimum, 1e-3)
            stats[s] = ScalingStatistics(st.minimum, st.minimum + width, st.mean, np.maximum(st.sigma, 1e-3))
    else:
        for s in sfs.species:
            n = sfs.n_functions(s)
            stats[s] = ScalingStatistics(np.zeros(n), np.ones(n), np.full(n, 0.5), np.full(n, 0.3))
    scaling = SymmetryFunctionScaling("scalecenter", stats)
    networks = {}
    for s in sfs.species:
        sizes = [sfs.n_functions(s), *hidden, 1]
        ws = [rng.normal(0, 1 / np.sqrt(sizes[k]), (sizes[k + 1], sizes[k])) for k in range(len(sizes) - 1)]
        bs = [rng.normal(0, 0.3, sizes[k + 1]) for k in range(len(sizes) - 1)]
        networks[s] = AtomicNetwork(ws, bs, activations, normalize)
    return HDNNP(sfs, scaling, networks, output_scale=0.7, mean_energy=-1.3,
                 atom_energies={sfs.species[0]: -0.2}, n_threads=1)
