"""Ewald splitting parameters (n2p2's ``ewald_prec`` semantics) and reciprocal-space vectors.

Convention (as n2p2): the splitting Gaussian has width η, so the real-space part of a point
pair is erfc(r / (√2 η)) / r and the reciprocal part of wave vector k carries
4π / (V k²) exp(-η² k² / 2).

n2p2 computes the parameters in the model's own units (its 4G models are in Bohr and Hartree,
4πε₀ = 1). :func:`ewald_parameters` takes the model's unit sizes, converts the cell to them,
applies n2p2's formulas (EwaldTruncJackson.cpp, EwaldTruncKolafaOptEta.cpp,
EwaldTruncKolafaFixR.cpp) and returns η, the cutoffs in Å and 1/Å.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ..core.errors import ConfigError, StructureError
from ..core.units import Bohr, Hartree

__all__ = ["COULOMB", "EwaldParameters", "ewald_parameters", "kvectors", "kvector_count", "n2p2_real_ranges",
           "MEMORY_LIMIT", "MIN_REAL_CUTOFF", "check_memory"]

#: Coulomb constant k_e = 1 / (4π ε₀) in eV Å / e² (ase.units: Hartree × Bohr).
COULOMB: float = Hartree * Bohr

# Ratio of computing times of one real-space and one k-space term (EwaldTruncKolafaOptEta.cpp)
_TR_OVER_TK = 3.676
_ACCEPT = 1e-10
#: bytes the electrostatics may allocate for one table (k-vector phases, pairs, meshes, matrices)
MEMORY_LIMIT = 4 * 2 ** 30
#: the smallest real-space cutoff (Å) that leaves the Ewald sum meaningful
MIN_REAL_CUTOFF = 0.1


def check_memory(nbytes: float, what: str, advice: str) -> None:
    """Raise a one-line :class:`ConfigError` where a table would need more than :data:`MEMORY_LIMIT`."""
    if nbytes > MEMORY_LIMIT:
        raise ConfigError(f"electrostatics: {what} would need ~{nbytes / 2 ** 30:.3g} GiB (limit "
                          f"{MEMORY_LIMIT / 2 ** 30:.3g} GiB); {advice}")


@dataclass(frozen=True)
class EwaldParameters:
    """Ewald splitting: η (Å, Gaussian width), real-space cutoff (Å), k-space cutoff (1/Å)."""

    eta: float
    real_cutoff: float
    kspace_cutoff: float

    def __post_init__(self) -> None:
        for name in ("eta", "real_cutoff", "kspace_cutoff"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise ConfigError(f"EwaldParameters.{name}: expected a finite positive number, "
                                  f"got {value!r}")
        # truncations that drop most of the sum (e.g. ewald_prec 0.5: η = 160 Å, real cutoff
        # 0.001 Å, no k vectors): erfc(rc/√2η) and exp(-η²kc²/2) must be well below 1
        eta, rc, kc = self.eta, self.real_cutoff, self.kspace_cutoff
        if rc < MIN_REAL_CUTOFF or rc < eta or kc * eta < 1.0:
            raise ConfigError(f"Ewald parameters η = {eta:.4g} Å, real-space cutoff {rc:.4g} Å, "
                              f"k-space cutoff {kc:.4g} 1/Å leave out most of the Coulomb sum (expected "
                              f"a real-space cutoff >= {MIN_REAL_CUTOFF} Å and >= η, k-space cutoff >= "
                              f"1/η); use a smaller ewald_prec precision (or a larger real-space cutoff "
                              f"/ expected charge)")


def _volume(cell) -> float:
    c = np.asarray(cell.detach().cpu() if hasattr(cell, "detach") else cell, dtype=float)
    if c.shape != (3, 3) or not np.all(np.isfinite(c)):
        raise StructureError(f"Ewald summation needs a finite (3, 3) cell, got shape {c.shape}")
    volume = abs(float(np.linalg.det(c)))
    if not volume > 0:
        raise StructureError("Ewald summation needs a periodic cell of nonzero volume")
    return volume


def _kolafa_s(prec: float, c: float, eta: float, s: float) -> float:
    """n2p2's EwaldTruncKolafaOptEta::calculateS: Newton on exp(-s²)/√s = prec/C √(η/2)."""
    y = prec / c * math.sqrt(eta / 2.0)
    if s <= 0.0:
        s = 0.5
    rel_x = rel_y = 1.0
    for _ in range(10000):
        if not (rel_x > _ACCEPT or rel_y > _ACCEPT):
            return s
        step = 2 * s / (4 * s * s + 1) * (1 - math.sqrt(s) / math.exp(-s * s) * y)
        if s <= -step:  # s would become negative: try a smaller start value
            s /= 2
            continue
        s += step
        rel_y = abs((math.exp(-s * s) / math.sqrt(s) - y) / y)
        rel_x = abs(step / s)
    raise ConfigError(f"ewald_prec: the Kolafa-Perram iteration did not converge (precision {prec})")


