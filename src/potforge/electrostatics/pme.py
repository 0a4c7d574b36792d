"""Particle-mesh Ewald products A x for large periodic cells (not written yet)."""

from __future__ import annotations

from ..core.errors import ConfigError

__all__ = ["PME_MIN_ATOMS", "pme_matvec"]

#: "auto" uses PME from this many atoms on
PME_MIN_ATOMS = 10 ** 12


def pme_matvec(coulomb, x):
    raise ConfigError("electrostatics method 'pme' is not available yet; use 'ewald'")


def pme_self_kspace(coulomb):
    raise ConfigError("electrostatics method 'pme' is not available yet; use 'ewald'")
