"""Electrostatics of point and Gaussian charges: Coulomb matrices and products (open
boundaries, Ewald, particle-mesh Ewald), n2p2's Ewald parameters and screening, and charge
equilibration (QEq) with its adjoint system. Pure kernels of torch tensors in Å, eV and e,
differentiable with respect to positions, cell and charges.
"""

from .coulomb import DEFAULT_PRECISION, GaussianCoulomb
from .ewald import COULOMB, EwaldParameters, ewald_parameters, kvectors, n2p2_real_ranges
from .qeq import DENSE_MAX_ATOMS, solve_adjoint, solve_qeq
from .screening import CORE_FUNCTIONS, Screening

__all__ = ["COULOMB", "CORE_FUNCTIONS", "DEFAULT_PRECISION", "DENSE_MAX_ATOMS", "EwaldParameters",
           "GaussianCoulomb", "Screening", "ewald_parameters", "kvectors", "n2p2_real_ranges", "solve_adjoint",
           "solve_qeq"]
