"""The training configuration: one YAML file validated once into frozen, typed sections.

::

    data:      train/validation/test files (or fractions split by group), units
    model:     kind (a registered family's name) and its options, validated by the schema
               the family registers (``potforge.models.<family>.config``)
    loss:      noise levels σ_E, σ_F, σ_S (MLE weights 1/σ²) or explicit weights, stress
               components, per-config_type weights; ``noise_file`` takes the levels that
               ``potforge converge`` measured (its noise.yaml)
    training:  optimizer (registered name and its options), epochs, time limit, patience,
               L2 strength, seed, threads
    baselines: physical baselines subtracted from the labels and saved with the model
               (``- {kind: zbl, inner: 1.0, outer: 2.0}``, ``- {kind: d3, method: pbe}``)

Every key has a default that works except ``data.train``. Paths are relative to the config
file. :func:`load_config` reads YAML (with ``--set`` overrides); :func:`training_config`
validates a mapping; :func:`potforge.core.config.to_plain` gives back the resolved mapping,
which is saved with every model.
"""

from __future__ import annotations

import copy
import inspect
import os
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core.config import (build, config_path, convert, doc, load_config_file, load_yaml, parse_quantity,
                           unknown_key_error)
from ..core.errors import ConfigError
from ..core.text import is_number
from ..core.voigt import VOIGT_NAMES
from ..models.baselines.config import baselines_config
from ..models.registry import family
from .loss import check_stress_components

__all__ = ["DataConfig", "LossConfig", "TrainingConfig", "Config", "training_config", "load_config",
           "optimizer_options"]


@dataclass(frozen=True)
class DataConfig:
    train: tuple[str, ...] = field(default=(), metadata=doc(
        "training data: files or glob patterns (extxyz, n2p2 input.data, ASE .db, DFT outputs such "
        "as OUTCAR, vasprun.xml, pw.x/aims/CASTEP/GPAW output)", scalar_ok=True))
    validation: tuple[str, ...] | None = field(default=None, metadata=doc(
        "validation files; if absent, validation_fraction of the training groups", scalar_ok=True))
    test: tuple[str, ...] | None = field(default=None, metadata=doc(
        "test files, evaluated once at the end; if absent, test_fraction of the groups", scalar_ok=True))
    validation_fraction: float = field(default=0.1, metadata=doc("held out by group for early stopping"))
    test_fraction: float = field(default=0.0, metadata=doc("held out by group for the final test"))
    split_seed: int = 0
    length_unit: str = field(default="angstrom", metadata=doc("unit of lengths in the files"))
    energy_unit: str = field(default="ev", metadata=doc("unit of energies in the files"))
    format: str | None = field(default=None, metadata=doc(
        "file format of all files (default: from the name or content; e.g. extxyz, outcar, aims)"))
    dft_energy: str = field(default="free", metadata=doc(
        "energy of DFT outputs: free (the free energy the forces belong to) or sigma0 (extrapolated "
        "to zero smearing)"))

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
        from ..data.io.dft import ENERGIES

        if self.dft_energy not in ENERGIES:
            raise ConfigError(f"{key}.dft_energy: expected one of {', '.join(ENERGIES)}, got "
                              f"{self.dft_energy!r}")
        if self.format is not None:
            from ..core.errors import DataFormatError
            from ..data.io import detect_format

            try:
                detect_format("-", self.format)
            except DataFormatError as err:
                raise ConfigError(f"{key}.format: {err.reason}") from None


