"""Review fixes of the 3G/4G models (issue 14): threads passed to the native kernels, the
total-charge rule, hardness and charge sanity, n2p2 keyword aliases, model.json checks,
n2p2 export of physical-convention models, stress of charged cells under n2p2's convention,
and the dense/iterative charge-equilibration switch."""

from __future__ import annotations

import numpy as np
import pytest

from potforge.core.errors import StructureError
from potforge.models.hdnnp_charges import base
from potforge.models.hdnnp_charges.example import example_3g, example_4g


@pytest.fixture(scope="module")
def ex4():
    return example_4g()


def test_zero_threads_means_all_cores_in_the_native_kernels(ex4, monkeypatch):
    seen = []
    native = base._native

    class Spy:
        def __getattr__(self, name):
            f = getattr(native, name)
            if name not in ("symmetry_functions", "symmetry_functions_backward"):
                return f
            return lambda *a: seen.append(a[-1]) or f(*a)

    monkeypatch.setattr(base, "_native", Spy())
    model = example_3g().potential
    for m in (ex4.potential, model):
        m.configure(n_threads=0)
        m.predict(ex4.periodic if m is ex4.potential else example_3g().periodic)
    assert seen and all(t == 0 for t in seen)


@pytest.mark.parametrize("value", [True, np.bool_(False), "1.0", None, [1.0]])
def test_total_charge_must_be_a_number(ex4, value):
    atoms = ex4.cluster.copy()
    atoms.info["total_charge"] = value
    with pytest.raises(StructureError, match="total_charge"):
        ex4.potential.predict(atoms)


def test_total_charge_accepts_numpy_numbers(ex4):
    atoms = ex4.cluster.copy()
    for value in (np.float32(1.0), np.int64(1), np.array(1.0)):
        atoms.info["total_charge"] = value
        assert base.total_charge(atoms) == 1.0
