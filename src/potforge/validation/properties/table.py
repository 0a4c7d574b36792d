"""All properties of one element in one lattice as one dict (:func:`property_table`), and the
Markdown comparison of a model's properties with the DFT data's (:func:`comparison_table`)."""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterable, Iterator, Mapping

import numpy as np

from ...core.crystals import bulk_crystal, check_lattice
from ...core.elements import check_element
from ...core.errors import ConfigError, NonFiniteError, nearest
from .bulk import elastic_constants, equation_of_state, lattice_constant
from .common import with_calc
from .defects import SURFACE_BUILDERS, stacking_fault_energy, surface_energy, vacancy_formation_energy
from .phonons import phonons

__all__ = ["PROPERTY_GROUPS", "property_table", "comparison_table"]

#: Names accepted by ``property_table(which=...)`` and ``potforge properties --only``.
PROPERTY_GROUPS: tuple[str, ...] = ("lattice", "eos", "elastic", "vacancy", "surfaces",
                                    "stacking_fault", "phonons")


def _check_which(which: Iterable[str] | None, lattice: str) -> list[str]:
    defaults = {
        "fcc": PROPERTY_GROUPS,
        "bcc": tuple(g for g in PROPERTY_GROUPS if g != "stacking_fault"),
        "diamond": tuple(g for g in PROPERTY_GROUPS if g != "stacking_fault"),
        "hcp": ("lattice", "eos", "elastic", "vacancy", "phonons"),
        "sc": ("lattice", "eos", "elastic", "vacancy", "phonons"),
    }[lattice]
    if which is None:
        return list(defaults)
    chosen = []
    for name in which:
        name = name.strip()
        if name not in PROPERTY_GROUPS:
            near = nearest(name, PROPERTY_GROUPS)
            hint = f" (did you mean {near!r}?)" if near else ""
            raise ConfigError(f"only: unknown property {name!r}{hint}; expected some of "
                              f"{', '.join(PROPERTY_GROUPS)}")
        if name not in defaults:
            raise ConfigError(f"only: {name} is not available for {lattice}; available: "
                              f"{', '.join(defaults)}")
        if name not in chosen:
            chosen.append(name)
    return [g for g in PROPERTY_GROUPS if g in chosen]


def property_table(calc, element: str, lattice: str, *, which: Iterable[str] | None = None,
                   a_guess: float | None = None,
                   progress: Callable[[str], None] | None = None) -> dict:
    """The properties of one element in one lattice as a JSON-able dict, keys named with units.

    ``which`` selects groups of :data:`PROPERTY_GROUPS` (default: all that apply to the
    lattice; ``stacking_fault`` is fcc only, ``surfaces`` fcc, bcc and diamond). The lattice
    constant is always computed (everything else needs it) and reported. ``progress`` gets
    one line per property as it is done.

    Keys: ``element``, ``lattice``, ``a0_angstrom``, ``c_angstrom`` (hcp), ``cohesive_energy_ev``;
    eos: ``e0_ev_per_atom``, ``v0_angstrom3_per_atom``, ``bulk_modulus_gpa``, ``bulk_modulus_prime``;
    elastic: ``c11_gpa``, ``c12_gpa``, ``c44_gpa``, ``cauchy_pressure_gpa`` (C12 − C44),
    ``cij_gpa`` (6×6), ``bulk_modulus_voigt_gpa``; hcp instead ``c11_gpa``, ``c12_gpa``,
    ``c13_gpa``, ``c33_gpa``, ``c44_gpa``, ``c66_gpa``, ``cauchy_pressure_13_44_gpa``,
    ``cauchy_pressure_12_66_gpa``;
    vacancy: ``vacancy_formation_ev``; surfaces: ``surface_energy_{100,110,111}_j_per_m2``;
    stacking_fault: ``stacking_fault_mj_per_m2``; phonons: ``phonons_thz`` (point -> THz);
    ``warnings`` (list of str, only if any): mechanical or dynamical instability, relaxations
    that did not converge.
    """
    element, lattice = check_element(element), check_lattice(lattice)
    groups = _check_which(which, lattice)
    say = progress or (lambda line: None)
    out: dict = {"element": element, "lattice": lattice}
    warnings: list[str] = []

    def warn(text: str) -> None:
        warnings.append(text)
        say(f"warning: {text}")

    t0 = time.perf_counter()
    with _during("lattice"):
        lat = lattice_constant(calc, element, lattice, a_guess)
        out["a0_angstrom"] = lat.a0
        if lat.c is not None:
            out["c_angstrom"] = lat.c
        out["cohesive_energy_ev"] = lat.cohesive_energy
        _check_finite(out)
    c_text = f", c = {lat.c:.4f} Å" if lat.c is not None else ""
    say(f"lattice: a0 = {lat.a0:.4f} Å{c_text}, E_coh = {lat.cohesive_energy:.4f} eV "
        f"({time.perf_counter() - t0:.1f} s)")
    for group in groups:
        if group != "lattice":
            with _during(group):
                _GROUPS[group](calc, element, lattice, lat, out, warn, say)
                _check_finite(out)
    if warnings:
        out["warnings"] = warnings
    return out


