"""Published n2p2 models from the field run in potforge and agree with its reference path.

mlearn's Li model (Zuo et al., J. Phys. Chem. A 124, 731 (2020); ``../shared/data/mlearn/Li``)
used to crash the compiled kernels with a segmentation fault: its 72 angular functions share
one group, more than the kernels' 64-entry stack buffers, and the heap buffers that took over
were not aligned for the AVX2/AVX-512 vector stores (the baseline SSE2 build ran). Its scaling
factors reach 5e135 (training ranges 1e-245 to 1e-128), which float64 handles exactly like
n2p2 does.
"""

from __future__ import annotations

import numpy as np
import pytest
from ase.io import read

from potforge import _native
from potforge.core.errors import ConfigError
from potforge.models.hdnnp.n2p2 import read_n2p2_model


@pytest.fixture(scope="module")
def li_dir(shared_data):
    return shared_data / "mlearn" / "Li"


@pytest.fixture(scope="module")
def li_model(li_dir):
    return read_n2p2_model(li_dir / "mlearn_nnp", length_unit="bohr", energy_unit="hartree")


@pytest.fixture(scope="module")
def li_test_set(li_dir):
    return read(li_dir / "test.xyz", ":")


def test_li_model_is_what_the_readme_says(li_model):
    assert li_model.species == ("Li",) and li_model.symmetry_functions.n_functions("Li") == 117
    a, _ = li_model.scaling.affine("Li")
    assert np.all(np.isfinite(a)) and a.max() > 1e135  # the extreme scaling is really there


@pytest.mark.parametrize("architecture", _native.supported_architectures())
def test_li_native_equals_reference_path(li_model, li_test_set, architecture, monkeypatch):
    """Frames 0-2 (frame 0 crashed) on every kernel build this CPU runs: finite, and equal to
    the composition of the generic symmetry functions and the torch networks."""
    monkeypatch.setenv("POTFORGE_KERNEL_ARCH", architecture)
    li_model._kernel = None
    try:
        for atoms in li_test_set[:3]:
            fast = li_model.predict(atoms)
            ref = li_model.predict_reference(atoms)
            assert np.isfinite(fast.energy) and np.all(np.isfinite(fast.forces))
            assert np.all(np.isfinite(fast.stress))
            assert fast.energy == pytest.approx(ref.energy, rel=1e-12, abs=1e-9)
            np.testing.assert_allclose(fast.energies, ref.energies, rtol=1e-11, atol=1e-10)
            np.testing.assert_allclose(fast.forces, ref.forces, rtol=1e-9, atol=1e-10)
            np.testing.assert_allclose(fast.stress, ref.stress, rtol=1e-9, atol=1e-12)
    finally:
        li_model._kernel = None


def test_li_test_set_errors_match_the_published_figures(li_model, li_test_set):
    """The whole test set (29 frames, 0.05 s): energy RMSE 0.984 meV/atom (MAE 0.750), force
    RMSE 0.0234 eV/Å (MAE 0.0168), as measured with the reference path (README)."""
    de, df = [], []
    for atoms in li_test_set:
        p = li_model.predict(atoms)
        de.append((p.energy - atoms.get_potential_energy()) / len(atoms))
        df.append((p.forces - atoms.get_forces()).ravel())
    de, df = np.array(de) * 1000, np.concatenate(df)
    assert np.sqrt(np.mean(de**2)) == pytest.approx(0.984, abs=5e-4)
    assert np.mean(np.abs(de)) == pytest.approx(0.750, abs=5e-4)
    assert np.sqrt(np.mean(df**2)) == pytest.approx(0.0234, abs=5e-5)
    assert np.mean(np.abs(df)) == pytest.approx(0.0168, abs=5e-5)


def test_li_in_float32_is_refused_with_a_reason(li_model, li_test_set):
    """float32 cannot hold a scaling factor of 5e135: a one-line error when the arithmetic is
    chosen (before any structure), not NaN."""
    with pytest.raises(ConfigError, match="dtype: float32 cannot represent.*use float64") as err:
        li_model.configure(dtype="float32")
    assert "\n" not in str(err.value) and li_model.dtype == "float64"
    assert np.isfinite(li_model.predict(li_test_set[0]).energy)
