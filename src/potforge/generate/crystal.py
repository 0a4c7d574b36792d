"""Perturbations of a perfect crystal: competing bulk phases, equation-of-state scans, elastic
strains and thermal-like rattles."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

import numpy as np
from ase import Atoms

from ..core.crystals import check_lattice, strain_tensor
from ..core.errors import ConfigError, StructureError
from ..core.voigt import VOIGT_NAMES
from .common import group_name, min_allowed_distance, parent_crystal, tag, too_close_atoms

__all__ = ["bulk_structures", "eos_structures", "strain_structures", "rattle_structures"]


def bulk_structures(element: str, phases: Sequence[str] = ("fcc", "bcc", "hcp"), *,
                    lattice_constants: Mapping[str, float] | None = None,
                    supercell: Sequence[int] = (1, 1, 1), cubic: bool = False,
                    group_prefix: str = "bulk") -> list[Atoms]:
    """One perfect crystal per phase (competing phases at equal volume per atom unless
    ``lattice_constants`` {phase: a, 'hcp_c': c} says otherwise); one group per phase."""
    lc = dict(lattice_constants or {})
    out = []
    for phase in phases:
        check_lattice(phase, "phase", exact=True)
        atoms = parent_crystal(element, phase, a=lc.get(phase),
                             c=lc.get("hcp_c") if phase == "hcp" else None,
                             supercell=supercell, cubic=cubic)
        out.append(tag(atoms, "bulk", group_name(group_prefix, phase)))
    return out


def eos_structures(atoms: Atoms, strains: Sequence[float] = (-0.06, 0.06), n: int = 7, *,
                   mode: Literal["volume", "linear"] = "volume", group: str | None = None) -> list[Atoms]:
    """Isotropically scaled copies of ``atoms``: n points evenly spaced over ``strains`` =
    (lo, hi), volume strain V/V₀ − 1 (``mode="volume"``) or linear strain a/a₀ − 1."""
    lo, hi = (float(x) for x in strains)
    if n < 1 or not lo <= hi or lo <= -1:
        raise ConfigError(f"strains: expected lo <= hi, both > -1, and n >= 1; got [{lo}, {hi}], n={n}")
    group = group or group_name("eos", atoms.info.get("phase"))
    out = []
    for x in np.linspace(lo, hi, n) if n > 1 else [0.5 * (lo + hi)]:
        s = (1.0 + x) ** (1.0 / 3.0) if mode == "volume" else 1.0 + x
        new = atoms.copy()
        new.set_cell(np.asarray(atoms.cell) * s, scale_atoms=True)
        out.append(tag(new, "eos", group, eos_scale=float(s), eos_strain=float(x), eos_mode=mode,
                        volume_per_atom=float(new.get_volume() / len(new))))
    return out


def strain_structures(atoms: Atoms, magnitudes: Sequence[float] = (0.005, 0.01), *,
                      components: Sequence[str] = VOIGT_NAMES, group: str | None = None) -> list[Atoms]:
    """Each Voigt component (both signs) at each magnitude; cell' = cell (I + ε)ᵀ with
    ε = :func:`potforge.core.crystals.strain_tensor` (engineering shear); ``info["strain_voigt"]`` is the 6-vector."""
    group = group or group_name("strain", atoms.info.get("phase"))
    out = []
    for name in components:
        if name not in VOIGT_NAMES:
            raise ConfigError(f"components: {name!r} is not one of {', '.join(VOIGT_NAMES)}")
        k = VOIGT_NAMES.index(name)
        for m in magnitudes:
            for sign in (-1.0, 1.0):
                e = np.zeros(6)
                e[k] = sign * float(m)
                f = np.eye(3) + strain_tensor(e)
                new = atoms.copy()
                new.set_cell(np.asarray(atoms.cell) @ f.T, scale_atoms=True)
                out.append(tag(new, "strain", group, strain_voigt=e, strain_component=name))
    return out


def rattle_structures(atoms: Atoms, sigma: float, n: int, *, seed: int | np.random.SeedSequence = 0,
                      min_distance: float | None = None, min_distance_fraction: float = 0.5,
                      group: str | None = None, max_redraws: int = 1000) -> list[Atoms]:
    """``n`` copies with Gaussian displacements (standard deviation ``sigma`` Å per Cartesian
    component); atoms that come closer than ``min_distance`` are redrawn. Seeded."""
    if not sigma >= 0 or n < 0:
        raise ConfigError(f"sigma: expected sigma >= 0 and n >= 0, got sigma={sigma}, n={n}")
    rng = np.random.default_rng(seed)
    dmin = min_allowed_distance(atoms, min_distance_fraction) if min_distance is None else min_distance
    group = group or group_name("rattle", atoms.info.get("phase"), f"{sigma:g}")
    out = []
    for k in range(n):
        new = atoms.copy()
        base = atoms.positions
        new.positions = base + rng.normal(0.0, sigma, base.shape)
        for _ in range(max_redraws):
            bad = too_close_atoms(new, dmin)
            if len(bad) == 0:
                break
            pos = new.positions
            pos[bad] = base[bad] + rng.normal(0.0, sigma, (len(bad), 3))
            new.positions = pos
        else:
            raise StructureError(f"rattle: could not place atoms at least {dmin:.3f} Å apart with "
                                 f"sigma={sigma} Å after {max_redraws} redraws; lower sigma")
        out.append(tag(new, "rattle", group, rattle_sigma=float(sigma), rattle_index=k))
    return out
