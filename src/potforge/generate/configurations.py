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
they apply; the options of each kind are the fields of its ``*Generator`` class below.
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

import contextlib
import dataclasses
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from ase import Atoms

from ..core.config import build, doc, nearest
from ..core.crystals import LATTICES, VOIGT_NAMES, check_lattice, reference_lattice
from ..core.elements import check_element
from ..core.errors import ConfigError
from .common import Progress, group_name, parent_crystal, tag
from .crystal import eos_structures, rattle_structures, strain_structures
from .defects import INTERSTITIAL_SITES, interstitial_structures, vacancy_structures
from .dynamics import amorphous_snapshots, liquid_snapshots, md_snapshots, quench_steps
from .planar import FAULT_SYSTEMS, stacking_fault_structures, surface_structures

__all__ = ["CONFIG_TYPES", "GENERATORS", "GenerationConfig", "CalculatorConfig", "SelectConfig",
           "generation_config", "generate_structures", "needs_calculator"]

CONFIG_TYPES = ("bulk", "eos", "strain", "rattle", "surface", "stacking_fault", "vacancy",
                "interstitial", "md", "liquid", "amorphous")


@dataclass
class _Context:
    """What a generator's ``run`` receives: the whole config, its position k in the list, its
    own random stream, the calculator (MD generators), progress, and the group prefix."""

    config: "GenerationConfig"
    k: int
    seed: np.random.SeedSequence
    calculator: Any
    progress: Progress | None

    @property
    def prefix(self) -> str:
        return f"g{self.k}"

    @property
    def fraction(self) -> float:
        return self.config.min_distance

    @contextlib.contextmanager
    def keyed(self) -> Iterator[None]:
        """ConfigErrors raised inside name this generator (``generators[k].…``)."""
        try:
            yield
        except ConfigError as err:
            raise ConfigError(f"generators[{self.k}].{err.reason}") from None


@dataclass(frozen=True)
class _Crystal:
    """Options of the parent crystal, shared by every generator."""

    phase: str | None = field(default=None, metadata=doc("fcc, bcc, hcp, diamond or sc "
                                                          "(default: the element's reference state)"))
    a: float | None = field(default=None, metadata=doc("lattice constant, Å", unit="length"))
    c: float | None = field(default=None, metadata=doc("hcp c, Å", unit="length"))
    supercell: tuple[int, int, int] = (1, 1, 1)
    cubic: bool = field(default=False, metadata=doc("conventional (cubic) instead of primitive cell"))

    def check(self, key: str) -> None:
        if self.phase is not None:
            check_lattice(self.phase, f"{key}.phase")
        if any(n < 1 for n in self.supercell):
            raise ConfigError(f"{key}.supercell: expected three positive integers, got {list(self.supercell)}")

    def parent(self, config: "GenerationConfig", phase: str | None = None) -> Atoms:
        """The perfect crystal this generator starts from (lattice constants: the entry's,
        else the config's ``lattice_constants``, else ASE's reference)."""
        phase = phase or self.phase or reference_lattice(config.element)
        lc = config.lattice_constants
        a = self.a if self.a is not None else lc.get(phase)
        c = self.c if self.c is not None else (lc.get("hcp_c") if phase == "hcp" else None)
        return parent_crystal(config.element, phase, a=a, c=c, supercell=self.supercell, cubic=self.cubic)

    def run(self, ctx: "_Context") -> list[Atoms]:
        """The tagged structures of this generator."""
        raise NotImplementedError


@dataclass(frozen=True)
class BulkGenerator(_Crystal):
    kind: Literal["bulk"] = "bulk"
    phases: tuple[str, ...] = field(default=("fcc", "bcc", "hcp"), metadata=doc(
        "competing phases, each at its lattice constant", scalar_ok=True))

    def check(self, key: str) -> None:
        super().check(key)
        for k, p in enumerate(self.phases):
            check_lattice(p, f"{key}.phases[{k}]")

    def run(self, ctx: "_Context") -> list[Atoms]:
        # a and c of the entry apply only to a single phase; otherwise lattice_constants
        one = self if len(self.phases) == 1 else dataclasses.replace(self, a=None, c=None)
        return [tag(one.parent(ctx.config, phase), "bulk", group_name(ctx.prefix, "bulk", phase))
                for phase in self.phases]


