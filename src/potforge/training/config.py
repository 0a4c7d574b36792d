"""The training configuration: one YAML file validated once into frozen, typed sections.

::

    data:      train/validation/test files (or fractions split by group), units
    model:     kind (registered name) and its options — for ``hdnnp``: species, symmetry
               functions (n2p2 lines, an input.nn, or a preset grid), pruning, scaling,
               network sizes and activations, initialisation, energy offsets, dtypes
    loss:      noise levels σ_E, σ_F, σ_S (MLE weights 1/σ²) or explicit weights, stress
               components, per-config_type weights; ``noise_file`` takes the levels that
               ``potforge converge`` measured (its noise.yaml)
    training:  optimizer (registered name and its options), epochs, time limit, patience,
               L2 strength, seed, threads

Every key has a default that works except ``data.train``. Paths are relative to the config
file. :func:`load_config` reads YAML (with ``--set`` overrides); :func:`training_config`
validates a mapping; :func:`potforge.core.config.to_plain` gives back the resolved mapping,
which is saved with every model.
"""

from __future__ import annotations

import inspect
import os
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ..core.config import apply_overrides, build, convert, load_yaml, unknown_key_error
from ..core.errors import ConfigError
from .loss import STRESS_COMPONENTS

__all__ = ["DataConfig", "SymmetryFunctionsConfig", "PresetConfig", "PruneConfig", "ScalingConfig",
           "NetworkConfig", "HDNNPConfig", "MolecularConfig", "LossConfig", "TrainingConfig", "Config",
           "training_config", "load_config", "MODEL_CONFIGS", "register_model_config",
           "optimizer_options"]



def _doc(text: str, **extra: Any) -> dict:
    return {"doc": text, **extra}


@dataclass(frozen=True)
class DataConfig:
    train: tuple[str, ...] = field(default=(), metadata=_doc(
        "training data: a file or a list of files (extxyz, n2p2 input.data, ASE .db)", scalar_ok=True))
    validation: tuple[str, ...] | None = field(default=None, metadata=_doc(
        "validation files; if absent, validation_fraction of the training groups", scalar_ok=True))
    test: tuple[str, ...] | None = field(default=None, metadata=_doc(
        "test files, evaluated once at the end; if absent, test_fraction of the groups", scalar_ok=True))
    validation_fraction: float = field(default=0.1, metadata=_doc("held out by group for early stopping"))
    test_fraction: float = field(default=0.0, metadata=_doc("held out by group for the final test"))
    split_seed: int = 0
    length_unit: str = field(default="angstrom", metadata=_doc("unit of lengths in the files"))
    energy_unit: str = field(default="ev", metadata=_doc("unit of energies in the files"))
    format: str | None = field(default=None, metadata=_doc("file format (default: from the name)"))

    def check(self, key: str) -> None:
        if not self.train:
            raise ConfigError(f"{key}.train: missing; name the training data, e.g. train: train.xyz")
        for name in ("validation_fraction", "test_fraction"):
            v = getattr(self, name)
            if not 0 <= v < 1:
                raise ConfigError(f"{key}.{name}: expected a fraction in [0, 1), got {v}")
        if (self.validation is None and self.validation_fraction) + \
                (self.test is None and self.test_fraction) >= 1:
            raise ConfigError(f"{key}: validation_fraction + test_fraction leave no training data")
        from ..core.units import energy_factor, length_factor

        length_factor(self.length_unit, f"{key}.length_unit")
        energy_factor(self.energy_unit, f"{key}.energy_unit")


