"""No input can crash the compiled HDNNP kernels: large function groups on every vector
width, and corrupted tables, networks and neighbour lists give ValueErrors, never a signal."""

from __future__ import annotations

import numpy as np
import pytest

from potforge import _native
from potforge.core.elements import species_indices
from potforge.core.neighbors import neighbor_list
from potforge.descriptors.symmetry_functions import SymmetryFunction, SymmetryFunctionSet

from ..helpers import all_types_set, random_structure, synthetic_hdnnp


def _large_groups() -> SymmetryFunctionSet:
    """More than 64 members and more than 64 (eta, r_s) keys in one angular group (H: 70
    narrow H-H functions with distinct eta), and 72 wide ones sharing 9 keys (O), as in
    mlearn's Li model (72 in one group), which overflowed the kernels' stack buffers."""
    kw = dict(cutoff_radius=4.0, cutoff_type="cos")
    h = [SymmetryFunction(3, element="H", neighbors=("H", "H"), eta=0.01 + 0.003 * k,
                          lambda_=1.0 if k % 2 else -1.0, zeta=1.0 + k % 3, **kw) for k in range(70)]
    h.append(SymmetryFunction(2, element="H", neighbors=("O",), eta=0.5, **kw))
    o = [SymmetryFunction(9, element="O", neighbors=("H", "O"), eta=0.02 * (1 + k // 8),
                          lambda_=(-1.0, 1.0)[k % 2], zeta=(1.0, 2.0, 4.0, 16.0)[k // 2 % 4], **kw)
         for k in range(72)]
    return SymmetryFunctionSet(("H", "O"), {"H": h, "O": o})


@pytest.mark.parametrize("architecture", _native.supported_architectures())
def test_large_angular_groups_on_every_architecture(rng, architecture, monkeypatch):
    monkeypatch.setenv("POTFORGE_KERNEL_ARCH", architecture)
    structures = [random_structure(rng, n_atoms=10, cell_size=4.5)]
    model = synthetic_hdnnp(rng, _large_groups(), structures=structures)
    for atoms in structures:
        fast, ref = model.predict(atoms), model.predict_reference(atoms)
        assert fast.energy == pytest.approx(ref.energy, rel=1e-12, abs=1e-10)
        np.testing.assert_allclose(fast.forces, ref.forces, rtol=1e-9, atol=1e-10)
        model.dtype = "float32"
        single = model.predict(atoms)
        model.dtype = "float64"
        assert single.energy == pytest.approx(ref.energy, rel=1e-4, abs=1e-4)
        np.testing.assert_allclose(single.forces, ref.forces, rtol=1e-3, atol=1e-3)


def _tables(sfs):
    return [sfs.table(e) for e in sfs.species]


# column: 0 type, 1-2 neighbour species, 3 cutoff type, 4 alpha, 5 r_c, 6 eta, 9 zeta, 10 r_l,
# 11-12 angles (radians), 13 core
@pytest.mark.parametrize("column,value", [
    (0, np.nan), (0, 2.5), (0, 7.0), (0, 1e300), (1, 1e12), (1, np.nan), (2, 5.0), (3, 9.0),
    (3, -1.0), (4, 1.0), (4, np.inf), (5, 0.0), (5, -4.0), (5, np.inf), (6, -1.0), (6, np.nan),
    (7, np.inf), (8, np.nan), (9, 0.5), (9, 5000.0), (13, 99.0), (15, np.inf),
])
def test_kernel_refuses_corrupted_tables(column, value):
    sfs = all_types_set()
    for row in range(sfs.n_functions("H")):
        tables = _tables(sfs)
        if column == 9 and sfs.functions["H"][row].type in (2, 12, 20, 23):
            continue
        tables[0][row, column] = value
        with pytest.raises(ValueError):
            _native.make_kernel(tables, 2)


def test_kernel_refuses_compact_windows_that_divide_by_zero():
    sfs = all_types_set()
    tables = _tables(sfs)
    k = next(i for i, sf in enumerate(sfs.functions["H"]) if sf.type == 21)
    tables[0][k, 10] = tables[0][k, 5]  # r_l = r_c
    with pytest.raises(ValueError, match="r_l >= r_c"):
        _native.make_kernel(tables, 2)
    tables = _tables(sfs)
    tables[0][k, 11] = tables[0][k, 12]  # empty angle window
    with pytest.raises(ValueError, match="left angle"):
        _native.make_kernel(tables, 2)


@pytest.fixture
def evaluation(rng):
    model = synthetic_hdnnp(rng, all_types_set())
    atoms = random_structure(rng, n_atoms=10)
    idx, z = species_indices(atoms, model.species)
    nl = neighbor_list(atoms.positions, np.asarray(atoms.cell), atoms.pbc, model.cutoff)
    args = dict(species=idx.astype(np.int32), atom_weights=z.astype(np.float64),
                offsets=nl.offsets.copy(), neighbors=nl.neighbors.copy(), vectors=nl.vectors.copy(),
                distances=nl.distances.copy())
    return model, args


@pytest.mark.parametrize("corruption", ["neighbor past the end", "negative neighbor",
                                        "offsets decrease", "offsets do not start at 0",
                                        "nan distance", "negative distance", "inf vector",
                                        "nan atom weight", "species out of range"])
def test_kernels_refuse_corrupted_neighbour_lists(evaluation, corruption):
    model, args = evaluation
    n = len(args["species"])
    if corruption == "neighbor past the end":
        args["neighbors"][3] = n
    elif corruption == "negative neighbor":
        args["neighbors"][0] = -1
    elif corruption == "offsets decrease":
        args["offsets"][2], args["offsets"][3] = args["offsets"][3], args["offsets"][2]
    elif corruption == "offsets do not start at 0":
        args["offsets"][0] = 1
    elif corruption == "nan distance":
        args["distances"][5] = np.nan
    elif corruption == "negative distance":
        args["distances"][5] = -1.0
    elif corruption == "inf vector":
        args["vectors"][4, 1] = np.inf
    elif corruption == "nan atom weight":
        args["atom_weights"][0] = np.nan
    else:
        args["species"][1] = 7
    with pytest.raises(ValueError):
        _native.hdnnp_evaluate(model.kernel, output_scale=1.0, **args)
    with pytest.raises(ValueError):
        _native.symmetry_functions(model.symmetry_functions.kernel, **args)


def test_kernel_refuses_non_finite_networks_and_scales(evaluation):
    model, args = evaluation
    sfs = model.symmetry_functions
    nets = [model.networks[s].kernel_spec() for s in model.species]
    scalings = [(*model.scaling.affine(s), model.scaling.statistics[s].minimum,
                 model.scaling.statistics[s].maximum) for s in model.species]
    _native.make_kernel(_tables(sfs), 2, nets, scalings)  # as given: fine
    bad_nets = [(list(w), list(b), a, n) for w, b, a, n in nets]
    bad_nets[1][0][0] = bad_nets[1][0][0].copy()
    bad_nets[1][0][0][0, 0] = np.nan
    with pytest.raises(ValueError, match="network weight"):
        _native.make_kernel(_tables(sfs), 2, bad_nets, scalings)
    bad_scalings = [tuple(np.array(a, dtype=float) for a in sc) for sc in scalings]
    bad_scalings[0][0][2] = np.inf
    with pytest.raises(ValueError, match="scaling factor"):
        _native.make_kernel(_tables(sfs), 2, nets, bad_scalings)
    bad_scalings = [tuple(np.array(a, dtype=float) for a in sc) for sc in scalings]
    bad_scalings[0][0][2] = 5e135  # fine in float64, not in float32
    _native.make_kernel(_tables(sfs), 2, nets, bad_scalings)
    with pytest.raises(ValueError, match="float32"):
        _native.make_kernel(_tables(sfs), 2, nets, bad_scalings, dtype="float32")
    for scale in (np.nan, np.inf):
        with pytest.raises(ValueError, match="output scale"):
            _native.hdnnp_evaluate(model.kernel, output_scale=scale, **args)


def test_absurd_thread_count_does_not_start_a_million_threads(evaluation):
    model, args = evaluation
    reference = _native.hdnnp_evaluate(model.kernel, output_scale=1.0, n_threads=1, **args)
    many = _native.hdnnp_evaluate(model.kernel, output_scale=1.0, n_threads=10**6, **args)
    np.testing.assert_allclose(many[0], reference[0], rtol=1e-12, atol=1e-12)
