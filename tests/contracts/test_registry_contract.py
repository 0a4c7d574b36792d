"""Every registered model kind passes the shared contract (contract.py) on the small example its
family registers: finite-difference forces and stress, invariances, smoothness at the cutoff,
batch against single predictions, far fragments, float32 against float64, and the saved
model read back. A family gets these checks by registering; a kind without a usable example
fails here (test_contract_refuses_a_family_without_a_usable_example shows that it would)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from potforge.core.errors import StructureError
from potforge.models import ModelExample, ModelFamily, families, load_potential
from potforge.models.registry import resolve
from potforge.models.potential import Potential

from . import contract

FAMILIES = {f.kind: f for f in families()}


def example_of(entry: ModelFamily) -> ModelExample:
    """The family's contract example, or an AssertionError saying what is missing."""
    try:
        make = entry.example
    except (ValueError, ImportError, AttributeError) as err:
        raise AssertionError(f"model kind {entry.kind!r}: no example ({err})") from None
    assert callable(make), f"model kind {entry.kind!r} registered without an example"
    example = make()
    assert isinstance(example, ModelExample), \
        f"{entry.kind}: example() returned {type(example).__name__}, expected a ModelExample"
    assert isinstance(example.potential, Potential) and example.potential.kind == entry.kind, \
        f"{entry.kind}: the example's potential is of kind {getattr(example.potential, 'kind', None)!r}"
    assert example.cluster is not None and not any(example.cluster.pbc), \
        f"{entry.kind}: the example needs an open structure (cluster)"
    assert example.periodic is None or all(example.periodic.pbc), \
        f"{entry.kind}: the example's periodic structure must be periodic in all directions"
    return example


@pytest.fixture(params=sorted(FAMILIES), scope="module")
def case(request) -> ModelExample:
    return example_of(FAMILIES[request.param])


def _structures(case: ModelExample):
    return [a for a in (case.periodic, case.cluster) if a is not None]


def test_registry_lists_every_family_folder():
    assert {"hdnnp", "hdnnp-1g", "hdnnp-3g", "hdnnp-4g", "pair", "eam", "eam-setfl", "tersoff",
            "sw"} <= set(FAMILIES)


def test_contract_refuses_a_family_without_a_usable_example():
    base = FAMILIES["pair"]
    for broken in ("", "potforge.models.classical.examples:no_such_example",
                   "potforge.models.registry:ModelFamily",  # callable, but not an example
                   FAMILIES["eam"].example_ref):           # another kind's example
        entry = ModelFamily(kind="pair", summary="", potential_ref=base.potential_ref,
                            example_ref=broken)
        with pytest.raises((AssertionError, TypeError)):
            example_of(entry)


def _declares_its_options(function, n_positional):
    """``function(potential, directory, *, options)`` or ``function(path, *, options)``: options are keyword-only and named (export_model
    and load_model read them off the signature; no catch-all ``**kwargs`` that would swallow
    a misspelt option)."""
    import inspect

    params = list(inspect.signature(function).parameters.values())
    assert all(p.kind is p.POSITIONAL_OR_KEYWORD for p in params[:n_positional]), function
    assert all(p.kind is p.KEYWORD_ONLY for p in params[n_positional:]), function


def test_every_registered_reference_resolves():
    """Each family's parts import and are what they claim (classes, callables, schemas)."""
    import dataclasses

    for entry in FAMILIES.values():
        assert entry.potential.kind == entry.kind
        assert callable(entry.example)
        for exporter in entry.exporters.values():
            _declares_its_options(exporter, 2)
        for importer in entry.importers:
            assert callable(importer.matches)
            _declares_its_options(resolve(importer.read), 1)
        if entry.is_trainable:
            assert dataclasses.is_dataclass(entry.config)
            assert callable(entry.build) and callable(entry.rebuild)


def test_forces_match_finite_differences(case):
    for atoms in _structures(case):
        contract.forces_match_finite_differences(case.potential, atoms, h=case.fd_step,
                                                 atoms_to_check=range(min(len(atoms), 6)),
                                                 rtol=1e-5, atol=1e-6)


