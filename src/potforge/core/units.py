"""Units: potforge works in Å, eV, e inside; other units exist only at file boundaries.

All constants come from :mod:`ase.units` (CODATA as ASE uses it), so that every conversion
in potforge agrees with ASE to the last digit. Reports may show GPa and meV/atom.
"""

from __future__ import annotations

from ase import units as _ase_units

from .errors import UnitError

__all__ = [
    "Bohr", "Hartree", "GPa", "Angstrom", "eV",
    "LENGTH_UNITS", "ENERGY_UNITS", "length_factor", "energy_factor",
]

Angstrom: float = _ase_units.Angstrom
eV: float = _ase_units.eV
Bohr: float = _ase_units.Bohr        #: one Bohr in Å
Hartree: float = _ase_units.Hartree  #: one Hartree in eV
GPa: float = _ase_units.GPa          #: one GPa in eV/Å³

#: Length units accepted at file boundaries: name -> size of the unit in Å.
LENGTH_UNITS: dict[str, float] = {"angstrom": 1.0, "bohr": Bohr, "nm": 10.0}
#: Energy units accepted at file boundaries: name -> size of the unit in eV.
ENERGY_UNITS: dict[str, float] = {
    "ev": 1.0,
    "hartree": Hartree,
    "rydberg": _ase_units.Rydberg,
    "kcal/mol": _ase_units.kcal / _ase_units.mol,
    "kj/mol": _ase_units.kJ / _ase_units.mol,
}
_ALIASES = {"a": "angstrom", "ang": "angstrom", "å": "angstrom", "ha": "hartree",
            "ry": "rydberg", "au": None}


def _lookup(name: str, table: dict[str, float], kind: str, key: str | None) -> float:
    canon = name.strip().lower()
    canon = _ALIASES.get(canon, canon) or canon
    try:
        return table[canon]
    except KeyError:
        where = f"{key}: " if key else ""
        raise UnitError(f"{where}unknown {kind} unit {name!r}; expected one of "
                        f"{', '.join(sorted(table))}") from None


def length_factor(name: str, key: str | None = None) -> float:
    """Size of the length unit ``name`` in Å (``'bohr'`` -> 0.529177...)."""
    return _lookup(name, LENGTH_UNITS, "length", key)


def energy_factor(name: str, key: str | None = None) -> float:
    """Size of the energy unit ``name`` in eV (``'hartree'`` -> 27.2113...)."""
    return _lookup(name, ENERGY_UNITS, "energy", key)
