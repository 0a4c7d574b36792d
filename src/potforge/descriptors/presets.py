"""Systematic symmetry-function sets for any species, and their pruning on a training set.

Presets
-------
Every central element gets the same grid of functions for every neighbour element (radial,
n2p2 type 2) and every unordered neighbour pair (angular, type 9 or 3), following the
systematic, data-agnostic grids of Imbalzano et al., J. Chem. Phys. 148, 241730 (2018): length
scales on a geometric progression between a shortest distance and the cutoff. With the grid

    geometric:  r_k = r_min (r_c / r_min)^{k/m},    linear:  r_k = r_min + (r_c − r_min) k/m,

k = 0 … m:

* **centered** radial (r_s = 0) and all angular functions (geometric, m = n − 1, n ≥ 2):
  η_k = 1/r_k², so the Gaussian exp(−η r²) has fallen to 1/e at r = r_k. Widths are scales,
  hence the geometric grid. A single function (n = 1) takes the widest scale, r_c.
* **shifted** radial (m = n): r_s = r_k for k = 0 … n − 1 (a Gaussian centred on r_c would only
  see the vanishing tail of f_c) and η_k = 1/(r_{k+1} − r_k)², i.e. the Gaussian's 1/e half-width
  is the distance to the next grid point. On the linear grid neighbouring Gaussians
  (σ = Δr/√2) sum to a function that is constant to within ±2 exp(−π²) ≈ ±1e-4 (Poisson
  summation), so there are no blind spots, yet they stay distinguishable.

The paper's grids are these geometric ones with the lower end fixed at r_c/(number of
intervals); potforge takes an explicit r_min instead, so the shortest length scale does not
change with the number of functions. Deliberate deviation: shifts are positions, not scales, so
their default grid is **linear** (as in Gastegger et al., J. Chem. Phys. 148, 241709 (2018));
``shift_spacing="geometric"`` gives the paper's progression. With r_min = 0.5 Å and r_c = 5–6 Å
the geometric grid puts 3 of 8 shifts below 0.95 Å, where no atom of a metal (nor an O–O pair
of water) ever is: on 11 mlearn Cu training frames pruning drops those 3 as constant, but at
most 1 of the 8 linear shifts; on 10 frames of n2p2's water set it drops 2 (H) and 4 (O) of 16
geometric but 0 and 1–2 linear radial functions.

The angular functions use n2p2's r_s = 0 form for every (η, ζ, λ) of the grid.

The default cutoff function is n2p2's type 6 (``poly2``, ((15 − 6x)x − 10)x³ + 1): f, f′ and
f″ vanish at r_c (smooth forces and force derivatives), f(0) = 1 so the values are not damped at
short range (unlike ``tanhu``, whose f(0) = tanh³ 1 ≈ 0.44), it accepts an inner cutoff α, and it
is a polynomial, cheaper than the tanh and exp types.

Pruning
-------
A network can fit the tiny, structure-independent variations of a function that is nearly
constant over the training set, or the difference of two nearly identical functions; after
scaling both are amplified into large, meaningless inputs and the fit becomes numerically
unstable and transfers badly. :func:`prune` drops, element by element and over raw training-set
values, first the functions whose range max − min is too small in absolute terms or relative to
their mean |G|, then greedily the later member of every pair whose Pearson correlation exceeds
a threshold in magnitude.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import combinations_with_replacement
from typing import Literal

import numpy as np
from ase.data import atomic_numbers

from ..core.elements import is_element
from ..core.errors import ConfigError, ModelFormatError
from ..core.neighbors import neighbor_list
from .cutoffs import check_cutoff_alpha, cutoff_type_index
from .symmetry_functions import MAX_CUTOFF, MAX_ZETA, SymmetryFunction, SymmetryFunctionSet

__all__ = ["DEFAULT_CUTOFF_TYPE", "radial_functions", "angular_functions", "preset", "prune",
           "PruneReport", "DroppedFunction"]

#: n2p2 cutoff type 6 (see the module docstring for why).
DEFAULT_CUTOFF_TYPE = "poly2"


# -- grids ---------------------------------------------------------------------------------------
def _check_common(where: str, species: Sequence[str], cutoff: float, r_min: float,
                  cutoff_type: str, cutoff_alpha: float) -> tuple[str, ...]:
    species = tuple(species)
    if not species:
        raise ConfigError(f"{where}: species is empty; give at least one element symbol")
    for s in species:
        if not is_element(s):
            raise ConfigError(f"{where}: unknown element {s!r} in species {list(species)}")
    if len(set(species)) != len(species):
        raise ConfigError(f"{where}: species {list(species)} contain duplicates")
    if not (math.isfinite(cutoff) and 0 < cutoff <= MAX_CUTOFF):
        raise ConfigError(f"{where}: cutoff must be a positive number of Å up to {MAX_CUTOFF:g}, "
                          f"got {cutoff}")
    if not (math.isfinite(r_min) and 0 < r_min < cutoff):
        raise ConfigError(f"{where}: r_min must lie in (0, cutoff = {cutoff}) Å, got {r_min}")
    try:
        cutoff_type_index(cutoff_type)
        check_cutoff_alpha(cutoff_alpha)
    except ValueError as err:
        raise ConfigError(f"{where}: {err}") from None
    return species


def _check_count(where: str, name: str, n: int) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ConfigError(f"{where}: {name} must be a positive integer, got {n!r}")
    return int(n)


def _grid(lo: float, hi: float, n_points: int, spacing: str) -> np.ndarray:
    """n_points >= 2 from lo to hi (both included), evenly or in geometric progression."""
    k = np.arange(n_points) / (n_points - 1)
    grid = lo * (hi / lo) ** k if spacing == "geometric" else lo + (hi - lo) * k
    grid[-1] = hi  # exact end point
    return grid


def _centered_widths(r_min: float, cutoff: float, n: int) -> np.ndarray:
    """Length scales r_k of the centred Gaussians, widest last; η_k = 1/r_k²."""
    return np.array([cutoff]) if n == 1 else _grid(r_min, cutoff, n, "geometric")


# -- presets -------------------------------------------------------------------------------------
def radial_functions(species: Sequence[str], cutoff: float, n: int, *,
                     mode: Literal["shifted", "centered"] = "shifted", r_min: float = 0.5,
                     shift_spacing: Literal["linear", "geometric"] = "linear",
                     cutoff_type: str = DEFAULT_CUTOFF_TYPE,
                     cutoff_alpha: float = 0.0) -> list[SymmetryFunction]:
    """n radial functions (n2p2 type 2) for every central and every neighbour element.

    Parameters
    ----------
    species : sequence of str
        Element symbols.
    cutoff : float, Å
        r_c of every function.
    n : int
        Functions per (central, neighbour) element pair.
    mode : {"shifted", "centered"}
        ``shifted``: Gaussians centred at r_s = r_k, k = 0 … n − 1, on a grid of n + 1 points
        from r_min to r_c, with η_k = 1/(r_{k+1} − r_k)² (1/Å²); r_s increases along the list.
        ``centered``: r_s = 0 and η_k = 1/r_k² on the geometric grid of n points from r_min to
        r_c (η decreasing, i.e. widening, along the list). See the module docstring.
    r_min : float, Å
        Smallest grid point (shortest length scale); must be below ``cutoff``.
    shift_spacing : {"linear", "geometric"}
        Grid of the shifts (``shifted`` mode only): even, or Imbalzano's geometric progression
        (denser at short range).
    cutoff_type : str
        Cutoff function (:data:`~potforge.descriptors.cutoffs.CUTOFF_TYPES`).
    cutoff_alpha : float
        Inner cutoff fraction α.

    Returns
    -------
    list of SymmetryFunction
        Ordered by central element (as in ``species``), neighbour element, then grid point.
    """
    where = "radial_functions"
    species = _check_common(where, species, cutoff, r_min, cutoff_type, cutoff_alpha)
    n = _check_count(where, "n", n)
    if shift_spacing not in ("linear", "geometric"):
        raise ConfigError(f"{where}: shift_spacing must be 'linear' or 'geometric', got "
                          f"{shift_spacing!r}")
    if mode == "shifted":
        points = _grid(r_min, cutoff, n + 1, shift_spacing)
        shifts = points[:-1]
        etas = 1.0 / np.diff(points) ** 2
    elif mode == "centered":
        shifts = np.zeros(n)
        etas = 1.0 / _centered_widths(r_min, cutoff, n) ** 2
    else:
        raise ConfigError(f"{where}: mode must be 'shifted' or 'centered', got {mode!r}")
    return _functions(where, [dict(type=2, element=center, neighbors=(neighbor,),
                                   cutoff_radius=float(cutoff), eta=float(eta), shift=float(rs),
                                   cutoff_type=cutoff_type, cutoff_alpha=float(cutoff_alpha))
                              for center in species for neighbor in species
                              for eta, rs in zip(etas, shifts)])


def _functions(where: str, parameters: list[dict]) -> list[SymmetryFunction]:
    """The functions of a grid; a parameter outside its physical range (e.g. η of a grid squeezed
    against the cutoff) is a ConfigError naming the grid."""
    try:
        return [SymmetryFunction(**p) for p in parameters]
    except ValueError as err:
        raise ConfigError(f"{where}: {err}") from None


def angular_functions(species: Sequence[str], cutoff: float, n_eta: int,
                      zetas: Sequence[float] = (1, 2, 4, 16), lambdas: Sequence[float] = (-1, 1),
                      *, kind: Literal["wide", "narrow"] = "wide", r_min: float = 1.5,
                      cutoff_type: str = DEFAULT_CUTOFF_TYPE,
                      cutoff_alpha: float = 0.0) -> list[SymmetryFunction]:
    """Angular functions for every central element and every unordered neighbour pair.

    Parameters
    ----------
    species : sequence of str
        Element symbols.
    cutoff : float, Å
        r_c of every function.
    n_eta : int
        Widths per pair: r_s = 0, η_k = 1/r_k² on the geometric grid of n_eta points from
        r_min to r_c (one point: r_c).
    zetas : sequence of float
        ζ values (each >= 1); every (η, ζ, λ) combination is generated.
    lambdas : sequence of {-1, 1}
        λ values.
    kind : {"wide", "narrow"}
        n2p2 type 9 (no r_jk terms) or type 3 (with the r_jk Gaussian and f_c(r_jk)).
    r_min : float, Å
        Shortest length scale. The default 1.5 Å is larger than the radial one because the
        angular Gaussian multiplies two (narrow: three) distance factors: with r_k = 0.5 Å a
        triplet at 2.5 Å (a metal's first shell) would weigh exp(−50).
    cutoff_type, cutoff_alpha
        As in :func:`radial_functions`.

    Returns
    -------
    list of SymmetryFunction
        n_species · n_species(n_species + 1)/2 · n_eta · len(zetas) · len(lambdas) functions,
        ordered by central element, neighbour pair, η (decreasing), ζ, λ.
    """
    where = "angular_functions"
    species = _check_common(where, species, cutoff, r_min, cutoff_type, cutoff_alpha)
    n_eta = _check_count(where, "n_eta", n_eta)
    type_ = {"wide": 9, "narrow": 3}.get(kind)
    if type_ is None:
        raise ConfigError(f"{where}: kind must be 'wide' (type 9) or 'narrow' (type 3), "
                          f"got {kind!r}")
    zetas = tuple(float(z) for z in zetas)
    lambdas = tuple(float(x) for x in lambdas)
    if not zetas or any(not (math.isfinite(z) and 1 <= z <= MAX_ZETA) for z in zetas):
        raise ConfigError(f"{where}: zetas must be a non-empty list of numbers in [1, {MAX_ZETA:g}], "
                          f"got {list(zetas)}")
    if not lambdas or any(x not in (-1.0, 1.0) for x in lambdas):
        raise ConfigError(f"{where}: lambdas must be a non-empty list of -1 and/or 1, "
                          f"got {list(lambdas)}")
    for name, seq in (("zetas", zetas), ("lambdas", lambdas)):
        if len(set(seq)) != len(seq):
            raise ConfigError(f"{where}: {name} {list(seq)} contain duplicates (they would give "
                              "identical functions)")
    etas = 1.0 / _centered_widths(r_min, cutoff, n_eta) ** 2
    ordered = sorted(species, key=lambda s: atomic_numbers[s])  # pairs in n2p2's canonical order
    pairs = list(combinations_with_replacement(ordered, 2))
    return _functions(where, [dict(type=type_, element=center, neighbors=pair,
                                   cutoff_radius=float(cutoff), eta=float(eta), shift=0.0, zeta=zeta,
                                   lambda_=lam, cutoff_type=cutoff_type,
                                   cutoff_alpha=float(cutoff_alpha))
                              for center in species for pair in pairs for eta in etas
                              for zeta in zetas for lam in lambdas])


def preset(species: Sequence[str], cutoff: float, *, n_radial: int = 8, n_angular: int = 4,
           radial_mode: Literal["shifted", "centered"] = "shifted",
           shift_spacing: Literal["linear", "geometric"] = "linear",
           angular_kind: Literal["wide", "narrow"] = "wide",
           zetas: Sequence[float] = (1, 2, 4, 16), lambdas: Sequence[float] = (-1, 1),
           cutoff_type: str = DEFAULT_CUTOFF_TYPE, cutoff_alpha: float = 0.0,
           r_min: float = 0.5, angular_r_min: float = 1.5) -> SymmetryFunctionSet:
    """A complete symmetry-function set: :func:`radial_functions` plus :func:`angular_functions`.

    The defaults suit both metals and molecules: shifted radial functions resolve neighbour
    shells from 0.5 Å (shorter than any bond, H₂ 0.74 Å) to the cutoff, wide angular
    functions (type 9, cheaper than type 3 and not blind to triplets whose outer pair is far
    apart) with ζ from 1 (broad) to 16 (sharp bond angles) and both signs of λ. Per central
    element this is 8 n_s radial + 32 n_s(n_s + 1)/2 angular functions (40 for one element,
    112 for two). Functions that the training set never exercises are removed by :func:`prune`.

    Parameters
    ----------
    species : sequence of str
        Model species, in model order.
    cutoff : float, Å
        r_c of every function.
    n_radial, n_angular : int
        Radial functions per element pair; η values per angular neighbour pair.
    radial_mode, shift_spacing, angular_kind, zetas, lambdas, cutoff_type, cutoff_alpha
        See :func:`radial_functions` and :func:`angular_functions`.
    r_min, angular_r_min : float, Å
        Shortest length scale of the radial and of the angular grid.

    Returns
    -------
    SymmetryFunctionSet
        In n2p2's canonical order.
    """
    funcs = (radial_functions(species, cutoff, n_radial, mode=radial_mode, r_min=r_min,
                              shift_spacing=shift_spacing, cutoff_type=cutoff_type,
                              cutoff_alpha=cutoff_alpha)
             + angular_functions(species, cutoff, n_angular, zetas, lambdas, kind=angular_kind,
                                 r_min=angular_r_min, cutoff_type=cutoff_type,
                                 cutoff_alpha=cutoff_alpha))
    by_element: dict[str, list[SymmetryFunction]] = {s: [] for s in species}
    for sf in funcs:
        by_element[sf.element].append(sf)
    return SymmetryFunctionSet(species, by_element)


# -- pruning -------------------------------------------------------------------------------------
def _describe(sf: SymmetryFunction) -> str:
    """The n2p2 ``symfunction_short`` text, or a readable description for potforge-only types."""
    try:
        return sf.to_n2p2()
    except ModelFormatError:
        params = ", ".join(f"{k}={v}" for k, v in sf.to_dict().items()
                           if k not in ("type", "element", "neighbors"))
        return f"{sf.element} {sf.name} {'/'.join(sf.neighbors)} ({params})"


@dataclass(frozen=True)
class DroppedFunction:
    """One function removed by :func:`prune`.

    ``index`` is its position in the element's list before pruning; ``function`` its n2p2
    ``symfunction_short`` text (or a description); ``reason`` says which test it failed, with
    the numbers.
    """

    index: int
    function: str
    reason: str


@dataclass
class PruneReport:
    """What :func:`prune` kept and dropped, element by element.

    Attributes
    ----------
    species : tuple of str
    n_atoms : dict element -> int
        Training atoms of each element the decision was based on.
    n_functions : dict element -> int
        Functions before pruning.
    kept : dict element -> tuple of int
        Indices (in the original order) of the functions kept; ``values[e][:, kept[e]]`` are the
        raw values of the pruned set.
    dropped : dict element -> list of DroppedFunction
    notes : dict element -> str
        Elements left unpruned, and why (no or too few training atoms).
    min_range, min_relative_range, max_correlation : float
        The thresholds used.
    """

    species: tuple[str, ...]
    n_atoms: dict[str, int]
    n_functions: dict[str, int]
    kept: dict[str, tuple[int, ...]]
    dropped: dict[str, list[DroppedFunction]]
    notes: dict[str, str] = field(default_factory=dict)
    min_range: float = 0.0
    min_relative_range: float = 0.0
    max_correlation: float = 1.0

    @property
    def n_kept(self) -> dict[str, int]:
        return {e: len(self.kept[e]) for e in self.species}

    @property
    def n_dropped(self) -> dict[str, int]:
        return {e: len(self.dropped[e]) for e in self.species}

    def to_dict(self) -> dict:
        """JSON-serialisable summary."""
        return {
            "thresholds": {"min_range": self.min_range,
                           "min_relative_range": self.min_relative_range,
                           "max_correlation": self.max_correlation},
            "elements": {e: {"n_atoms": self.n_atoms[e], "n_functions": self.n_functions[e],
                             "n_kept": len(self.kept[e]), "n_dropped": len(self.dropped[e]),
                             "kept": list(self.kept[e]),
                             "dropped": [{"index": d.index, "function": d.function,
                                          "reason": d.reason} for d in self.dropped[e]],
                             "note": self.notes.get(e)}
                         for e in self.species},
        }

    def format(self) -> str:
        """A short plain-text table: counts per element, then one line per dropped function."""
        lines = [f"{'element':<8} {'atoms':>8} {'functions':>9} {'kept':>5} {'dropped':>7}"]
        for e in self.species:
            lines.append(f"{e:<8} {self.n_atoms[e]:>8} {self.n_functions[e]:>9} "
                         f"{len(self.kept[e]):>5} {len(self.dropped[e]):>7}"
                         + (f"  ({self.notes[e]})" if e in self.notes else ""))
        dropped = [(e, d) for e in self.species for d in self.dropped[e]]
        if dropped:
            width = max(len(d.function) for _, d in dropped)
            lines.append("dropped:")
            lines += [f"  {e:<3} #{d.index:<4} {d.function:<{width}}  {d.reason}"
                      for e, d in dropped]
        return "\n".join(lines)


def _element_drops(values: np.ndarray, min_range: float, min_relative_range: float,
                   max_correlation: float) -> dict[int, str]:
    """index -> reason for one element's (n_atoms, n_functions) raw values."""
    reasons: dict[int, str] = {}
    spread = values.max(axis=0) - values.min(axis=0)
    scale = np.abs(values).mean(axis=0)
    for k, (r, s) in enumerate(zip(spread, scale)):
        if r < min_range:
            reasons[k] = f"range {r:.3g} < {min_range:.3g}"
        elif r < min_relative_range * s:
            reasons[k] = (f"relative range {r / s:.3g} < {min_relative_range:.3g} "
                          f"(range {r:.3g}, mean |G| {s:.3g})")
    alive = [k for k in range(values.shape[1]) if k not in reasons]
    if len(alive) < 2 or max_correlation >= 1.0:
        return reasons
    # Pearson correlation of the surviving columns; every one has a non-zero spread here
    x = values[:, alive] - values[:, alive].mean(axis=0)
    x /= np.linalg.norm(x, axis=0)
    corr = x.T @ x
    removed = np.zeros(len(alive), dtype=bool)
    for a in range(len(alive)):  # greedy in list order: the first of a correlated pair stays
        if removed[a]:
            continue
        for b in range(a + 1, len(alive)):
            if not removed[b] and abs(corr[a, b]) > max_correlation:
                removed[b] = True
                reasons[alive[b]] = f"correlation {corr[a, b]:.6g} with #{alive[a]}"
    return reasons


def prune(sfs: SymmetryFunctionSet, values: Mapping[str, np.ndarray], *, min_range: float = 1e-3,
          min_relative_range: float = 1e-4,
          max_correlation: float = 0.999) -> tuple[SymmetryFunctionSet, PruneReport]:
    """Drop symmetry functions that are near-constant or near-duplicates on a training set.

    For each element, in this order:

    1. range: drop a function whose range G_max − G_min over the training atoms is below
       ``min_range`` (absolute, in the function's raw units) or below ``min_relative_range``
       times its mean |G| (a large function whose variation is a rounding-level fraction of
       itself);
    2. correlation: walk the surviving functions in their order and drop every later one whose
       Pearson correlation with a kept one exceeds ``max_correlation`` in magnitude, so of a
       correlated pair the one listed first stays (deterministic).

    An element with fewer than two training atoms keeps all its functions (there is no range to
    judge) and the report says so.

    Parameters
    ----------
    sfs : SymmetryFunctionSet
    values : mapping element -> (n_atoms_of_element, n_functions) float
        Raw (unscaled) values over the training set, columns in ``sfs`` order (e.g.
        ``DescriptorCache.element_values()``). A missing element counts as no atoms.
    min_range : float
        Absolute range threshold (raw units of G; 0 disables).
    min_relative_range : float
        Range threshold relative to mean |G| (0 disables).
    max_correlation : float
        |Pearson correlation| above which the later function of a pair is dropped (1 disables).

    Returns
    -------
    pruned : SymmetryFunctionSet
        Same species; each element's remaining functions in their original order.
    report : PruneReport
        What was dropped and why, and the indices kept.
    """
    if not (min_range >= 0 and min_relative_range >= 0 and 0 < max_correlation <= 1):
        raise ConfigError(f"prune: need min_range >= 0, min_relative_range >= 0 and "
                          f"0 < max_correlation <= 1; got {min_range}, {min_relative_range}, "
                          f"{max_correlation}")
    extra = sorted(set(values) - set(sfs.species))
    if extra:
        raise ValueError(f"prune: values given for {extra}, which are not species "
                         f"{list(sfs.species)}")
    kept: dict[str, tuple[int, ...]] = {}
    dropped: dict[str, list[DroppedFunction]] = {}
    n_atoms: dict[str, int] = {}
    notes: dict[str, str] = {}
    new_functions: dict[str, list[SymmetryFunction]] = {}
    for e in sfs.species:
        funcs = sfs.functions[e]
        v = values.get(e)
        v = np.zeros((0, len(funcs))) if v is None else np.asarray(v, dtype=np.float64)
        if v.ndim != 2 or v.shape[1] != len(funcs):
            raise ValueError(f"prune: values of {e} have shape {v.shape}; expected "
                             f"(n_atoms, {len(funcs)}) for its {len(funcs)} functions")
        if not np.isfinite(v).all():
            bad = np.argwhere(~np.isfinite(v))[0]
            raise ValueError(f"prune: values of {e} are not finite (atom {bad[0]}, function "
                             f"#{bad[1]}: {v[tuple(bad)]})")
        n_atoms[e] = v.shape[0]
        if v.shape[0] < 2:
            reasons: dict[int, str] = {}
            notes[e] = ("no atoms in the training set" if v.shape[0] == 0
                        else "only one atom in the training set") + "; functions kept unpruned"
        else:
            reasons = _element_drops(v, min_range, min_relative_range, max_correlation)
            if len(reasons) == len(funcs) and funcs:
                raise ConfigError(f"prune: every one of the {len(funcs)} functions of {e} would be "
                                 f"dropped (e.g. #0: {reasons[0]}); the training set does not vary "
                                 f"the environments of {e} — add structures or lower min_range")
        kept[e] = tuple(k for k in range(len(funcs)) if k not in reasons)
        dropped[e] = [DroppedFunction(k, _describe(funcs[k]), reasons[k]) for k in sorted(reasons)]
        new_functions[e] = [funcs[k] for k in kept[e]]
    # sort=False: keep the caller's order (re-sorting a non-canonical set would permute columns)
    pruned = SymmetryFunctionSet(sfs.species, new_functions, sort=False)
    report = PruneReport(species=sfs.species, n_atoms=n_atoms,
                         n_functions={e: sfs.n_functions(e) for e in sfs.species}, kept=kept,
                         dropped=dropped, notes=notes, min_range=float(min_range),
                         min_relative_range=float(min_relative_range),
                         max_correlation=float(max_correlation))
    return pruned, report


# -- a cutoff chosen from the data ---------------------------------------------------------------
def cutoff_for_neighbors(structures: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]], neighbors: float,
                         *, r_max: float = 8.0, step: float = 0.1, max_atoms: int = 20000) -> float:
    """The smallest radius, rounded up to ``step``, within which the atoms of ``structures``
    have ``neighbors`` neighbours on average.

    One number of neighbours gives every element the same amount of environment to describe
    (and about the same cost per atom): on mlearn's training sets 50 neighbours is 5.2 Å for
    fcc Cu, 5.1 Å for Ni, 6.1 Å for bcc Li (whose shells are wider and softer) and 6.5 Å for
    diamond Si.

    Parameters
    ----------
    structures : sequence of (positions, cell, pbc)
        The training structures; evenly spaced ones are used up to ``max_atoms`` atoms.
    neighbors : float
        Mean number of neighbours within the cutoff (> 0).
    r_max : float, Å
        The largest cutoff returned (data too sparse to reach ``neighbors`` get ``r_max``).

    Raises
    ------
    ConfigError
        ``neighbors`` not a positive number, or no structures.
    """
    if not (isinstance(neighbors, (int, float)) and math.isfinite(neighbors) and neighbors > 0):
        raise ConfigError(f"neighbors: expected a positive number, got {neighbors!r}")
    if not structures:
        raise ConfigError("neighbors: no training structures to choose the cutoff from")
    sizes = np.array([len(p) for p, _, _ in structures])
    stride = max(1, int(math.ceil(sizes.sum() / max_atoms)))
    chosen = list(structures)[::stride]
    n_atoms = sum(len(p) for p, _, _ in chosen)
    distances = np.concatenate([neighbor_list(p, c, pbc, r_max).distances for p, c, pbc in chosen])
    need = int(math.ceil(neighbors * n_atoms))      # directed pairs
    if need > len(distances):
        return float(r_max)
    radius = float(np.partition(distances, need - 1)[need - 1])
    return float(min(r_max, round((math.floor(radius / step + 1e-9) + 1) * step, 9)))  # strictly past it
