"""potforge: interatomic potentials from first-principles data.

Quick start::

    import potforge
    atoms.calc = potforge.calculator("path/to/model")   # potforge or n2p2 model directory

Subpackages follow the data flow: ``data`` (frames, files) -> ``descriptors`` -> ``models`` ->
``training`` -> ``validation``; ``calculators`` and ``export`` connect to ASE, LAMMPS and n2p2.
Heavy modules are imported on first use.
"""

from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["__version__", "calculator", "load_model"]


def load_model(path, *, length_unit: str = "angstrom", energy_unit: str = "ev"):
    """Load a potforge model directory or an n2p2 model directory (``input.nn``)."""
    from .export import load_model as _load

    return _load(path, length_unit=length_unit, energy_unit=energy_unit)


def calculator(model, *, length_unit: str = "angstrom", energy_unit: str = "ev", **kwargs):
    """An ASE calculator for a model object or a model directory."""
    from .calculators.ase import PotforgeCalculator

    if isinstance(model, (str, bytes)) or hasattr(model, "__fspath__"):
        model = load_model(model, length_unit=length_unit, energy_unit=energy_unit)
    return PotforgeCalculator(model, **kwargs)
