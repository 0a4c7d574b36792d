"""neighbor_list against a brute-force enumeration of periodic images (numpy only).

The brute force knows nothing about cell lists: for every ordered pair (i, j) it walks over
every lattice translation that can possibly bring j closer than the cutoff to i (the bound
follows from |Δf_a| <= |d| |b_a|, with b_a the reciprocal vectors) and keeps 0 < d < cutoff.
"""

from __future__ import annotations

import contextlib
import itertools

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from potforge.core import neighbors as neighbors_module
from potforge.core.errors import ConfigError, PotforgeError, StructureError
from potforge.core.neighbors import (MAX_COORDINATE, MAX_CUTOFF, NeighborList, check_min_distance,
                                     check_structure, neighbor_list)

# Pairs whose distance lies this close to the cutoff may legitimately be decided either way
# by two codes that round differently; they are compared separately (see _compare).
BAND = 1e-9


def _full_cell(cell: np.ndarray, pbc: np.ndarray) -> np.ndarray:
    """Any non-singular completion of the periodic rows (only used to bound the images)."""
    full = np.array(cell, dtype=float)
    rows = [full[a] for a in range(3) if pbc[a]]
    for a in range(3):
        if pbc[a]:
            continue
        if len(rows) == 2:
            n = np.cross(rows[0], rows[1])
        elif len(rows) == 1:
            n = np.cross(rows[0], np.eye(3)[int(np.argmin(np.abs(rows[0])))])
        else:
            n = np.eye(3)[a]
        full[a] = n / np.linalg.norm(n)
        rows.append(full[a])
    return full


def brute_force(positions, cell, pbc, cutoff):
    """dict (i, j, shift) -> (vector, distance) for all 0 < |r_j - r_i + shift @ cell| < cutoff."""
    pos = np.asarray(positions, dtype=float).reshape(-1, 3)
    cell = np.asarray(cell, dtype=float)
    pbc = np.broadcast_to(np.asarray(pbc, dtype=bool), (3,))
    n = len(pos)
    out = {}
    if n == 0:
        return out
    inv = np.linalg.inv(_full_cell(cell, pbc))
    frac = pos @ inv
    dfrac = frac[None, :, :] - frac[:, None, :]
    ranges = []
    for a in range(3):
        if pbc[a]:
            reach = cutoff * np.linalg.norm(inv[:, a])
            m = int(np.ceil(np.abs(dfrac[..., a]).max() + reach)) + 1
            ranges.append(range(-m, m + 1))
        else:
            ranges.append(range(1))
    shifts = np.array(list(itertools.product(*ranges)), dtype=np.int64)
    translations = shifts @ cell
    for i in range(n):
        for j in range(n):
            v = pos[j] - pos[i] + translations
            d = np.linalg.norm(v, axis=1)
            for k in np.flatnonzero((d > 0) & (d < cutoff + BAND)):
                out[(i, j, tuple(int(x) for x in shifts[k]))] = (v[k], d[k])
    return out


def as_dict(nl: NeighborList):
    out = {}
    for p in range(nl.n_pairs):
        key = (int(nl.centers[p]), int(nl.neighbors[p]), tuple(int(x) for x in nl.shifts[p]))
        assert key not in out, f"pair {key} listed twice"
        out[key] = (nl.vectors[p], nl.distances[p])
    return out


def check_csr(nl: NeighborList, n_atoms: int) -> None:
    n_pairs = nl.n_pairs
    for arr in (nl.centers, nl.neighbors, nl.distances):
        assert arr.shape == (n_pairs,)
    assert nl.shifts.shape == (n_pairs, 3) and nl.vectors.shape == (n_pairs, 3)
    assert nl.offsets.shape == (n_atoms + 1,)
    assert nl.offsets[0] == 0 and nl.offsets[-1] == n_pairs
    assert np.all(np.diff(nl.offsets) >= 0)
    assert np.all(np.diff(nl.centers) >= 0), "centers are not sorted"
    np.testing.assert_array_equal(np.diff(nl.offsets), np.bincount(nl.centers, minlength=n_atoms))
    for i in range(n_atoms):
        assert np.all(nl.centers[nl.offsets[i]:nl.offsets[i + 1]] == i)
    if n_pairs:
        assert nl.neighbors.min() >= 0 and nl.neighbors.max() < n_atoms


