"""The data a training config names: files read (units converted at the boundary) and split
into training, validation and test sets by group (whole configurations, never atoms)."""

from __future__ import annotations

import glob
import os
import weakref
from collections.abc import Sequence
from pathlib import Path

from ..core.errors import ConfigError
from ..data.dataset import Dataset
from ..data.frame import Frame
from ..data.io import detect_format
from .config import Config

__all__ = ["load_data", "frame_source"]

#: frame -> the path it was read from (the stress offset is fitted per source file)
_SOURCES: "weakref.WeakKeyDictionary[Frame, str]" = weakref.WeakKeyDictionary()


def _paths(config: Config, names: Sequence[str], role: str) -> list[Path]:
    """The files the config names, glob patterns expanded (each pattern's matches sorted)."""
    paths: list[Path] = []
    for name in names:
        path = config.path(name)
        if path.exists():
            paths.append(path)
        elif glob.has_magic(os.fspath(name)):
            matches = sorted(Path(p) for p in glob.glob(os.fspath(path), recursive=True)
                             if Path(p).is_file())
            if not matches:
                raise ConfigError(f"data.{role}: the pattern {os.fspath(path)} matches no file")
            paths.extend(matches)
        else:
            raise ConfigError(f"data.{role}: no such file {os.fspath(path)}")
    return paths


def _read(config: Config, names: Sequence[str], role: str) -> Dataset:
    d = config.data
    paths = _paths(config, names, role)
    for p in paths:
        if detect_format(p, d.format) != "n2p2" and (d.length_unit.lower() not in ("angstrom", "a", "å")
                                                     or d.energy_unit.lower() != "ev"):
            raise ConfigError(f"data.length_unit/energy_unit: {os.fspath(p)} is read in Å and eV "
                              "(only n2p2 input.data files carry other units); convert it with "
                              "potforge data convert, or leave the units at angstrom/ev")
    frames = []
    for p in paths:
        part = Dataset.read(p, d.format, length_unit=d.length_unit, energy_unit=d.energy_unit,
                            dft_energy=d.dft_energy)
        for frame in part:
            _SOURCES[frame] = os.path.normpath(p)
        frames.extend(part)
    return Dataset(frames)


def frame_source(frame: Frame) -> str | None:
    """The file a frame of :func:`load_data` was read from (None: a frame made otherwise).

    Kept beside the frames (weakly, by identity) rather than in ``Frame.info``, which files
    written from the frames would carry; splits and subsets keep the frames themselves."""
    return _SOURCES.get(frame)


def load_data(config: Config) -> tuple[Dataset, Dataset | None, Dataset | None]:
    """Training, validation and test sets as the config describes them (split by group)."""
    d = config.data
    data = _read(config, d.train, "train")
    validation = _read(config, d.validation, "validation") if d.validation is not None else None
    test = _read(config, d.test, "test") if d.test is not None else None
    fractions = {"validation": d.validation_fraction if validation is None else 0.0,
                 "test": d.test_fraction if test is None else 0.0}
    if any(fractions.values()):
        parts = data.split_by_group([1 - sum(fractions.values()), fractions["validation"],
                                     fractions["test"]], seed=d.split_seed)
        data = parts[0]
        if fractions["validation"]:
            validation = parts[1]
        if fractions["test"]:
            test = parts[2]
    if len(data) == 0:
        raise ConfigError("data: no training frames left after the split")
    if validation is not None and len(validation) == 0:
        validation = None
    if test is not None and len(test) == 0:
        test = None
    return data, validation, test
