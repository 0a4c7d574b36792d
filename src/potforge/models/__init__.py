"""Models: every family is a :class:`~potforge.models.potential.Potential`, registered once by
its kind name (:mod:`potforge.models.registry`).

Importing this package imports every family folder, which registers it: the registry is
complete whenever anything of ``potforge.models`` is in use. Adding a family is one folder
here (its Potential, trainable form, config schema, builder, exporters and contract example,
registered in its ``__init__``) plus its tests, and one line below.
"""

from .potential import Potential, Prediction
from .registry import ModelExample, ModelFamily, families, family, kinds, load_potential, register_family

# isort: split
# The families after the base modules: NumPy and ASE then load from near the top of the
# import stack. From inside a family's registration (seven imports deeper) they took 10 ms
# longer, a twentieth of ``potforge predict`` on a 1,000-atom file (BENCHMARKS.md, section 7).
# (the families: importing registers them)
from . import baselines, classical, committee, hdnnp, hdnnp_1g, hdnnp_charges  # noqa: E402, F401

__all__ = ["Potential", "Prediction", "ModelFamily", "ModelExample", "register_family", "family",
           "families", "kinds", "load_potential"]
