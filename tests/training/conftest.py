"""Small real data and configs for training tests (mlearn Cu, a few frames)."""

from __future__ import annotations

from pathlib import Path

import pytest

#: five Cu functions (Å): three radial, two angular; enough to fit a few frames
CU_FUNCTIONS = [
    "Cu 2 Cu 0.5 0.0 4.0",
    "Cu 2 Cu 1.5 2.5 4.0",
    "Cu 2 Cu 3.0 3.2 4.0",
    "Cu 3 Cu Cu 0.1 -1 1.0 4.0",
    "Cu 3 Cu Cu 0.1 1 4.0 4.0",
]


@pytest.fixture(scope="session")
def cu_frames(shared_data):
    from potforge.data import Dataset

    data = Dataset.read(shared_data / "mlearn" / "Cu" / "train.xyz")
    small = [f for f in data if f.n_atoms <= 48]          # surfaces and small cells
    bulk = [f for f in data if f.n_atoms > 100][::40]      # a few AIMD / elastic / vacancy frames
    return small + bulk


@pytest.fixture
def cu_files(tmp_path, cu_frames) -> tuple[Path, Path]:
    from potforge.data.io import write_frames

    train, test = tmp_path / "train.xyz", tmp_path / "test.xyz"
    write_frames(train, cu_frames[::2] + cu_frames[1::4])
    write_frames(test, cu_frames[3::4])
    return train, test


def cu_config(train: Path, test: Path | None = None, **sections) -> dict:
    raw = {
        "data": {"train": str(train), "validation_fraction": 0.25, "split_seed": 0},
        "model": {"kind": "hdnnp",
                  "symmetry_functions": {"n2p2": CU_FUNCTIONS, "prune": {"enabled": False}},
                  "network": {"hidden": [4, 4], "activation": "t"}},
        "loss": {"energy_sigma": "1 meV/atom", "force_sigma": "0.05 eV/Å"},
        "training": {"epochs": 3, "seed": 3, "threads": 1,
                     "optimizer": {"kind": "kalman", "force_fraction": 0.05}},
    }
    if test is not None:
        raw["data"]["test"] = str(test)
    for name, values in sections.items():
        raw.setdefault(name, {}).update(values)
    return raw
