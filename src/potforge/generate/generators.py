"""The generator kinds of a ``potforge generate`` config: one schema per kind (its options,
checked when the config is read) that runs itself (:meth:`run`) on the parent crystal it
describes. :data:`GENERATORS` maps the ``kind`` names to them."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import numpy as np
from ase import Atoms

from ..core.config import doc
from ..core.crystals import check_lattice, reference_lattice
from ..core.errors import ConfigError
from ..core.voigt import VOIGT_NAMES
from .common import Progress, group_name, parent_crystal, tag
from .crystal import eos_structures, rattle_structures, strain_structures
from .defects import interstitial_structures, vacancy_structures
from .dynamics import amorphous_snapshots, liquid_snapshots, md_snapshots, quench_steps
from .planar import FAULT_SYSTEMS, stacking_fault_structures, surface_structures


class GenerationSettings(Protocol):
    """What generators read of the whole config (a
    :class:`~potforge.generate.configurations.GenerationConfig`)."""

    element: str
    min_distance: float
    lattice_constants: Mapping[str, float]

__all__ = ["GENERATORS", "NEEDS_CALCULATOR", "GeneratorContext", "BulkGenerator", "EOSGenerator",
           "StrainGenerator", "RattleGenerator", "SurfaceGenerator", "StackingFaultGenerator",
           "VacancyGenerator", "InterstitialGenerator", "MDGenerator", "LiquidGenerator",
           "AmorphousGenerator"]


@dataclass
class GeneratorContext:
    """What a generator's ``run`` receives: the whole config, its position k in the list, its
    own random stream, the calculator (MD generators), progress, and the group prefix."""

    config: GenerationSettings
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
            check_lattice(self.phase, f"{key}.phase", exact=True)
        if any(n < 1 for n in self.supercell):
            raise ConfigError(f"{key}.supercell: expected three positive integers, got {list(self.supercell)}")

    def parent(self, config: GenerationSettings, phase: str | None = None) -> Atoms:
        """The perfect crystal this generator starts from (lattice constants: the entry's,
        else the config's ``lattice_constants``, else ASE's reference)."""
        phase = phase or self.phase or reference_lattice(config.element)
        lc = config.lattice_constants
        a = self.a if self.a is not None else lc.get(phase)
        c = self.c if self.c is not None else (lc.get("hcp_c") if phase == "hcp" else None)
        return parent_crystal(config.element, phase, a=a, c=c, supercell=self.supercell, cubic=self.cubic)

    def run(self, ctx: "GeneratorContext") -> list[Atoms]:
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
            check_lattice(p, f"{key}.phases[{k}]", exact=True)

    def run(self, ctx: "GeneratorContext") -> list[Atoms]:
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

    def run(self, ctx: "GeneratorContext") -> list[Atoms]:
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

    def run(self, ctx: "GeneratorContext") -> list[Atoms]:
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

    def run(self, ctx: "GeneratorContext") -> list[Atoms]:
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

    def run(self, ctx: "GeneratorContext") -> list[Atoms]:
        phase = self.phase or reference_lattice(ctx.config.element)
        a = self.a if self.a is not None else ctx.config.lattice_constants.get(phase)
        out = surface_structures(ctx.config.element, phase, self.miller, layers=self.layers,
                                 vacuum=self.vacuum, a=a, c=self.c, size=self.size,
                                 min_distance_fraction=ctx.fraction)
        return _prefixed(out, ctx.prefix)


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

    def run(self, ctx: "GeneratorContext") -> list[Atoms]:
        phase = FAULT_SYSTEMS[self.system][0]
        a = self.a if self.a is not None else ctx.config.lattice_constants.get(phase)
        out = stacking_fault_structures(ctx.config.element, self.system, self.fractions,
                                        layers=self.layers, a=a, vacuum=self.vacuum, size=self.size,
                                        min_distance_fraction=ctx.fraction)
        return _prefixed(out, ctx.prefix)


@dataclass(frozen=True)
class VacancyGenerator(_Crystal):
    kind: Literal["vacancy"] = "vacancy"
    supercell: tuple[int, int, int] = (2, 2, 2)
    cubic: bool = True

    def run(self, ctx: "GeneratorContext") -> list[Atoms]:
        return vacancy_structures(self.parent(ctx.config), group=group_name(ctx.prefix, "vacancy"),
                                  min_distance_fraction=ctx.fraction)


@dataclass(frozen=True)
class InterstitialGenerator(_Crystal):
    kind: Literal["interstitial"] = "interstitial"
    site: tuple[Literal["octahedral", "tetrahedral"], ...] = field(
        default=("octahedral",), metadata=doc("octahedral and/or tetrahedral", scalar_ok=True))
    supercell: tuple[int, int, int] = (2, 2, 2)
    cubic: bool = True

    def run(self, ctx: "GeneratorContext") -> list[Atoms]:
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

    def run(self, ctx: "GeneratorContext") -> list[Atoms]:
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

    def run(self, ctx: "GeneratorContext") -> list[Atoms]:
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

    def run(self, ctx: "GeneratorContext") -> list[Atoms]:
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
#: kinds that run molecular dynamics and need a calculator
NEEDS_CALCULATOR = ("md", "liquid", "amorphous")


def _prefixed(structures: list[Atoms], prefix: str) -> list[Atoms]:
    """``structures`` with their groups put under the generator entry's ``prefix``."""
    for atoms in structures:
        atoms.info["group"] = f"{prefix}-{atoms.info['group']}"
    return structures
