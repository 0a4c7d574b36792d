"""Symmetry-function presets (systematic grids) and pruning on training-set values.

Counts and grids against the formulas stated in presets.py; values of generated sets from the
compiled kernel on mlearn Cu frames and a random H/O cell; pruning on hand-built value arrays
(constant, tiny-range, duplicate, anti-correlated columns) and on real Cu data with a
deliberately duplicated function.
"""

from __future__ import annotations

import json
from itertools import combinations_with_replacement

import numpy as np
import pytest
from ase.data import atomic_numbers

from potforge.core.errors import ConfigError
from potforge.data import Dataset
from potforge.descriptors.presets import (DEFAULT_CUTOFF_TYPE, angular_functions, preset, prune,
                                          radial_functions)
from potforge.descriptors.symmetry_functions import SymmetryFunction, SymmetryFunctionSet
from potforge.descriptors.cache import DescriptorCache

from ..helpers import random_structure


def _by_pair(funcs):
    out: dict[tuple, list[SymmetryFunction]] = {}
    for sf in funcs:
        out.setdefault((sf.element, sf.neighbors), []).append(sf)
    return out


@pytest.fixture(scope="module")
def cu_frames(shared_data):
    data = Dataset.read(shared_data / "mlearn" / "Cu" / "train.xyz")
    # AIMD, strained, vacancy: different environments, 323 atoms
    return [data[0], data[108], data[226]]


# -- counts ----------------------------------------------------------------------------------
@pytest.mark.parametrize("species", [("Cu",), ("H", "O"), ("O", "H", "Zn")])
@pytest.mark.parametrize("mode", ["shifted", "centered"])
def test_radial_counts(species, mode):
    n = 6
    funcs = radial_functions(species, 5.0, n, mode=mode)
    assert len(funcs) == n * len(species) ** 2
    groups = _by_pair(funcs)
    assert set(groups) == {(c, (e,)) for c in species for e in species}
    assert all(len(g) == n for g in groups.values())
    assert all(sf.type == 2 and sf.cutoff_type == DEFAULT_CUTOFF_TYPE for sf in funcs)


@pytest.mark.parametrize("species", [("Cu",), ("H", "O"), ("O", "H", "Zn")])
@pytest.mark.parametrize("kind,type_", [("wide", 9), ("narrow", 3)])
def test_angular_counts(species, kind, type_):
    n_eta, zetas, lambdas = 3, (1, 2, 4, 16), (-1, 1)
    funcs = angular_functions(species, 6.0, n_eta, zetas, lambdas, kind=kind)
    per_pair = n_eta * len(zetas) * len(lambdas)
    n_pairs = len(species) * (len(species) + 1) // 2
    assert len(funcs) == len(species) * n_pairs * per_pair
    groups = _by_pair(funcs)
    pairs = {tuple(sorted(p, key=atomic_numbers.get))  # n2p2 orders a pair by atomic number
             for p in combinations_with_replacement(species, 2)}
    assert set(groups) == {(c, p) for c in species for p in pairs}
    for g in groups.values():
        assert len(g) == per_pair
        # every (η, ζ, λ) exactly once
        assert len({(sf.eta, sf.zeta, sf.lambda_) for sf in g}) == per_pair
        assert {sf.zeta for sf in g} == set(map(float, zetas))
        assert {sf.lambda_ for sf in g} == set(map(float, lambdas))
    assert {sf.type for sf in funcs} == {type_}


@pytest.mark.parametrize("species,per_element", [(("Cu",), 8 + 32), (("H", "O"), 16 + 3 * 32)])
def test_preset_counts_and_canonical_order(species, per_element):
    sfs = preset(species, 5.5)
    assert sfs.species == species
    index = {s: k for k, s in enumerate(species)}
    for e in species:
        funcs = sfs.functions[e]
        assert len(funcs) == per_element
        assert list(funcs) == sorted(funcs, key=lambda sf: sf.n2p2_sort_key(index))
        assert sum(sf.type == 2 for sf in funcs) == 8 * len(species)
    assert sfs.cutoff == 5.5


# -- grids -----------------------------------------------------------------------------------
@pytest.mark.parametrize("spacing", ["linear", "geometric"])
@pytest.mark.parametrize("n", [1, 2, 8])
def test_shifted_grid(spacing, n):
    rc, r_min = 6.0, 0.5
    funcs = radial_functions(("Cu",), rc, n, mode="shifted", r_min=r_min, shift_spacing=spacing)
    rs = np.array([sf.shift for sf in funcs])
    eta = np.array([sf.eta for sf in funcs])
    assert rs[0] == pytest.approx(r_min)
    assert np.all(np.diff(rs) > 0) and rs[-1] < rc
    # each width is the spacing to the next grid point, the last one ending at r_c
    upper = np.append(rs[1:], rc)
    np.testing.assert_allclose(eta * (upper - rs) ** 2, 1.0, rtol=1e-12)
    if n > 2:
        steps = np.diff(np.append(rs, rc))
        if spacing == "linear":
            np.testing.assert_allclose(steps, (rc - r_min) / n, rtol=1e-12)
        else:
            ratios = np.append(rs, rc)[1:] / np.append(rs, rc)[:-1]
            np.testing.assert_allclose(ratios, (rc / r_min) ** (1 / n), rtol=1e-12)
            assert np.all(np.diff(steps) > 0)