@dataclass(frozen=True)
class PresetConfig:
    """Grids of radial and angular functions for every element combination
    (:func:`potforge.descriptors.presets.preset`)."""

    cutoff: float = field(default=5.0, metadata=_doc("cutoff radius (plain numbers: Å)", unit="length"))
    n_radial: int = field(default=8, metadata=_doc("radial functions per element pair"))
    n_angular: int = field(default=4, metadata=_doc("angular widths per element triple"))
    radial_mode: Literal["shifted", "centered"] = "shifted"
    shift_spacing: Literal["linear", "geometric"] = "linear"
    angular_kind: Literal["wide", "narrow"] = "wide"
    zetas: tuple[float, ...] = (1.0, 2.0, 4.0, 16.0)
    lambdas: tuple[float, ...] = (-1.0, 1.0)
    r_min: float = field(default=0.5, metadata=_doc("smallest radial grid distance", unit="length"))
    angular_r_min: float = field(default=1.5, metadata=_doc("smallest angular grid distance", unit="length"))


@dataclass(frozen=True)
class PruneConfig:
    enabled: bool = True
    min_range: float = field(default=1e-3, metadata=_doc(
        "drop functions whose range over the training set is below this (raw values)"))
    min_relative_range: float = field(default=1e-4, metadata=_doc(
        "... or below this fraction of their mean absolute value"))
    max_correlation: float = field(default=0.999, metadata=_doc(
        "drop the later of two functions correlated more strongly than this"))


@dataclass(frozen=True)
class SymmetryFunctionsConfig:
    n2p2: tuple[str, ...] | None = field(default=None, metadata=_doc(
        "n2p2 symfunction_short lines: '<element> <type> <parameters>'"))
    file: str | None = field(default=None, metadata=_doc("an n2p2 input.nn whose symfunction_short lines to use"))
    length_unit: str = field(default="angstrom", metadata=_doc("length unit of n2p2 lines or file"))
    cutoff_type: str | int | None = field(default=None, metadata=_doc(
        "cutoff function: name or n2p2 number (default: the file's cutoff_type, else poly2 = "
        "n2p2 type 6, where f, f', f'' vanish at r_c)"))
    cutoff_alpha: float | None = field(default=None, metadata=_doc(
        "inner cutoff fraction (default: the file's, else 0)"))
    preset: PresetConfig | None = field(default=None, metadata=_doc("generated radial/angular grids"))
    prune: PruneConfig = field(default_factory=PruneConfig)

    def check(self, key: str) -> None:
        given = [n for n in ("n2p2", "file", "preset") if getattr(self, n) is not None]
        if len(given) > 1:
            raise ConfigError(f"{key}: give one of n2p2, file, preset (got {', '.join(given)})")
        if self.cutoff_type is not None:
            from ..descriptors.cutoffs import CUTOFF_TYPES, cutoff_type_index

            try:
                cutoff_type_index(self.cutoff_type)
            except (ValueError, KeyError):
                raise ConfigError(f"{key}.cutoff_type: {self.cutoff_type!r} is not a cutoff; expected "
                                  f"one of {', '.join(CUTOFF_TYPES)} or their n2p2 numbers 0-8") from None


@dataclass(frozen=True)
class ScalingConfig:
    mode: Literal["none", "scale", "center", "scalecenter", "scalesigma"] = "scale"
    min: float = 0.0
    max: float = 1.0

    def check(self, key: str) -> None:
        if not self.min < self.max:
            raise ConfigError(f"{key}: min ({self.min}) must be below max ({self.max})")


@dataclass(frozen=True)
class NetworkConfig:
    hidden: tuple[int, ...] = (16, 16)
    activation: str = field(default="t", metadata=_doc(
        "n2p2 letter of the hidden layers (t tanh, s logistic, p softplus, r relu, ...); output is linear"))
    normalize: bool = False

    def check(self, key: str) -> None:
        _check_activation(self.activation, f"{key}.activation")
        if not self.hidden or any(n < 1 for n in self.hidden):
            raise ConfigError(f"{key}.hidden: expected a non-empty list of positive layer sizes, "
                              f"got {list(self.hidden)}")