def check_against_brute_force(positions, cell, pbc, cutoff, *, n_threads=1, min_pairs=0):
    positions = np.asarray(positions, dtype=float).reshape(-1, 3)
    cell = np.asarray(cell, dtype=float)
    pos_before, cell_before = positions.copy(), cell.copy()
    nl = neighbor_list(positions, cell, pbc, cutoff, n_threads=n_threads)
    # a kernel never mutates its inputs
    np.testing.assert_array_equal(positions, pos_before)
    np.testing.assert_array_equal(cell, cell_before)
    check_csr(nl, len(positions))
    assert nl.cutoff == cutoff
    pbc3 = np.broadcast_to(np.asarray(pbc, dtype=bool), (3,))

    # internal consistency: vectors and distances follow from (i, j, shift)
    if nl.n_pairs:
        expected = positions[nl.neighbors] - positions[nl.centers] + nl.shifts @ cell
        np.testing.assert_allclose(nl.vectors, expected, rtol=0, atol=1e-10)
        np.testing.assert_allclose(nl.distances, np.linalg.norm(nl.vectors, axis=1), rtol=1e-14, atol=0)
        assert np.all(nl.distances > 0) and np.all(nl.distances < cutoff)
        # no image along a non-periodic direction
        assert np.all(nl.shifts[:, ~pbc3] == 0)

    got, ref = as_dict(nl), brute_force(positions, cell, pbc3, cutoff)
    certain = {k for k, (_, d) in ref.items() if d < cutoff - BAND}
    missing = certain - got.keys()
    extra = got.keys() - ref.keys()
    assert not missing, f"{len(missing)} pairs missing, e.g. {sorted(missing)[:5]}"
    assert not extra, f"{len(extra)} pairs that are not within the cutoff, e.g. {sorted(extra)[:5]}"
    for key, (v, d) in got.items():
        np.testing.assert_allclose(v, ref[key][0], rtol=0, atol=1e-10, err_msg=str(key))
        np.testing.assert_allclose(d, ref[key][1], rtol=1e-13, atol=1e-12, err_msg=str(key))
    # full list: every i -> j (+S) has its j -> i (-S)
    for i, j, s in got:
        assert (j, i, tuple(-x for x in s)) in got
    assert len(got) >= min_pairs
    return nl


# -- fixed geometries -----------------------------------------------------------------------------

def _random_positions(rng, cell, n, low=0.0, high=1.0):
    return rng.uniform(low, high, (n, 3)) @ cell


def test_cubic_cell(rng):
    cell = np.eye(3) * 6.0
    check_against_brute_force(_random_positions(rng, cell, 20), cell, True, 3.5, min_pairs=50)


def test_strongly_triclinic_cell(rng):
    cell = np.array([[5.0, 0.0, 0.0], [4.6, 1.3, 0.0], [-4.2, 1.1, 1.7]])
    assert abs(np.linalg.det(cell)) > 1  # skewed but not singular
    check_against_brute_force(_random_positions(rng, cell, 12), cell, True, 3.9, min_pairs=100)


def test_cell_much_smaller_than_cutoff(rng):
    cell = np.array([[1.1, 0.0, 0.0], [0.3, 0.9, 0.0], [0.2, -0.1, 1.3]])
    nl = check_against_brute_force(_random_positions(rng, cell, 3), cell, True, 4.0, min_pairs=500)
    assert np.abs(nl.shifts).max() >= 4  # many images per direction


def test_atoms_outside_the_cell(rng):
    cell = np.array([[4.0, 0.2, 0.0], [-0.7, 3.8, 0.1], [0.4, 0.3, 4.4]])
    positions = _random_positions(rng, cell, 10, low=-3.5, high=4.5)
    frac = np.linalg.solve(cell.T, positions.T).T
    assert frac.min() < -1 and frac.max() > 2
    check_against_brute_force(positions, cell, True, 3.0, min_pairs=20)