@dataclass(frozen=True)
class LossConfig:
    energy_sigma: float | None = field(default=1e-3, metadata=doc(
        "noise of energies per atom (plain numbers: eV/atom); null: do not fit energies", unit="energy_per_atom"))
    force_sigma: float | None = field(default=0.02, metadata=doc(
        "noise of force components (plain numbers: eV/Å); null: do not fit forces", unit="force"))
    stress_sigma: float | None = field(default=None, metadata=doc(
        "noise of stress components (plain numbers: GPa); null: do not fit stress", unit="stress"))
    charge_sigma: float | None = field(default=None, metadata=doc(
        "noise of atomic charges (plain numbers: e; '5 me'); null: do not fit charges (charge "
        "models: 3G/4G)", unit="charge"))
    stress_components: tuple[str, ...] = field(default=VOIGT_NAMES, metadata=doc(
        "Voigt components that enter the loss (e.g. [xx, yy, zz] to leave out shear)"))
    config_type_weights: dict[str, float] = field(default_factory=dict, metadata=doc(
        "extra weight factor per config_type"))
    balance_config_types: bool = field(default=False, metadata=doc(
        "weigh every config_type of the training frames alike: each frame's weight times "
        "n_frames / (n_types · frames of its type), on top of config_type_weights (rare kinds of "
        "structure, such as a few surfaces among many MD snapshots, are not drowned)"))
    stress_offset: float | str | None = field(default=None, metadata=doc(
        "constant hydrostatic stress offset s (e.g. Pulay stress; ASE sign, the number potforge data "
        "check prints as stress_offset_gpa: added to the labels it makes them consistent with the "
        "energies, e.g. -2.3 GPa): none, fit (one value per training file, fitted with the model) or a "
        "value (plain numbers: GPa); the model is fitted to label + s·I",
        unit="stress"))

    def __post_init__(self) -> None:
        value = self.stress_offset
        if isinstance(value, str) and value.strip().lower() in ("none", "fit"):   # one spelling each
            object.__setattr__(self, "stress_offset", None if value.strip().lower() == "none" else "fit")

    def check(self, key: str) -> None:
        for name in ("energy_sigma", "force_sigma", "stress_sigma", "charge_sigma"):
            sigma = getattr(self, name)
            if sigma is not None and not sigma > 0:
                raise ConfigError(f"{key}.{name}: noise level must be a positive number, got {sigma} "
                                  "(null switches the term off)")
        check_stress_components(self.stress_components, f"{key}.stress_components")
        if all(getattr(self, n) is None for n in ("energy_sigma", "force_sigma", "stress_sigma",
                                                   "charge_sigma")):
            raise ConfigError(f"{key}: every term is switched off; give at least one of energy_sigma, "
                              "force_sigma, stress_sigma, charge_sigma")
        for name, v in self.config_type_weights.items():
            if not v >= 0:
                raise ConfigError(f"{key}.config_type_weights.{name}: expected a weight >= 0, got {v}")
        self._check_stress_offset(f"{key}.stress_offset")

    @property
    def stress_offset_mode(self) -> str:
        """``none``, ``fit`` or ``fixed`` (a value in eV/Å³: :attr:`stress_offset`)."""
        value = self.stress_offset
        if isinstance(value, float):
            return "fixed"
        return "none" if value is None else value.strip().lower()

    def _check_stress_offset(self, key: str) -> None:
        value = self.stress_offset
        if isinstance(value, str) and value.strip().lower() not in ("none", "fit"):
            words = value.strip().split()
            if words and is_number(words[0]):   # a quantity with a bad unit or value: say which
                parse_quantity(value, "stress", key)
            raise ConfigError(f"{key}: expected none, fit or a stress such as '-2.3 GPa', got {value!r}")
        mode = self.stress_offset_mode
        if mode == "none":
            return
        if self.stress_sigma is None:
            what = "fit" if mode == "fit" else "a fixed offset"
            raise ConfigError(f"{key}: {what} needs the stress term, which is off (loss.stress_sigma: "
                              "null); give loss.stress_sigma or set loss.stress_offset: none")
        if mode == "fit" and not set(self.stress_components) & set(VOIGT_NAMES[:3]):
            raise ConfigError(f"{key}: fit needs a normal stress component (xx, yy, zz) in "
                              f"loss.stress_components, got {', '.join(self.stress_components)}")


@dataclass(frozen=True)
class TrainingConfig:
    optimizer: dict[str, Any] = field(default_factory=lambda: {"kind": "kalman"}, metadata=doc(
        "kind (kalman, adam, lbfgs; lsq, lbfgsb for classical models, lsq their default) and its options"))
    epochs: int = 30
    max_time: float | None = field(default=None, metadata=doc("wall-time limit (plain numbers: s)", unit="time"))
    patience: int | None = field(default=None, metadata=doc("stop after this many epochs without a better validation loss"))
    l2: float = field(default=0.0, metadata=doc("L2 strength λ (prior precision on network weights)"))
    seed: int = 0
    threads: int = field(default=0, metadata=doc("threads (0: all cores)"))
    checkpoint: bool = True
    refit_output: bool = field(default=False, metadata=doc(
        "after the last epoch, set the networks' output layers to the exact minimum of the loss over "
        "them (one linear solve); kept only if the validation loss decreases"))
    refit_force_factor: float = field(default=1.0, metadata=doc(
        "factor on the force term of the loss for refit_output (its solve and its validation test); "
        "1: the loss as configured, 0: energies (and stress) only"))

    def check(self, key: str) -> None:
        if self.epochs < 0:
            raise ConfigError(f"{key}.epochs: expected >= 0, got {self.epochs}")
        if self.l2 < 0:
            raise ConfigError(f"{key}.l2: expected >= 0, got {self.l2}")
        if not 0 <= self.refit_force_factor < float("inf"):
            raise ConfigError(f"{key}.refit_force_factor: expected a finite factor >= 0, got "
                              f"{self.refit_force_factor}")
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
    #: physical baselines ((kind, schema instance), ...): subtracted from the labels, saved with the model
    baselines: tuple = ()

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
        out = {"data": data, "model": {"kind": self.model_kind, **model},
               "loss": to_plain(self.loss), "training": to_plain(self.training)}
        if self.loss.stress_offset_mode == "none":   # saved configs (and resumes) as before the key
            out["loss"].pop("stress_offset")
        if self.baselines:
            out["baselines"] = [{"kind": kind, **to_plain(options)} for kind, options in self.baselines]
        return out

    def path(self, name: str) -> Path:
        """A path of the config, relative to its directory unless absolute."""
        return config_path(name, self.base_dir)