@dataclass(frozen=True)
class EOSGenerator(_Crystal):
    kind: Literal["eos"] = "eos"
    strains: tuple[float, float] = field(default=(-0.06, 0.06), metadata=doc(
        "range [lo, hi] of volume (or linear) strain"))
    n: int = 7
    mode: Literal["volume", "linear"] = "volume"

    def check(self, key: str) -> None:
        super().check(key)
        lo, hi = self.strains
        if not -1 < lo <= hi:
            raise ConfigError(f"{key}.strains: expected -1 < lo <= hi, got [{lo}, {hi}]")
        if self.n < 1:
            raise ConfigError(f"{key}.n: expected at least 1 point, got {self.n}")

    def run(self, ctx: "_Context") -> list[Atoms]:
        return eos_structures(self.parent(ctx.config), self.strains, self.n, mode=self.mode,
                              group=group_name(ctx.prefix, "eos", self.phase))


@dataclass(frozen=True)
class StrainGenerator(_Crystal):
    kind: Literal["strain"] = "strain"
    magnitudes: tuple[float, ...] = field(default=(0.005, 0.01), metadata=doc(
        "strain magnitudes, each applied with both signs (engineering shear)", scalar_ok=True))
    components: tuple[Literal["xx", "yy", "zz", "yz", "xz", "xy"], ...] = VOIGT_NAMES

    def check(self, key: str) -> None:
        super().check(key)
        for k, m in enumerate(self.magnitudes):
            if not 0 < m < 0.5:
                raise ConfigError(f"{key}.magnitudes[{k}]: expected 0 < magnitude < 0.5, got {m}")

    def run(self, ctx: "_Context") -> list[Atoms]:
        return strain_structures(self.parent(ctx.config), self.magnitudes, components=self.components,
                                 group=group_name(ctx.prefix, "strain", self.phase))


@dataclass(frozen=True)
class RattleGenerator(_Crystal):
    kind: Literal["rattle"] = "rattle"
    sigma: float | tuple[float, ...] = field(default=0.05, metadata=doc(
        "standard deviation of each displacement component, Å (a list: each)", unit="length"))
    n: int = 10

    def check(self, key: str) -> None:
        super().check(key)
        sigmas = self.sigma if isinstance(self.sigma, tuple) else (self.sigma,)
        if any(not 0 < s < 1.0 for s in sigmas):
            raise ConfigError(f"{key}.sigma: expected 0 < sigma < 1 Å, got {self.sigma}")
        if self.n < 1:
            raise ConfigError(f"{key}.n: expected n >= 1, got {self.n}")

    def run(self, ctx: "_Context") -> list[Atoms]:
        parent = self.parent(ctx.config)
        sigmas = self.sigma if isinstance(self.sigma, tuple) else (self.sigma,)
        out = []
        for s, child in zip(sigmas, ctx.seed.spawn(len(sigmas))):
            out += rattle_structures(parent, s, self.n, seed=child, min_distance_fraction=ctx.fraction,
                                     group=group_name(ctx.prefix, "rattle", f"{s:g}"))
        return out


@dataclass(frozen=True)
class SurfaceGenerator(_Crystal):
    kind: Literal["surface"] = "surface"
    miller: tuple[tuple[int, int, int], ...] = ((1, 0, 0), (1, 1, 0), (1, 1, 1))
    layers: int = 6
    vacuum: float = field(default=10.0, metadata=doc("vacuum between slab images, Å", unit="length"))
    size: tuple[int, int] = (1, 1)

    def check(self, key: str) -> None:
        super().check(key)
        if self.layers < 1:
            raise ConfigError(f"{key}.layers: expected at least 1, got {self.layers}")
        if self.vacuum < 0:
            raise ConfigError(f"{key}.vacuum: expected >= 0 Å, got {self.vacuum}")
        for k, m in enumerate(self.miller):
            if not any(m):
                raise ConfigError(f"{key}.miller[{k}]: the zero vector is not a plane")

    def run(self, ctx: "_Context") -> list[Atoms]:
        phase = self.phase or reference_lattice(ctx.config.element)
        a = self.a if self.a is not None else ctx.config.lattice_constants.get(phase)
        out = surface_structures(ctx.config.element, phase, self.miller, layers=self.layers,
                                 vacuum=self.vacuum, a=a, c=self.c, size=self.size,
                                 min_distance_fraction=ctx.fraction)
        for s in out:
            s.info["group"] = f"{ctx.prefix}-{s.info['group']}"
        return out


