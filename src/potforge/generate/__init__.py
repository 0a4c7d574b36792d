"""Reference data: configuration generators (:mod:`.configurations` and the modules it runs:
:mod:`.crystal`, :mod:`.planar`, :mod:`.defects`, :mod:`.dynamics`), farthest-point
selection (:mod:`.selection`), labelling with any ASE calculator (:mod:`.labelling`), DFT
convergence studies (:mod:`.converge`) and the calculator factory they share
(:mod:`.calculators`). This package receives calculators from its callers and never imports
the models."""

from .common import parent_crystal
from .configurations import GenerationConfig, generate_structures, generation_config
from .crystal import bulk_structures, eos_structures, rattle_structures, strain_structures
from .defects import interstitial_structures, vacancy_structures
from .dynamics import amorphous_snapshots, liquid_snapshots, md_snapshots
from .planar import stacking_fault_structures, surface_structures
from .selection import farthest_point_selection

__all__ = ["GenerationConfig", "generate_structures", "generation_config", "parent_crystal",
           "bulk_structures", "eos_structures", "strain_structures", "rattle_structures",
           "surface_structures", "stacking_fault_structures", "vacancy_structures",
           "interstitial_structures", "md_snapshots", "liquid_snapshots", "amorphous_snapshots",
           "farthest_point_selection"]
