"""One ASE calculator for every potforge model.

    >>> import potforge
    >>> atoms.calc = potforge.calculator("model_dir")        # or PotforgeCalculator(potential)

Properties: ``energy``, ``free_energy`` (= energy, no electronic entropy), ``energies``
(per atom), ``forces``, ``stress`` (periodic cells). The number of descriptor values outside
the training range per atom (extrapolation warnings) is available as
``calc.results["extrapolations"]`` and :meth:`PotforgeCalculator.get_extrapolations`; what a
model adds in ``Prediction.extras`` is in ``calc.results`` under the same names (a committee's
``energy_std``, ``energy_std_per_atom``, ``forces_std``, ``force_std``, ``stress_std``:
:mod:`potforge.models.committee.potential`).
A change of ``atoms.info["total_charge"]`` (the total charge of the charge models, see
:func:`potforge.models.hdnnp_charges.base.total_charge`) triggers a new calculation like a
change of positions (ASE's own state check ignores ``atoms.info``).
A NaN or an infinity in the model's answer is a
:class:`~potforge.core.errors.NonFiniteError` naming the quantity, never a result.
"""

from __future__ import annotations

import numpy as np
from ase.calculators.calculator import Calculator, PropertyNotImplementedError, all_changes

from ..core.errors import NonFiniteError
from ..models.potential import Potential

__all__ = ["PotforgeCalculator"]

_NOT_SET = object()


def _info_charge(atoms):
    """``atoms.info["total_charge"]`` as it stands (a copy of arrays), or a marker when absent."""
    value = atoms.info.get("total_charge", _NOT_SET) if atoms is not None else _NOT_SET
    return np.array(value).tolist() if isinstance(value, np.ndarray) else value


class PotforgeCalculator(Calculator):
    """ASE calculator wrapping any :class:`~potforge.models.potential.Potential`."""

    implemented_properties = ("energy", "free_energy", "energies", "forces", "stress", "charges")

    def __init__(self, potential: Potential, **kwargs) -> None:
        super().__init__(**kwargs)
        if not isinstance(potential, Potential):
            raise TypeError(f"expected a potforge Potential, got {type(potential).__name__}")
        self.potential = potential
        self._info_charge = _NOT_SET

    def check_state(self, atoms, tol: float = 1e-15) -> list[str]:
        """ASE's changes plus ``"total_charge"`` when ``atoms.info["total_charge"]`` differs
        from the value of the last calculation (the charge models read it; ASE does not)."""
        changes = list(super().check_state(atoms, tol))
        if _info_charge(atoms) != self._info_charge and "total_charge" not in changes:
            changes.append("total_charge")
        return changes

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes) -> None:
        super().calculate(atoms, properties, system_changes)
        self._info_charge = _info_charge(self.atoms)
        periodic = bool(np.all(self.atoms.pbc))
        if "stress" in properties and not periodic:
            raise PropertyNotImplementedError("stress needs a cell that is periodic in all directions")
        # forces and stress come almost free with the energy pass, and ASE asks for them one
        # after another: compute everything once and let ASE's cache serve the rest.
        prediction = self.potential.predict(self.atoms, forces=True, stress=periodic)
        what = prediction.nonfinite()
        if what is not None:  # an optimizer or MD fed a NaN walks on silently: stop here
            raise NonFiniteError(f"the model gives a non-finite {what} for "
                                 f"{self.atoms.get_chemical_formula()} ({len(self.atoms)} atoms, "
                                 f"{'periodic' if periodic else 'open'})")
        self.results = {
            "energy": prediction.energy,
            "free_energy": prediction.energy,
            "energies": prediction.energies,
        }
        if prediction.forces is not None:
            self.results["forces"] = prediction.forces
        if prediction.stress is not None:
            self.results["stress"] = prediction.stress
        if prediction.charges is not None:
            self.results["charges"] = prediction.charges
        if prediction.extrapolations is not None:
            self.results["extrapolations"] = prediction.extrapolations
        for name, value in prediction.extras.items():   # e.g. a committee's spreads
            self.results.setdefault(name, value)

    def get_extrapolations(self, atoms=None) -> np.ndarray | None:
        """Per-atom count of descriptor values outside the training range (None if the model
        has no such notion)."""
        self.get_property("energy", atoms)
        return self.results.get("extrapolations")
