"""generate (planned; see ARCHITECTURE.md)."""

from .configurations import (  # noqa: E402  (configuration generators)
    GenerationConfig, amorphous_snapshots, bulk_crystal, bulk_structures, eos_structures,
    generate_structures, generation_config, interstitial_structures, liquid_snapshots,
    md_snapshots, rattle_structures, stacking_fault_structures, strain_structures,
    surface_structures, vacancy_structures,
)
from .selection import farthest_point_selection  # noqa: E402
