"""The ``model:`` sections of 3G and 4G training without an n2p2 folder, and the descriptor
and electrostatic setup both builders share.

Both generations train in two runs (stage 1: the charge part, stage 2: the short-range
networks on the remainder of the fixed stage 1)::

    # stage 1 (loss: charge_sigma only)
    model:
      kind: hdnnp-3g                       # or hdnnp-4g
      stage: 1
      symmetry_functions:                  # as for kind hdnnp: preset grid, n2p2 lines or input.nn
        preset: {cutoff: 4.5 Å, n_radial: 8, n_angular: 4}
      scaling: {mode: scale}
      charge_network: {hidden: [15, 15], activation: t}   # 3G: charge networks
      electronegativity_network: {hidden: [15, 15]}      # 4G: χ networks
      gaussian_width: {H: 0.31, C: 0.76}   # Å; default: ase.data covalent radii
      screening: [2.5, 4.2]                # Å, inner and outer radius; default: none
      ewald_precision: 1.0e-8              # periodic cells: potforge's relative accuracy
      hardness: {H: 10, C: 10}             # 4G: initial J (eV/e²); or one number for all
    # stage 2 (loss: energy_sigma, force_sigma)
    model:
      kind: hdnnp-3g
      stage: 2
      stage1: run1/model                   # the saved stage-1 model (its functions, scaling,
      network: {hidden: [15, 15]}          #   charge part, electrostatics); the short-range nets

Stage 2 takes the symmetry functions, scaling and electrostatics of the saved stage-1 model
(both networks read the same functions, as in n2p2), so only ``network``, ``init``,
``output_scale`` and ``element_energies`` apply to it.

Gaussian widths: the default, the covalent radius of each element (``ase.data.covalent_radii``,
Cordero et al. 2008), is a choice of potforge (Ko et al. 2021 take the covalent radii as well;
n2p2 has no default).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from ase.data import atomic_numbers, covalent_radii

from ...core.config import doc
from ...core.errors import ConfigError
from ..building import BuildContext, resolve_species
from ..hdnnp.config import NetworkConfig, ScalingConfig, SymmetryFunctionsConfig
from ..potential import ENERGY_SCALE_RANGE
from .settings import MAX_HARDNESS, MAX_WIDTH, ElectrostaticSettings, EwaldSettings

__all__ = ["ChargeModelConfig", "HDNNP3GConfig", "descriptors_from_config", "electrostatics_from_config",
           "load_stage1", "network_spec", "set_remainder_offsets", "start_stage2", "widths_text"]


@dataclass(frozen=True)
class ChargeModelConfig:
    """Fields both charge generations share (stage 1 from potforge's own settings)."""

    species: tuple[str, ...] | None = field(default=None, metadata=doc(
        "element symbols (default: those in the training data, by atomic number)"))
    symmetry_functions: SymmetryFunctionsConfig | None = field(default=None, metadata=doc(
        "stage 1: as for kind hdnnp (default: the preset grid); stage 2 takes the stage-1 model's"))
    scaling: ScalingConfig = field(default_factory=ScalingConfig)
    network: NetworkConfig = field(default_factory=lambda: NetworkConfig((15, 15)), metadata=doc(
        "stage 2: the short-range networks"))
    gaussian_width: dict[str, float] | None = field(default=None, metadata=doc(
        "Gaussian charge width per element, Å (default: the covalent radius, ase.data)", unit="length"))
    screening: tuple[float, float] | None = field(default=None, metadata=doc(
        "inner and outer radius (Å) of the screening of the short-range electrostatics "
        "(n2p2 screen_electrostatics; default: none)", unit="length"))
    ewald_precision: float = field(default=1e-8, metadata=doc(
        "periodic cells: relative accuracy of the Ewald sums (potforge's own choice of the splitting)"))
    output_scale: float | None = field(default=None, metadata=doc(
        "stage 2: energy of one network output unit (default: std of the per-atom energy residuals)",
        unit="energy"))
    init: Literal["glorot", "uniform"] = "glorot"

    def check_own(self, key: str) -> None:
        for s, w in (self.gaussian_width or {}).items():
            if not (isinstance(w, (int, float)) and 0 < w <= MAX_WIDTH):
                raise ConfigError(f"{key}.gaussian_width.{s}: {w!r}; expected a width in (0, {MAX_WIDTH:g}] Å")
        if self.screening is not None:
            inner, outer = self.screening
            if not 0 <= inner < outer <= 100:
                raise ConfigError(f"{key}.screening: [{inner}, {outer}]; expected 0 <= inner < outer <= 100 Å")
        if not 0 < self.ewald_precision < 1:
            raise ConfigError(f"{key}.ewald_precision: {self.ewald_precision!r}; expected a number in (0, 1)")
        low, high = ENERGY_SCALE_RANGE
        if self.output_scale is not None and not low <= self.output_scale <= high:
            raise ConfigError(f"{key}.output_scale: expected an energy in [{low:g}, {high:g}] eV, got "
                              f"{self.output_scale}")

    def learnable_terms(self) -> tuple[str, ...]:
        """The loss terms this stage can learn: stage 1 fits charges only (no energy); the
        charges of stage 2 are those of its fixed stage-1 model (they do not depend on the
        short-range parameters), so it learns energies, forces and stress only."""
        return ("charge",) if getattr(self, "stage", 1) == 1 else ("energy", "force", "stress")

    def stage1_fields_given(self) -> list[str]:
        """The stage-1 settings this config states (stage 2 takes them from the stage-1 model)."""
        return [name for name in ("symmetry_functions", "gaussian_width", "screening")
                if getattr(self, name) is not None]


@dataclass(frozen=True)
class HDNNP3GConfig(ChargeModelConfig):
    stage: Literal[1, 2] = field(default=1, metadata=doc("1: charge networks; 2: short-range networks"))
    charge_network: NetworkConfig = field(default_factory=lambda: NetworkConfig((15, 15)), metadata=doc(
        "stage 1: the charge networks"))
    charge_scale: float | None = field(default=None, metadata=doc(
        "stage 1: charge of one network output unit, e (default: std of the reference charges)"))
    stage1: str | None = field(default=None, metadata=doc("stage 2: the saved stage-1 (hdnnp-3g) model"))

    def check(self, key: str) -> None:
        self.check_own(key)
        if self.charge_scale is not None and not 1e-6 <= self.charge_scale <= 100:
            raise ConfigError(f"{key}.charge_scale: {self.charge_scale!r}; expected a charge in [1e-06, 100] e")
        if self.stage == 2 and not self.stage1:
            raise ConfigError(f"{key}.stage1: stage 2 needs the saved stage-1 model (a directory)")
        if self.stage == 1 and self.stage1 is not None:
            raise ConfigError(f"{key}.stage1: only stage 2 takes a stage-1 model")
        if self.stage == 2 and self.stage1_fields_given():
            raise ConfigError(f"{key}.{self.stage1_fields_given()[0]}: stage 2 takes it from the stage-1 "
                              "model; remove it")


def network_spec(net: NetworkConfig, species: Sequence[str]) -> tuple[dict, dict, bool]:
    """Hidden sizes, n2p2 activation letters (linear output) and normalize of every element."""
    hidden = {s: list(net.hidden) for s in species}
    acts = {s: net.activation * len(net.hidden) + "l" for s in species}
    return hidden, acts, net.normalize


def descriptors_from_config(mc: ChargeModelConfig, ctx: BuildContext, facts: dict):
    """Species, symmetry functions (pruned on the training set as for kind hdnnp) and their
    scaling statistics of a stage-1 config."""
    from ..hdnnp.build import descriptors

    species = resolve_species(mc.species, ctx.train)
    sfs, scaling = descriptors(mc.symmetry_functions or SymmetryFunctionsConfig(), mc.scaling, species,
                               ctx, facts)
    return species, sfs, scaling


def electrostatics_from_config(mc: ChargeModelConfig, species: Sequence[str]) -> ElectrostaticSettings:
    """Gaussian widths (given, else covalent radii), screening (cosine core, as n2p2) and
    potforge's Ewald settings."""
    given = dict(mc.gaussian_width or {})
    unknown = sorted(set(given) - set(species))
    if unknown:
        raise ConfigError(f"model.gaussian_width.{unknown[0]}: not a model species; species: {', '.join(species)}")
    widths = {s: float(given[s]) if s in given else float(covalent_radii[atomic_numbers[s]]) for s in species}
    screening = (float(mc.screening[0]), float(mc.screening[1]), "c") if mc.screening else None
    return ElectrostaticSettings(widths, screening, EwaldSettings("potforge", mc.ewald_precision))


def initial_hardness(value: float | Mapping[str, float] | None, species: Sequence[str]) -> dict[str, float]:
    """``model.hardness``: one number for every element, per element, or 10 eV/e² (default)."""
    table = {s: 10.0 for s in species} if value is None else (
        {s: float(value) for s in species} if isinstance(value, (int, float)) else dict(value))
    for s in species:
        if s not in table:
            raise ConfigError(f"model.hardness: no value for {s}")
        if not (math.isfinite(table[s]) and abs(table[s]) <= MAX_HARDNESS):
            raise ConfigError(f"model.hardness.{s}: {table[s]!r}; expected a finite number within "
                              f"±{MAX_HARDNESS:g} eV/e²")
    return {s: float(table[s]) for s in species}


def load_stage1(ctx: BuildContext, path_text: str, kind: str, key: str) -> Any:
    """The saved stage-1 Potential of ``kind`` at ``path_text`` (a potforge model directory)."""
    from ..registry import load_potential

    path = ctx.path(path_text)
    if not (path / "model.json").is_file():
        raise ConfigError(f"{key}: {path} is not a saved potforge model (no model.json)")
    pot = load_potential(path)
    if getattr(pot, "kind", None) != kind:
        raise ConfigError(f"{key}: {path} holds a {pot.kind} model; expected {kind}")
    missing = [s for s in ctx.train.species if s not in pot.species]
    if missing:
        raise ConfigError(f"{key}: the stage-1 model has no {missing[0]}, which the training data holds")
    return pot


def set_remainder_offsets(model, stage1, frames, output_scale: float | None) -> dict[str, float]:
    """Element energies of ``model`` by least squares on composition of E_ref − E_elec (E_elec:
    the stage-1 Potential's energy, no forces needed), the mean per-atom residual as its global
    offset and the residuals' spread as its output scale unless ``output_scale`` is given."""
    import numpy as np

    from ...core.lazy import torch

    species = list(model.species)
    rows, rhs, n_atoms = [], [], []
    for frame in frames:
        if frame.energy is None:
            continue
        symbols = frame.atoms.get_chemical_symbols()
        rows.append([symbols.count(s) for s in species])
        rhs.append(frame.energy - stage1.predict(frame.atoms, forces=False, stress=False).energy)
        n_atoms.append(len(symbols))
    if rows:
        comp, rhs, n_atoms = np.array(rows, dtype=float), np.array(rhs), np.array(n_atoms)
        ref = np.linalg.lstsq(comp, rhs, rcond=None)[0]
        residual = (rhs - comp @ ref) / n_atoms
        model.element_energies = torch.tensor(ref, dtype=torch.float64)
        model.mean_energy = float(residual.mean())
        spread = float(residual.std(ddof=1)) if len(residual) > 1 else 0.0
        if output_scale is None and spread > 1e-6:
            model.output_scale = spread
    if output_scale is not None:
        model.output_scale = float(output_scale)
    return {s: float(model.element_energies[e]) for e, s in enumerate(species)}


def start_stage2(ctx: BuildContext, model, stage1, generator, generation: str) -> tuple[Any, dict[str, Any]]:
    """A freshly built stage-2 model initialised (``model.init``), its offsets fitted to
    E_ref − E_elec of the stage-1 Potential (:func:`set_remainder_offsets`), logged; with the
    build facts."""
    model.initialize(generator, ctx.model.init)
    ref = set_remainder_offsets(model, stage1, ctx.train, ctx.model.output_scale)
    ctx.log(f"{generation} stage 2: short-range networks {model.layout.n_parameters} parameters; output scale "
            f"{model.output_scale:.4g} eV (offsets fitted to E_ref − E_elec)")
    return model, {"stage": 2, "element_energies_ev": ref, "output_scale_ev": model.output_scale}


def widths_text(electrostatics: ElectrostaticSettings) -> str:
    """The Gaussian widths for a build log line."""
    return "Gaussian widths " + ", ".join(f"{s} {w:.3f} Å" for s, w in electrostatics.widths.items())