@contextlib.contextmanager
def _during(group: str) -> Iterator[None]:
    """Name the property whose calculation met a non-finite energy, force or stress."""
    try:
        yield
    except NonFiniteError as err:
        raise NonFiniteError(f"{group}: {err.reason}", path=err.path, line=err.line,
                             frame=err.frame) from None


def _check_finite(value, key: str = "") -> None:
    """Refuse a property that came out NaN or infinite (a fit of a degenerate curve, an
    overflow), naming it: none of them has a "missing" value."""
    if isinstance(value, Mapping):
        for k, v in value.items():
            _check_finite(v, f"{key}.{k}" if key else str(k))
    elif isinstance(value, (list, tuple, np.ndarray)):
        for k, v in enumerate(value):
            _check_finite(v, f"{key}[{k}]")
    elif isinstance(value, (float, np.floating)) and not math.isfinite(float(value)):
        raise NonFiniteError(f"{key} came out {float(value)} (non-finite energies or stresses "
                             "from the calculator, or a degenerate fit); no value is reported")


# Each group: compute, add its keys to ``out``, warn about what makes them doubtful, say a
# progress line with the time it took.
def _eos(calc, element, lattice, lat, out, warn, say) -> None:
    t0 = time.perf_counter()
    eos = equation_of_state(calc, element, lattice, lat.a0, c=lat.c)
    out.update(e0_ev_per_atom=eos.e0, v0_angstrom3_per_atom=eos.v0,
               bulk_modulus_gpa=eos.bulk_modulus, bulk_modulus_prime=eos.bulk_modulus_prime)
    say(f"eos: B0 = {eos.bulk_modulus:.2f} GPa, B0' = {eos.bulk_modulus_prime:.3f} "
        f"({time.perf_counter() - t0:.1f} s)")


def _elastic(calc, element, lattice, lat, out, warn, say) -> None:
    t0 = time.perf_counter()
    el = elastic_constants(calc, with_calc(bulk_crystal(element, lattice, lat.a0, lat.c), calc))
    if lattice == "hcp":   # two Cauchy pressures: C13 − C44 and C12 − C66
        out.update({f"{k}_gpa": v for k, v in el.hexagonal().items()})
        out["cauchy_pressure_13_44_gpa"] = out["c13_gpa"] - out["c44_gpa"]
        out["cauchy_pressure_12_66_gpa"] = out["c12_gpa"] - out["c66_gpa"]
    else:
        out.update(c11_gpa=el.c11, c12_gpa=el.c12, c44_gpa=el.c44,
                   cauchy_pressure_gpa=el.cauchy_pressure)
    out["bulk_modulus_voigt_gpa"] = el.bulk_modulus
    out["cij_gpa"] = el.cij.tolist()
    _check_finite(out)  # before the eigenvalues, which NaN would make a LinAlgError
    lowest = float(np.min(np.linalg.eigvalsh(0.5 * (el.cij + el.cij.T))))
    if lowest <= 0:
        warn(f"elastic: {lattice} {element} is mechanically unstable (lowest eigenvalue of "
             f"Cij {lowest:.2f} GPa <= 0, Born criterion); relaxed defect and surface "
             "energies of this lattice are not meaningful")
    say(f"elastic: C11 = {out['c11_gpa']:.2f}, C12 = {out['c12_gpa']:.2f}, "
        f"C44 = {out['c44_gpa']:.2f} GPa ({time.perf_counter() - t0:.1f} s)")


def _vacancy(calc, element, lattice, lat, out, warn, say) -> None:
    t0 = time.perf_counter()
    vac = vacancy_formation_energy(calc, element, lattice, lat.a0, c=lat.c)
    out["vacancy_formation_ev"] = vac.formation_energy
    if not vac.converged:
        warn("vacancy: the relaxation did not reach fmax within its step limit")
    say(f"vacancy: E_v = {vac.formation_energy:.4f} eV ({vac.n_atoms} atoms, "
        f"{time.perf_counter() - t0:.1f} s)")


