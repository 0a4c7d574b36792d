"""Model directories saved by potforge before the one-home-per-family restructuring (commit
dd306d5; tests/fixtures/models_v0_1/make_fixtures.py made them) still load and predict the
numbers that version predicted, for every kind it could save."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from ase.io import read

from potforge.models import load_potential

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "models_v0_1"
EXPECTED = json.loads((FIXTURES / "expected.json").read_text())["models"]
STRUCTURES = read(FIXTURES / "structures.xyz", index=":")


@pytest.mark.parametrize("kind", sorted(EXPECTED))
def test_legacy_model_loads_and_predicts_the_same(kind):
    model = load_potential(FIXTURES / kind)
    assert model.kind == kind
    want = EXPECTED[kind]
    p = model.predict(STRUCTURES[want["structure"]])
    assert p.energy == pytest.approx(want["energy"], rel=1e-12, abs=1e-12)
    np.testing.assert_allclose(p.forces, np.array(want["forces"]), rtol=1e-9, atol=1e-11)
    if want["stress"] is None:
        assert p.stress is None
    else:
        np.testing.assert_allclose(p.stress, np.array(want["stress"]), rtol=1e-9, atol=1e-12)


def test_every_kind_of_that_version_has_a_fixture():
    assert set(EXPECTED) == {"hdnnp", "hdnnp-1g", "pair", "eam", "eam-setfl", "tersoff", "sw"}