@pytest.mark.parametrize("n", [1, 2, 5])
def test_centered_grid(n):
    rc, r_min = 5.0, 0.8
    funcs = radial_functions(("H", "O"), rc, n, mode="centered", r_min=r_min)
    for group in _by_pair(funcs).values():
        assert all(sf.shift == 0.0 for sf in group)
        eta = np.array([sf.eta for sf in group])
        widths = 1 / np.sqrt(eta)
        assert widths[-1] == pytest.approx(rc)  # widest scale: r_c
        if n > 1:
            assert np.all(np.diff(eta) < 0)  # narrow to wide
            assert widths[0] == pytest.approx(r_min)
            np.testing.assert_allclose(widths[1:] / widths[:-1], (rc / r_min) ** (1 / (n - 1)))


def test_angular_grid():
    rc, r_min = 6.0, 1.5
    funcs = angular_functions(("Cu",), rc, 4, (1,), (1,), r_min=r_min)
    widths = 1 / np.sqrt([sf.eta for sf in funcs])
    np.testing.assert_allclose(widths, r_min * (rc / r_min) ** (np.arange(4) / 3), rtol=1e-12)
    assert all(sf.shift == 0.0 for sf in funcs)


@pytest.mark.parametrize("kwargs", [
    dict(), dict(radial_mode="centered", angular_kind="narrow"), dict(n_radial=1, n_angular=1),
    dict(shift_spacing="geometric", r_min=0.3, angular_r_min=0.6, cutoff_type="cos",
         cutoff_alpha=0.1)])
def test_parameters_positive_and_finite(kwargs):
    sfs = preset(("H", "C", "O"), 4.5, **kwargs)
    for funcs in sfs.functions.values():
        for sf in funcs:
            for value in (sf.eta, sf.cutoff_radius):
                assert np.isfinite(value) and value > 0
            assert np.isfinite(sf.shift) and 0 <= sf.shift < sf.cutoff_radius
            if not sf.is_radial:
                assert sf.zeta >= 1 and sf.lambda_ in (-1.0, 1.0)
            assert sf.cutoff_type == kwargs.get("cutoff_type", DEFAULT_CUTOFF_TYPE)
            assert sf.cutoff_alpha == kwargs.get("cutoff_alpha", 0.0)
            # the n2p2 line parses back to the same function
            assert SymmetryFunction.from_n2p2(sf.to_n2p2().split(), cutoff_type=sf.cutoff_type,
                                              cutoff_alpha=sf.cutoff_alpha) == sf


@pytest.mark.parametrize("call,match", [
    (lambda: radial_functions(("Cu",), 5.0, 0), "n must be a positive integer"),
    (lambda: radial_functions(("Cu",), 5.0, 4, r_min=5.0), "r_min must lie in"),
    (lambda: radial_functions(("Cu",), -1.0, 4), "cutoff must be a positive"),
    (lambda: radial_functions(("Cu",), 5.0, 4, mode="both"), "mode must be"),
    (lambda: radial_functions(("Cu",), 5.0, 4, shift_spacing="log"), "shift_spacing must be"),
    (lambda: radial_functions(("Cu", "Xx"), 5.0, 4), "unknown element 'Xx'"),
    (lambda: radial_functions(("Cu", "Cu"), 5.0, 4), "duplicates"),
    (lambda: radial_functions(("Cu",), 5.0, 4, cutoff_type="smooth"), "unknown cutoff type"),
    (lambda: angular_functions(("Cu",), 5.0, 2, zetas=(0.5,)), "zetas must be"),
    (lambda: angular_functions(("Cu",), 5.0, 2, zetas=(1, 1)), "duplicates"),
    (lambda: angular_functions(("Cu",), 5.0, 2, lambdas=(0,)), "lambdas must be"),
    (lambda: angular_functions(("Cu",), 5.0, 2, kind="medium"), "kind must be"),
    (lambda: preset(("Cu",), 5.0, n_angular=2.5), "n_eta must be a positive integer"),
])
def test_invalid_options(call, match):
    with pytest.raises(ConfigError, match=match):
        call()


