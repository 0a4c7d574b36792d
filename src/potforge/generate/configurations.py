"""Training configurations: crystals, EOS scans, strains, rattles, surfaces, stacking faults,
point defects, MD snapshots, liquids and melt-quench amorphous structures.

Every generator is a function of a few parameters that returns a list of new ``ase.Atoms``
(inputs are never modified). Each structure carries in ``atoms.info``:

``config_type``
    ``bulk``, ``eos``, ``strain``, ``rattle``, ``surface``, ``stacking_fault``, ``vacancy``,
    ``interstitial``, ``md``, ``liquid`` or ``amorphous``;
``group``
    structures derived from one parent (one EOS scan, one MD trajectory, one fault system)
    share a group, so a split by group never puts near-copies on both sides;
provenance
    ``phase``, ``lattice_constant`` and, per generator, ``eos_scale``, ``strain_voigt``,
    ``rattle_sigma``, ``miller``, ``crystal_axes``, ``fault_displacement``, ``vacancy_position``,
    ``interstitial_site``, ``temperature``, ``md_step``, ...

Every structure is checked before it is returned: finite coordinates, a non-degenerate cell and
no two atoms closer than ``min_distance`` (by default half the nearest-neighbour distance of the
parent crystal). Rattled atoms that come too close are redrawn; any other violation is a
:class:`~potforge.core.errors.StructureError`.

Molecular dynamics runs with whatever ASE calculator the caller passes in (this package never
builds one). Temperatures are in K, times in fs, lengths in Å.

Config (YAML, validated by :func:`generation_config`)
-----------------------------------------------------
::

    element: Al                 # required
    seed: 1                     # every generator draws from its own stream of this seed
    min_distance: 0.5           # closest allowed approach, fraction of the nearest-neighbour distance
    calculator: {name: emt}     # only md, liquid and amorphous need one (built by the CLI)
    lattice_constants: {fcc: 4.05}   # optional, per phase (Å; hcp also 'hcp_c')
    generators:                 # a list of {kind: ..., options}
      - {kind: bulk, phases: [fcc, bcc, hcp], supercell: [2, 2, 2]}
      - {kind: eos, phase: fcc, strains: [-0.06, 0.06], n: 7, mode: volume}
      - {kind: strain, phase: fcc, magnitudes: [0.01, 0.02]}
      - {kind: rattle, phase: fcc, supercell: [2, 2, 2], sigma: 0.05, n: 10}
      - {kind: surface, miller: [[1, 0, 0], [1, 1, 1]], layers: 4, vacuum: 8}
      - {kind: stacking_fault, system: fcc111_112, fractions: [0.25, 0.5, 0.75, 1.0]}
      - {kind: vacancy, supercell: [2, 2, 2]}
      - {kind: interstitial, site: octahedral, supercell: [2, 2, 2]}
      - {kind: md, temperatures: [300, 900], steps: 200, interval: 20, supercell: [2, 2, 2]}
      - {kind: liquid, temperature: 2000, steps: 300, interval: 50}
      - {kind: amorphous, melt: 2500, quench_rate: 1e14, snapshots: 3}
    select: {n: 100}            # optional farthest-point selection (done by the CLI)

Every generator takes ``phase`` (default: the element's reference state), ``a`` / ``c``
(default: ``lattice_constants``, else ASE's reference state, other phases scaled to the same
volume per atom), ``supercell`` and ``cubic`` (conventional instead of primitive cell) where
they apply; the options of each kind are the fields of its ``*Generator`` class below.
Lengths accept units (``"8 Å"``, ``"0.8 nm"``).

Conventions
-----------
* Strain: Voigt vector e = (ε_xx, ε_yy, ε_zz, γ_yz, γ_xz, γ_xy) with **engineering** shears
  γ = 2ε. The cell is deformed by the symmetric F = I + ε (row vectors: cell' = cell Fᵀ), so the
  small-strain tensor ½(F + Fᵀ) − I is exactly ε; the Green–Lagrange strain ½(FᵀF − I) differs
  at second order (ε²/2).
* Stacking faults: atoms of the upper half of an oriented cell (normal along z) are displaced
  by f·b; the periodic cell's third vector is tilted by the same vector, so the only fault is
  the one in the middle (with ``vacuum`` a slab instead). b is, per system: ``fcc111_110``
  a/2⟨110⟩ (a full dislocation: f = 1 is the perfect crystal), ``fcc111_112`` the Shockley
  partial a/6⟨112⟩ (f = 1 is the intrinsic stacking fault, f = 3 the perfect crystal),
  ``bcc110_111`` and ``bcc112_111`` a/2⟨111⟩.
* Amorphous: melt at ``melt`` K, then cool linearly to ``final`` K at ``quench_rate`` K/s
  (Langevin, target temperature updated every step); snapshots evenly spaced along the quench,
  the last at its end.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from ase import Atoms

from ..core.config import build, nearest
from ..core.errors import ConfigError, StructureError
from ..core.neighbors import check_structure, neighbor_list

__all__ = [
    "PHASES", "CONFIG_TYPES", "FAULT_SYSTEMS", "INTERSTITIAL_SITES",
    "lattice_constant", "nearest_neighbor_distance", "bulk_crystal", "bulk_structures",
    "check_melted", "MELTED_RMS_FRACTION",
    "eos_structures", "strain_structures", "rattle_structures", "surface_slab",
    "surface_structures", "stacking_fault_structures", "vacancy_structures",
    "interstitial_structures", "md_snapshots", "liquid_snapshots", "amorphous_snapshots",
    "check_structure_valid", "strain_matrix",
    "GenerationConfig", "CalculatorConfig", "SelectConfig", "GENERATORS", "generation_config",
    "generate_structures", "needs_calculator",
]

#: crystal phases of one element that :func:`bulk_crystal` builds
PHASES = ("fcc", "bcc", "hcp", "diamond", "sc")
CONFIG_TYPES = ("bulk", "eos", "strain", "rattle", "surface", "stacking_fault", "vacancy",
                "interstitial", "md", "liquid", "amorphous")
#: atoms per conventional cell volume a³ (hcp: per a²c·√3/2)
_ATOMS_PER_CELL = {"fcc": 4, "bcc": 2, "sc": 1, "diamond": 8, "hcp": 2}
_IDEAL_C_OVER_A = math.sqrt(8.0 / 3.0)
_ASE_LATTICE = {"fcc": "FaceCenteredCubic", "bcc": "BodyCenteredCubic", "sc": "SimpleCubic",
                "diamond": "Diamond"}
_VOIGT = ((0, 0), (1, 1), (2, 2), (1, 2), (0, 2), (0, 1))
VOIGT_NAMES = ("xx", "yy", "zz", "yz", "xz", "xy")

Progress = Callable[[str], None]


# -- lattices ------------------------------------------------------------------------------------
def _check_phase(phase: str, key: str = "phase") -> str:
    if phase not in PHASES:
        guess = nearest(phase, PHASES)
        hint = f" (did you mean '{guess}'?)" if guess else ""
        raise ConfigError(f"{key}: {phase!r} is not one of {', '.join(PHASES)}{hint}")
    return phase


def _check_element(element: str, key: str = "element") -> int:
    from ase.data import atomic_numbers

    if element not in atomic_numbers or element == "X":
        raise ConfigError(f"{key}: {element!r} is not a chemical symbol (e.g. Al, Cu, Si)")
    return atomic_numbers[element]


def reference_phase(element: str) -> str:
    """The element's reference crystal structure (ASE's ``reference_states``), if a phase."""
    from ase.data import reference_states

    state = reference_states[_check_element(element)] or {}
    phase = state.get("symmetry")
    if phase not in PHASES:
        raise ConfigError(f"phase: {element}'s reference state is {phase!r}; give a phase, one of "
                          f"{', '.join(PHASES)}")
    return phase


def lattice_constant(element: str, phase: str, a: float | None = None,
                     c: float | None = None) -> tuple[float, float | None]:
    """Lattice constant ``a`` (and ``c`` for hcp), Å.

    Given values are kept. Otherwise, for the element's reference phase, ASE's reference
    ``a`` (and c/a); for any other phase, the value that gives the reference state's volume
    per atom (hcp with the reference c/a, else the ideal √(8/3)).
    """
    from ase.build import bulk
    from ase.data import reference_states

    _check_phase(phase)
    z = _check_element(element)
    state = reference_states[z] or {}
    if a is None:
        if state.get("symmetry") == phase and "a" in state:
            a = float(state["a"])
            if phase == "hcp" and c is None:
                c = a * float(state.get("c/a", _IDEAL_C_OVER_A))
        else:
            try:
                ref = bulk(element)
            except Exception:
                raise ConfigError(f"a: ASE has no reference crystal for {element}; give the lattice "
                                  f"constant of {phase} (lattice_constants: {{{phase}: ...}})") from None
            v = ref.get_volume() / len(ref)
            if phase == "hcp":
                q = (c / a) if (c is not None and a is not None) else _IDEAL_C_OVER_A
                a = (4.0 * v / (math.sqrt(3.0) * q)) ** (1.0 / 3.0)
            else:
                a = (v * _ATOMS_PER_CELL[phase]) ** (1.0 / 3.0)
    if phase == "hcp" and c is None:
        c = a * _IDEAL_C_OVER_A
    if not a > 0 or (c is not None and not c > 0):
        raise ConfigError(f"a: lattice constants must be positive, got a={a}, c={c}")
    return float(a), (float(c) if phase == "hcp" else None)


def nearest_neighbor_distance(phase: str, a: float, c: float | None = None) -> float:
    """Nearest-neighbour distance (Å) of a perfect crystal."""
    if phase == "fcc":
        return a / math.sqrt(2.0)
    if phase == "bcc":
        return a * math.sqrt(3.0) / 2.0
    if phase == "diamond":
        return a * math.sqrt(3.0) / 4.0
    if phase == "sc":
        return a
    if phase == "hcp":
        c = a * _IDEAL_C_OVER_A if c is None else c
        return min(a, math.sqrt(a * a / 3.0 + c * c / 4.0))
    raise ConfigError(f"phase: {phase!r} is not one of {', '.join(PHASES)}")


def _tag(atoms: Atoms, config_type: str, group: str, **info: Any) -> Atoms:
    atoms.info = {**atoms.info, **info, "config_type": config_type, "group": group}
    return atoms


def bulk_crystal(element: str, phase: str, *, a: float | None = None, c: float | None = None,
                 supercell: Sequence[int] = (1, 1, 1), cubic: bool = False) -> Atoms:
    """A perfect crystal (``ase.build.bulk``) repeated by ``supercell``; untagged.

    ``cubic`` gives the conventional cubic cell (fcc, bcc, diamond, sc) or the orthorhombic
    hcp cell instead of the primitive one.
    """
    from ase.build import bulk

    a, c = lattice_constant(element, phase, a, c)
    kwargs = {"c": c} if phase == "hcp" else {}
    if cubic and phase == "hcp":
        kwargs["orthorhombic"] = True
    elif cubic:
        kwargs["cubic"] = True
    atoms = bulk(element, phase, a=a, **kwargs)
    atoms = atoms.repeat(_supercell(supercell))
    atoms.info = {"phase": phase, "lattice_constant": a}
    if c is not None:
        atoms.info["lattice_constant_c"] = c
    return atoms


def _supercell(supercell: Sequence[int]) -> tuple[int, int, int]:
    reps = tuple(int(n) for n in supercell)
    if len(reps) != 3 or any(n < 1 for n in reps):
        raise ConfigError(f"supercell: expected three positive integers, got {list(supercell)}")
    return reps  # type: ignore[return-value]


def _min_distance(atoms: Atoms, fraction: float) -> float:
    info = atoms.info
    return fraction * nearest_neighbor_distance(info["phase"], info["lattice_constant"],
                                                info.get("lattice_constant_c"))


def check_structure_valid(atoms: Atoms, min_distance: float, what: str = "structure") -> None:
    """Raise StructureError for non-finite coordinates, a degenerate cell, or two atoms closer
    than ``min_distance`` (Å, periodic images included)."""
    try:
        check_structure(atoms.positions, np.asarray(atoms.cell), atoms.pbc, min_height=min_distance)
    except StructureError as err:
        raise StructureError(f"{what}: {err.reason}") from None
    d = _closest_pair(atoms, min_distance)
    if d is not None:
        raise StructureError(f"{what}: atoms {d[1]} and {d[2]} are {d[0]:.3f} Å apart, closer than "
                             f"the minimum {min_distance:.3f} Å")


def _closest_pair(atoms: Atoms, cutoff: float) -> tuple[float, int, int] | None:
    if cutoff <= 0 or len(atoms) == 0:
        return None
    nl = neighbor_list(atoms.positions, np.asarray(atoms.cell), atoms.pbc, cutoff)
    if nl.n_pairs == 0:
        return None
    k = int(np.argmin(nl.distances))
    return float(nl.distances[k]), int(nl.centers[k]), int(nl.neighbors[k])


def _too_close_atoms(atoms: Atoms, cutoff: float) -> np.ndarray:
    nl = neighbor_list(atoms.positions, np.asarray(atoms.cell), atoms.pbc, cutoff)
    return np.unique(np.concatenate([nl.centers, nl.neighbors]))


def _group(kind: str, *parts: Any) -> str:
    return "-".join([kind, *(str(p) for p in parts if p not in (None, ""))])


# -- 1. bulk -------------------------------------------------------------------------------------
def bulk_structures(element: str, phases: Sequence[str] = ("fcc", "bcc", "hcp"), *,
                    lattice_constants: Mapping[str, float] | None = None,
                    supercell: Sequence[int] = (1, 1, 1), cubic: bool = False,
                    group_prefix: str = "bulk") -> list[Atoms]:
    """One perfect crystal per phase (competing phases at equal volume per atom unless
    ``lattice_constants`` {phase: a, 'hcp_c': c} says otherwise); one group per phase."""
    lc = dict(lattice_constants or {})
    out = []
    for phase in phases:
        _check_phase(phase)
        atoms = bulk_crystal(element, phase, a=lc.get(phase),
                             c=lc.get("hcp_c") if phase == "hcp" else None,
                             supercell=supercell, cubic=cubic)
        out.append(_tag(atoms, "bulk", _group(group_prefix, phase)))
    return out


# -- 2. equation of state --------------------------------------------------------------------------
def eos_structures(atoms: Atoms, strains: Sequence[float] = (-0.06, 0.06), n: int = 7, *,
                   mode: Literal["volume", "linear"] = "volume", group: str | None = None) -> list[Atoms]:
    """Isotropically scaled copies of ``atoms``: n points evenly spaced over ``strains`` =
    (lo, hi), volume strain V/V₀ − 1 (``mode="volume"``) or linear strain a/a₀ − 1."""
    lo, hi = (float(x) for x in strains)
    if n < 1 or not lo <= hi or lo <= -1:
        raise ConfigError(f"strains: expected lo <= hi, both > -1, and n >= 1; got [{lo}, {hi}], n={n}")
    group = group or _group("eos", atoms.info.get("phase"))
    out = []
    for x in np.linspace(lo, hi, n) if n > 1 else [0.5 * (lo + hi)]:
        s = (1.0 + x) ** (1.0 / 3.0) if mode == "volume" else 1.0 + x
        new = atoms.copy()
        new.set_cell(np.asarray(atoms.cell) * s, scale_atoms=True)
        out.append(_tag(new, "eos", group, eos_scale=float(s), eos_strain=float(x), eos_mode=mode,
                        volume_per_atom=float(new.get_volume() / len(new))))
    return out


# -- 3. elastic strains ----------------------------------------------------------------------------
def strain_matrix(voigt: Sequence[float]) -> np.ndarray:
    """Symmetric small-strain tensor ε (3×3) from the Voigt vector with engineering shears
    (e₄ = γ_yz = 2ε_yz, ...)."""
    e = np.asarray(voigt, dtype=float)
    eps = np.diag(e[:3])
    for k, (i, j) in enumerate(_VOIGT[3:], start=3):
        eps[i, j] = eps[j, i] = 0.5 * e[k]
    return eps


def strain_structures(atoms: Atoms, magnitudes: Sequence[float] = (0.005, 0.01), *,
                      components: Sequence[str] = VOIGT_NAMES, group: str | None = None) -> list[Atoms]:
    """Each Voigt component (both signs) at each magnitude; cell' = cell (I + ε)ᵀ with
    ε = :func:`strain_matrix` (engineering shear); ``info["strain_voigt"]`` is the 6-vector."""
    group = group or _group("strain", atoms.info.get("phase"))
    out = []
    for name in components:
        if name not in VOIGT_NAMES:
            raise ConfigError(f"components: {name!r} is not one of {', '.join(VOIGT_NAMES)}")
        k = VOIGT_NAMES.index(name)
        for m in magnitudes:
            for sign in (-1.0, 1.0):
                e = np.zeros(6)
                e[k] = sign * float(m)
                f = np.eye(3) + strain_matrix(e)
                new = atoms.copy()
                new.set_cell(np.asarray(atoms.cell) @ f.T, scale_atoms=True)
                out.append(_tag(new, "strain", group, strain_voigt=e, strain_component=name))
    return out


# -- 4. rattles ------------------------------------------------------------------------------------
def rattle_structures(atoms: Atoms, sigma: float, n: int, *, seed: int | np.random.SeedSequence = 0,
                      min_distance: float | None = None, min_distance_fraction: float = 0.5,
                      group: str | None = None, max_redraws: int = 1000) -> list[Atoms]:
    """``n`` copies with Gaussian displacements (standard deviation ``sigma`` Å per Cartesian
    component); atoms that come closer than ``min_distance`` are redrawn. Seeded."""
    if not sigma >= 0 or n < 0:
        raise ConfigError(f"sigma: expected sigma >= 0 and n >= 0, got sigma={sigma}, n={n}")
    rng = np.random.default_rng(seed)
    dmin = _min_distance(atoms, min_distance_fraction) if min_distance is None else min_distance
    group = group or _group("rattle", atoms.info.get("phase"), f"{sigma:g}")
    out = []
    for k in range(n):
        new = atoms.copy()
        base = atoms.positions
        new.positions = base + rng.normal(0.0, sigma, base.shape)
        for _ in range(max_redraws):
            bad = _too_close_atoms(new, dmin)
            if len(bad) == 0:
                break
            pos = new.positions
            pos[bad] = base[bad] + rng.normal(0.0, sigma, (len(bad), 3))
            new.positions = pos
        else:
            raise StructureError(f"rattle: could not place atoms at least {dmin:.3f} Å apart with "
                                 f"sigma={sigma} Å after {max_redraws} redraws; lower sigma")
        out.append(_tag(new, "rattle", group, rattle_sigma=float(sigma), rattle_index=k))
    return out


# -- oriented cells (surfaces, faults) -------------------------------------------------------------
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
    a, c = lattice_constant(element, phase, a, c)
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
        _tag(slab, "surface", _group("surface", phase, hkl), layers=int(layers), vacuum=float(vacuum))
        check_structure_valid(slab, _min_distance(slab, min_distance_fraction), f"surface {hkl}")
        out.append(slab)
    return out


# -- 6. stacking faults ----------------------------------------------------------------------------
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
    a, _ = lattice_constant(element, phase, a)
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
    group = _group("stacking_fault", system, f"{n_layers}L", "slab" if vacuum is not None else None)
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
        _tag(new, "stacking_fault", group, fault_fraction=float(f), fault_displacement=d)
        check_structure_valid(new, _min_distance(new, min_distance_fraction),
                              f"stacking fault {system} at fraction {f}")
        out.append(new)
    return out


# -- 7. point defects ------------------------------------------------------------------------------
#: phase -> site -> position in units of the cubic lattice constant (conventional cell frame)
INTERSTITIAL_SITES: dict[str, dict[str, tuple[float, float, float]]] = {
    "fcc": {"octahedral": (0.5, 0.5, 0.5), "tetrahedral": (0.25, 0.25, 0.25)},
    "bcc": {"octahedral": (0.5, 0.5, 0.0), "tetrahedral": (0.5, 0.25, 0.0)},
    "diamond": {"tetrahedral": (0.5, 0.5, 0.5)},
}


def vacancy_structures(atoms: Atoms, *, sites: Sequence[int] = (0,), group: str | None = None,
                       min_distance_fraction: float = 0.5) -> list[Atoms]:
    """One structure per site index: ``atoms`` without that atom (``info["vacancy_position"]``)."""
    group = group or _group("vacancy", atoms.info.get("phase"), len(atoms))
    out = []
    for site in sites:
        if not 0 <= site < len(atoms):
            raise ConfigError(f"sites: {site} is not an atom index of the {len(atoms)}-atom cell")
        new = atoms.copy()
        where = new.positions[site].copy()
        del new[site]
        _tag(new, "vacancy", group, vacancy_position=where, parent_atoms=len(atoms))
        check_structure_valid(new, _min_distance(new, min_distance_fraction), "vacancy")
        out.append(new)
    return out


def interstitial_structures(atoms: Atoms, sites: Sequence[str] = ("octahedral",), *,
                            group: str | None = None, min_distance_fraction: float = 0.5) -> list[Atoms]:
    """One structure per site kind: ``atoms`` (a supercell of a cubic crystal) plus one atom of
    the same element at the octahedral or tetrahedral site nearest the origin; the new atom is
    the last one (``info["interstitial_position"]``, Å)."""
    phase = atoms.info.get("phase")
    table = INTERSTITIAL_SITES.get(phase)
    if table is None:
        raise ConfigError(f"phase: interstitial sites are defined for {', '.join(INTERSTITIAL_SITES)}; "
                          f"got {phase!r}")
    a = atoms.info["lattice_constant"]
    out = []
    for site in sites:
        if site not in table:
            raise ConfigError(f"site: {site!r} is not a {phase} interstitial site; expected one of "
                              f"{', '.join(table)}")
        new = atoms.copy()
        pos = a * np.asarray(table[site])
        new.append(new[0].symbol)
        new.positions[-1] = pos
        new.wrap(eps=1e-9)
        _tag(new, "interstitial", group or _group("interstitial", phase, site, len(atoms)),
             interstitial_site=site, interstitial_position=new.positions[-1].copy(),
             parent_atoms=len(atoms))
        check_structure_valid(new, _min_distance(new, min_distance_fraction), f"{site} interstitial")
        out.append(new)
    return out


# -- 8, 9. molecular dynamics ----------------------------------------------------------------------
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
    _tag(snap, config_type, group, temperature=float(target), md_step=int(step),
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
    d_nn = _min_distance(parent, 1.0)
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
    group = group or _group(config_type, atoms.info.get("phase"), f"{temperature:g}K")
    dmin = _min_distance(atoms, min_distance_fraction)
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
    group = group or _group("amorphous", atoms.info.get("phase"), f"{melt:g}K", f"{quench_rate:g}")
    dmin = _min_distance(atoms, min_distance_fraction)
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


# -- config ----------------------------------------------------------------------------------------
def _doc(text: str, **extra: Any) -> dict:
    return {"doc": text, **extra}


@dataclass(frozen=True)
class _Crystal:
    """Options of the parent crystal, shared by every generator."""

    phase: str | None = field(default=None, metadata=_doc("fcc, bcc, hcp, diamond or sc "
                                                          "(default: the element's reference state)"))
    a: float | None = field(default=None, metadata=_doc("lattice constant, Å", unit="length"))
    c: float | None = field(default=None, metadata=_doc("hcp c, Å", unit="length"))
    supercell: tuple[int, int, int] = (1, 1, 1)
    cubic: bool = field(default=False, metadata=_doc("conventional (cubic) instead of primitive cell"))

    def check(self, key: str) -> None:
        if self.phase is not None:
            _check_phase(self.phase, f"{key}.phase")
        if any(n < 1 for n in self.supercell):
            raise ConfigError(f"{key}.supercell: expected three positive integers, got {list(self.supercell)}")


@dataclass(frozen=True)
class BulkGenerator(_Crystal):
    kind: Literal["bulk"] = "bulk"
    phases: tuple[str, ...] = field(default=("fcc", "bcc", "hcp"), metadata=_doc(
        "competing phases, each at its lattice constant", scalar_ok=True))

    def check(self, key: str) -> None:
        super().check(key)
        for k, p in enumerate(self.phases):
            _check_phase(p, f"{key}.phases[{k}]")


@dataclass(frozen=True)
class EOSGenerator(_Crystal):
    kind: Literal["eos"] = "eos"
    strains: tuple[float, float] = field(default=(-0.06, 0.06), metadata=_doc(
        "range [lo, hi] of volume (or linear) strain"))
    n: int = 7
    mode: Literal["volume", "linear"] = "volume"

    def check(self, key: str) -> None:
        super().check(key)
        lo, hi = self.strains
        if not -1 < lo <= hi:
            raise ConfigError(f"{key}.strains: expected -1 < lo <= hi, got [{lo}, {hi}]")
        if self.n < 1:
            raise ConfigError(f"{key}.n: expected at least 1 point, got {self.n}")


@dataclass(frozen=True)
class StrainGenerator(_Crystal):
    kind: Literal["strain"] = "strain"
    magnitudes: tuple[float, ...] = field(default=(0.005, 0.01), metadata=_doc(
        "strain magnitudes, each applied with both signs (engineering shear)", scalar_ok=True))
    components: tuple[Literal["xx", "yy", "zz", "yz", "xz", "xy"], ...] = VOIGT_NAMES

    def check(self, key: str) -> None:
        super().check(key)
        for k, m in enumerate(self.magnitudes):
            if not 0 < m < 0.5:
                raise ConfigError(f"{key}.magnitudes[{k}]: expected 0 < magnitude < 0.5, got {m}")


@dataclass(frozen=True)
class RattleGenerator(_Crystal):
    kind: Literal["rattle"] = "rattle"
    sigma: float | tuple[float, ...] = field(default=0.05, metadata=_doc(
        "standard deviation of each displacement component, Å (a list: each)", unit="length"))
    n: int = 10

    def check(self, key: str) -> None:
        super().check(key)
        sigmas = self.sigma if isinstance(self.sigma, tuple) else (self.sigma,)
        if any(not 0 < s < 1.0 for s in sigmas):
            raise ConfigError(f"{key}.sigma: expected 0 < sigma < 1 Å, got {self.sigma}")
        if self.n < 1:
            raise ConfigError(f"{key}.n: expected n >= 1, got {self.n}")


@dataclass(frozen=True)
class SurfaceGenerator(_Crystal):
    kind: Literal["surface"] = "surface"
    miller: tuple[tuple[int, int, int], ...] = ((1, 0, 0), (1, 1, 0), (1, 1, 1))
    layers: int = 6
    vacuum: float = field(default=10.0, metadata=_doc("vacuum between slab images, Å", unit="length"))
    size: tuple[int, int] = (1, 1)

    def check(self, key: str) -> None:
        super().check(key)
        if self.layers < 1:
            raise ConfigError(f"{key}.layers: expected at least 1, got {self.layers}")
        if self.vacuum < 0:
            raise ConfigError(f"{key}.vacuum: expected >= 0 Å, got {self.vacuum}")
        for k, m in enumerate(self.miller):
            if not any(m):
                raise ConfigError(f"{key}.miller[{k}]: the zero vector is not a plane")


@dataclass(frozen=True)
class StackingFaultGenerator(_Crystal):
    kind: Literal["stacking_fault"] = "stacking_fault"
    system: Literal["fcc111_110", "fcc111_112", "bcc110_111", "bcc112_111"] = "fcc111_112"
    fractions: tuple[float, ...] = (0.25, 0.5, 0.75, 1.0)
    layers: int = 12
    vacuum: float | None = field(default=None, metadata=_doc(
        "slab with this vacuum (Å) instead of a tilted periodic cell", unit="length"))
    size: tuple[int, int] = (1, 1)

    def check(self, key: str) -> None:
        super().check(key)
        if self.layers < 2:
            raise ConfigError(f"{key}.layers: expected at least 2, got {self.layers}")


@dataclass(frozen=True)
class VacancyGenerator(_Crystal):
    kind: Literal["vacancy"] = "vacancy"
    supercell: tuple[int, int, int] = (2, 2, 2)
    cubic: bool = True


@dataclass(frozen=True)
class InterstitialGenerator(_Crystal):
    kind: Literal["interstitial"] = "interstitial"
    site: tuple[Literal["octahedral", "tetrahedral"], ...] = field(
        default=("octahedral",), metadata=_doc("octahedral and/or tetrahedral", scalar_ok=True))
    supercell: tuple[int, int, int] = (2, 2, 2)
    cubic: bool = True


@dataclass(frozen=True)
class _MD(_Crystal):
    supercell: tuple[int, int, int] = (2, 2, 2)
    cubic: bool = True
    timestep: float = field(default=1.0, metadata=_doc("fs"))
    friction: float = field(default=0.02, metadata=_doc("Langevin friction, 1/fs"))


@dataclass(frozen=True)
class MDGenerator(_MD):
    kind: Literal["md"] = "md"
    temperatures: tuple[float, ...] = field(default=(300.0,), metadata=_doc("K", scalar_ok=True))
    steps: int = field(default=200, metadata=_doc("production steps after equilibration"))
    interval: int = field(default=20, metadata=_doc("keep every interval-th step"))
    equilibration: int = 100
    ensemble: Literal["nvt", "npt"] = "nvt"
    pressure: float = field(default=0.0, metadata=_doc("npt pressure, GPa"))

    def check(self, key: str) -> None:
        super().check(key)
        _check_md(key, self.temperatures, self.steps, self.interval, self.equilibration, self.timestep)


@dataclass(frozen=True)
class LiquidGenerator(_MD):
    kind: Literal["liquid"] = "liquid"
    temperature: float = field(default=2000.0, metadata=_doc("K, above the melting point"))
    steps: int = 300
    interval: int = 50
    equilibration: int = field(default=500, metadata=_doc("steps to melt before snapshots"))

    def check(self, key: str) -> None:
        super().check(key)
        _check_md(key, (self.temperature,), self.steps, self.interval, self.equilibration,
                  self.timestep, name="temperature")


@dataclass(frozen=True)
class AmorphousGenerator(_MD):
    kind: Literal["amorphous"] = "amorphous"
    melt: float = field(default=2500.0, metadata=_doc("melt temperature, K"))
    melt_steps: int = 500
    final: float = field(default=300.0, metadata=_doc("temperature at the end of the quench, K"))
    quench_rate: float = field(default=1e14, metadata=_doc("K/s"))
    snapshots: int = 3
    max_steps: int = field(default=200_000, metadata=_doc("refuse quenches longer than this"))

    def check(self, key: str) -> None:
        super().check(key)
        _check_md(key, (self.melt, self.final), self.melt_steps, 1, 0, self.timestep, name="melt")
        if not self.quench_rate > 0:
            raise ConfigError(f"{key}.quench_rate: expected > 0 K/s, got {self.quench_rate}")
        if self.snapshots < 1:
            raise ConfigError(f"{key}.snapshots: expected >= 1, got {self.snapshots}")
        n = quench_steps(self.melt, self.final, self.quench_rate, self.timestep)
        if n > self.max_steps:
            raise ConfigError(f"{key}.quench_rate: {self.quench_rate:g} K/s needs {n} steps of "
                              f"{self.timestep:g} fs (max_steps {self.max_steps}); raise the rate")


def _check_md(key: str, temperatures: Sequence[float], steps: int, interval: int,
              equilibration: int, timestep: float, name: str = "temperatures") -> None:
    if any(not t > 0 for t in temperatures):
        raise ConfigError(f"{key}.{name}: expected temperatures > 0 K, got {list(temperatures)}")
    if steps < 0 or equilibration < 0:
        raise ConfigError(f"{key}.steps: expected non-negative step counts, got {steps}, {equilibration}")
    if interval < 1:
        raise ConfigError(f"{key}.interval: expected >= 1, got {interval}")
    if not 0 < timestep <= 10:
        raise ConfigError(f"{key}.timestep: expected 0 < timestep <= 10 fs, got {timestep}")


#: kind -> schema
GENERATORS: dict[str, type] = {
    "bulk": BulkGenerator, "eos": EOSGenerator, "strain": StrainGenerator,
    "rattle": RattleGenerator, "surface": SurfaceGenerator,
    "stacking_fault": StackingFaultGenerator, "vacancy": VacancyGenerator,
    "interstitial": InterstitialGenerator, "md": MDGenerator, "liquid": LiquidGenerator,
    "amorphous": AmorphousGenerator,
}
_NEEDS_CALCULATOR = ("md", "liquid", "amorphous")


@dataclass(frozen=True)
class CalculatorConfig:
    name: str = field(default="emt", metadata=_doc(
        "registered name (emt, lj, morse, gpaw, potforge) or 'package.module:Class'"))
    parameters: dict[str, Any] = field(default_factory=dict, metadata=_doc(
        "keyword arguments of the calculator"))


@dataclass(frozen=True)
class SelectConfig:
    n: int = field(default=100, metadata=_doc("structures to keep (farthest-point selection)"))
    cutoff: float = field(default=6.0, metadata=_doc("symmetry-function cutoff, Å", unit="length"))
    n_radial: int = 8
    n_angular: int = 4
    std: bool = field(default=True, metadata=_doc("compare per-structure std of features too"))
    keep_config_types: tuple[str, ...] = field(default=(), metadata=_doc(
        "config types always kept (selection runs over the rest)", scalar_ok=True))

    def check(self, key: str) -> None:
        if self.n < 1:
            raise ConfigError(f"{key}.n: expected >= 1, got {self.n}")


@dataclass(frozen=True)
class GenerationConfig:
    element: str = field(default="", metadata=_doc("chemical symbol, e.g. Al"))
    seed: int = 0
    min_distance: float = field(default=0.5, metadata=_doc(
        "closest allowed approach as a fraction of the nearest-neighbour distance"))
    lattice_constants: dict[str, float] = field(default_factory=dict, metadata=_doc(
        "per phase, Å (hcp_c for hcp's c)", unit="length"))
    calculator: CalculatorConfig | None = None
    generators: tuple[Any, ...] = ()
    select: SelectConfig | None = None

    def check(self, key: str) -> None:
        if not self.element:
            raise ConfigError(f"{key + '.' if key else ''}element: missing; name the element, e.g. element: Al")
        _check_element(self.element, f"{key + '.' if key else ''}element")
        for name in self.lattice_constants:
            if name not in PHASES and name != "hcp_c":
                raise ConfigError(f"lattice_constants.{name}: not a phase; expected one of "
                                  f"{', '.join(PHASES)}, hcp_c")
        if not 0 <= self.min_distance < 1.0:
            raise ConfigError(f"min_distance: expected a fraction in [0, 1), got {self.min_distance}")


def _build_generator(raw: Any, key: str) -> Any:
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{key}: expected a mapping like {{kind: bulk, ...}}, got {raw!r}")
    if "kind" not in raw:
        raise ConfigError(f"{key}.kind: missing; one of {', '.join(GENERATORS)}")
    kind = raw["kind"]
    if kind not in GENERATORS:
        guess = nearest(str(kind), list(GENERATORS))
        hint = f" (did you mean '{guess}'?)" if guess else ""
        raise ConfigError(f"{key}.kind: {kind!r} is not one of {', '.join(GENERATORS)}{hint}")
    return build(GENERATORS[kind], raw, key)


def generation_config(raw: Mapping[str, Any] | None) -> GenerationConfig:
    """Validate a mapping (see the module docstring) into a :class:`GenerationConfig`;
    errors are one-line :class:`ConfigError` naming the dotted key."""
    raw = dict(raw or {})
    generators = raw.pop("generators", None)
    config = build(GenerationConfig, raw)
    if generators is None or (isinstance(generators, Sequence) and not isinstance(generators, str)
                              and len(generators) == 0):
        raise ConfigError("generators: missing; give a list such as [{kind: bulk}, {kind: eos}]")
    if isinstance(generators, (str, bytes)) or not isinstance(generators, Sequence):
        raise ConfigError(f"generators: expected a list of {{kind: ...}} mappings, got {generators!r}")
    built = tuple(_build_generator(g, f"generators[{k}]") for k, g in enumerate(generators))
    config = dataclasses.replace(config, generators=built)
    for k, g in enumerate(built):
        if g.kind in _NEEDS_CALCULATOR and config.calculator is None:
            raise ConfigError(f"calculator: missing; generators[{k}] ({g.kind}) runs molecular "
                              "dynamics and needs one, e.g. calculator: {name: emt}")
        if g.kind == "stacking_fault" and g.phase is not None and g.phase != FAULT_SYSTEMS[g.system][0]:
            raise ConfigError(f"generators[{k}].phase: {g.phase} does not match system {g.system}")
        if g.kind == "interstitial":
            phase = g.phase or reference_phase(config.element)
            for s in g.site:
                if s not in INTERSTITIAL_SITES.get(phase, {}):
                    raise ConfigError(f"generators[{k}].site: no {s} site in {phase}; interstitial "
                                      f"sites exist for {', '.join(INTERSTITIAL_SITES)}")
    return config


def needs_calculator(config: GenerationConfig) -> bool:
    return any(g.kind in _NEEDS_CALCULATOR for g in config.generators)


def generate_structures(config: GenerationConfig, *, calculator: Any = None,
                        progress: Progress | None = None) -> list[Atoms]:
    """Run every generator of ``config`` in order; returns the tagged structures.

    Generator k draws its random numbers from ``SeedSequence([seed, k])``, so adding a
    generator does not change the others' structures. ``calculator`` (any ASE calculator) is
    needed only by md, liquid and amorphous generators.
    """
    out: list[Atoms] = []
    for k, g in enumerate(config.generators):
        seed = np.random.SeedSequence([config.seed, k])
        structures = _run_generator(config, g, k, seed, calculator, progress)
        for atoms in structures:
            atoms.info["generator"] = k
        if progress is not None:
            progress(f"generators[{k}] {g.kind}: {len(structures)} structures")
        out.extend(structures)
    return out


def _parent(config: GenerationConfig, g: Any, phase: str | None = None) -> Atoms:
    phase = phase or g.phase or reference_phase(config.element)
    lc = config.lattice_constants
    a = g.a if g.a is not None else lc.get(phase)
    c = g.c if g.c is not None else (lc.get("hcp_c") if phase == "hcp" else None)
    return bulk_crystal(config.element, phase, a=a, c=c, supercell=g.supercell, cubic=g.cubic)


def _run_generator(config: GenerationConfig, g: Any, k: int, seed: np.random.SeedSequence,
                   calculator: Any, progress: Progress | None) -> list[Atoms]:
    fraction = config.min_distance
    prefix = f"g{k}"
    if g.kind == "bulk":
        # a and c of the entry apply only to a single phase; otherwise lattice_constants
        one = g if len(g.phases) == 1 else dataclasses.replace(g, a=None, c=None)
        return [_tag(_parent(config, one, phase), "bulk", _group(prefix, "bulk", phase))
                for phase in g.phases]
    if g.kind == "eos":
        return eos_structures(_parent(config, g), g.strains, g.n, mode=g.mode,
                              group=_group(prefix, "eos", g.phase))
    if g.kind == "strain":
        return strain_structures(_parent(config, g), g.magnitudes, components=g.components,
                                 group=_group(prefix, "strain", g.phase))
    if g.kind == "rattle":
        parent = _parent(config, g)
        sigmas = g.sigma if isinstance(g.sigma, tuple) else (g.sigma,)
        out = []
        for s, child in zip(sigmas, seed.spawn(len(sigmas))):
            out += rattle_structures(parent, s, g.n, seed=child, min_distance_fraction=fraction,
                                     group=_group(prefix, "rattle", f"{s:g}"))
        return out
    if g.kind == "surface":
        phase = g.phase or reference_phase(config.element)
        a = g.a if g.a is not None else config.lattice_constants.get(phase)
        out = surface_structures(config.element, phase, g.miller, layers=g.layers, vacuum=g.vacuum,
                                 a=a, c=g.c, size=g.size, min_distance_fraction=fraction)
        for s in out:
            s.info["group"] = f"{prefix}-{s.info['group']}"
        return out
    if g.kind == "stacking_fault":
        phase = FAULT_SYSTEMS[g.system][0]
        a = g.a if g.a is not None else config.lattice_constants.get(phase)
        out = stacking_fault_structures(config.element, g.system, g.fractions, layers=g.layers,
                                        a=a, vacuum=g.vacuum, size=g.size,
                                        min_distance_fraction=fraction)
        for s in out:
            s.info["group"] = f"{prefix}-{s.info['group']}"
        return out
    if g.kind == "vacancy":
        return vacancy_structures(_parent(config, g), group=_group(prefix, "vacancy"),
                                  min_distance_fraction=fraction)
    if g.kind == "interstitial":
        parent = _parent(config, g)
        return [s for site in g.site for s in interstitial_structures(
            parent, (site,), group=_group(prefix, "interstitial", site), min_distance_fraction=fraction)]
    parent = _parent(config, g)
    if g.kind == "md":
        out = []
        for t, child in zip(g.temperatures, seed.spawn(len(g.temperatures))):
            out += md_snapshots(parent, calculator, t, steps=g.steps, interval=g.interval,
                                equilibration=g.equilibration, timestep=g.timestep,
                                friction=g.friction, ensemble=g.ensemble, pressure=g.pressure,
                                seed=child, progress=progress, group=_group(prefix, "md", f"{t:g}K"),
                                min_distance_fraction=fraction)
        return out
    if g.kind in ("liquid", "amorphous"):
        try:
            return _melt_generator(g, parent, calculator, seed, progress, prefix, fraction)
        except ConfigError as err:
            raise ConfigError(f"generators[{k}].{err.reason}") from None
    raise ConfigError(f"generators[{k}].kind: {g.kind!r} is not one of {', '.join(GENERATORS)}")


def _melt_generator(g: Any, parent: Atoms, calculator: Any, seed: np.random.SeedSequence,
                    progress: Progress | None, prefix: str, fraction: float) -> list[Atoms]:
    if g.kind == "liquid":
        return liquid_snapshots(parent, calculator, g.temperature, steps=g.steps, interval=g.interval,
                                equilibration=g.equilibration, timestep=g.timestep,
                                friction=g.friction, seed=seed, progress=progress,
                                group=_group(prefix, "liquid", f"{g.temperature:g}K"),
                                min_distance_fraction=fraction)
    if g.kind == "amorphous":
        return amorphous_snapshots(parent, calculator, melt=g.melt, quench_rate=g.quench_rate,
                                   final=g.final, melt_steps=g.melt_steps, snapshots=g.snapshots,
                                   timestep=g.timestep, friction=g.friction, seed=seed,
                                   progress=progress, group=_group(prefix, "amorphous"),
                                   min_distance_fraction=fraction)
    raise AssertionError(g.kind)
