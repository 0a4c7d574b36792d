"""Atom-centred symmetry functions: definitions, n2p2 ordering, evaluation with derivatives.

Types follow n2p2's numbering (Behler, J. Chem. Phys. 134, 074106 (2011); Gastegger et al.,
J. Chem. Phys. 148, 241709 (2018) for the element-weighted types; Bircher, Singraber,
Dellago, Mach. Learn.: Sci. Technol. 2, 035026 (2021) for the polynomial types), f_c being
the cutoff function (:mod:`.cutoffs`), sums running over neighbours j, k of atom i within
r_c (periodic images included), angular sums over unordered pairs j < k:

==== ================================ =========================================================
type name                             G_i
==== ================================ =========================================================
2    radial                           Σ_j exp(−η (r_ij − r_s)²) f_c(r_ij)              (j of one element)
3    angular narrow                   2^{1−ζ} Σ_{j<k} (1 + λ cos θ_ijk)^ζ exp(−η Σ_{ab∈ij,ik,jk} (r_ab − r_s)²)
                                      · f_c(r_ij) f_c(r_ik) f_c(r_jk)                 (one element pair)
9    angular wide                     as 3 without the r_jk Gaussian and f_c(r_jk)
12   weighted radial                  Σ_j Z_j exp(−η (r_ij − r_s)²) f_c(r_ij)          (all neighbours)
13   weighted angular narrow          as 3 with weight Z_j Z_k over all pairs
20   polynomial radial                Σ_j C(r_ij; r_l, r_c)
21   polynomial angular narrow        Σ_{j<k} C(r_ij) C(r_ik) C(r_jk) A(θ_ijk; θ_l, θ_r)
22   polynomial angular wide          Σ_{j<k} C(r_ij) C(r_ik) A(θ_ijk)
23   weighted polynomial radial       Σ_j Z_j C(r_ij)
24   weighted polynomial ang. narrow  as 21 with Z_j Z_k, all pairs
25   weighted polynomial ang. wide    as 22 with Z_j Z_k, all pairs
100  ANI angular (potforge)           2^{1−ζ} Σ_{j<k} (1 + cos(θ_ijk − θ_s))^ζ exp(−η ((r_ij + r_ik)/2 − R_s)²)
                                      · f_c(r_ij) f_c(r_ik)    (Smith, Isayev, Roitberg, Chem. Sci. 8, 3192 (2017))
==== ================================ =========================================================

For the polynomial types C(a; l, r) = core(|a − c|/w) with c = (l + r)/2, w = (r − l)/2 and a
core polynomial of n2p2's subtype (``p1``–``p4``, ``e``; a trailing ``a`` maps x to (2 − x)x
in the radial part); angles in degrees. Deviation from n2p2: n2p2 skips exactly collinear
triplets, which makes a window centred at 0° or 180° jump from A = 1 to 0 — and whether a
triplet counts as exactly collinear depends on rounding (it changes when the structure is
rotated). potforge evaluates them by continuity (A at θ = 0 or π), so the function is
continuous and rotation invariant; on structures without exactly collinear triplets both agree.
For type 3 and 9, 1 + λ cos θ below zero counts as zero (n2p2). The ANI function is summed
over unordered pairs, i.e. half of the paper's eq. 4, which sums over j ≠ k.

Inside potforge all lengths are Å; :meth:`SymmetryFunction.from_n2p2` converts.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace

import numpy as np
from ase.data import atomic_numbers

from ..core.elements import is_element
from ..core.errors import ModelFormatError
from ..core.text import parse_float, parse_int
from .cutoffs import CUTOFF_TYPES, check_cutoff_alpha, cutoff_type_index

__all__ = ["SymmetryFunction", "SymmetryFunctionSet", "SF_TYPE_NAMES", "parse_n2p2_symfunction",
           "MAX_CUTOFF", "MAX_ETA", "MAX_ZETA"]

# Physical bounds of the parameters (after conversion to Å). Each is far beyond what any
# published model uses, so that only unit mistakes and corrupted files fall outside.
#: Largest cutoff radius, Å. Potentials use 4-12 Å; beyond 100 Å a neighbour list holds ~1e5
#: atoms per atom (a 1e308 cutoff hangs, inf cannot be searched at all).
MAX_CUTOFF = 100.0
#: Largest Gaussian exponent η, 1/Å²: a width of 0.01 Å, far below any bond length (and 2η
#: times a distance stays finite in the derivatives).
MAX_ETA = 1.0e4
#: Largest angular exponent ζ: 2^(1−ζ) and (1 + λ cos θ)^ζ <= 2^ζ stay normal float64 numbers
#: (published models use ζ <= 64).
MAX_ZETA = 1000.0
_NUMERIC_FIELDS = ("cutoff_radius", "eta", "shift", "lambda_", "zeta", "inner_radius", "angle_left",
                   "angle_right", "angle_shift", "cutoff_alpha")

SF_TYPE_NAMES: dict[int, str] = {
    2: "radial", 3: "angular_narrow", 9: "angular_wide", 12: "weighted_radial",
    13: "weighted_angular_narrow", 20: "polynomial_radial", 21: "polynomial_angular_narrow",
    22: "polynomial_angular_wide", 23: "weighted_polynomial_radial",
    24: "weighted_polynomial_angular_narrow", 25: "weighted_polynomial_angular_wide",
    100: "ani_angular",
}
_RADIAL = {2, 12, 20, 23}
_WEIGHTED = {12, 13, 23, 24, 25}
_POLYNOMIAL = {20, 21, 22, 23, 24, 25}
_N_NEIGHBORS = {2: 1, 3: 2, 9: 2, 12: 0, 13: 0, 20: 1, 21: 2, 22: 2, 23: 0, 24: 0, 25: 0, 100: 2}
_CORES = {"p1": 5, "p2": 6, "p3": 7, "p4": 8}


def _core_code(subtype: str) -> tuple[int, bool]:
    """n2p2 compact-function subtype -> (core function number, asymmetric)."""
    if not 1 <= len(subtype) <= 3:
        raise ValueError(f"bad polynomial subtype {subtype!r}")
    if subtype.startswith("e"):
        return 4, False
    core = _CORES.get(subtype[:2])
    if core is None or (len(subtype) == 3 and subtype[2] != "a"):
        raise ValueError(f"bad polynomial subtype {subtype!r}; expected p1-p4 (optionally with "
                         "'a' for asymmetric) or e")
    return core, len(subtype) == 3


@dataclass(frozen=True)
class SymmetryFunction:
    """One symmetry function of a central element (see the module docstring for the formulas).

    Parameters
    ----------
    type : int
        n2p2 type number (2, 3, 9, 12, 13, 20–25) or 100 for the ANI angular function.
    element : str
        Central element.
    neighbors : tuple of str
        Neighbour element (radial) or pair (angular); empty for the weighted types.
    cutoff_radius : float, Å
        r_c.
    eta : float, 1/Å²
        η, exponent of the Gaussians.
    shift : float, Å
        r_s (Gaussian types), R_s (ANI).
    lambda_ : float
        λ, sign of the cosine term (±1).
    zeta : float
        ζ, angular exponent.
    inner_radius : float, Å
        r_l, left end of the polynomial radial window.
    angle_left, angle_right : float, degrees
        θ_l, θ_r of the polynomial angular window.
    angle_shift : float, degrees
        θ_s of the ANI function.
    subtype : str
        Core polynomial of the polynomial types (``p1``–``p4``, ``e``, optional trailing ``a``).
    cutoff_type : str
        Cutoff function name (:data:`~potforge.descriptors.cutoffs.CUTOFF_TYPES`).
    cutoff_alpha : float
        Inner cutoff fraction α.
    """

    type: int
    element: str
    neighbors: tuple[str, ...] = ()
    cutoff_radius: float = 0.0
    eta: float = 0.0
    shift: float = 0.0
    lambda_: float = 1.0
    zeta: float = 1.0
    inner_radius: float = 0.0
    angle_left: float = 0.0
    angle_right: float = 180.0
    angle_shift: float = 0.0
    subtype: str = ""
    cutoff_type: str = "tanhu"
    cutoff_alpha: float = 0.0

    def __post_init__(self) -> None:
        if isinstance(self.type, bool) or self.type not in SF_TYPE_NAMES:
            raise ValueError(f"unknown symmetry function type {self.type}; expected one of "
                             f"{sorted(SF_TYPE_NAMES)}")
        object.__setattr__(self, "type", int(self.type))
        for name in _NUMERIC_FIELDS:
            value = getattr(self, name)
            # NaN here; infinities fail the range checks of _check_ranges with their bounds
            if isinstance(value, (bool, str)) or not isinstance(value, (int, float, np.number)) \
                    or math.isnan(value):
                shown = {"shift": "rshift", "inner_radius": "rlow", "lambda_": "lambda"}.get(name, name)
                raise ValueError(f"{shown}: expected a number, got {value!r}")
            object.__setattr__(self, name, float(value))
        for sym in (self.element, *self.neighbors):
            if not is_element(sym):
                raise ValueError(f"unknown element {sym!r}")
        if len(self.neighbors) != _N_NEIGHBORS[self.type]:
            raise ValueError(f"type {self.type} takes {_N_NEIGHBORS[self.type]} neighbour "
                             f"element(s), got {len(self.neighbors)}")
        if len(self.neighbors) == 2:
            # canonical order: by atomic number (n2p2 swaps e1, e2 so that e1 <= e2)
            a, b = self.neighbors
            if atomic_numbers[a] > atomic_numbers[b]:
                object.__setattr__(self, "neighbors", (b, a))
        self._check_ranges()

    def _check_ranges(self) -> None:
        """The physical ranges (module constants); ValueError naming the parameter."""
        if not 0 < self.cutoff_radius <= MAX_CUTOFF:
            raise ValueError(f"cutoff radius {self.cutoff_radius:g} Å is outside (0, {MAX_CUTOFF:g}] Å")
        for name, value in (("rshift", self.shift), ("rlow", self.inner_radius)):
            if abs(value) > MAX_CUTOFF:
                raise ValueError(f"{name} {value:g} Å is outside [-{MAX_CUTOFF:g}, {MAX_CUTOFF:g}] Å")
        cutoff_type_index(self.cutoff_type)
        check_cutoff_alpha(self.cutoff_alpha)
        if self.type in _POLYNOMIAL:
            _core_code(self.subtype)
            if not self.inner_radius < self.cutoff_radius:
                raise ValueError("polynomial symmetry function needs inner radius < cutoff radius")
            if self.type not in _RADIAL:
                left, right = self.angle_left, self.angle_right
                if not left < right or right - left > 360:
                    raise ValueError(f"angle window [{left}, {right}] must have left < right, width <= 360")
                if left < 0 and (left + right) != 0:
                    raise ValueError("an angle window starting below 0 must be centred at 0")
                if right > 180 and (left + right) != 360:
                    raise ValueError("an angle window ending above 180 must be centred at 180")
            return
        if not 0 <= self.eta <= MAX_ETA:
            raise ValueError(f"eta {self.eta:g} 1/Å² is outside [0, {MAX_ETA:g}] 1/Å²")
        if self.type in _RADIAL:
            return
        # n2p2 accepts negative exponents (its AlAuMgO_4G model uses zeta -1 and -2): the
        # function then grows as 1 + lambda cos(theta) -> 0, which the kernels evaluate with pow
        if not 1 <= abs(self.zeta) <= MAX_ZETA:
            raise ValueError(f"zeta {self.zeta:g} is outside [1, {MAX_ZETA:g}] (or [-{MAX_ZETA:g}, -1])")
        if self.type != 100 and self.lambda_ not in (-1.0, 1.0):
            raise ValueError(f"lambda {self.lambda_:g} must be -1 or +1")
        if abs(self.angle_shift) > 360:
            raise ValueError(f"angle shift {self.angle_shift:g} degrees is outside [-360, 360]")

    @property
    def name(self) -> str:
        return SF_TYPE_NAMES[self.type]

    @property
    def is_radial(self) -> bool:
        return self.type in _RADIAL

    # -- n2p2 ------------------------------------------------------------------------------------
    @classmethod
    def from_n2p2(cls, fields: Sequence[str], *, length_unit: float = 1.0,
                  cutoff_type: str = "tanhu", cutoff_alpha: float = 0.0) -> "SymmetryFunction":
        """Build from the fields after ``symfunction_short`` (``<element> <type> ...``).

        ``length_unit`` is the size of the file's length unit in Å (e.g. Bohr).
        """
        return parse_n2p2_symfunction(fields, length_unit=length_unit, cutoff_type=cutoff_type,
                                      cutoff_alpha=cutoff_alpha)

    def to_n2p2(self, *, length_unit: float = 1.0) -> str:
        """The ``symfunction_short`` line (without the keyword) in the given length unit."""
        L = length_unit
        if self.type == 100:
            raise ModelFormatError("the ANI angular symmetry function has no n2p2 equivalent")
        g = _g
        eta = self.eta * L * L
        rc, rs, rl = self.cutoff_radius / L, self.shift / L, self.inner_radius / L
        t, e = self.type, self.element
        if t == 2:
            return f"{e} 2 {self.neighbors[0]} {g(eta)} {g(rs)} {g(rc)}"
        if t in (3, 9):
            a, b = self.neighbors
            tail = f" {g(rs)}" if rs != 0 else ""
            return f"{e} {t} {a} {b} {g(eta)} {g(self.lambda_)} {g(self.zeta)} {g(rc)}{tail}"
        if t == 12:
            return f"{e} 12 {g(eta)} {g(rs)} {g(rc)}"
        if t == 13:
            return f"{e} 13 {g(eta)} {g(rs)} {g(self.lambda_)} {g(self.zeta)} {g(rc)}"
        if t == 20:
            return f"{e} 20 {self.neighbors[0]} {g(rl)} {g(rc)} {self.subtype}"
        if t in (21, 22):
            a, b = self.neighbors
            return (f"{e} {t} {a} {b} {g(rl)} {g(rc)} {g(self.angle_left)} {g(self.angle_right)} "
                    f"{self.subtype}")
        if t == 23:
            return f"{e} 23 {g(rl)} {g(rc)} {self.subtype}"
        return f"{e} {t} {g(rl)} {g(rc)} {g(self.angle_left)} {g(self.angle_right)} {self.subtype}"

    def n2p2_sort_key(self, element_index: Mapping[str, int]) -> tuple:
        """The order n2p2 gives the functions of one element (its ``SymFnc*::operator<``):
        network input k is the k-th function in this order."""
        t = self.type
        e = [element_index[s] for s in self.neighbors]
        if t == 2:
            rest = (self.cutoff_radius, self.eta, self.shift, e[0])
        elif t in (3, 9):
            rest = (self.cutoff_radius, self.eta, self.shift, self.zeta, self.lambda_, e[0], e[1])
        elif t == 12:
            rest = (self.cutoff_radius, self.eta, self.shift)
        elif t == 13:
            rest = (self.cutoff_radius, self.eta, self.shift, self.zeta, self.lambda_)
        elif t == 20:
            rest = (self.subtype, e[0], self.cutoff_radius, self.inner_radius)
        elif t in (21, 22):
            rest = (self.subtype, e[0], e[1], self.cutoff_radius, self.inner_radius,
                    self.angle_left, self.angle_right)
        elif t == 23:
            rest = (self.subtype, self.cutoff_radius, self.inner_radius)
        elif t in (24, 25):
            rest = (self.subtype, self.cutoff_radius, self.inner_radius, self.angle_left,
                    self.angle_right)
        else:  # ANI (potforge only): after all n2p2 types
            rest = (self.cutoff_radius, self.eta, self.shift, self.zeta, self.angle_shift, e[0], e[1])
        return (t, *rest)

    # -- kernel table ----------------------------------------------------------------------------
    def table_row(self, species_index: Mapping[str, int]) -> list[float]:
        """The row of the compiled kernel's parameter table (column order of SFSpec in C++)."""
        e1 = species_index[self.neighbors[0]] if len(self.neighbors) >= 1 else -1
        e2 = species_index[self.neighbors[1]] if len(self.neighbors) == 2 else e1
        core, asym = _core_code(self.subtype) if self.type in _POLYNOMIAL else (6, False)
        return [
            float(self.type), float(e1), float(e2), float(cutoff_type_index(self.cutoff_type)),
            self.cutoff_alpha, self.cutoff_radius, self.eta, self.shift, self.lambda_, self.zeta,
            self.inner_radius, math.radians(self.angle_left), math.radians(self.angle_right),
            float(core), float(asym), math.radians(self.angle_shift),
        ]

    def to_dict(self) -> dict:
        d = asdict(self)
        d["neighbors"] = list(self.neighbors)
        return d

    @classmethod
    def from_dict(cls, data: Mapping) -> "SymmetryFunction":
        d = dict(data)
        d["neighbors"] = tuple(d.get("neighbors", ()))
        return cls(**d)


