"""Models: every family is a :class:`~potforge.models.potential.Potential`, registered once by
its kind name (:mod:`potforge.models.registry`).

Importing this package imports every family folder, which registers it: the registry is
complete whenever anything of ``potforge.models`` is in use. Adding a family is one folder
here (its Potential, trainable form, config schema, builder, exporters and contract example,
registered in its ``__init__``) plus its tests, and one line below.
"""

from . import classical, hdnnp, hdnnp_1g  # noqa: F401  (the families: importing registers them)
from .potential import Potential, Prediction
from .registry import ModelExample, ModelFamily, families, family, kinds, load_potential, register_family

__all__ = ["Potential", "Prediction", "ModelFamily", "ModelExample", "register_family", "family",
           "families", "kinds", "load_potential"]
