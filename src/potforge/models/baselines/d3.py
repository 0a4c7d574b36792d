"""DFT-D3 dispersion (Grimme et al., J. Chem. Phys. 132, 154104 (2010); Becke–Johnson damping:
J. Comput. Chem. 32, 1456 (2011)) through the reference library ``dftd3`` (s-dftd3).

The library works in Bohr and Hartree and returns the energy, its gradient and the "virial"
σV = ∂E/∂ε (ASE's sign, as ``dftd3.ase.DFTD3`` uses it); here they become eV, forces
F = −∂E/∂r in eV/Å and the stress σ in eV/Å³ (Voigt order). Per-atom energies are the row
sums of the library's pairwise (two- and three-body) energy matrices, whose total is the energy.

Parameters by functional name (``method``: pbe, b3lyp, r2scan, ..., whatever the library's
parameter table has for the damping), damping ``d3bj`` (rational), ``d3zero``, ``d3bjm``,
``d3zerom`` (modified) or ``d3op``, and the optional three-body Axilrod–Teller–Muto term
(``atm``; off by default as in ``dftd3.ase.DFTD3``). Elements 1–103: the library returns a
silent zero for heavier ones and aborts the process for invalid numbers, so both are refused
before it is called.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from ase import Atoms
from ase.data import chemical_symbols
from ase.units import Bohr, Hartree

from ...core.errors import ConfigError
from ...core.neighbors import check_min_distance, check_structure, neighbor_list
from ..potential import Potential, Prediction

__all__ = ["D3", "DAMPINGS", "ELEMENTS"]

#: damping name -> dftd3.interface class name
DAMPINGS = {"d3bj": "RationalDampingParam", "d3zero": "ZeroDampingParam",
            "d3bjm": "ModifiedRationalDampingParam", "d3zerom": "ModifiedZeroDampingParam",
            "d3op": "OptimizedPowerDampingParam"}
#: the elements the D3 reference data cover (Z = 1 … 103)
ELEMENTS = tuple(chemical_symbols[1:104])
#: the library's default real-space cutoffs (Bohr): two-body, three-body, coordination number
_DEFAULT_CUTOFFS = {"disp2": 60.0, "disp3": 40.0, "cn": 40.0}


class D3(Potential):
    """DFT-D3 dispersion of any elements the reference data cover, periodic or open.

    Parameters
    ----------
    method : str
        Functional whose D3 parameters to use (e.g. ``pbe``), as the dftd3 library names them.
    damping : str
        One of :data:`DAMPINGS`.
    atm : bool
        Add the three-body Axilrod–Teller–Muto term (s9 = 1).
    cutoff, cutoff_three_body, cutoff_cn : float, Å
        Real-space cutoffs of the two-body sum, the three-body sum and the coordination
        numbers (default the library's 60, 40, 40 Bohr).
    key : str
        The dotted config key that errors name.
    """

    kind: ClassVar[str] = "d3"

    def __init__(self, method: str, damping: str = "d3bj", *, atm: bool = False,
                 cutoff: float | None = None, cutoff_three_body: float | None = None,
                 cutoff_cn: float | None = None, key: str = "d3") -> None:
        if not isinstance(method, str) or not method:
            raise ConfigError(f"{key}.method: expected a functional name such as pbe, got {method!r}")
        if damping not in DAMPINGS:
            raise ConfigError(f"{key}.damping: {damping!r} is not a D3 damping; expected one of "
                              f"{', '.join(DAMPINGS)}")
        if not isinstance(atm, bool):
            raise ConfigError(f"{key}.atm: expected true or false, got {atm!r}")
        self.method, self.damping, self.atm = method.lower(), damping, atm
        bohr = {k: v * Bohr for k, v in _DEFAULT_CUTOFFS.items()}
        self.cutoffs = {}
        for which, name, value in (("disp2", "cutoff", cutoff), ("disp3", "cutoff_three_body", cutoff_three_body),
                                   ("cn", "cutoff_cn", cutoff_cn)):
            value = bohr[which] if value is None else float(value)
            if not 0.0 < value <= 200.0:
                raise ConfigError(f"{key}.{name}: expected a length in (0, 200] Å, got {value:g}")
            self.cutoffs[which] = value
        self._param = None
        self._damping_param(key)  # an unknown method is an error now, not at the first prediction

    def _damping_param(self, key: str = "d3"):
        if self._param is None:
            from dftd3 import interface

            try:
                self._param = getattr(interface, DAMPINGS[self.damping])(method=self.method, atm=self.atm)
            except RuntimeError:
                raise ConfigError(f"{key}.method: the dftd3 library has no {self.damping} parameters for "
                                  f"{self.method!r}") from None
        return self._param

    @property
    def species(self) -> tuple[str, ...]:
        return ELEMENTS

    @property
    def cutoff(self) -> float:
        return max(self.cutoffs.values())

    def _model(self, atoms: Atoms):
        from dftd3.interface import DispersionModel

        numbers = atoms.numbers
        if numbers.size and not 1 <= numbers.min() <= numbers.max() <= len(ELEMENTS):
            bad = sorted(set(int(z) for z in numbers if not 1 <= z <= len(ELEMENTS)))
            raise ConfigError(f"d3: no D3 reference data for atomic numbers {bad} (the library covers "
                              f"1-{len(ELEMENTS)})")
        pbc = np.asarray(atoms.pbc, dtype=bool)
        cell = np.asarray(atoms.cell, dtype=np.float64)
        check_structure(atoms.positions, cell, pbc, self.min_distance)
        if len(atoms) > 1:  # overlapping atoms: the same refusal as every other model
            nl = neighbor_list(atoms.positions, cell, pbc, self.min_distance + 1e-9)
            check_min_distance(nl.distances, nl.centers, nl.neighbors, self.min_distance)
        model = DispersionModel(numbers.astype(np.int32), atoms.positions / Bohr,
                                cell / Bohr if pbc.any() else None, pbc if pbc.any() else None)
        c = self.cutoffs
        model.set_realspace_cutoff(c["disp2"] / Bohr, c["disp3"] / Bohr, c["cn"] / Bohr)
        return model

    def predict(self, atoms: Atoms, *, forces: bool = True, stress: bool = True,
                energies: bool = True) -> Prediction:
        """``energies=False`` skips the per-atom energies (``energies`` is None): the library's
        pairwise analysis they come from costs far more than the energy with ``atm``."""
        model = self._model(atoms)
        param = self._damping_param()
        need_grad = forces or (stress and bool(np.all(atoms.pbc)))
        result = model.get_dispersion(param, grad=need_grad)
        per_atom = None
        if energies:
            pairs = model.get_pairwise_dispersion(param)
            per_atom = (pairs["additive pairwise energy"].sum(1)
                        + pairs["non-additive pairwise energy"].sum(1)) * Hartree
        out = Prediction(energy=float(result["energy"]) * Hartree, energies=per_atom)
        if forces:
            out.forces = -np.asarray(result["gradient"]) * (Hartree / Bohr)
        if stress and np.all(atoms.pbc):
            sigma = np.asarray(result["virial"]) * (Hartree / atoms.get_volume())
            out.stress = sigma.flat[[0, 4, 8, 5, 2, 1]].copy()
        return out

    def to_dict(self) -> dict:
        return {"method": self.method, "damping": self.damping, "atm": self.atm,
                "cutoff": self.cutoffs["disp2"], "cutoff_three_body": self.cutoffs["disp3"],
                "cutoff_cn": self.cutoffs["cn"]}

    def _arrays(self) -> dict[str, np.ndarray]:
        return {}

    @classmethod
    def from_saved(cls, description: dict, arrays: dict[str, np.ndarray]) -> "D3":
        return cls(description["method"], description["damping"], atm=description.get("atm", False),
                   cutoff=description.get("cutoff"), cutoff_three_body=description.get("cutoff_three_body"),
                   cutoff_cn=description.get("cutoff_cn"))