def _g(x: float) -> str:
    return repr(float(x))


def parse_n2p2_symfunction(fields: Sequence[str], *, length_unit: float = 1.0,
                           cutoff_type: str | int = "tanhu",
                           cutoff_alpha: float = 0.0) -> SymmetryFunction:
    """Parse ``<element> <type> <params...>`` of an n2p2 ``symfunction_short`` line.

    Parameter orders (n2p2): 2: e1 η r_s r_c; 3/9: e1 e2 η λ ζ r_c [r_s]; 12: η r_s r_c;
    13: η r_s λ ζ r_c; 20: e1 r_l r_c subtype; 21/22: e1 e2 r_l r_c θ_l θ_r subtype;
    23: r_l r_c subtype; 24/25: r_l r_c θ_l θ_r subtype. Raises ValueError with the reason.
    """
    if len(fields) < 2:
        raise ValueError("expected '<element> <type> <parameters>'")
    element = fields[0]
    t = parse_int(fields[1], "symmetry function type", error=ModelFormatError)
    p = list(fields[2:])
    L = float(length_unit)
    ct = {v: k for k, v in CUTOFF_TYPES.items()}[cutoff_type_index(cutoff_type)]
    common = dict(type=t, element=element, cutoff_type=ct, cutoff_alpha=cutoff_alpha)

    def nums(tokens, count, what):
        names = what.replace("[", "").replace("]", "").split()
        if len(tokens) != count:
            raise ValueError(f"type {t} needs {what}; got {len(tokens)} value(s)")
        return [parse_float(x, name, error=ModelFormatError) for x, name in zip(tokens, names)]

    if t == 2:
        if len(p) != 4:
            raise ValueError("type 2 needs: neighbour eta rshift rcutoff")
        eta, rs, rc = nums(p[1:], 3, "eta rshift rcutoff")
        return SymmetryFunction(neighbors=(p[0],), eta=eta / L**2, shift=rs * L,
                                cutoff_radius=rc * L, **common)
    if t in (3, 9):
        if len(p) not in (6, 7):
            raise ValueError(f"type {t} needs: neighbour1 neighbour2 eta lambda zeta rcutoff [rshift]")
        vals = nums(p[2:], len(p) - 2, "eta lambda zeta rcutoff [rshift]")
        eta, lam, zeta, rc = vals[:4]
        rs = vals[4] if len(vals) == 5 else 0.0
        return SymmetryFunction(neighbors=(p[0], p[1]), eta=eta / L**2, lambda_=lam, zeta=zeta,
                                cutoff_radius=rc * L, shift=rs * L, **common)
    if t == 12:
        eta, rs, rc = nums(p, 3, "eta rshift rcutoff")
        return SymmetryFunction(eta=eta / L**2, shift=rs * L, cutoff_radius=rc * L, **common)
    if t == 13:
        eta, rs, lam, zeta, rc = nums(p, 5, "eta rshift lambda zeta rcutoff")
        return SymmetryFunction(eta=eta / L**2, shift=rs * L, lambda_=lam, zeta=zeta,
                                cutoff_radius=rc * L, **common)
    if t == 20:
        if len(p) != 4:
            raise ValueError("type 20 needs: neighbour rlow rcutoff subtype")
        rl, rc = nums(p[1:3], 2, "rlow rcutoff")
        return SymmetryFunction(neighbors=(p[0],), inner_radius=rl * L, cutoff_radius=rc * L,
                                subtype=p[3], **common)
    if t in (21, 22):
        if len(p) != 7:
            raise ValueError(f"type {t} needs: neighbour1 neighbour2 rlow rcutoff left right subtype")
        rl, rc, left, right = nums(p[2:6], 4, "rlow rcutoff left right")
        return SymmetryFunction(neighbors=(p[0], p[1]), inner_radius=rl * L, cutoff_radius=rc * L,
                                angle_left=left, angle_right=right, subtype=p[6], **common)
    if t == 23:
        if len(p) != 3:
            raise ValueError("type 23 needs: rlow rcutoff subtype")
        rl, rc = nums(p[:2], 2, "rlow rcutoff")
        return SymmetryFunction(inner_radius=rl * L, cutoff_radius=rc * L, subtype=p[2], **common)
    if t in (24, 25):
        if len(p) != 5:
            raise ValueError(f"type {t} needs: rlow rcutoff left right subtype")
        rl, rc, left, right = nums(p[:4], 4, "rlow rcutoff left right")
        return SymmetryFunction(inner_radius=rl * L, cutoff_radius=rc * L, angle_left=left,
                                angle_right=right, subtype=p[4], **common)
    raise ValueError(f"unknown symmetry function type {t}; n2p2 types are 2, 3, 9, 12, 13, 20-25")


