"""potforge: interatomic potentials from first-principles data.

Quick start::

    import potforge
    atoms.calc = potforge.calculator("path/to/model")   # potforge or n2p2 model directory
    model = potforge.fit("config.yaml", "out")          # train; returns the fitted Potential

Subpackages follow the data flow: ``data`` (frames, files) -> ``descriptors`` -> ``models`` ->
``training`` -> ``validation``; ``calculators`` and ``export`` connect to ASE, LAMMPS and n2p2.
Heavy modules are imported on first use; PyTorch is a lazily loaded module
(:mod:`potforge.core.lazy`), so that predicting with the compiled HDNNP kernels never pays for
importing it. The root only re-exports (nothing inside the package imports it).
"""

from __future__ import annotations

from .core.provenance import __version__

__all__ = ["__version__", "calculator", "load_model", "fit"]


def load_model(path, *, length_unit: str = "angstrom", energy_unit: str = "ev", species=None):
    """Load a potforge model directory, an n2p2 model directory (``input.nn``) or a LAMMPS
    potential file (``.eam``, ``.eam.alloy``, ``.setfl``, ``.eam.fs``, ``.tersoff``, ``.sw``;
    ``species`` picks and names its elements: ``["Si", "C"]``, ``{"Si(D)": "Si"}``)."""
    from .export import load_model as _load

    return _load(path, length_unit=length_unit, energy_unit=energy_unit, species=species)


def calculator(model, *, length_unit: str = "angstrom", energy_unit: str = "ev", species=None, **kwargs):
    """An ASE calculator for a model object or a model path (``species``: as for
    :func:`load_model`)."""
    from .calculators.ase import PotforgeCalculator

    if isinstance(model, (str, bytes)) or hasattr(model, "__fspath__"):
        model = load_model(model, length_unit=length_unit, energy_unit=energy_unit, species=species)
    return PotforgeCalculator(model, **kwargs)


def fit(config, output_dir=None, *, overrides=(), resume: bool = False, log=None):
    """Train a potential; returns the fitted :class:`~potforge.models.potential.Potential`.

    ``config`` is a YAML path, a mapping with the same sections (data, model, loss,
    training; relative paths then refer to the working directory) or a validated
    :class:`~potforge.training.config.Config`. ``overrides`` are ``"key=value"`` strings as
    for ``potforge train --set``. The full record (summary, history, trainable model) is
    ``potforge.training.fit.fit``'s result; this returns its ``potential``.
    """
    from collections.abc import Mapping

    from .core.config import apply_overrides
    from .training.config import Config, load_config, training_config
    from .training.fit import fit as _fit

    if isinstance(config, Config):
        if overrides:
            config = training_config(apply_overrides(config.plain(), overrides), base_dir=config.base_dir)
    elif isinstance(config, Mapping):
        config = training_config(apply_overrides(config, overrides))
    else:
        config = load_config(config, overrides)
    return _fit(config, output_dir, resume=resume, log=log).potential