def _check_activation(letter: str, key: str) -> None:
    from ..models.hdnnp.network import ACTIVATIONS

    if len(letter) != 1 or letter not in ACTIVATIONS:
        raise ConfigError(f"{key}: {letter!r} is not an n2p2 activation letter; expected one of "
                          f"{', '.join(ACTIVATIONS)} (t tanh, s logistic, p softplus, r ReLU, ...)")


@dataclass(frozen=True)
class HDNNPConfig:
    species: tuple[str, ...] | None = field(default=None, metadata=_doc(
        "element symbols (default: those in the training data, by atomic number)"))
    symmetry_functions: SymmetryFunctionsConfig = field(default_factory=SymmetryFunctionsConfig)
    scaling: ScalingConfig = field(default_factory=ScalingConfig)
    network: NetworkConfig = field(default_factory=NetworkConfig)
    networks: dict[str, NetworkConfig] = field(default_factory=dict, metadata=_doc(
        "per-element overrides of network"))
    init: Literal["glorot", "uniform"] = "glorot"
    output_scale: float | None = field(default=None, metadata=_doc(
        "energy of one network output unit (default: std of the per-atom energy residuals)", unit="energy"))
    element_energies: Literal["fit", "zero"] | dict[str, float] = field(default="fit", metadata=_doc(
        "per-element reference energies: least squares on composition, zero, or given (eV)"))
    dtype: Literal["float64", "float32"] = "float64"
    cache_dtype: Literal["float64", "float32"] = field(default="float64", metadata=_doc(
        "storage of the cached symmetry-function derivatives (float32 halves the memory)"))


@dataclass(frozen=True)
class MolecularConfig:
    """1G: one network over the interatomic distances of a fixed molecule
    (:class:`potforge.training.models.molecular.TrainableMolecularNetwork`)."""

    symbols: tuple[str, ...] | None = field(default=None, metadata=_doc(
        "the molecule's atoms, e.g. [O, H, H] (default: those of the first training frame)"))
    hidden: tuple[int, ...] = (20, 20)
    activation: str = "t"
    coordinates: Literal["morse", "inverse", "distance"] = field(default="morse", metadata=_doc(
        "distance transform: exp(-r/length), length/r, or r/length"))
    length: float = field(default=1.0, metadata=_doc("length of the transform", unit="length"))
    init: Literal["glorot", "uniform"] = "glorot"
    dtype: Literal["float64", "float32"] = "float64"

    def check(self, key: str) -> None:
        _check_activation(self.activation, f"{key}.activation")
        if not self.length > 0:
            raise ConfigError(f"{key}.length: expected a positive length, got {self.length}")