def test_same_pairs_as_wrapped_positions(rng):
    """Unwrapped and wrapped coordinates give the same pairs and vectors (only shifts differ)."""
    cell = np.array([[4.0, 0.2, 0.0], [-0.7, 3.8, 0.1], [0.4, 0.3, 4.4]])
    frac = rng.uniform(-3, 4, (9, 3))
    a = neighbor_list(frac @ cell, cell, True, 3.2)
    b = neighbor_list((frac % 1.0) @ cell, cell, True, 3.2)
    ka = sorted(zip(a.centers.tolist(), a.neighbors.tolist(), np.round(a.vectors, 8).tolist()))
    kb = sorted(zip(b.centers.tolist(), b.neighbors.tolist(), np.round(b.vectors, 8).tolist()))
    assert ka == kb


def test_open_boundaries(rng):
    positions = rng.uniform(-3, 3, (25, 3))
    nl = check_against_brute_force(positions, np.zeros((3, 3)), False, 2.5, min_pairs=20)
    assert np.all(nl.shifts == 0)
    # without images, the list is the plain all-pairs list
    d = np.linalg.norm(positions[None] - positions[:, None], axis=-1)
    assert nl.n_pairs == np.count_nonzero((d < 2.5) & (d > 0))


@pytest.mark.parametrize("pbc,zero_rows", [
    ((True, True, False), (2,)),
    ((True, True, False), ()),
    ((False, True, True), (0,)),
    ((True, False, False), (1, 2)),
    ((False, False, True), ()),
])
def test_mixed_boundaries(rng, pbc, zero_rows):
    cell = np.array([[2.9, 0.3, 0.0], [-0.6, 3.1, 0.0], [0.5, 0.4, 3.3]])
    positions = rng.uniform(-1, 2, (8, 3)) @ cell
    cell[list(zero_rows)] = 0.0
    check_against_brute_force(positions, cell, pbc, 4.0, min_pairs=20)


def test_single_atom_in_tiny_cell_sees_its_own_images():
    a = 1.3
    cell = np.eye(3) * a
    nl = check_against_brute_force([[0.1, 0.2, 0.3]], cell, True, 2.0)
    assert np.all(nl.centers == 0) and np.all(nl.neighbors == 0)
    # simple cubic lattice: shells at a = 1.3 (6) and a√2 = 1.84 (12); a√3 = 2.25 > 2.0
    assert nl.n_pairs == 18
    np.testing.assert_allclose(np.sort(nl.distances),
                               np.sort(np.linalg.norm(nl.shifts * a, axis=1)), rtol=1e-14)


def test_single_atom_in_triclinic_cell(rng):
    cell = np.array([[0.9, 0.0, 0.0], [0.5, 0.8, 0.0], [0.2, 0.3, 0.7]])
    check_against_brute_force([[5.0, -3.0, 2.0]], cell, True, 3.1, min_pairs=200)


def test_empty_structure():
    nl = neighbor_list(np.zeros((0, 3)), np.eye(3) * 3, True, 2.0)
    check_csr(nl, 0)
    assert nl.n_pairs == 0
    nl = neighbor_list(np.zeros((0, 3)), np.zeros((3, 3)), False, 2.0)
    check_csr(nl, 0)


def test_cutoff_is_strict():
    """Simple cubic, spacing exactly 2: no pair at a cutoff of 2, six per atom just above."""
    cell = np.eye(3) * 4.0
    positions = np.array(list(itertools.product([0.0, 2.0], repeat=3)))
    assert neighbor_list(positions, cell, True, 2.0).n_pairs == 0
    nl = neighbor_list(positions, cell, True, np.nextafter(2.0, 3.0))
    assert nl.n_pairs == 6 * len(positions)
    np.testing.assert_array_equal(nl.distances, 2.0)


def test_threads_give_the_same_list(rng):
    cell = np.array([[5.0, 0.0, 0.0], [1.0, 5.0, 0.0], [0.5, 0.5, 5.0]])
    positions = _random_positions(rng, cell, 60)
    one = as_dict(neighbor_list(positions, cell, True, 3.0, n_threads=1))
    two = as_dict(neighbor_list(positions, cell, True, 3.0, n_threads=2))
    assert one.keys() == two.keys()
    for k in one:
        np.testing.assert_allclose(one[k][0], two[k][0], rtol=0, atol=1e-12)


