"""Coulomb, Ewald/PME for point and Gaussian charges, screening, charge equilibration (not
written yet: issue 14; see ../shared/ARCHITECTURE.md)."""
