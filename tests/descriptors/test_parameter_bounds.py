"""Symmetry-function parameters and descriptor presets are checked against physical bounds:
NaN, infinite or absurd values are ValueErrors/ConfigErrors naming the parameter (an infinite
cutoff used to end in a vesin traceback, 1e308 hung the neighbour search)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from potforge.core.errors import ConfigError
from potforge.descriptors.presets import angular_functions, preset, radial_functions
from potforge.descriptors.scaling import ScalingStatistics, SymmetryFunctionScaling
from potforge.descriptors.symmetry_functions import (MAX_CUTOFF, SymmetryFunction, SymmetryFunctionSet,
                                                     parse_n2p2_symfunction)
from potforge.models.hdnnp.build import symmetry_functions_from_config
from potforge.models.hdnnp.config import (HDNNPConfig, PresetConfig, PruneConfig, ScalingConfig,
                                          SymmetryFunctionsConfig)
from potforge.models.hdnnp_1g.config import MolecularConfig

RADIAL = dict(type=2, element="O", neighbors=("H",), cutoff_radius=5.0, eta=0.5, shift=1.0)
ANGULAR = dict(type=3, element="O", neighbors=("H", "H"), cutoff_radius=5.0, eta=0.1, lambda_=1.0,
               zeta=2.0)


@pytest.mark.parametrize("base,name,value,message", [
    *[(RADIAL, "cutoff_radius", v, "cutoff radius") for v in (math.inf, 1e308, 0.0, -1.0, MAX_CUTOFF * 1.01)],
    (RADIAL, "cutoff_radius", math.nan, "cutoff_radius: expected a number"),
    *[(RADIAL, "eta", v, "eta") for v in (math.nan, math.inf, -0.1, 1e5)],
    *[(RADIAL, "shift", v, "rshift") for v in (math.nan, math.inf, 1e308)],
    *[(ANGULAR, "zeta", v, "zeta") for v in (math.nan, math.inf, 0.5, 0.0, 1e308)],
    *[(ANGULAR, "lambda_", v, "lambda") for v in (math.nan, 0.0, 0.5, 2.0, -math.inf)],
    (ANGULAR, "cutoff_alpha", math.nan, "cutoff_alpha"),
    (ANGULAR, "cutoff_alpha", 1.0, "cutoff_alpha"),
    (ANGULAR, "eta", "0.1", "eta: expected a number"),
    (dict(type=100, element="O", neighbors=("H", "H"), cutoff_radius=5.0, eta=0.1, zeta=2.0),
     "angle_shift", math.inf, "angle shift"),
    (dict(type=20, element="O", neighbors=("H",), cutoff_radius=5.0, subtype="p2"), "inner_radius",
     -math.inf, "rlow"),
    (dict(type=21, element="O", neighbors=("H", "H"), cutoff_radius=5.0, subtype="p2"), "angle_right",
     math.inf, "angle window"),
])
def test_symmetry_function_parameters_are_bounded(base, name, value, message):
    with pytest.raises(ValueError, match=message):
        SymmetryFunction(**{**base, name: value})


def test_legal_edge_values_are_accepted():
    SymmetryFunction(**{**RADIAL, "cutoff_radius": MAX_CUTOFF, "eta": 0.0, "shift": -1.0})
    SymmetryFunction(**{**ANGULAR, "zeta": 1.0, "lambda_": -1.0})
    SymmetryFunction(**{**ANGULAR, "zeta": 64.0})


@pytest.mark.parametrize("fields,message", [
    ("O 2 H 0.1 0.0 inf", "rcutoff: expected a finite number"),
    ("O 2 H 0.1 0.0 1e308", "cutoff radius"),
    ("O 2 H nan 0.0 6.0", "eta: expected a finite number"),
    ("O 3 H H 0.1 1 nan 6.0", "zeta: expected a finite number"),
    ("O 3 H H 0.1 1 2 6.0 inf", "rshift: expected a finite number"),
    ("O 2.0 H 0.1 0.0 6.0", "symmetry function type: expected an integer"),
    ("O 2 H 0.1 0.0 ６", "rcutoff: expected a number"),  # full-width digit
    ("O 2 H 0.1 0.0 6_0", "rcutoff: expected a number"),
])
def test_n2p2_lines_take_plain_finite_numbers(fields, message):
    with pytest.raises(ValueError, match=message):
        parse_n2p2_symfunction(fields.split())


@pytest.mark.parametrize("cutoff", [math.inf, 1e308, math.nan, 0.0, 150.0])
def test_presets_refuse_absurd_cutoffs(cutoff):
    with pytest.raises(ConfigError, match="cutoff"):
        preset(("H",), cutoff)
    with pytest.raises(ConfigError, match=r"model\.symmetry_functions\.preset: .*cutoff"):
        PresetConfig(cutoff=cutoff).check("model.symmetry_functions.preset")


def test_preset_grids_outside_the_bounds_are_config_errors():
    """A grid squeezed against the cutoff gives η ~ 1e12: a ConfigError, not a traceback."""
    with pytest.raises(ConfigError, match="radial_functions: eta"):
        radial_functions(("H",), 5.0, 8, r_min=5.0 - 1e-7)
    with pytest.raises(ConfigError, match="zetas"):
        angular_functions(("H",), 5.0, 2, zetas=(1.0, 1e308))


def test_config_n2p2_lines_with_infinite_cutoff():
    sc = SymmetryFunctionsConfig(n2p2=("O 2 H 0.1 0.0 5.0", "O 2 O 0.1 0.0 inf"))
    with pytest.raises(ConfigError, match=r"model\.symmetry_functions\.n2p2\[1\]: rcutoff"):
        symmetry_functions_from_config(sc, ("H", "O"), None)


@pytest.mark.parametrize("config,key", [
    (ScalingConfig(min=math.nan), "model.scaling"),
    (ScalingConfig(min=-math.inf, max=math.inf), "model.scaling"),
    (ScalingConfig(min=0.0, max=1e308), "model.scaling"),
    (PruneConfig(min_range=math.nan), "model.symmetry_functions.prune.min_range"),
    (PruneConfig(min_relative_range=math.inf), "model.symmetry_functions.prune.min_relative_range"),
    (HDNNPConfig(output_scale=math.inf), "model.output_scale"),
    (HDNNPConfig(output_scale=math.nan), "model.output_scale"),
    (HDNNPConfig(element_energies={"H": math.nan}), "model.element_energies.H"),
    (MolecularConfig(length=math.inf), "model.length"),
    (MolecularConfig(length=math.nan), "model.length"),
])
def test_training_configs_refuse_non_finite_numbers(config, key):
    where = {PruneConfig: "model.symmetry_functions.prune", ScalingConfig: "model.scaling"}.get(
        type(config), "model")
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        config.check(where)


@pytest.mark.parametrize("field,index,value,message", [
    ("minimum", 0, math.nan, "minimum nan"), ("maximum", 1, math.inf, "maximum inf"),
    ("maximum", 0, -1.0, "minimum 0.0 > maximum -1.0"), ("mean", 1, 3.0, "mean 3.0 outside"),
    ("sigma", 1, -0.5, "sigma -0.5 is negative"), ("mean", 0, 1e30, "mean 1e\\+30"),
])
def test_scaling_statistics_are_checked(field, index, value, message):
    arrays = dict(minimum=np.zeros(2), maximum=np.ones(2), mean=np.full(2, 0.5), sigma=np.full(2, 0.2))
    arrays[field][index] = value
    with pytest.raises(ValueError, match=message):
        ScalingStatistics(**arrays)


@pytest.mark.parametrize("smin,smax", [(math.nan, 1.0), (0.0, math.inf), (1.0, 1.0), (2.0, 1.0), (0, 1e300)])
def test_scaled_range_is_checked(smin, smax):
    st = ScalingStatistics(np.zeros(1), np.ones(1), np.full(1, 0.5), np.full(1, 0.2))
    with pytest.raises(ValueError, match="scaled range"):
        SymmetryFunctionScaling("scale", {"H": st}, smin, smax)


def test_tiny_training_ranges_scale_exactly():
    """mlearn Li: ranges 1e-245..1e-128 give factors ~5e135, kept as they are."""
    st = ScalingStatistics(np.array([4.15e-245]), np.array([2.05e-136]), np.array([1e-140]),
                           np.array([1e-139]))
    a, b = SymmetryFunctionScaling("scale", {"Li": st}).affine("Li")
    assert a[0] == pytest.approx(1 / 2.05e-136) and np.isfinite(b[0])
    assert a[0] * 2.05e-136 + b[0] == pytest.approx(1.0)
    st = ScalingStatistics(np.array([0.0]), np.array([1e-320]), np.array([0.0]), np.array([0.0]))
    a, _ = SymmetryFunctionScaling("scale", {"Li": st}).affine("Li")
    assert a[0] == 0.0  # 1/1e-320 overflows: treated as constant, like min == max


def test_function_sets_name_the_bad_function():
    sfs = SymmetryFunctionSet(("O", "H"), {"O": [SymmetryFunction(**RADIAL), SymmetryFunction(**ANGULAR)],
                                          "H": [SymmetryFunction(**{**RADIAL, "element": "H"})]})
    data = sfs.to_dict()
    data["functions"]["O"][1]["zeta"] = 0.5
    with pytest.raises(ValueError, match=r"functions\.O\[1\]: zeta"):
        SymmetryFunctionSet.from_dict(data)