@dataclass(frozen=True)
class ClassicalConfig:
    """Pair, EAM, Tersoff and Stillinger–Weber models (see
    :mod:`potforge.models.classical.spec` for the form and parameter syntax)."""

    kind: typing.ClassVar[str] = "classical"
    species: tuple[str, ...] | None = field(default=None, metadata=_doc(
        "element symbols (default: those the forms name, ordered by atomic number)"))
    cutoff: float | None = field(default=None, metadata=_doc("interaction range (pair, eam)", unit="length"))
    smooth_width: float = field(default=1.0, metadata=_doc(
        "width of the smooth switch below the cutoff (pair, eam)", unit="length"))
    pair: dict[str, Any] = field(default_factory=dict, metadata=_doc(
        "per element pair A-B: {form: morse|lj|buckingham|exponential|zhou_pair|spline, parameters}"))
    density: dict[str, Any] = field(default_factory=dict, metadata=_doc(
        "eam, per element: {form: exponential|zhou_density|spline|…, parameters}"))
    embedding: dict[str, Any] = field(default_factory=dict, metadata=_doc(
        "eam, per element: {form: fs|universal|spline, parameters}"))
    parameters: dict[str, Any] = field(default_factory=dict, metadata=_doc(
        "tersoff, sw: per element triplet A-B-C, the LAMMPS keys and values"))
    fix: tuple[str, ...] = field(default=(), metadata=_doc(
        "parameters held fixed: full names (pair.Cu-Cu.r0) or keys (R, D)"))
    element_energies: Literal["fit", "zero"] | dict[str, float] = field(default="fit", metadata=_doc(
        "per-element reference energies: least squares on composition, zero, or given (eV)"))

    def spec(self) -> dict:
        """The keys of this kind for :func:`potforge.models.classical.spec.potential_from_spec`
        (keys of other kinds must be absent or empty)."""
        if self.kind in ("tersoff", "sw"):
            for name in ("cutoff", "pair", "density", "embedding"):
                if getattr(self, name):
                    raise ConfigError(f"model.{name}: not a key of a {self.kind} model (its cutoff "
                                      "and forms follow from model.parameters)")
            return {"parameters": self.parameters, "fix": list(self.fix)}
        if self.parameters:
            raise ConfigError(f"model.parameters: not a key of a {self.kind} model (give forms "
                              "under pair/density/embedding)")
        out = {"cutoff": self.cutoff, "smooth_width": self.smooth_width, "pair": self.pair,
               "fix": list(self.fix)}
        if self.kind == "eam":
            out.update(density=self.density, embedding=self.embedding)
        elif self.density or self.embedding:
            raise ConfigError("model.density/embedding: only an eam model has them")
        return out

    def named_species(self) -> tuple[str, ...] | None:
        """The species the forms name (None if they name none)."""
        if self.species is not None:
            return tuple(self.species)
        names: list[str] = []
        for key in (*self.pair, *self.density, *self.embedding, *self.parameters):
            for part in str(key).split("-"):
                if part not in names:
                    names.append(part)
        if not names:
            return None
        from ase.data import atomic_numbers

        bad = [n for n in names if n not in atomic_numbers]
        if bad:
            raise ConfigError(f"model: {bad[0]!r} (in a pair/element/triplet name) is not an element symbol")
        return tuple(sorted(names, key=lambda s: atomic_numbers[s]))

    def check(self, key: str) -> None:
        species = self.named_species()
        if species is None:
            raise ConfigError(f"{key}: a {self.kind} model needs its forms or parameters")
        from ..models.classical.spec import potential_from_spec

        potential_from_spec(self.kind, self.spec(), species, key=key)


def _classical_schema(kind: str) -> type:
    return dataclass(frozen=True)(type(f"{kind.capitalize()}Config", (ClassicalConfig,), {
        "kind": kind, "__doc__": ClassicalConfig.__doc__, "__annotations__": {}}))


#: model kind -> its config schema
MODEL_CONFIGS: dict[str, type] = {"hdnnp": HDNNPConfig, "hdnnp-1g": MolecularConfig,
                                  **{k: _classical_schema(k) for k in ("pair", "eam", "tersoff", "sw")}}


def register_model_config(kind: str, schema: type) -> None:
    MODEL_CONFIGS[kind] = schema


@dataclass(frozen=True)
class LossConfig:
    energy_sigma: float | None = field(default=1e-3, metadata=_doc(
        "noise of energies per atom (plain numbers: eV/atom); null: do not fit energies", unit="energy_per_atom"))
    force_sigma: float | None = field(default=0.02, metadata=_doc(
        "noise of force components (plain numbers: eV/Å); null: do not fit forces", unit="force"))
    stress_sigma: float | None = field(default=None, metadata=_doc(
        "noise of stress components (plain numbers: GPa); null: do not fit stress", unit="stress"))
    stress_components: tuple[str, ...] = field(default=STRESS_COMPONENTS, metadata=_doc(
        "Voigt components that enter the loss (e.g. [xx, yy, zz] to leave out shear)"))
    config_type_weights: dict[str, float] = field(default_factory=dict, metadata=_doc(
        "extra weight factor per config_type"))

    def check(self, key: str) -> None:
        for c in self.stress_components:
            if c not in STRESS_COMPONENTS:
                raise ConfigError(f"{key}.stress_components: {c!r} is not one of {', '.join(STRESS_COMPONENTS)}")
        if self.energy_sigma is None and self.force_sigma is None and self.stress_sigma is None:
            raise ConfigError(f"{key}: every term is switched off; give at least one of energy_sigma, "
                              "force_sigma, stress_sigma")
        for name, v in self.config_type_weights.items():
            if not v >= 0:
                raise ConfigError(f"{key}.config_type_weights.{name}: expected a weight >= 0, got {v}")


