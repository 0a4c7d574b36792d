"""Physical properties of a potential through any ASE calculator, and their DFT counterparts.

Every function here takes an ASE calculator (``potforge.calculator(model)``, ASE's ``EMT``,
``LennardJones``, ...) and knows nothing about potforge models. Units: eV, Å, amu inside;
GPa, J/m², mJ/m² and THz only where a name or field says so. Stress follows ASE:
σ = (1/V) ∂E/∂ε, Voigt order xx yy zz yz xz xy, positive in tension.

=========================  ==============================================================
:func:`lattice_constant`   relaxed a0 (and c for hcp), cohesive energy
:func:`equation_of_state`  Birch–Murnaghan E0, V0, B0, B0′ from an E–V scan
:func:`elastic_constants`  6×6 Cij from central stress differences (ions relaxed)
:func:`vacancy_formation_energy`  E_v = E(N−1) − (N−1)/N E(N), relaxed at fixed cell
:func:`surface_energy`     γ = (E_slab − N e_bulk) / 2A for (100), (110), (111)
:func:`stacking_fault_energy`  fcc intrinsic stacking fault, tilted periodic cell
:func:`phonons`            finite-displacement frequencies at high-symmetry points
:func:`property_table`     all of the above as one dict with unit-named keys
:func:`reference_properties`  what a labelled DFT set (mlearn) says about the same numbers
:func:`comparison_table`   Markdown table model | DFT | difference (%)
=========================  ==============================================================

The lattices are ``fcc``, ``bcc``, ``hcp``, ``diamond`` and ``sc``; structures come from
:mod:`potforge.core.crystals` (:func:`ase.build.bulk`, primitive cells unless stated), whose
Cartesian axes are the cubic axes for the cubic lattices and a ∥ x, c ∥ z for hcp, so Cij are
in the usual crystal frame. Modules: :mod:`.bulk` (perfect crystal), :mod:`.defects`
(vacancy, surfaces, stacking fault), :mod:`.phonons`, :mod:`.table` (all of them, and the
comparison), :mod:`.reference` (the DFT side), :mod:`.results` (what they return).
"""


from ...core.crystals import LATTICES
from .bulk import (birch_murnaghan_fit, elastic_constants, equation_of_state, isolated_atom_energy,
                   lattice_constant)
from .defects import fcc_111_cell, stacking_fault_energy, surface_energy, vacancy_formation_energy
from .phonons import phonons
from .reference import reference_properties
from .results import (ElasticResult, EOSResult, LatticeResult, PhononResult, StackingFaultResult,
                      SurfaceResult, VacancyResult)
from .table import PROPERTY_GROUPS, comparison_table, property_table

__all__ = [
    "LATTICES", "PROPERTY_GROUPS",
    "LatticeResult", "EOSResult", "ElasticResult", "VacancyResult", "SurfaceResult",
    "StackingFaultResult", "PhononResult", "fcc_111_cell",
    "lattice_constant", "isolated_atom_energy", "equation_of_state", "birch_murnaghan_fit",
    "elastic_constants", "vacancy_formation_energy", "surface_energy", "stacking_fault_energy",
    "phonons", "property_table", "reference_properties", "comparison_table",
]