# -- values on structures --------------------------------------------------------------------
def _assert_distinct_columns(values):
    assert np.isfinite(values).all()
    n = values.shape[1]
    for a in range(n):
        for b in range(a + 1, n):
            diff = np.abs(values[:, a] - values[:, b]).max()
            assert diff > 1e-9 * max(np.abs(values[:, a]).max(), 1e-300), (a, b)


def test_values_on_cu_frames(cu_frames):
    sfs = preset(("Cu",), 5.0)
    values = DescriptorCache(cu_frames, sfs, derivatives=False).element_values()["Cu"]
    assert values.shape == (sum(f.n_atoms for f in cu_frames), 40)
    _assert_distinct_columns(values)
    varying = (values.max(axis=0) - values.min(axis=0)) > 1e-3
    assert varying.sum() >= 36  # the structures exercise nearly every generated function


def test_values_on_two_species_cell(rng):
    from potforge.core.neighbors import neighbor_list
    from potforge.core.elements import species_indices

    atoms = random_structure(rng, ("H", "O"), n_atoms=24, cell_size=5.0, min_distance=0.9)
    sfs = preset(("H", "O"), 4.5, n_radial=5, n_angular=2, zetas=(1, 4), angular_kind="narrow")
    idx, z = species_indices(atoms, sfs.species)
    nl = neighbor_list(atoms.positions, np.asarray(atoms.cell), atoms.pbc, sfs.cutoff)
    values, _ = sfs.compute(idx, z, nl)
    for k, e in enumerate(sfs.species):
        _assert_distinct_columns(values[idx == k, :sfs.n_functions(e)])


# -- pruning on hand-built values --------------------------------------------------------------
def _single_element_set(n: int) -> SymmetryFunctionSet:
    return SymmetryFunctionSet(("Cu",), {"Cu": radial_functions(("Cu",), 5.0, n)}, sort=False)


def test_prune_drops_constant_tiny_duplicate_and_anticorrelated(rng):
    x = rng.normal(size=(200, 3))
    columns = [
        x[:, 0],                                    # 0 kept
        np.full(200, 0.7),                          # 1 constant
        x[:, 1],                                    # 2 kept
        x[:, 0].copy(),                             # 3 exact duplicate of 0
        1e-5 * x[:, 2],                             # 4 range ~1e-4 < 1e-3
        1000.0 + 2e-3 * x[:, 2],                    # 5 range ~0.01 but 1e-5 of its size
        3.0 - 2.0 * x[:, 1],                        # 6 anti-correlated with 2
        x[:, 2],                                    # 7 kept
    ]
    values = np.stack(columns, axis=1)
    sfs = _single_element_set(8)
    pruned, report = prune(sfs, {"Cu": values})
    assert report.kept["Cu"] == (0, 2, 7)
    assert pruned.species == ("Cu",)
    assert pruned.functions["Cu"] == tuple(sfs.functions["Cu"][k] for k in (0, 2, 7))
    reasons = {d.index: d.reason for d in report.dropped["Cu"]}
    assert set(reasons) == {1, 3, 4, 5, 6}
    assert reasons[1] == "range 0 < 0.001"
    r4 = np.ptp(values[:, 4])
    assert reasons[4] == f"range {r4:.3g} < 0.001"
    assert reasons[5].startswith("relative range ") and "< 0.0001" in reasons[5]
    assert reasons[3] == "correlation 1 with #0"
    assert reasons[6] == "correlation -1 with #2"
    assert report.n_kept == {"Cu": 3} and report.n_dropped == {"Cu": 5}
    # the report names the functions by their n2p2 lines
    assert report.dropped["Cu"][0].function == sfs.functions["Cu"][1].to_n2p2()


def test_prune_keeps_independent_columns(rng):
    values = rng.uniform(0.0, 2.0, size=(300, 6))
    sfs = _single_element_set(6)
    pruned, report = prune(sfs, {"Cu": values})
    assert report.kept["Cu"] == tuple(range(6)) and report.dropped["Cu"] == []
    assert pruned.functions == sfs.functions


def test_prune_correlation_threshold_and_first_stays(rng):
    x = rng.normal(size=(500, 2))
    near = x[:, 0] + 0.02 * x[:, 1]  # correlation ≈ 0.9998
    corr = np.corrcoef(x[:, 0], near)[0, 1]
    values = np.stack([rng.normal(size=500), near, rng.normal(size=500), x[:, 0]], axis=1)
    sfs = _single_element_set(4)
    _, report = prune(sfs, {"Cu": values})
    assert report.kept["Cu"] == (0, 1, 2)
    assert report.dropped["Cu"][0].reason == f"correlation {corr:.6g} with #1"
    _, loose = prune(sfs, {"Cu": values}, max_correlation=0.99999)
    assert loose.kept["Cu"] == (0, 1, 2, 3)