def test_stress_matches_finite_differences_or_is_absent(case):
    if case.periodic is None:
        assert case.potential.predict(case.cluster).stress is None
        return
    contract.stress_matches_finite_differences(case.potential, case.periodic, rtol=1e-5, atol=1e-8)
    assert case.potential.predict(case.cluster).stress is None


def test_invariances(case, rng):
    for atoms in _structures(case):
        contract.invariant_under_rotation(case.potential, atoms, rng)
        contract.invariant_under_translation(case.potential, atoms)
        contract.invariant_under_permutation(case.potential, atoms, rng)
    if case.periodic is not None:
        contract.invariant_under_periodic_image_choice(case.potential, case.periodic, rng)


def test_smooth_at_cutoff(case):
    if case.long_range:
        pytest.skip(f"{case.potential.kind}: electrostatics reach beyond the cutoff")
    if not math.isfinite(case.potential.cutoff):
        pytest.skip(f"{case.potential.kind}: a global model of one molecule has no cutoff")
    cluster = case.cluster
    centre = cluster.positions.mean(axis=0)
    far = int(np.argmax(np.linalg.norm(cluster.positions - centre, axis=1)))
    contract.smooth_at_cutoff(case.potential, cluster, far, cluster.positions[far] - centre,
                              force_tol=case.cutoff_force_tolerance)


def test_batch_equals_single(case):
    contract.batch_equals_single(case.potential, _structures(case) * 2)


def test_far_fragments_add_up(case):
    if case.long_range:
        pytest.skip(f"{case.potential.kind}: far fragments interact (Coulomb, charge transfer)")
    if not math.isfinite(case.potential.cutoff):
        # a global model of one molecule: a second, far copy is not a structure it describes
        far = case.cluster.copy()
        far.positions += [50.0, 0.0, 0.0]
        with pytest.raises(StructureError):
            case.potential.predict(case.cluster + far)
        return
    half = len(case.cluster) // 2
    contract.fragments_add_up(case.potential, case.cluster[:half], case.cluster[half:])


def test_float32_agrees_with_float64(case):
    model = case.potential
    for atoms in _structures(case):
        ref = model.predict(atoms)
        model.configure(dtype="float32")
        try:
            p = model.predict(atoms)
        finally:
            model.configure(dtype="float64")
        assert model.predict(atoms).energy == ref.energy  # back to float64 exactly
        assert abs(p.energy - ref.energy) < 2e-5 * max(1.0, abs(ref.energy)), (p.energy, ref.energy)
        scale = max(1.0, float(np.abs(ref.forces).max()))
        assert np.abs(p.forces - ref.forces).max() < 1e-3 * scale
        if ref.stress is not None:
            assert np.abs(p.stress - ref.stress).max() < 1e-3 * max(1e-3, float(np.abs(ref.stress).max()))


def test_saved_model_reads_back_identically(case, tmp_path):
    case.potential.save(tmp_path / "model")
    again = load_potential(tmp_path / "model")
    assert type(again) is type(case.potential)
    again.configure(n_threads=case.potential.n_threads)  # a run-time option, not saved; the
    # compiled kernels are bit-reproducible for a given thread count
    for atoms in _structures(case):
        p, q = case.potential.predict(atoms), again.predict(atoms)
        assert p.energy == q.energy
        np.testing.assert_array_equal(p.forces, q.forces)
        if p.stress is not None:
            np.testing.assert_array_equal(p.stress, q.stress)


def test_the_registry_docstring_example_is_the_eam_registration():
    """The example in potforge/models/registry.py's docstring runs and registers what the
    eam family really registers (so the documented interface cannot drift)."""
    import textwrap

    from potforge.models import family, registry

    doc = registry.__doc__
    start = doc.index("    register_family(ModelFamily(")
    code = textwrap.dedent(doc[start:doc.index("    ))\n", start) + 7])
    captured = []
    exec(code, {"register_family": captured.append, "ModelFamily": ModelFamily})
    (example,) = captured
    real = family("eam")
    for name in ("kind", "potential_ref", "example_ref", "config_ref", "build_ref", "rebuild_ref",
                 "exporter_refs", "importers", "training_defaults"):
        assert getattr(example, name) == getattr(real, name), name