@dataclass(frozen=True)
class StackingFaultGenerator(_Crystal):
    kind: Literal["stacking_fault"] = "stacking_fault"
    system: Literal["fcc111_110", "fcc111_112", "bcc110_111", "bcc112_111"] = "fcc111_112"
    fractions: tuple[float, ...] = (0.25, 0.5, 0.75, 1.0)
    layers: int = 12
    vacuum: float | None = field(default=None, metadata=doc(
        "slab with this vacuum (Å) instead of a tilted periodic cell", unit="length"))
    size: tuple[int, int] = (1, 1)

    def check(self, key: str) -> None:
        super().check(key)
        if self.layers < 2:
            raise ConfigError(f"{key}.layers: expected at least 2, got {self.layers}")

    def run(self, ctx: "_Context") -> list[Atoms]:
        phase = FAULT_SYSTEMS[self.system][0]
        a = self.a if self.a is not None else ctx.config.lattice_constants.get(phase)
        out = stacking_fault_structures(ctx.config.element, self.system, self.fractions,
                                        layers=self.layers, a=a, vacuum=self.vacuum, size=self.size,
                                        min_distance_fraction=ctx.fraction)
        for s in out:
            s.info["group"] = f"{ctx.prefix}-{s.info['group']}"
        return out


@dataclass(frozen=True)
class VacancyGenerator(_Crystal):
    kind: Literal["vacancy"] = "vacancy"
    supercell: tuple[int, int, int] = (2, 2, 2)
    cubic: bool = True

    def run(self, ctx: "_Context") -> list[Atoms]:
        return vacancy_structures(self.parent(ctx.config), group=group_name(ctx.prefix, "vacancy"),
                                  min_distance_fraction=ctx.fraction)


@dataclass(frozen=True)
class InterstitialGenerator(_Crystal):
    kind: Literal["interstitial"] = "interstitial"
    site: tuple[Literal["octahedral", "tetrahedral"], ...] = field(
        default=("octahedral",), metadata=doc("octahedral and/or tetrahedral", scalar_ok=True))
    supercell: tuple[int, int, int] = (2, 2, 2)
    cubic: bool = True

    def run(self, ctx: "_Context") -> list[Atoms]:
        parent = self.parent(ctx.config)
        return [s for site in self.site for s in interstitial_structures(
            parent, (site,), group=group_name(ctx.prefix, "interstitial", site),
            min_distance_fraction=ctx.fraction)]


@dataclass(frozen=True)
class _MD(_Crystal):
    supercell: tuple[int, int, int] = (2, 2, 2)
    cubic: bool = True
    timestep: float = field(default=1.0, metadata=doc("fs"))
    friction: float = field(default=0.02, metadata=doc("Langevin friction, 1/fs"))


@dataclass(frozen=True)
class MDGenerator(_MD):
    kind: Literal["md"] = "md"
    temperatures: tuple[float, ...] = field(default=(300.0,), metadata=doc("K", scalar_ok=True))
    steps: int = field(default=200, metadata=doc("production steps after equilibration"))
    interval: int = field(default=20, metadata=doc("keep every interval-th step"))
    equilibration: int = 100
    ensemble: Literal["nvt", "npt"] = "nvt"
    pressure: float = field(default=0.0, metadata=doc("npt pressure, GPa"))

    def check(self, key: str) -> None:
        super().check(key)
        _check_md(key, self.temperatures, self.steps, self.interval, self.equilibration, self.timestep)

    def run(self, ctx: "_Context") -> list[Atoms]:
        parent = self.parent(ctx.config)
        out = []
        for t, child in zip(self.temperatures, ctx.seed.spawn(len(self.temperatures))):
            out += md_snapshots(parent, ctx.calculator, t, steps=self.steps, interval=self.interval,
                                equilibration=self.equilibration, timestep=self.timestep,
                                friction=self.friction, ensemble=self.ensemble, pressure=self.pressure,
                                seed=child, progress=ctx.progress,
                                group=group_name(ctx.prefix, "md", f"{t:g}K"),
                                min_distance_fraction=ctx.fraction)
        return out