def _kolafa_opt_eta(volume: float, n: int, prec: float, qmax: float, four_pi_eps: float,
                    max_sigma: float) -> tuple[float, float, float]:
    c = 2 ** 0.75 * qmax ** 2 * math.sqrt(n / volume) / four_pi_eps
    eta0 = (1 / _TR_OVER_TK * volume ** 2 / (2 * math.pi) ** 3) ** (1 / 6)
    eta, s, rel = eta0, 1.0, 1.0
    for _ in range(10000):
        if not rel > _ACCEPT:
            break
        s = _kolafa_s(prec, c, eta, s)
        old = eta
        eta = eta0 * (1 + 1 / (2 * s * s)) ** (1 / 6)
        rel = abs(old - eta) / eta
    eta = max(eta, max_sigma)
    # n2p2 computes the cutoffs from s of the last iteration, also when max_sigma raised eta
    return eta, math.sqrt(2) * eta * s, math.sqrt(2) * s / eta


def _kolafa_fix_r(volume: float, n: int, prec: float, qmax: float, four_pi_eps: float,
                  rcut: float) -> tuple[float, float, float]:
    c = 2 * qmax ** 2 * math.sqrt(n / volume) / four_pi_eps
    x = math.sqrt(rcut / 2) * prec / c
    if x >= 1.0:
        raise ConfigError(f"ewald_prec: precision {prec} is too coarse for the real-space cutoff "
                          f"{rcut} (n2p2: 'Bad Ewald precision settings'); use a smaller value")
    eta = rcut / math.sqrt(-2 * math.log(x))
    y = eta * prec / (math.sqrt(2) * c)
    kcut, rel_x, rel_y = 1.0 / eta, 1.0, 1.0
    for _ in range(10000):
        if not (rel_x > _ACCEPT or rel_y > _ACCEPT):
            return eta, rcut, kcut
        old = kcut
        kcut -= (2 * kcut / (1 + 2 * (kcut * eta) ** 2)
                 * (-1 + math.sqrt(kcut) * math.exp((kcut * eta) ** 2 / 2) * y))
        if kcut <= 0:
            kcut = old / 2
            continue
        rel_x = abs((kcut - old) / kcut)
        rel_y = abs((1 / math.sqrt(kcut) * math.exp(-(kcut * eta) ** 2 / 2) - y) / y)
    raise ConfigError(f"ewald_prec: the Kolafa-Perram k-space iteration did not converge "
                      f"(precision {prec}, real-space cutoff {rcut})")


