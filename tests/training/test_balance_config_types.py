"""``loss.balance_config_types``: every config_type of the training frames weighs alike."""

from __future__ import annotations

import pytest

from potforge.training.config import training_config
from potforge.training.loss import Loss, balanced_config_type_weights


def test_factors_equalise_the_total_weight_of_every_type():
    types = ["md"] * 6 + ["surface"] * 2 + [None] * 4
    w = balanced_config_type_weights(types)
    # 12 frames, 3 types (untyped frames count as one): md 12/(3*6), surface 12/(3*2)
    assert w == pytest.approx({"md": 12 / 18, "surface": 2.0})
    assert 6 * w["md"] == pytest.approx(2 * w["surface"]) == pytest.approx(4.0)   # = the untyped total
    # explicit weights multiply; names absent from the data keep their explicit factor
    w = balanced_config_type_weights(types, {"surface": 3.0, "absent": 0.5})
    assert w == pytest.approx({"md": 12 / 18, "surface": 6.0, "absent": 0.5})
    assert balanced_config_type_weights([]) == {}


def test_the_config_key_reaches_the_loss():
    raw = {"data": {"train": "x.xyz"}, "loss": {"balance_config_types": True,
                                                 "config_type_weights": {"md": 2.0}}}
    config = training_config(raw)
    loss = Loss.from_config(config.loss, 0.0, ["md", "md", "md", "bulk"])
    assert loss.config_type_weights == pytest.approx({"md": 2.0 * 4 / 6, "bulk": 2.0})
    plain = Loss.from_config(training_config({"data": {"train": "x.xyz"}}).loss, 0.0, ["md", "bulk"])
    assert plain.config_type_weights == {}
