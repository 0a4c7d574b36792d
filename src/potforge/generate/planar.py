"""Planar structures: surface slabs of any Miller index and generalized stacking faults."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from ase import Atoms

from ..core.crystals import lattice_constants
from ..core.errors import ConfigError, nearest
from .common import check_structure_valid, group_name, min_allowed_distance, tag

__all__ = ["FAULT_SYSTEMS", "cubic_axes", "surface_slab", "surface_structures",
           "stacking_fault_structures"]

#: lattice -> class of ase.lattice.cubic that builds oriented cells of it
_ASE_LATTICE = {"fcc": "FaceCenteredCubic", "bcc": "BodyCenteredCubic", "sc": "SimpleCubic",
                "diamond": "Diamond"}


def _reduce(v: Sequence[int]) -> np.ndarray:
    v = np.asarray(v, dtype=int)
    g = int(np.gcd.reduce(np.abs(v[v != 0]))) if np.any(v) else 1
    return v // g


def cubic_axes(miller: Sequence[int], phase: str = "fcc") -> np.ndarray:
    """Three right-handed, orthogonal integer directions (x, y, z) with z ∥ ``miller``."""
    z = _reduce(miller)
    if not np.any(z):
        raise ConfigError(f"miller: {list(miller)} is the zero vector")
    table = {(1, 0, 0): ((0, 1, 1), (0, -1, 1)), (1, 1, 0): ((0, 0, 1), (1, -1, 0)),
             (1, 1, 1): ((1, -1, 0), (1, 1, -2)), (0, 0, 1): ((1, 0, 0), (0, 1, 0)),
             (0, 1, 0): ((0, 0, 1), (1, 0, 0))}
    key = tuple(int(x) for x in z)
    if key == (1, 0, 0) and phase in ("bcc", "sc"):
        x, y = np.array([0, 1, 0]), np.array([0, 0, 1])  # the cubic cell is already minimal
    elif key in table:
        x, y = (np.array(v) for v in table[key])
    else:
        trial = np.array([1, 0, 0]) if abs(z[0]) < max(abs(z[1]), abs(z[2])) else np.array([0, 0, 1])
        x = _reduce(np.cross(z, trial))
        y = _reduce(np.cross(z, x))
    if np.dot(np.cross(x, y), z) < 0:
        y = -y
    return np.array([x, y, z])


def _oriented(element: str, phase: str, a: float, axes: np.ndarray, size: Sequence[int]) -> Atoms:
    import ase.lattice.cubic as cubic_lattices

    cls = getattr(cubic_lattices, _ASE_LATTICE[phase])
    atoms = cls(directions=[list(map(int, v)) for v in axes], size=tuple(size), symbol=element,
                latticeconstant=a, pbc=True)
    atoms.wrap(eps=1e-6)
    return atoms


def _layers(z: np.ndarray, tol: float = 0.02) -> np.ndarray:
    """Layer index of each atom from its z coordinate (planes farther apart than ``tol``)."""
    order = np.argsort(z)
    index = np.empty(len(z), dtype=int)
    layer, last = -1, -np.inf
    for k in order:
        if z[k] - last > tol:
            layer += 1
        last = z[k]
        index[k] = layer
    return index


def _cut_layers(bulk: Atoms, layers: int, what: str) -> tuple[Atoms, np.ndarray]:
    layer = _layers(bulk.positions[:, 2])
    if layer.max() + 1 < layers:
        raise ConfigError(f"{what}: the oriented cell has only {layer.max() + 1} layers")
    keep = layer < layers
    atoms = bulk[keep]
    return atoms, layer[keep]


def surface_slab(element: str, phase: str, miller: Sequence[int], *, layers: int = 6,
                 vacuum: float = 10.0, a: float | None = None, c: float | None = None,
                 size: Sequence[int] = (1, 1)) -> Atoms:
    """A slab of ``layers`` atomic planes normal to ``miller`` (along z) with ``vacuum`` Å
    between periodic images; fully periodic (as plane-wave codes want).

    Cubic phases accept any Miller index (the cell is orthogonal, axes from :func:`cubic_axes`,
    ``info["crystal_axes"]`` gives the crystal directions of x, y, z as rows of unit vectors);
    hcp accepts (001) = (0001) and (100) = (10-10) (ASE's ``hcp0001``, ``hcp10m10``).
    """
    a, c = lattice_constants(element, phase, a, c)
    if layers < 1 or not vacuum >= 0:
        raise ConfigError(f"layers: expected layers >= 1 and vacuum >= 0, got {layers}, {vacuum}")
    miller = tuple(int(x) for x in miller)
    if len(miller) != 3:
        raise ConfigError(f"miller: expected three integers, got {list(miller)}")
    info: dict[str, Any] = {"phase": phase, "lattice_constant": a, "miller": np.array(miller)}
    if phase == "hcp":
        from ase.build import hcp0001, hcp10m10

        reduced = tuple(_reduce(miller))
        sx, sy = (int(n) for n in size)
        if reduced == (0, 0, 1):
            slab = hcp0001(element, (sx, sy, layers), a=a, c=c, vacuum=vacuum / 2.0)
        elif reduced == (1, 0, 0):
            slab = hcp10m10(element, (sx, 2 * sy if sy % 2 else sy, layers), a=a, c=c,
                            vacuum=vacuum / 2.0)
        else:
            raise ConfigError(f"miller: hcp surfaces are (0,0,1) and (1,0,0); got {list(miller)}")
        slab.pbc = True
        info["lattice_constant_c"] = c
        slab.info = info
        return slab
    axes = cubic_axes(miller, phase)
    layer_guess = _layers(_oriented(element, phase, a, axes, (1, 1, 1)).positions[:, 2]).max() + 1
    periods = -(-layers // layer_guess)
    bulk = _oriented(element, phase, a, axes, (int(size[0]), int(size[1]), periods))
    slab, _ = _cut_layers(bulk, layers, "layers")
    z = slab.positions[:, 2]
    thickness = float(z.max() - z.min())
    cell = np.array(slab.cell)
    cell[2] = [0.0, 0.0, thickness + vacuum]
    slab.set_cell(cell, scale_atoms=False)
    slab.positions += [0.0, 0.0, vacuum / 2.0 - z.min()]
    slab.pbc = True
    info["crystal_axes"] = (axes / np.linalg.norm(axes, axis=1)[:, None]).ravel()
    slab.info = info
    return slab


def surface_structures(element: str, phase: str, millers: Sequence[Sequence[int]], *,
                       layers: int = 6, vacuum: float = 10.0, a: float | None = None,
                       c: float | None = None, size: Sequence[int] = (1, 1),
                       min_distance_fraction: float = 0.5) -> list[Atoms]:
    """One slab per Miller index (:func:`surface_slab`); one group per orientation."""
    out = []
    for miller in millers:
        slab = surface_slab(element, phase, miller, layers=layers, vacuum=vacuum, a=a, c=c, size=size)
        hkl = "".join(str(int(x)) for x in miller)
        tag(slab, "surface", group_name("surface", phase, hkl), layers=int(layers), vacuum=float(vacuum))
        check_structure_valid(slab, min_allowed_distance(slab, min_distance_fraction), f"surface {hkl}")
        out.append(slab)
    return out


#: system -> (phase, crystal directions x, y, z (z = fault-plane normal), Burgers vector in units of a)
FAULT_SYSTEMS: dict[str, tuple[str, tuple, tuple, tuple, tuple[float, float, float]]] = {
    "fcc111_110": ("fcc", (1, -1, 0), (1, 1, -2), (1, 1, 1), (0.5, -0.5, 0.0)),
    "fcc111_112": ("fcc", (1, -1, 0), (1, 1, -2), (1, 1, 1), (1 / 6, 1 / 6, -2 / 6)),
    "bcc110_111": ("bcc", (1, -1, 1), (1, -1, -2), (1, 1, 0), (0.5, -0.5, 0.5)),
    "bcc112_111": ("bcc", (1, 1, -1), (-1, 1, 0), (1, 1, 2), (0.5, 0.5, -0.5)),
}


def stacking_fault_structures(element: str, system: str, fractions: Sequence[float], *,
                              layers: int = 12, a: float | None = None,
                              vacuum: float | None = None, size: Sequence[int] = (1, 1),
                              min_distance_fraction: float = 0.5) -> list[Atoms]:
    """Generalized stacking faults (a γ line): the upper ``layers // 2`` planes displaced by
    ``fraction`` × b (see the module docstring for b per system), one structure per fraction.

    Periodic (``vacuum=None``): the cell's third vector is tilted by the displacement, leaving
    one fault per cell. With ``vacuum``: a slab with two free surfaces. ``info`` holds
    ``fault_displacement`` (Å, 3-vector in the cell frame), ``fault_fraction``,
    ``fault_system``, ``fault_plane_z`` (Å; atoms above it moved) and ``crystal_axes``.
    """
    if system not in FAULT_SYSTEMS:
        guess = nearest(system, list(FAULT_SYSTEMS))
        hint = f" (did you mean '{guess}'?)" if guess else ""
        raise ConfigError(f"system: {system!r} is not one of {', '.join(FAULT_SYSTEMS)}{hint}")
    phase, x, y, z, b = FAULT_SYSTEMS[system]
    a, _ = lattice_constants(element, phase, a)
    axes = np.array([x, y, z])
    unit = axes / np.linalg.norm(axes, axis=1)[:, None]
    burgers = unit @ (a * np.asarray(b))  # Cartesian in the cell frame (rows of unit: x, y, z)
    per_period = _layers(_oriented(element, phase, a, axes, (1, 1, 1)).positions[:, 2]).max() + 1
    periods = max(1, -(-layers // per_period))
    perfect = _oriented(element, phase, a, axes, (int(size[0]), int(size[1]), periods))
    layer = _layers(perfect.positions[:, 2])
    n_layers = int(layer.max()) + 1
    if n_layers < 2:
        raise ConfigError(f"layers: need at least 2 layers, got {n_layers}")
    upper = layer >= n_layers // 2
    z_pos = perfect.positions[:, 2]
    plane = 0.5 * (z_pos[~upper].max() + z_pos[upper].min())
    if vacuum is not None:
        thickness = float(z_pos.max() - z_pos.min())
        cell = np.array(perfect.cell)
        cell[2] = [0.0, 0.0, thickness + vacuum]
        perfect.set_cell(cell)
        shift = vacuum / 2.0 - z_pos.min()
        perfect.positions += [0.0, 0.0, shift]
        plane += shift
    group = group_name("stacking_fault", system, f"{n_layers}L", "slab" if vacuum is not None else None)
    base_info = {"phase": phase, "lattice_constant": a, "fault_system": system,
                 "fault_burgers": burgers, "fault_plane_z": float(plane), "layers": n_layers,
                 "crystal_axes": unit.ravel()}
    out = []
    for f in fractions:
        d = float(f) * burgers
        new = perfect.copy()
        pos = new.positions
        pos[upper] += d
        new.positions = pos
        if vacuum is None:
            cell = np.array(new.cell)
            cell[2] += d
            new.set_cell(cell)
        new.wrap(eps=1e-9)
        new.info = dict(base_info)
        tag(new, "stacking_fault", group, fault_fraction=float(f), fault_displacement=d)
        check_structure_valid(new, min_allowed_distance(new, min_distance_fraction),
                              f"stacking fault {system} at fraction {f}")
        out.append(new)
    return out
