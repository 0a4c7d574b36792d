"""Shared fixtures: the location of ../shared/data and small helpers."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]


def shared_data_dir() -> Path:
    """../shared/data beside the repository (override with POTFORGE_SHARED_DATA)."""
    env = os.environ.get("POTFORGE_SHARED_DATA")
    path = Path(env) if env else REPO.parent / "shared" / "data"
    if not path.is_dir():
        pytest.fail(f"shared reference data not found at {path}; set POTFORGE_SHARED_DATA")
    return path


@pytest.fixture(scope="session")
def shared_data() -> Path:
    return shared_data_dir()


@pytest.fixture(scope="session")
def water_dir(shared_data) -> Path:
    return shared_data / "n2p2" / "H2O_RPBE-D3"


@pytest.fixture(scope="session")
def water_model(water_dir):
    from potforge.models.hdnnp.n2p2 import read_n2p2_model

    return read_n2p2_model(water_dir, length_unit="bohr", energy_unit="hartree")


@pytest.fixture
def rng():
    return np.random.default_rng(20261121)


@pytest.fixture
def water_model_copy(tmp_path, water_dir) -> Path:
    """A writable copy of n2p2's water model files (to break them in tests)."""
    import shutil

    target = tmp_path / "model"
    target.mkdir()
    for name in ("input.nn", "scaling.data", "weights.001.data", "weights.008.data"):
        shutil.copy(water_dir / name, target / name)
        (target / name).chmod(0o644)
    return target