@dataclass(frozen=True)
class LiquidGenerator(_MD):
    kind: Literal["liquid"] = "liquid"
    temperature: float = field(default=2000.0, metadata=doc("K, above the melting point"))
    steps: int = 300
    interval: int = 50
    equilibration: int = field(default=500, metadata=doc("steps to melt before snapshots"))

    def check(self, key: str) -> None:
        super().check(key)
        _check_md(key, (self.temperature,), self.steps, self.interval, self.equilibration,
                  self.timestep, name="temperature")

    def run(self, ctx: "_Context") -> list[Atoms]:
        with ctx.keyed():
            return liquid_snapshots(self.parent(ctx.config), ctx.calculator, self.temperature,
                                    steps=self.steps, interval=self.interval,
                                    equilibration=self.equilibration, timestep=self.timestep,
                                    friction=self.friction, seed=ctx.seed, progress=ctx.progress,
                                    group=group_name(ctx.prefix, "liquid", f"{self.temperature:g}K"),
                                    min_distance_fraction=ctx.fraction)


@dataclass(frozen=True)
class AmorphousGenerator(_MD):
    kind: Literal["amorphous"] = "amorphous"
    melt: float = field(default=2500.0, metadata=doc("melt temperature, K"))
    melt_steps: int = 500
    final: float = field(default=300.0, metadata=doc("temperature at the end of the quench, K"))
    quench_rate: float = field(default=1e14, metadata=doc("K/s"))
    snapshots: int = 3
    max_steps: int = field(default=200_000, metadata=doc("refuse quenches longer than this"))

    def check(self, key: str) -> None:
        super().check(key)
        _check_md(key, (self.melt, self.final), self.melt_steps, 1, 0, self.timestep, name="melt")
        if not self.quench_rate > 0:
            raise ConfigError(f"{key}.quench_rate: expected > 0 K/s, got {self.quench_rate}")
        if self.snapshots < 1:
            raise ConfigError(f"{key}.snapshots: expected >= 1, got {self.snapshots}")
        n = quench_steps(self.melt, self.final, self.quench_rate, self.timestep)
        if n > self.max_steps:
            raise ConfigError(f"{key}.quench_rate: {self.quench_rate:g} K/s needs {n} steps of "
                              f"{self.timestep:g} fs (max_steps {self.max_steps}); raise the rate")

    def run(self, ctx: "_Context") -> list[Atoms]:
        with ctx.keyed():
            return amorphous_snapshots(self.parent(ctx.config), ctx.calculator, melt=self.melt,
                                       quench_rate=self.quench_rate, final=self.final,
                                       melt_steps=self.melt_steps, snapshots=self.snapshots,
                                       timestep=self.timestep, friction=self.friction, seed=ctx.seed,
                                       progress=ctx.progress, group=group_name(ctx.prefix, "amorphous"),
                                       min_distance_fraction=ctx.fraction)


def _check_md(key: str, temperatures: Sequence[float], steps: int, interval: int,
              equilibration: int, timestep: float, name: str = "temperatures") -> None:
    if any(not t > 0 for t in temperatures):
        raise ConfigError(f"{key}.{name}: expected temperatures > 0 K, got {list(temperatures)}")
    if steps < 0 or equilibration < 0:
        raise ConfigError(f"{key}.steps: expected non-negative step counts, got {steps}, {equilibration}")
    if interval < 1:
        raise ConfigError(f"{key}.interval: expected >= 1, got {interval}")
    if not 0 < timestep <= 10:
        raise ConfigError(f"{key}.timestep: expected 0 < timestep <= 10 fs, got {timestep}")


#: kind -> schema
GENERATORS: dict[str, type] = {
    "bulk": BulkGenerator, "eos": EOSGenerator, "strain": StrainGenerator,
    "rattle": RattleGenerator, "surface": SurfaceGenerator,
    "stacking_fault": StackingFaultGenerator, "vacancy": VacancyGenerator,
    "interstitial": InterstitialGenerator, "md": MDGenerator, "liquid": LiquidGenerator,
    "amorphous": AmorphousGenerator,
}
_NEEDS_CALCULATOR = ("md", "liquid", "amorphous")


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
        if g.kind in _NEEDS_CALCULATOR and config.calculator is None:
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
    return any(g.kind in _NEEDS_CALCULATOR for g in config.generators)


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
        structures = g.run(_Context(config, k, seed, calculator, progress))
        for atoms in structures:
            atoms.info["generator"] = k
        if progress is not None:
            progress(f"generators[{k}] {g.kind}: {len(structures)} structures")
        out.extend(structures)
    return out
