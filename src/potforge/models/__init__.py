"""Models: every family is a :class:`~potforge.models.potential.Potential`."""

from .potential import Potential, Prediction, load_potential, register_potential

__all__ = ["Potential", "Prediction", "load_potential", "register_potential"]