def optimizer_options(raw: Mapping[str, Any], key: str) -> tuple[str, dict]:
    """Validate ``{kind: ..., options...}`` against the registered optimizer's constructor."""
    from .optimizers import OPTIMIZERS

    if not isinstance(raw, Mapping):
        raise ConfigError(f"{key}: expected a mapping such as {{kind: kalman}}")
    kind = raw.get("kind", "kalman")
    if not isinstance(kind, str) or kind not in OPTIMIZERS:   # a mapping or list is not hashable
        from ..core.errors import nearest

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
    allowed = ("energy_sigma", "force_sigma", "stress_sigma", "charge_sigma")
    if not isinstance(section, Mapping):
        raise ConfigError(f"loss.noise_file: {path}: expected a mapping 'loss:' with "
                          f"{', '.join(allowed)}")
    for key in section:
        if key not in allowed:   # a typo there would otherwise be blamed on the config itself
            raise ConfigError(f"loss.noise_file: {path}: key loss.{key} is not one of "
                              f"{', '.join(allowed)}")
    return {**section, **raw}


def _section(raw: Mapping[str, Any], name: str) -> dict:
    """A copy of the mapping under ``name`` (empty if absent); anything else is a ConfigError."""
    value = raw.get(name)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ConfigError(f"{name}: expected a mapping of keys to values, got "
                          f"{type(value).__name__} {str(value)[:60]!r}")
    return dict(value)


def training_config(raw: Mapping[str, Any], *, base_dir: str | os.PathLike = ".") -> Config:
    """Validate a raw mapping (as read from YAML) into a :class:`Config`."""
    if not isinstance(raw, Mapping):
        raise ConfigError("config: expected a mapping with data, model, loss, training")
    sections = ("data", "model", "loss", "training", "baselines")
    for name in raw:
        if name not in sections:
            raise unknown_key_error("", str(name), sections)
    model_raw = _section(raw, "model")
    kind = model_raw.pop("kind", "hdnnp")
    entry = family(kind, trainable=True)
    training_raw = _section(raw, "training")
    for key, value in entry.training_defaults.items():  # e.g. classical kinds: lsq, one epoch
        training_raw.setdefault(key, copy.deepcopy(value))
    config = Config(data=build(DataConfig, raw.get("data"), "data"),
                    model=build(entry.config, model_raw, "model"),
                    loss=build(LossConfig, _loss_with_noise_file(raw.get("loss"), base_dir), "loss"),
                    training=build(TrainingConfig, training_raw, "training"),
                    model_kind=kind, base_dir=os.fspath(Path(base_dir).resolve()),
                    baselines=baselines_config(raw.get("baselines"), "baselines"))
    if config.baselines and getattr(config.model, "stage", None) == 1:
        # stage 1 of a charge model fits charges only: no energy to subtract baselines from
        raise ConfigError(f"baselines: a {kind} stage-1 fit predicts charges only, no energy; give the "
                          "baselines: section to stage 2")
    _check_learnable_terms(config, kind)
    return config


def _check_learnable_terms(config: Config, kind: str) -> None:
    """A loss term the model cannot learn (``learnable_terms`` of its config: e.g. charges of a
    stage-2 charge model, fixed by stage 1; energies of a stage-1 model) is refused here, before
    any data are read; the trainer checks the built model likewise."""
    learnable = getattr(config.model, "learnable_terms", None)
    if learnable is None:
        return
    terms = learnable()
    stage = getattr(config.model, "stage", None)
    if "charge" not in terms and config.loss.charge_sigma is not None:
        raise ConfigError(f"loss.charge_sigma: the charges of a stage-{stage} {kind} model are fixed by "
                          "its stage-1 model; switch the term off (loss.charge_sigma: null) and fit "
                          "charges in stage 1")
    for term in ("energy", "force", "stress"):
        if term not in terms and getattr(config.loss, f"{term}_sigma") is not None:
            raise ConfigError(f"loss.{term}_sigma: a {kind} model in stage {stage} fits charges only "
                              "(no energy); set loss.energy_sigma, force_sigma and stress_sigma to null "
                              "and give loss.charge_sigma")


def load_config(path: str | os.PathLike, overrides: Sequence[str] = ()) -> Config:
    """Read a YAML training config, apply ``key=value`` overrides, validate."""
    base_dir = Path(path).resolve().parent
    return load_config_file(path, lambda raw: training_config(raw, base_dir=base_dir), overrides)