def ewald_parameters(cell, n_atoms: int, *, precision: float, method: int | str = 0,
                     max_charge: float | None = None, real_cutoff: float | None = None,
                     max_sigma: float = 0.0, four_pi_epsilon: float | None = None,
                     length_unit: float = 1.0, energy_unit: float = 1.0) -> EwaldParameters:
    """The Ewald splitting n2p2 chooses for a cell, or potforge's own choice.

    Parameters
    ----------
    cell : (3, 3) float, Å
    n_atoms : int
    precision : float
        ``ewald_prec``'s first value, in the model's units: method 0 a relative accuracy
        (< 1), method 1 a force (model energy unit / model length unit); ``"potforge"`` a
        relative accuracy of the pair terms dropped at the cutoffs (e.g. 1e-8).
    method : 0, 1 or "potforge"
        ``ewald_truncation_error_method``: 0 Jackson-Catlow (η = V^(1/3) / √(2π)),
        1 Kolafa-Perram (optimal η for ``max_charge``, or η from a fixed ``real_cutoff``).
        ``"potforge"``: η = (V² / N)^(1/6) / √(2π), which balances real- and reciprocal-space
        work, raised to at least √2 ``max_sigma`` so the Gaussian pair term decays within
        the real-space cutoff; both cutoffs √(-2 ln precision) from η.
    max_charge : float, e
        ``ewald_prec``'s second value (method 1 only; n2p2 requires it).
    real_cutoff : float, model length unit
        ``ewald_prec``'s third value (method 1): fixed real-space cutoff.
    max_sigma : float, Å
        The largest Gaussian width of the model (``fixed_gausswidth``): n2p2 keeps η at least
        this large for method 1 with optimal η.
    four_pi_epsilon : float, optional
        n2p2's ``four_pi_epsilon`` in model units; default the physical value in the model's
        units (1 for Bohr/Hartree).
    length_unit, energy_unit : float
        Size of the model's length unit in Å and energy unit in eV (Bohr and Hartree for the
        shipped n2p2 4G models).
    """
    volume_m = _volume(cell) / length_unit ** 3
    n = int(n_atoms)
    prec = float(precision)
    if not (math.isfinite(prec) and prec > 0):
        raise ConfigError(f"ewald_prec: precision must be a finite positive number, got {precision}")
    if n < 1:
        raise StructureError(f"Ewald summation needs at least one atom, got n_atoms={n_atoms}")
    if method in (0, "0", "jackson"):
        if prec >= 1.0:
            raise ConfigError(f"ewald_prec: method 0 (Jackson-Catlow) requires precision < 1, got {prec}")
        eta = volume_m ** (1 / 3) / math.sqrt(2 * math.pi)
        rc, kc = math.sqrt(-2 * math.log(prec)) * eta, math.sqrt(-2 * math.log(prec)) / eta
    elif method in (1, "1", "kolafa"):
        if max_charge is None:
            raise ConfigError("ewald_prec: ewald_truncation_error_method 1 needs the expected "
                              "maximum charge as the second value")
        fpe = (energy_unit * length_unit / COULOMB if four_pi_epsilon is None
               else float(four_pi_epsilon))
        if real_cutoff is None:
            eta, rc, kc = _kolafa_opt_eta(volume_m, n, prec, float(max_charge), fpe,
                                          float(max_sigma) / length_unit)
        else:
            eta, rc, kc = _kolafa_fix_r(volume_m, n, prec, float(max_charge), fpe, float(real_cutoff))
    elif method == "potforge":
        if prec >= 1.0:
            raise ConfigError(f"Ewald precision must be below 1 for method 'potforge', got {prec}")
        eta = max((volume_m ** 2 / n) ** (1 / 6) / math.sqrt(2 * math.pi),
                  math.sqrt(2) * float(max_sigma) / length_unit)
        rc, kc = math.sqrt(-2 * math.log(prec)) * eta, math.sqrt(-2 * math.log(prec)) / eta
    else:
        raise ConfigError(f"ewald_truncation_error_method: unknown method {method!r}; expected 0, 1 "
                          f"or 'potforge'")
    return EwaldParameters(eta=eta * length_unit, real_cutoff=rc * length_unit,
                           kspace_cutoff=kc / length_unit)