@dataclass(frozen=True)
class TrainingConfig:
    optimizer: dict[str, Any] = field(default_factory=lambda: {"kind": "kalman"}, metadata=_doc(
        "kind (kalman, adam, lbfgs; lsq, lbfgsb for classical models, lsq their default) and its options"))
    epochs: int = 30
    max_time: float | None = field(default=None, metadata=_doc("wall-time limit (plain numbers: s)", unit="time"))
    patience: int | None = field(default=None, metadata=_doc("stop after this many epochs without a better validation loss"))
    l2: float = field(default=0.0, metadata=_doc("L2 strength λ (prior precision on network weights)"))
    seed: int = 0
    threads: int = field(default=0, metadata=_doc("threads (0: all cores)"))
    checkpoint: bool = True

    def check(self, key: str) -> None:
        if self.epochs < 0:
            raise ConfigError(f"{key}.epochs: expected >= 0, got {self.epochs}")
        if self.l2 < 0:
            raise ConfigError(f"{key}.l2: expected >= 0, got {self.l2}")
        if self.threads < 0:
            raise ConfigError(f"{key}.threads: expected >= 0 (0: all cores), got {self.threads}")
        if self.patience is not None and self.patience < 1:
            raise ConfigError(f"{key}.patience: expected >= 1 (or null: no early stopping), got {self.patience}")
        if self.max_time is not None and not self.max_time > 0:
            raise ConfigError(f"{key}.max_time: expected a positive time, got {self.max_time}")
        kind, options = optimizer_options(self.optimizer, f"{key}.optimizer")
        from .optimizers import OPTIMIZERS

        try:
            OPTIMIZERS[kind](**options)  # the optimizers check their own option values
        except ConfigError:
            raise
        except (ValueError, TypeError) as err:
            raise ConfigError(f"{key}.optimizer: {err}") from None


@dataclass(frozen=True)
class Config:
    """A validated training configuration (``model`` is the schema of its kind)."""

    data: DataConfig
    model: Any
    loss: LossConfig = field(default_factory=LossConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)
    model_kind: str = "hdnnp"
    base_dir: str = "."

    def plain(self) -> dict:
        """The resolved config as plain data (reads back to the same Config)."""
        from ..core.config import to_plain

        data = to_plain(self.data)
        for name in ("train", "validation", "test"):
            if data[name] is not None:
                data[name] = [os.fspath(self.path(p)) for p in data[name]]
        model = to_plain(self.model)
        sf = model.get("symmetry_functions")
        if isinstance(sf, dict) and sf.get("file"):
            sf["file"] = os.fspath(self.path(sf["file"]))
        return {"data": data, "model": {"kind": self.model_kind, **model},
                "loss": to_plain(self.loss), "training": to_plain(self.training)}

    def path(self, name: str) -> Path:
        p = Path(os.path.expanduser(name))
        return p if p.is_absolute() else Path(self.base_dir) / p