# -- random geometries (hypothesis) --------------------------------------------------------------

@st.composite
def structures(draw):
    seed = draw(st.integers(0, 2**32 - 1))
    r = np.random.default_rng(seed)
    n = draw(st.integers(0, 7))
    pbc = np.array(draw(st.tuples(st.booleans(), st.booleans(), st.booleans())))
    scale = draw(st.floats(0.7, 6.0))
    skew = draw(st.floats(0.0, 0.9))
    cell = scale * (np.eye(3) + skew * r.uniform(-1, 1, (3, 3)))
    if abs(np.linalg.det(cell)) < 0.05 * scale**3:
        cell = scale * np.eye(3)
    zero_open_rows = draw(st.booleans())
    positions = r.uniform(-1.5, 2.5, (n, 3)) @ cell
    if zero_open_rows:
        cell[~pbc] = 0.0
    cutoff = draw(st.floats(0.5, 4.0))
    return positions, cell, pbc, cutoff


@contextlib.contextmanager
def hashed_grid():
    """Keep only occupied cells (the grid used for huge or sparse structures) for any structure."""
    old = neighbors_module._DENSE_CELLS
    neighbors_module._DENSE_CELLS = 0
    try:
        yield
    finally:
        neighbors_module._DENSE_CELLS = old


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(structures())
def test_random_structures_match_brute_force(structure):
    positions, cell, pbc, cutoff = structure
    check_against_brute_force(positions, cell, pbc, cutoff)
    with hashed_grid():
        check_against_brute_force(positions, cell, pbc, cutoff)


# -- check_structure ---------------------------------------------------------------------------

@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_position_names_the_atom(rng, bad):
    positions = rng.uniform(0, 3, (6, 3))
    positions[4, 1] = bad
    with pytest.raises(StructureError, match=r"\batom 4\b"):
        check_structure(positions, np.eye(3) * 3, np.array([True] * 3))
    with pytest.raises(StructureError, match=r"\batom 4\b"):
        neighbor_list(positions, np.eye(3) * 3, True, 2.0)
    with pytest.raises(StructureError, match=r"\batom 4\b"):
        neighbor_list(positions, np.zeros((3, 3)), False, 2.0)


@pytest.mark.parametrize("axis", [0, 1, 2])
def test_periodic_axis_with_zero_cell_vector(rng, axis):
    cell = np.eye(3) * 4.0
    cell[axis] = 0.0
    pbc = np.array([True, True, True])
    with pytest.raises(StructureError, match=f"axis {axis}"):
        check_structure(rng.uniform(0, 3, (3, 3)), cell, pbc)
    with pytest.raises(StructureError):
        neighbor_list(rng.uniform(0, 3, (3, 3)), cell, pbc, 2.0)
    # the same cell is fine when that axis is not periodic
    pbc[axis] = False
    check_structure(rng.uniform(0, 3, (3, 3)), cell, pbc)


def test_singular_periodic_cell_and_non_finite_cell(rng):
    cell = np.array([[3.0, 0.0, 0.0], [0.0, 3.0, 0.0], [3.0, 3.0, 0.0]])  # coplanar
    with pytest.raises(StructureError):
        neighbor_list(rng.uniform(0, 3, (3, 3)), cell, True, 2.0)
    cell = np.eye(3) * 3.0
    cell[1, 2] = np.nan
    with pytest.raises(StructureError):
        neighbor_list(rng.uniform(0, 3, (3, 3)), cell, True, 2.0)


def test_bad_positions_shape_is_a_structure_error():
    with pytest.raises(StructureError):
        neighbor_list(np.zeros((4, 2)), np.eye(3), True, 1.0)
    assert issubclass(StructureError, PotforgeError)


# -- physically odd structures (issue 13): right answers or one-line errors, never a signal -----

