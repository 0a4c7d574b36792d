"""The ``model:`` section of a 2G HDNNP training config (``kind: hdnnp``).

::

    model:
      kind: hdnnp
      species: [Cu]                        # default: the training data's, by atomic number
      symmetry_functions:                  # one of n2p2 lines, an input.nn file, or a preset grid
        preset: {cutoff: 5.0 Å, n_radial: 8, n_angular: 4}
        prune: {enabled: true}             # drop near-constant and strongly correlated functions
      scaling: {mode: scale}
      network: {hidden: [16, 16], activation: t}
      networks: {O: {hidden: [20, 20]}}    # per-element overrides
      element_energies: fit                # least squares on composition, zero, or {El: eV}
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from ...core.config import doc
from ...core.dtypes import DTYPES
from ...core.errors import ConfigError
from ...descriptors.cutoffs import CUTOFF_TYPES, check_cutoff_alpha, cutoff_type_index
from ...descriptors.presets import preset
from ...descriptors.scaling import MAX_SCALED
from ..network import check_activation
from ..potential import ENERGY_SCALE_RANGE, MAX_ENERGY_PER_ATOM

__all__ = ["PresetConfig", "PruneConfig", "SymmetryFunctionsConfig", "ScalingConfig",
           "NetworkConfig", "HDNNPConfig"]


@dataclass(frozen=True)
class PresetConfig:
    """Grids of radial and angular functions for every element combination
    (:func:`potforge.descriptors.presets.preset`)."""

    cutoff: float = field(default=5.0, metadata=doc("cutoff radius (plain numbers: Å)", unit="length"))
    n_radial: int = field(default=8, metadata=doc("radial functions per element pair"))
    n_angular: int = field(default=4, metadata=doc("angular widths per element triple"))
    radial_mode: Literal["shifted", "centered"] = "shifted"
    shift_spacing: Literal["linear", "geometric"] = "linear"
    angular_kind: Literal["wide", "narrow"] = "wide"
    zetas: tuple[float, ...] = (1.0, 2.0, 4.0, 16.0)
    lambdas: tuple[float, ...] = (-1.0, 1.0)
    r_min: float = field(default=0.5, metadata=doc("smallest radial grid distance", unit="length"))
    angular_r_min: float = field(default=1.5, metadata=doc("smallest angular grid distance", unit="length"))
    neighbors: float | None = field(default=None, metadata=doc(
        "choose the cutoff from the training data: the smallest radius (0.1 Å steps, at most 8 Å) "
        "within which atoms have this many neighbours on average. When set, cutoff is ignored (even "
        "when given explicitly); the chosen radius is logged and recorded in summary.json as cutoff"))

    def check(self, key: str) -> None:
        """The grid's own checks (cutoff > 0, r_min < cutoff, counts, ζ ≥ 1, λ = ±1), run on a
        stand-in element so that a bad preset fails when the config is read."""
        if self.neighbors is not None and not (math.isfinite(self.neighbors) and 1 <= self.neighbors <= 1000):
            raise ConfigError(f"{key}.neighbors: expected a mean neighbour count in [1, 1000], got "
                              f"{self.neighbors}")
        try:
            self.functions(("H",))
        except ConfigError as err:
            raise ConfigError(f"{key}: {err.reason}") from None

    def functions(self, species, cutoff_type: str | int = "poly2", cutoff_alpha: float = 0.0):
        """The :class:`~potforge.descriptors.symmetry_functions.SymmetryFunctionSet` of this grid."""
        return preset(species, self.cutoff, n_radial=self.n_radial, n_angular=self.n_angular,
                      radial_mode=self.radial_mode, shift_spacing=self.shift_spacing,
                      angular_kind=self.angular_kind, zetas=self.zetas, lambdas=self.lambdas,
                      r_min=self.r_min, angular_r_min=self.angular_r_min,
                      cutoff_type=cutoff_type, cutoff_alpha=cutoff_alpha)


@dataclass(frozen=True)
class PruneConfig:
    enabled: bool = True
    min_range: float = field(default=1e-3, metadata=doc(
        "drop functions whose range over the training set is below this (raw values)"))
    min_relative_range: float = field(default=1e-4, metadata=doc(
        "... or below this fraction of their mean absolute value"))
    max_correlation: float = field(default=0.999, metadata=doc(
        "drop the later of two functions correlated more strongly than this"))

    def check(self, key: str) -> None:
        for name in ("min_range", "min_relative_range"):
            if not 0 <= getattr(self, name) < math.inf:
                raise ConfigError(f"{key}.{name}: expected a finite number >= 0, got {getattr(self, name)}")
        if not 0 < self.max_correlation <= 1:
            raise ConfigError(f"{key}.max_correlation: expected a correlation in (0, 1], got "
                              f"{self.max_correlation}")


@dataclass(frozen=True)
class SymmetryFunctionsConfig:
    n2p2: tuple[str, ...] | None = field(default=None, metadata=doc(
        "n2p2 symfunction_short lines: '<element> <type> <parameters>'"))
    file: str | None = field(default=None, metadata=doc("an n2p2 input.nn whose symfunction_short lines to use"))
    length_unit: str = field(default="angstrom", metadata=doc("length unit of n2p2 lines or file"))
    cutoff_type: str | int | None = field(default=None, metadata=doc(
        "cutoff function: name or n2p2 number (default: the file's cutoff_type, else poly2 = "
        "n2p2 type 6, where f, f', f'' vanish at r_c)"))
    cutoff_alpha: float | None = field(default=None, metadata=doc(
        "inner cutoff fraction (default: the file's, else 0)"))
    preset: PresetConfig | None = field(default=None, metadata=doc("generated radial/angular grids"))
    prune: PruneConfig = field(default_factory=PruneConfig)

    def check(self, key: str) -> None:
        given = [n for n in ("n2p2", "file", "preset") if getattr(self, n) is not None]
        if len(given) > 1:
            raise ConfigError(f"{key}: give one of n2p2, file, preset (got {', '.join(given)})")
        if self.cutoff_type is not None:
            try:
                cutoff_type_index(self.cutoff_type)
            except (ValueError, KeyError):
                raise ConfigError(f"{key}.cutoff_type: {self.cutoff_type!r} is not a cutoff; expected "
                                  f"one of {', '.join(CUTOFF_TYPES)} or their n2p2 numbers 0-8") from None
        if self.cutoff_alpha is not None:
            try:
                check_cutoff_alpha(self.cutoff_alpha)
            except ValueError as err:
                raise ConfigError(f"{key}.cutoff_alpha: {err}") from None


@dataclass(frozen=True)
class ScalingConfig:
    mode: Literal["none", "scale", "center", "scalecenter", "scalesigma"] = "scale"
    min: float = 0.0
    max: float = 1.0

    def check(self, key: str) -> None:
        if not -MAX_SCALED <= self.min < self.max <= MAX_SCALED:
            raise ConfigError(f"{key}: min ({self.min}) must be below max ({self.max}), both finite "
                              f"within ±{MAX_SCALED:g}")


@dataclass(frozen=True)
class NetworkConfig:
    hidden: tuple[int, ...] = (16, 16)
    activation: str = field(default="t", metadata=doc(
        "n2p2 letter of the hidden layers (t tanh, s logistic, p softplus, r relu, ...); output is linear"))
    normalize: bool = False

    def check(self, key: str) -> None:
        check_activation(self.activation, f"{key}.activation")
        if not self.hidden or any(n < 1 for n in self.hidden):
            raise ConfigError(f"{key}.hidden: expected a non-empty list of positive layer sizes, "
                              f"got {list(self.hidden)}")


@dataclass(frozen=True)
class HDNNPConfig:
    species: tuple[str, ...] | None = field(default=None, metadata=doc(
        "element symbols (default: those in the training data, by atomic number)"))
    symmetry_functions: SymmetryFunctionsConfig = field(default_factory=SymmetryFunctionsConfig)
    scaling: ScalingConfig = field(default_factory=ScalingConfig)
    network: NetworkConfig = field(default_factory=NetworkConfig)
    networks: dict[str, NetworkConfig] = field(default_factory=dict, metadata=doc(
        "per-element overrides of network"))
    init: Literal["glorot", "uniform"] = "glorot"
    output_scale: float | None = field(default=None, metadata=doc(
        "energy of one network output unit (default: std of the per-atom energy residuals)", unit="energy"))
    element_energies: Literal["fit", "zero"] | dict[str, float] = field(default="fit", metadata=doc(
        "per-element reference energies: least squares on composition, zero, or given (eV)"))
    dtype: Literal[DTYPES] = "float64"
    cache_dtype: Literal[DTYPES] = field(default="float64", metadata=doc(
        "storage of the cached symmetry-function derivatives (float32 halves the memory)"))

    def check_networks(self, species: Sequence[str], key: str = "model") -> None:
        """Every per-element network names a species of the model (checked when the config
        is read if it lists the species, else when the data have given them)."""
        unknown = [k for k in self.networks if k not in species]
        if unknown:
            raise ConfigError(f"{key}.networks.{unknown[0]}: not a model species; species: "
                              f"{', '.join(species)}")

    def check(self, key: str) -> None:
        low, high = ENERGY_SCALE_RANGE
        if self.output_scale is not None and not low <= self.output_scale <= high:
            raise ConfigError(f"{key}.output_scale: expected an energy in [{low:g}, {high:g}] eV, got "
                              f"{self.output_scale}")
        if isinstance(self.element_energies, dict):
            for element, value in self.element_energies.items():
                if not abs(value) <= MAX_ENERGY_PER_ATOM:
                    raise ConfigError(f"{key}.element_energies.{element}: expected a finite energy "
                                      f"within ±{MAX_ENERGY_PER_ATOM:g} eV, got {value}")
        if self.species is not None:
            self.check_networks(self.species, key)
