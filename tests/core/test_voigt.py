"""potforge's Voigt order is ASE's (stress in data files, calculators, predictions)."""

from __future__ import annotations

import numpy as np
from ase.stress import full_3x3_to_voigt_6_stress, voigt_6_to_full_3x3_stress

from potforge.core.voigt import VOIGT_COLS, VOIGT_NAMES, VOIGT_PAIRS, VOIGT_ROWS


def test_voigt_order_is_ases():
    rng = np.random.default_rng(3)
    a = rng.normal(size=(3, 3))
    sym = 0.5 * (a + a.T)
    np.testing.assert_array_equal(sym[VOIGT_ROWS, VOIGT_COLS], full_3x3_to_voigt_6_stress(sym))
    six = rng.normal(size=6)
    full = voigt_6_to_full_3x3_stress(six)
    np.testing.assert_array_equal([full[i, j] for i, j in VOIGT_PAIRS], six)
    axes = "xyz"
    assert [axes[i] + axes[j] for i, j in VOIGT_PAIRS] == list(VOIGT_NAMES)