def _far_structures():
    """name -> (positions, cell, pbc, cutoff) of structures whose extent dwarfs the cutoff.

    vesin 0.6, used before, divided by zero (SIGFPE) on most of them: its cell grid, capped at
    1e5 cells, truncated the thin directions of a long or flat bounding box to zero cells.
    """
    r = np.random.default_rng(7)
    blob = r.uniform(0.0, 3.0, (6, 3))
    zero = np.zeros((3, 3))
    slab_cell = np.array([[2.9, 0.3, 0.0], [-0.6, 3.1, 0.0], [0.0, 0.0, 0.0]])
    flat = np.column_stack([r.uniform(-2500, 2500, (100, 2)), r.uniform(-0.5, 0.5, 100)])
    return {
        "open, a pair 1e6 Å away": (np.vstack([blob, [[1e6, 0, 0], [1e6 + 1.5, 0.3, 0]]]),
                                    zero, False, 4.0),
        "open, fragments 1e12 Å apart": (np.vstack([blob - 5e11, blob + [5e11, -5e11, 5e11]]),
                                         zero, False, 4.0),
        "open, 5000 Å wide flat sheet": (np.vstack([flat, blob]), zero, False, 4.0),
        "slab T T F, atom 1e6 Å above": (np.vstack([blob, [[0.5, 0.5, 1e6]]]), slab_cell,
                                         (True, True, False), 4.0),
        "wire T F F, atom 1e6 Å aside": (np.vstack([blob, [[0.0, 1e6, -3.0]]]),
                                         np.diag([2.5, 0.0, 0.0]), (True, False, False), 4.0),
        "periodic, 1e7 Å of vacuum": (blob, np.diag([3.0, 3.2, 1e7]), True, 4.0),
        "periodic, 1e6 Å long cell": (np.vstack([blob, r.uniform(0, 1e6, (20, 3)) * [1, 0, 0]]),
                                      np.diag([1e6, 3.0, 2.8]), True, 4.0),
        "periodic, skewed basis (heights 0.03 Å)": (blob[:3], np.array([[3.0, 0, 0], [300.0, 3.0, 0],
                                                                        [0, 0.2, 3.0]]), True, 4.0),
    }


@pytest.mark.parametrize("name", list(_far_structures()))
def test_far_apart_and_extreme_cells_match_brute_force(name):
    positions, cell, pbc, cutoff = _far_structures()[name]
    check_against_brute_force(positions, cell, pbc, cutoff, min_pairs=2)


def test_skewed_basis_is_reduced_to_the_lattice_vectors():
    rows = np.array([[3.0, 0, 0], [300.0, 3.0, 0], [0, 0.2, 3.0]])
    reduced, m = neighbors_module._greedy_reduction(rows)
    np.testing.assert_allclose(np.sort(np.linalg.norm(reduced, axis=1)), [3.0, 3.0, np.hypot(0.2, 3.0)])
    assert abs(round(np.linalg.det(m))) == 1  # same lattice
    np.testing.assert_allclose(m @ rows, reduced, atol=1e-9)
    # a reduced (here hexagonal) basis is left alone
    hexagonal = np.array([[2.5, 0, 0], [-1.25, 2.5 * 3**0.5 / 2, 0], [0, 0, 4.0]])
    gram = (hexagonal @ hexagonal.T).tolist()
    assert neighbors_module._reduced_cell(hexagonal, np.array([True] * 3), gram)[1] is None


def test_isolated_atom_far_away_has_no_neighbours():
    """The reproducer of issue 13: O at the origin, H 2e6 Å away (vesin: SIGFPE)."""
    nl = neighbor_list([[0, 0, 0], [2e6, 0, 0]], np.zeros((3, 3)), False, 6.35)
    assert nl.n_pairs == 0
    np.testing.assert_array_equal(nl.offsets, [0, 0, 0])


@pytest.mark.parametrize("pbc", [False, True])
def test_many_atoms_on_one_point_are_listed_then_refused_as_overlapping(pbc):
    positions = np.full((40, 3), 1.0)
    nl = neighbor_list(positions, np.eye(3) * 10.0, pbc, 3.0)
    check_csr(nl, 40)
    assert nl.n_pairs == 40 * 39 and np.all(nl.distances == 0)
    with pytest.raises(StructureError, match="overlap"):
        check_min_distance(nl.distances, nl.centers, nl.neighbors, 0.3)