def kvectors(cell: np.ndarray, kspace_cutoff: float) -> np.ndarray:
    """Integer indices m (n_k, 3) of n2p2's k-vector half sphere (Kspace.cpp).

    k = m @ (2π cell⁻ᵀ); all k ≠ 0 with |k| < ``kspace_cutoff`` and m in the half space
    (m0 > 0, or m0 = 0 and m1 > 0, or m0 = m1 = 0 and m2 > 0); the opposite vectors are
    accounted for by a factor 2 in the coefficients.
    """
    cell = np.asarray(cell, dtype=float)
    recip = 2 * math.pi * np.linalg.inv(cell).T
    # planes of the reciprocal lattice along each axis are 2π / |a_i| apart
    spacing = 2 * math.pi / np.linalg.norm(cell, axis=1)
    n = [int(math.floor(kspace_cutoff / s)) + 1 for s in spacing]
    box = (n[0] + 1.0) * (2 * n[1] + 1.0) * (2 * n[2] + 1.0)
    count = kvector_count(cell, kspace_cutoff)
    check_memory(box * 4 * 8, f"the k-vector search ({box:.3g} candidates for {count:.3g} k vectors, "
                 f"k-space cutoff {kspace_cutoff:.4g} 1/Å)",
                 "use a larger real-space cutoff or a coarser Ewald precision")
    r0 = np.arange(0, n[0] + 1)
    r1 = np.arange(-n[1], n[1] + 1)
    r2 = np.arange(-n[2], n[2] + 1)
    m = np.stack(np.meshgrid(r0, r1, r2, indexing="ij"), axis=-1).reshape(-1, 3)
    half = (m[:, 0] > 0) | ((m[:, 0] == 0) & (m[:, 1] > 0)) | ((m[:, 0] == 0) & (m[:, 1] == 0) & (m[:, 2] > 0))
    m = m[half]
    k = m @ recip
    return m[np.einsum("ij,ij->i", k, k) < kspace_cutoff ** 2]


def kvector_count(cell, kspace_cutoff: float) -> float:
    """Estimated size of n2p2's half sphere of k vectors: V kc³ / (12π²)."""
    return _volume(cell) * float(kspace_cutoff) ** 3 / (12 * math.pi ** 2)


def n2p2_real_ranges(real_cutoff: float, element_cutoffs: Mapping[str, Sequence[float]],
                     elements: Sequence[str], screening_outer: float | None = None) -> np.ndarray:
    """Per-atom radius (Å) of n2p2's real-space Ewald sum, which is not always ``real_cutoff``.

    n2p2 (Structure::calculateElectrostaticEnergy, calculateDAdrQ) sums the real-space terms
    of atom i over its first ``Atom::getStoredMinNumNeighbors(rCut)`` neighbours (sorted by
    distance). That is the number within rCut only where rCut is one of the radii stored for
    i's element (Mode::setupCutoffMatrix: the element's symmetry-function cutoffs and the
    screening radius; Structure::setupNeighborCutoffMap: the neighbour-list radius); for any
    other rCut it is the whole neighbour list, whose radius is the largest of rCut, every
    element's symmetry-function cutoffs and the screening radius
    (Structure::calculateMaxCutoffRadiusOverall). A pair i < j (and the periodic images of i)
    is summed within the radius of i, the smaller index (n2p2 fills A_ij for j >= i from i's
    list only).

    Parameters
    ----------
    real_cutoff : float, Å
        n2p2's Ewald real-space cutoff (:func:`ewald_parameters`).
    element_cutoffs : mapping element -> sequence of float, Å
        The symmetry-function cutoffs of every element of the model (also of those absent
        from the structure: they set the neighbour-list radius).
    elements : sequence of str
        The element of each atom.
    screening_outer : float, Å, optional
        The outer screening radius (``screen_electrostatics``), if any.
    """
    rc = float(real_cutoff)
    extra = [] if screening_outer is None else [float(screening_outer)]
    largest = max([rc, *extra, *(float(c) for cuts in element_cutoffs.values() for c in cuts)])
    per_element = {}
    for element, cuts in element_cutoffs.items():
        stored = [*(float(c) for c in cuts), *extra, largest]
        # n2p2 compares doubles exactly; 1e-12 forgives unit conversions of the same number
        per_element[element] = rc if any(math.isclose(rc, c, rel_tol=1e-12) for c in stored) else largest
    missing = sorted(set(elements) - set(per_element))
    if missing:
        raise ConfigError(f"n2p2 real-space ranges: no symmetry-function cutoffs for element(s) "
                          f"{', '.join(missing)}; expected one of {', '.join(per_element)}")
    return np.array([per_element[e] for e in elements], dtype=np.float64)
