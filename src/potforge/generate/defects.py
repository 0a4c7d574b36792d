"""Point defects: vacancies and self-interstitials in supercells of a cubic crystal."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from ase import Atoms

from ..core.errors import ConfigError
from .common import check_structure_valid, group_name, min_allowed_distance, tag

__all__ = ["INTERSTITIAL_SITES", "vacancy_structures", "interstitial_structures"]


#: phase -> site -> position in units of the cubic lattice constant (conventional cell frame)
INTERSTITIAL_SITES: dict[str, dict[str, tuple[float, float, float]]] = {
    "fcc": {"octahedral": (0.5, 0.5, 0.5), "tetrahedral": (0.25, 0.25, 0.25)},
    "bcc": {"octahedral": (0.5, 0.5, 0.0), "tetrahedral": (0.5, 0.25, 0.0)},
    "diamond": {"tetrahedral": (0.5, 0.5, 0.5)},
}


def vacancy_structures(atoms: Atoms, *, sites: Sequence[int] = (0,), group: str | None = None,
                       min_distance_fraction: float = 0.5) -> list[Atoms]:
    """One structure per site index: ``atoms`` without that atom (``info["vacancy_position"]``)."""
    group = group or group_name("vacancy", atoms.info.get("phase"), len(atoms))
    out = []
    for site in sites:
        if not 0 <= site < len(atoms):
            raise ConfigError(f"sites: {site} is not an atom index of the {len(atoms)}-atom cell")
        new = atoms.copy()
        where = new.positions[site].copy()
        del new[site]
        tag(new, "vacancy", group, vacancy_position=where, parent_atoms=len(atoms))
        check_structure_valid(new, min_allowed_distance(new, min_distance_fraction), "vacancy")
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
        tag(new, "interstitial", group or group_name("interstitial", phase, site, len(atoms)),
             interstitial_site=site, interstitial_position=new.positions[-1].copy(),
             parent_atoms=len(atoms))
        check_structure_valid(new, min_allowed_distance(new, min_distance_fraction), f"{site} interstitial")
        out.append(new)
    return out