@dataclass
class SymmetryFunctionSet:
    """The symmetry functions of every element of a model, in network-input order.

    Parameters
    ----------
    species : sequence of str
        Model species; their order defines species indices everywhere in the model.
    functions : mapping element -> sequence of SymmetryFunction
        Sorted into n2p2's canonical order unless ``sort=False``.
    """

    species: tuple[str, ...]
    functions: dict[str, tuple[SymmetryFunction, ...]]
    _kernel: object = field(default=None, init=False, repr=False, compare=False)

    def __init__(self, species: Sequence[str], functions: Mapping[str, Iterable[SymmetryFunction]],
                 *, sort: bool = True) -> None:
        self.species = tuple(species)
        if len(set(self.species)) != len(self.species):
            raise ValueError(f"duplicate species in {self.species}")
        unknown = [s for s in self.species if not is_element(s)]
        if unknown:
            raise ValueError(f"unknown element {unknown[0]!r} in species {list(self.species)}")
        index = {s: atomic_numbers[s] for s in self.species}
        funcs: dict[str, tuple[SymmetryFunction, ...]] = {}
        for element in self.species:
            items = list(functions.get(element, ()))
            for sf in items:
                if sf.element != element:
                    raise ValueError(f"function of {sf.element} listed under {element}")
                unknown = [s for s in sf.neighbors if s not in index]
                if unknown:
                    raise ValueError(f"{element} symmetry function refers to element(s) {unknown} "
                                     f"that are not model species {list(self.species)}")
            if sort:
                items.sort(key=lambda sf: sf.n2p2_sort_key(index))
            funcs[element] = tuple(items)
        extra = set(functions) - set(self.species)
        if extra:
            raise ValueError(f"symmetry functions for elements {sorted(extra)} not in species")
        self.functions = funcs
        self._kernel = None

    @property
    def cutoff(self) -> float:
        """Largest cutoff radius (Å)."""
        return max((sf.cutoff_radius for fs in self.functions.values() for sf in fs), default=0.0)

    def n_functions(self, element: str) -> int:
        return len(self.functions[element])

    def table(self, element: str) -> np.ndarray:
        idx = {s: k for k, s in enumerate(self.species)}
        rows = [sf.table_row(idx) for sf in self.functions[element]]
        from .. import _native

        return np.array(rows, dtype=np.float64).reshape(len(rows), _native.SF_TABLE_COLUMNS)

    @property
    def kernel(self):
        """The compiled kernel for these functions (built once)."""
        if self._kernel is None:
            from .. import _native

            self._kernel = _native.make_kernel([self.table(e) for e in self.species],
                                               len(self.species))
        return self._kernel

    def to_dict(self) -> dict:
        return {"species": list(self.species),
                "functions": {e: [sf.to_dict() for sf in fs] for e, fs in self.functions.items()}}

    @classmethod
    def from_dict(cls, data: Mapping) -> "SymmetryFunctionSet":
        """Inverse of :meth:`to_dict`; a ValueError names the function (``functions.H[3]``)."""
        functions: dict[str, list[SymmetryFunction]] = {}
        for e, fs in dict(data["functions"]).items():
            functions[e] = []
            for k, d in enumerate(fs):
                try:
                    functions[e].append(SymmetryFunction.from_dict(d))
                except (ValueError, TypeError) as err:
                    raise ValueError(f"functions.{e}[{k}]: {err}") from None
        return cls(data["species"], functions, sort=False)

    def with_cutoff_type(self, cutoff_type: str, alpha: float = 0.0) -> "SymmetryFunctionSet":
        return SymmetryFunctionSet(self.species, {
            e: [replace(sf, cutoff_type=cutoff_type, cutoff_alpha=alpha) for sf in fs]
            for e, fs in self.functions.items()}, sort=False)

    # -- evaluation ---------------------------------------------------------------------------
    def compute(self, species_index: np.ndarray, atomic_numbers_: np.ndarray, neighbors,
                *, derivatives: bool = False, n_threads: int = 1):
        """Raw values (and pair Jacobians) for all atoms of one structure.

        Parameters
        ----------
        species_index : (n_atoms,) int
            Index into ``species`` of each atom.
        atomic_numbers_ : (n_atoms,) int
            Atomic numbers (the weights of the weighted types).
        neighbors : :class:`~potforge.core.neighbors.NeighborList`
            With a cutoff of at least :attr:`cutoff`.
        derivatives : bool
            Also return the Jacobians with respect to the pair vectors.

        Returns
        -------
        values : (n_atoms, n_max) float
            G of atom i in its first ``n_functions(species of i)`` columns, zeros after.
        pair_jacobian : (n_pairs, n_max, 3) float or None
            dG_i / d(vector of pair p) for the pairs p of the neighbour list (centre i).
            dG_i/dr_j = Σ_{p: i→j} J_p; dG_i/dr_i = −Σ_{p: i→·} J_p.
        """
        if neighbors.cutoff < self.cutoff:
            raise ValueError(f"neighbour list cutoff {neighbors.cutoff} < symmetry function cutoff "
                             f"{self.cutoff}")
        from .. import _native

        return _native.symmetry_functions(
            self.kernel, np.ascontiguousarray(species_index, dtype=np.int32),
            np.ascontiguousarray(atomic_numbers_, dtype=np.float64), neighbors.offsets,
            neighbors.neighbors, neighbors.vectors, neighbors.distances, derivatives, n_threads)