def optimizer_options(raw: Mapping[str, Any], key: str) -> tuple[str, dict]:
    """Validate ``{kind: ..., options...}`` against the registered optimizer's constructor."""
    from .optimizers import OPTIMIZERS

    if not isinstance(raw, Mapping):
        raise ConfigError(f"{key}: expected a mapping such as {{kind: kalman}}")
    kind = raw.get("kind", "kalman")
    if kind not in OPTIMIZERS:
        from ..core.config import nearest

        guess = nearest(str(kind), list(OPTIMIZERS))
        hint = f" (did you mean '{guess}'?)" if guess else ""
        raise ConfigError(f"{key}.kind: {kind!r} is not an optimizer{hint}; expected one of "
                          f"{', '.join(sorted(OPTIMIZERS))}")
    cls = OPTIMIZERS[kind]
    params = {n: p for n, p in inspect.signature(cls.__init__).parameters.items()
              if n != "self" and p.kind is inspect.Parameter.KEYWORD_ONLY}
    hints = typing.get_type_hints(cls.__init__)
    out = {}
    for name, value in raw.items():
        if name == "kind":
            continue
        if name not in params:
            raise unknown_key_error(key, str(name), ["kind", *params])
        out[name] = convert(hints.get(name, Any), value, f"{key}.{name}")
    return kind, out


def _loss_with_noise_file(raw: Any, base_dir: str | os.PathLike) -> Any:
    """``loss.noise_file: al-converge/noise.yaml`` (written by ``potforge converge``): its
    ``loss`` mapping gives the defaults (the measured noise levels); keys beside it win."""
    if not isinstance(raw, Mapping) or "noise_file" not in raw:
        return raw
    raw = dict(raw)
    name = raw.pop("noise_file")
    path = Path(base_dir) / str(name)
    if not path.is_file():
        raise ConfigError(f"loss.noise_file: {path}: no such file; expected the noise.yaml that "
                          "potforge converge writes")
    measured = load_yaml(path)
    section = measured.get("loss") if isinstance(measured, Mapping) else None
    allowed = ("energy_sigma", "force_sigma", "stress_sigma")
    if not isinstance(section, Mapping):
        raise ConfigError(f"loss.noise_file: {path}: expected a mapping 'loss:' with "
                          f"{', '.join(allowed)}")
    for key in section:
        if key not in allowed:   # a typo there would otherwise be blamed on the config itself
            raise ConfigError(f"loss.noise_file: {path}: key loss.{key} is not one of "
                              f"{', '.join(allowed)}")
    return {**section, **raw}


def training_config(raw: Mapping[str, Any], *, base_dir: str | os.PathLike = ".") -> Config:
    """Validate a raw mapping (as read from YAML) into a :class:`Config`."""
    if not isinstance(raw, Mapping):
        raise ConfigError("config: expected a mapping with data, model, loss, training")
    sections = ("data", "model", "loss", "training")
    for name in raw:
        if name not in sections:
            raise unknown_key_error("", str(name), sections)
    model_raw = dict(raw.get("model") or {})
    kind = model_raw.pop("kind", "hdnnp")
    if kind not in MODEL_CONFIGS:
        raise ConfigError(f"model.kind: {kind!r} is not a trainable model; expected one of "
                          f"{', '.join(sorted(MODEL_CONFIGS))}")
    training_raw = dict(raw.get("training") or {})
    if issubclass(MODEL_CONFIGS[kind], ClassicalConfig):
        # a few parameters: one least-squares solve to convergence is the natural default
        training_raw.setdefault("optimizer", {"kind": "lsq"})
        training_raw.setdefault("epochs", 1)
    config = Config(data=build(DataConfig, raw.get("data"), "data"),
                    model=build(MODEL_CONFIGS[kind], model_raw, "model"),
                    loss=build(LossConfig, _loss_with_noise_file(raw.get("loss"), base_dir), "loss"),
                    training=build(TrainingConfig, training_raw, "training"),
                    model_kind=kind, base_dir=os.fspath(Path(base_dir).resolve()))
    return config


def load_config(path: str | os.PathLike, overrides: Sequence[str] = ()) -> Config:
    """Read a YAML training config, apply ``key=value`` overrides, validate."""
    raw = apply_overrides(load_yaml(path), overrides)
    return training_config(raw, base_dir=Path(path).resolve().parent)