def _surfaces(calc, element, lattice, lat, out, warn, say) -> None:
    for (lat_name, miller) in SURFACE_BUILDERS:
        if lat_name != lattice:
            continue
        t0 = time.perf_counter()
        surf = surface_energy(calc, element, lattice, lat.a0, miller)
        label = "".join(map(str, miller))
        out[f"surface_energy_{label}_j_per_m2"] = surf.energy_j_per_m2
        if not surf.converged:
            warn(f"surface ({label}): the relaxation did not reach fmax within its step limit")
        say(f"surface ({label}): {surf.energy_j_per_m2:.4f} J/m² ({surf.layers} layers, "
            f"{time.perf_counter() - t0:.1f} s)")


def _stacking_fault(calc, element, lattice, lat, out, warn, say) -> None:
    t0 = time.perf_counter()
    sf = stacking_fault_energy(calc, element, lat.a0)
    out["stacking_fault_mj_per_m2"] = sf.energy_mj_per_m2
    if not sf.converged:
        warn("stacking fault: the relaxation did not reach fmax within its step limit")
    say(f"stacking fault: {sf.energy_mj_per_m2:.2f} mJ/m² ({time.perf_counter() - t0:.1f} s)")


def _phonons(calc, element, lattice, lat, out, warn, say) -> None:
    t0 = time.perf_counter()
    ph = phonons(calc, bulk_crystal(element, lattice, lat.a0, lat.c))
    out["phonons_thz"] = ph.frequencies
    text = ", ".join(f"{k}: {max(v):.3f}" for k, v in ph.frequencies.items())
    say(f"phonons: highest THz {text} ({time.perf_counter() - t0:.1f} s)")
    if any(min(v) < -0.05 for v in ph.frequencies.values()):
        warn("phonons: imaginary frequencies (shown negative): the lattice is dynamically "
             "unstable")


_GROUPS = {"eos": _eos, "elastic": _elastic, "vacancy": _vacancy, "surfaces": _surfaces,
           "stacking_fault": _stacking_fault, "phonons": _phonons}


_TABLE_ORDER = (
    "a0_angstrom", "c_angstrom", "cohesive_energy_ev", "e0_ev_per_atom", "v0_angstrom3_per_atom",
    "bulk_modulus_gpa", "bulk_modulus_prime", "bulk_modulus_voigt_gpa", "c11_gpa", "c12_gpa",
    "c13_gpa", "c33_gpa", "c44_gpa", "c66_gpa", "cauchy_pressure_gpa",
    "cauchy_pressure_13_44_gpa", "cauchy_pressure_12_66_gpa", "vacancy_formation_ev",
    "vacancy_formation_upper_bound_ev", "surface_energy_100_j_per_m2",
    "surface_energy_110_j_per_m2", "surface_energy_111_j_per_m2", "stacking_fault_mj_per_m2",
)


def _scalar(value) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:.4g}"


def comparison_table(model_props: Mapping, dft_props: Mapping) -> str:
    """Markdown table ``property | model | DFT | difference (%)`` over the scalar properties
    either dict has (difference = 100 (model − DFT)/|DFT| where both exist), then phonon
    frequencies per point where both have them, then the DFT ``notes`` as a list."""
    keys = [k for k in _TABLE_ORDER if k in model_props or k in dft_props]
    keys += sorted(k for k in {*model_props, *dft_props} - set(keys)
                   if _scalar(model_props.get(k)) is not None or _scalar(dft_props.get(k)) is not None)
    lines = ["| property | model | DFT | difference (%) |", "|---|---|---|---|"]
    for key in keys:
        m, d = _scalar(model_props.get(key)), _scalar(dft_props.get(key))
        if m is None and d is None:
            continue
        diff = f"{100 * (m - d) / abs(d):+.1f}" if m is not None and d not in (None, 0.0) else "—"
        lines.append(f"| {key} | {_fmt(m)} | {_fmt(d)} | {diff} |")
    pm, pd = model_props.get("phonons_thz") or {}, dft_props.get("phonons_thz") or {}
    for point in (p for p in pm if p in pd):
        lines.append(f"| phonons_thz {point} | {' '.join(_fmt(x) for x in pm[point])} | "
                     f"{' '.join(_fmt(x) for x in pd[point])} | — |")
    notes = list(dft_props.get("notes") or [])
    if notes:
        lines.append("")
        lines.extend(f"- DFT: {note}" for note in notes)
    return "\n".join(lines)
