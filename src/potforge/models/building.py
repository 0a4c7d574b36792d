"""What a family's builder receives, and the steps that every builder shares.

A builder turns the validated ``model:`` section of a training config and the training
frames into an initialised trainable model (see :class:`~potforge.models.registry.ModelFamily`):
the species (from the config, else from the data), per-element reference energies (least
squares on composition, zero, or given), then whatever the family needs from the data
(descriptor statistics, input scaling, output scale).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..core.config import config_path
from ..core.elements import by_atomic_number, check_element
from ..core.errors import ConfigError
from ..data.dataset import Dataset

__all__ = ["BuildContext", "resolve_species", "reference_energies", "frame_names"]


@dataclass(frozen=True)
class BuildContext:
    """The inputs of a family's builder.

    Attributes
    ----------
    model : the family's config schema instance (the validated ``model:`` section)
    kind : str
        The kind being built (families that register several kinds share a builder).
    train : Dataset
        The training frames (statistics, reference energies, scaling).
    seed : int
        ``training.seed``: initial weights.
    threads : int
        Threads for descriptor work (resolved: never 0).
    log : callable(str)
        Progress lines.
    base_dir : path
        Directory that relative paths in the config refer to.
    """

    model: Any
    kind: str
    train: Dataset
    seed: int
    threads: int
    log: Callable[[str], None]
    base_dir: str | os.PathLike = "."

    def path(self, name: str) -> Path:
        """A path of the config, relative to its directory unless absolute."""
        return config_path(name, self.base_dir)


def resolve_species(config_species: Sequence[str] | None, data: Dataset) -> tuple[str, ...]:
    """The model's species: as configured (all elements of the data must be among them), or
    the data's elements by atomic number."""
    present = data.species
    if config_species is None:
        return by_atomic_number(present)
    for k, s in enumerate(config_species):
        check_element(s, f"model.species[{k}]")
    missing = [s for s in present if s not in config_species]
    if missing:
        raise ConfigError(f"model.species: the training data holds {', '.join(missing)}, which "
                          f"is not among {', '.join(config_species)}")
    return tuple(config_species)


def reference_energies(setting: str | Mapping[str, float], species: Sequence[str],
                       train: Dataset) -> dict[str, float]:
    """``model.element_energies``: least squares on composition (``"fit"``), ``"zero"``, or
    given per element (eV)."""
    if setting == "fit":
        return train.reference_energies(species)
    if setting == "zero":
        return {s: 0.0 for s in species}
    missing = [s for s in species if s not in setting]
    if missing:
        raise ConfigError(f"model.element_energies: missing {', '.join(missing)}")
    return {s: float(setting[s]) for s in species}


def frame_names(data: Dataset, role: str) -> list[str]:
    """``training frame 17 (AIMD)``: how messages name the frames of a data set."""
    return [f"{role} frame {k}" + (f" ({f.config_type})" if f.config_type else "")
            for k, f in enumerate(data)]
