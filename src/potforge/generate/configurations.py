"""Training configurations: crystals, EOS scans, strains, rattles, surfaces, stacking faults,
point defects, MD snapshots, liquids and melt-quench amorphous structures.

Every generator is a function of a few parameters that returns a list of new ``ase.Atoms``
(inputs are never modified). Each structure carries in ``atoms.info``:

``config_type``
    ``bulk``, ``eos``, ``strain``, ``rattle``, ``surface``, ``stacking_fault``, ``vacancy``,
    ``interstitial``, ``md``, ``liquid`` or ``amorphous``;
``group``
    structures derived from one parent (one EOS scan, one MD trajectory, one fault system)
    share a group, so a split by group never puts near-copies on both sides;
provenance
    ``phase``, ``lattice_constant`` and, per generator, ``eos_scale``, ``strain_voigt``,
    ``rattle_sigma``, ``miller``, ``crystal_axes``, ``fault_displacement``, ``vacancy_position``,
    ``interstitial_site``, ``temperature``, ``md_step``, ...

Every structure is checked before it is returned: finite coordinates, a non-degenerate cell and
no two atoms closer than ``min_distance`` (by default half the nearest-neighbour distance of the
parent crystal). Rattled atoms that come too close are redrawn; any other violation is a
:class:`~potforge.core.errors.StructureError`.

Molecular dynamics runs with whatever ASE calculator the caller passes in (this package never
builds one). Temperatures are in K, times in fs, lengths in Å.

Config (YAML, validated by :func:`generation_config`)
-----------------------------------------------------
::

    element: Al                 # required
    seed: 1                     # every generator draws from its own stream of this seed
    min_distance: 0.5           # closest allowed approach, fraction of the nearest-neighbour distance
    calculator: {name: emt}     # only md, liquid and amorphous need one (built by the CLI)
    lattice_constants: {fcc: 4.05}   # optional, per phase (Å; hcp also 'hcp_c')
    generators:                 # a list of {kind: ..., options}
      - {kind: bulk, phases: [fcc, bcc, hcp], supercell: [2, 2, 2]}
      - {kind: eos, phase: fcc, strains: [-0.06, 0.06], n: 7, mode: volume}
      - {kind: strain, phase: fcc, magnitudes: [0.01, 0.02]}
      - {kind: rattle, phase: fcc, supercell: [2, 2, 2], sigma: 0.05, n: 10}
      - {kind: surface, miller: [[1, 0, 0], [1, 1, 1]], layers: 4, vacuum: 8}
      - {kind: stacking_fault, system: fcc111_112, fractions: [0.25, 0.5, 0.75, 1.0]}
      - {kind: vacancy, supercell: [2, 2, 2]}
      - {kind: interstitial, site: octahedral, supercell: [2, 2, 2]}
      - {kind: md, temperatures: [300, 900], steps: 200, interval: 20, supercell: [2, 2, 2]}
      - {kind: liquid, temperature: 2000, steps: 300, interval: 50}
      - {kind: amorphous, melt: 2500, quench_rate: 1e14, snapshots: 3}
    select: {n: 100}            # optional farthest-point selection (done by the CLI)

Every generator takes ``phase`` (default: the element's reference state), ``a`` / ``c``
(default: ``lattice_constants``, else ASE's reference state, other phases scaled to the same
volume per atom), ``supercell`` and ``cubic`` (conventional instead of primitive cell) where
they apply; the options of each kind are the fields of its ``*Generator`` class in
:mod:`potforge.generate.generators`.
Lengths accept units (``"8 Å"``, ``"0.8 nm"``).

Conventions
-----------
* Strain: Voigt vector e = (ε_xx, ε_yy, ε_zz, γ_yz, γ_xz, γ_xy) with **engineering** shears
  γ = 2ε. The cell is deformed by the symmetric F = I + ε (row vectors: cell' = cell Fᵀ), so the
  small-strain tensor ½(F + Fᵀ) − I is exactly ε; the Green–Lagrange strain ½(FᵀF − I) differs
  at second order (ε²/2).
* Stacking faults: atoms of the upper half of an oriented cell (normal along z) are displaced
  by f·b; the periodic cell's third vector is tilted by the same vector, so the only fault is
  the one in the middle (with ``vacuum`` a slab instead). b is, per system: ``fcc111_110``
  a/2⟨110⟩ (a full dislocation: f = 1 is the perfect crystal), ``fcc111_112`` the Shockley
  partial a/6⟨112⟩ (f = 1 is the intrinsic stacking fault, f = 3 the perfect crystal),
  ``bcc110_111`` and ``bcc112_111`` a/2⟨111⟩.
* Amorphous: melt at ``melt`` K, then cool linearly to ``final`` K at ``quench_rate`` K/s
  (Langevin, target temperature updated every step); snapshots evenly spaced along the quench,
  the last at its end.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from ase import Atoms

from ..core.config import build, doc
from ..core.crystals import LATTICES, reference_lattice
from ..core.elements import check_element
from ..core.errors import ConfigError, nearest
from .common import Progress
from .defects import INTERSTITIAL_SITES
from .generators import GENERATORS, NEEDS_CALCULATOR, GeneratorContext
from .planar import FAULT_SYSTEMS

__all__ = ["CONFIG_TYPES", "GENERATORS", "GenerationConfig", "CalculatorConfig", "SelectConfig",
           "generation_config", "generate_structures", "needs_calculator"]

CONFIG_TYPES = ("bulk", "eos", "strain", "rattle", "surface", "stacking_fault", "vacancy",
                "interstitial", "md", "liquid", "amorphous")


@dataclass(frozen=True)
class CalculatorConfig:
    name: str = field(default="emt", metadata=doc(
        "registered name (emt, lj, morse, gpaw, potforge) or 'package.module:Class'"))
    parameters: dict[str, Any] = field(default_factory=dict, metadata=doc(
        "keyword arguments of the calculator"))


@dataclass(frozen=True)
class SelectConfig:
    n: int = field(default=100, metadata=doc("structures to keep (farthest-point selection)"))
    cutoff: float = field(default=6.0, metadata=doc("symmetry-function cutoff, Å", unit="length"))
    n_radial: int = 8
    n_angular: int = 4
    std: bool = field(default=True, metadata=doc("compare per-structure std of features too"))
    keep_config_types: tuple[str, ...] = field(default=(), metadata=doc(
        "config types always kept (selection runs over the rest)", scalar_ok=True))

    def check(self, key: str) -> None:
        if self.n < 1:
            raise ConfigError(f"{key}.n: expected >= 1, got {self.n}")


@dataclass(frozen=True)
class GenerationConfig:
    element: str = field(default="", metadata=doc("chemical symbol, e.g. Al"))
    seed: int = 0
    min_distance: float = field(default=0.5, metadata=doc(
        "closest allowed approach as a fraction of the nearest-neighbour distance"))
    lattice_constants: dict[str, float] = field(default_factory=dict, metadata=doc(
        "per phase, Å (hcp_c for hcp's c)", unit="length"))
    calculator: CalculatorConfig | None = None
    generators: tuple[Any, ...] = ()
    select: SelectConfig | None = None

    def check(self, key: str) -> None:
        if not self.element:
            raise ConfigError(f"{key + '.' if key else ''}element: missing; name the element, e.g. element: Al")
        check_element(self.element, f"{key + '.' if key else ''}element")
        for name in self.lattice_constants:
            if name not in LATTICES and name != "hcp_c":
                raise ConfigError(f"lattice_constants.{name}: not a phase; expected one of "
                                  f"{', '.join(LATTICES)}, hcp_c")
        if not 0 <= self.min_distance < 1.0:
            raise ConfigError(f"min_distance: expected a fraction in [0, 1), got {self.min_distance}")


def _build_generator(raw: Any, key: str) -> Any:
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{key}: expected a mapping like {{kind: bulk, ...}}, got {raw!r}")
    if "kind" not in raw:
        raise ConfigError(f"{key}.kind: missing; one of {', '.join(GENERATORS)}")
    kind = raw["kind"]
    if kind not in GENERATORS:
        guess = nearest(str(kind), list(GENERATORS))
        hint = f" (did you mean '{guess}'?)" if guess else ""
        raise ConfigError(f"{key}.kind: {kind!r} is not one of {', '.join(GENERATORS)}{hint}")
    return build(GENERATORS[kind], raw, key)


def generation_config(raw: Mapping[str, Any] | None) -> GenerationConfig:
    """Validate a mapping (see the module docstring) into a :class:`GenerationConfig`;
    errors are one-line :class:`ConfigError` naming the dotted key."""
    raw = dict(raw or {})
    generators = raw.pop("generators", None)
    config = build(GenerationConfig, raw)
    if generators is None or (isinstance(generators, Sequence) and not isinstance(generators, str)
                              and len(generators) == 0):
        raise ConfigError("generators: missing; give a list such as [{kind: bulk}, {kind: eos}]")
    if isinstance(generators, (str, bytes)) or not isinstance(generators, Sequence):
        raise ConfigError(f"generators: expected a list of {{kind: ...}} mappings, got {generators!r}")
    built = tuple(_build_generator(g, f"generators[{k}]") for k, g in enumerate(generators))
    config = dataclasses.replace(config, generators=built)
    for k, g in enumerate(built):
        if g.kind in NEEDS_CALCULATOR and config.calculator is None:
            raise ConfigError(f"calculator: missing; generators[{k}] ({g.kind}) runs molecular "
                              "dynamics and needs one, e.g. calculator: {name: emt}")
        if g.kind == "stacking_fault" and g.phase is not None and g.phase != FAULT_SYSTEMS[g.system][0]:
            raise ConfigError(f"generators[{k}].phase: {g.phase} does not match system {g.system}")
        if g.kind == "interstitial":
            phase = g.phase or reference_lattice(config.element)
            for s in g.site:
                if s not in INTERSTITIAL_SITES.get(phase, {}):
                    raise ConfigError(f"generators[{k}].site: no {s} site in {phase}; interstitial "
                                      f"sites exist for {', '.join(INTERSTITIAL_SITES)}")
    return config


def needs_calculator(config: GenerationConfig) -> bool:
    return any(g.kind in NEEDS_CALCULATOR for g in config.generators)


def generate_structures(config: GenerationConfig, *, calculator: Any = None,
                        progress: Progress | None = None) -> list[Atoms]:
    """Run every generator of ``config`` in order; returns the tagged structures.

    Generator k draws its random numbers from ``SeedSequence([seed, k])``, so adding a
    generator does not change the others' structures. ``calculator`` (any ASE calculator) is
    needed only by md, liquid and amorphous generators.
    """
    out: list[Atoms] = []
    for k, g in enumerate(config.generators):
        seed = np.random.SeedSequence([config.seed, k])
        structures = g.run(GeneratorContext(config, k, seed, calculator, progress))
        for atoms in structures:
            atoms.info["generator"] = k
        if progress is not None:
            progress(f"generators[{k}] {g.kind}: {len(structures)} structures")
        out.extend(structures)
    return out