def test_prune_preserves_non_canonical_order(rng):
    funcs = radial_functions(("Cu",), 5.0, 5)[::-1]  # not n2p2's order
    sfs = SymmetryFunctionSet(("Cu",), {"Cu": funcs}, sort=False)
    values = rng.normal(size=(100, 5))
    values[:, 2] = values[:, 0]
    pruned, report = prune(sfs, {"Cu": values})
    assert pruned.functions["Cu"] == tuple(funcs[k] for k in (0, 1, 3, 4))
    assert report.kept["Cu"] == (0, 1, 3, 4)


def test_prune_element_without_atoms(rng):
    sfs = preset(("H", "O"), 4.0, n_radial=2, n_angular=1, zetas=(1,), lambdas=(1,))
    n = sfs.n_functions("H")
    values = {"H": rng.normal(size=(50, n)), "O": np.zeros((0, n))}
    pruned, report = prune(sfs, values)
    assert pruned.functions["O"] == sfs.functions["O"]
    assert "no atoms" in report.notes["O"] and report.dropped["O"] == []
    assert report.n_atoms == {"H": 50, "O": 0} and "H" not in report.notes
    assert "no atoms" in report.format()
    # a missing key means the same
    _, report2 = prune(sfs, {"H": values["H"]})
    assert report2.kept["O"] == tuple(range(n)) and report2.n_atoms["O"] == 0


def test_prune_report_serialises_and_formats(rng):
    values = rng.normal(size=(40, 4))
    values[:, 1] = 0.25
    sfs = SymmetryFunctionSet(("Cu",), {"Cu": radial_functions(("Cu",), 5.0, 3) + [
        SymmetryFunction(100, "Cu", ("Cu", "Cu"), 5.0, eta=0.5, shift=1.5, zeta=4.0)]}, sort=False)
    values[:, 3] = 1.0  # the potforge-only ANI function: described without an n2p2 line
    _, report = prune(sfs, {"Cu": values})
    data = json.loads(json.dumps(report.to_dict()))
    cu = data["elements"]["Cu"]
    assert cu["n_functions"] == 4 and cu["n_kept"] == 2 and cu["kept"] == [0, 2]
    assert [d["index"] for d in cu["dropped"]] == [1, 3]
    assert data["thresholds"] == {"min_range": 1e-3, "min_relative_range": 1e-4,
                                  "max_correlation": 0.999}
    assert "ani_angular" in cu["dropped"][1]["function"]
    text = report.format()
    assert text.splitlines()[1].split() == ["Cu", "40", "4", "2", "2"]
    assert "range 0 < 0.001" in text and sfs.functions["Cu"][1].to_n2p2() in text


@pytest.mark.parametrize("values,error,match", [
    ({"Cu": np.zeros((10, 3))}, ValueError, r"expected \(n_atoms, 4\)"),
    ({"Cu": np.full((10, 4), np.nan)}, ValueError, "not finite"),
    ({"Cu": np.ones((10, 4)), "Ag": np.ones((1, 4))}, ValueError, "not species"),
    ({"Cu": np.ones((10, 4))}, ConfigError, "every one of the 4 functions of Cu"),
])
def test_prune_rejects_bad_values(values, error, match):
    with pytest.raises(error, match=match):
        prune(_single_element_set(4), values)


# -- pruning on real data --------------------------------------------------------------------
def test_prune_on_cu_drops_a_duplicated_function(cu_frames):
    base = preset(("Cu",), 5.0)
    funcs = list(base.functions["Cu"])
    dup_of = next(k for k, sf in enumerate(funcs) if sf.type == 2 and 2.0 < sf.shift < 3.0)
    with_dup = SymmetryFunctionSet(("Cu",), {"Cu": funcs + [funcs[dup_of]]}, sort=False)
    values = DescriptorCache(cu_frames, with_dup, derivatives=False).element_values()
    pruned, report = prune(with_dup, values)
    reasons = {d.index: d.reason for d in report.dropped["Cu"]}
    assert reasons[len(funcs)] == f"correlation 1 with #{dup_of}"
    assert dup_of in report.kept["Cu"]
    # without the duplicate the same decisions are taken for the other functions
    _, base_report = prune(base, {"Cu": values["Cu"][:, :-1]})
    assert base_report.kept["Cu"] == report.kept["Cu"]
    assert {d.index: d.reason for d in base_report.dropped["Cu"]} == \
        {k: r for k, r in reasons.items() if k != len(funcs)}
    # the pruned set still computes the kept columns, in order
    kept_values = DescriptorCache(cu_frames, pruned, derivatives=False).element_values()["Cu"]
    np.testing.assert_allclose(kept_values, values["Cu"][:, list(report.kept["Cu"])], rtol=1e-12)
    assert 0 < len(report.dropped["Cu"]) < len(funcs)