@pytest.mark.parametrize("cutoff", [np.inf, -np.inf, np.nan, 0.0, -1.0, 1e308, MAX_CUTOFF * 1.001, "x", None])
def test_bad_cutoffs_are_one_line_config_errors(cutoff):
    for pbc, cell in ((True, np.eye(3) * 3), (False, np.zeros((3, 3)))):
        with pytest.raises(ConfigError, match="cutoff") as err:
            neighbor_list([[0, 0, 0], [1, 0, 0]], cell, pbc, cutoff)
        assert "\n" not in str(err.value)


def test_largest_cutoff_on_an_open_structure_lists_all_pairs():
    positions = np.random.default_rng(3).uniform(-50, 50, (30, 3))
    assert neighbor_list(positions, np.zeros((3, 3)), False, MAX_CUTOFF).n_pairs == 30 * 29


def test_huge_coordinates_and_cells_are_refused():
    with pytest.raises(StructureError, match=r"atom 1 .*1e\+12"):
        neighbor_list([[0, 0, 0], [0, 2 * MAX_COORDINATE, 0]], np.zeros((3, 3)), False, 5.0)
    with pytest.raises(StructureError, match="cell vector 2"):
        neighbor_list([[0, 0, 0]], np.diag([3, 3, 2 * MAX_COORDINATE]), True, 5.0)
    # an atom 1e10 cell lengths outside a periodic cell: its shifts would not fit in int32
    with pytest.raises(StructureError, match="atom 1 .*outside the periodic cell"):
        neighbor_list([[0, 0, 0], [3e10, 0, 0]], np.eye(3) * 3.0, True, 5.0)


@pytest.mark.parametrize("size,cutoff", [(0.5, MAX_CUTOFF), (0.5, 300.0), (1e-3, 50.0)])
def test_tiny_cell_with_huge_cutoff_is_refused_at_once(size, cutoff):
    """Billions of images: refused before any work or memory is spent (this ran out of memory or
    hung before)."""
    import time

    start = time.perf_counter()
    with pytest.raises(StructureError, match="periodic images") as err:
        neighbor_list([[0.1, 0.1, 0.1]], np.eye(3) * size, True, cutoff)
    assert "\n" not in str(err.value)
    assert time.perf_counter() - start < 1.0


def test_lists_larger_than_the_memory_allows_are_refused(monkeypatch):
    monkeypatch.setattr(neighbors_module, "max_pairs", lambda: 10_000)
    cases = [
        # a tiny cell with a cutoff that is large but not absurd: 112,930 pairs (refused from
        # the density before any work), then the same with open z (refused while counting)
        (np.zeros((1, 3)), np.eye(3), True, 30.0, 1),
        (np.zeros((1, 3)), np.eye(3), (True, True, False), 70.0, 1),
        # many atoms on one point, open and periodic, one and two threads
        (np.zeros((200, 3)), np.zeros((3, 3)), False, 1.0, 1),
        (np.zeros((600, 3)), np.eye(3) * 20, True, 1.0, 2),
    ]
    for positions, cell, pbc, cutoff, threads in cases:
        with pytest.raises(StructureError, match=r"pairs.* 10000 |exceed 10000 pairs") as err:
            neighbor_list(positions, cell, pbc, cutoff, n_threads=threads)
        assert "\n" not in str(err.value)
    assert neighbor_list(np.zeros((100, 3)), np.zeros((3, 3)), False, 1.0).n_pairs == 9900
    assert neighbors_module._memory_bytes() > 2**26  # the real limit comes from the machine


def test_any_thread_count_and_grid_give_the_same_list_bit_for_bit(rng):
    cell = np.array([[11.0, 0.0, 0.0], [2.0, 10.0, 0.0], [1.0, -1.5, 12.0]])
    positions = _random_positions(rng, cell, 1100, low=-0.2, high=1.2)
    one = neighbor_list(positions, cell, True, 3.0, n_threads=1)
    assert one.n_pairs > 10_000
    with hashed_grid():
        hashed = neighbor_list(positions, cell, True, 3.0, n_threads=1)
    for other in [neighbor_list(positions, cell, True, 3.0, n_threads=t) for t in (2, 3, 0)] + [hashed]:
        for name in ("centers", "neighbors", "shifts", "vectors", "distances", "offsets"):
            np.testing.assert_array_equal(getattr(one, name), getattr(other, name), err_msg=name)
