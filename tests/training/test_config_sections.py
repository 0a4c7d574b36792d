"""A config section that is not a mapping is a one-line ConfigError naming it (found by
tests/test_fuzz_inputs.py: a YAML file cut after ``model:`` + text gave a ValueError)."""

from __future__ import annotations

import pytest

from potforge.core.errors import ConfigError
from potforge.training.config import load_config, training_config


@pytest.mark.parametrize("section", ["model", "training"])
@pytest.mark.parametrize("value", ["hdnnp", ["kind", "pair"], 3])
def test_a_section_that_is_not_a_mapping(section, value):
    raw = {"data": {"train": "train.xyz"}, section: value}
    with pytest.raises(ConfigError, match=rf"^{section}: expected a mapping of keys to values, got "):
        training_config(raw)


def test_a_cut_yaml_file(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("data:\n  train: train.xyz\nmodel: eam\n")   # "kind:" lost, as a cut file can
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value).startswith(f"{path}:3: model: expected a mapping") and "\n" not in str(info.value)


@pytest.mark.parametrize("kind", [{}, ["adam"], 3])
def test_an_optimizer_kind_that_is_not_a_name(kind):
    raw = {"data": {"train": "train.xyz"}, "training": {"optimizer": {"kind": kind}}}
    with pytest.raises(ConfigError, match=r"^training.optimizer.kind: .* is not an optimizer.*; expected one of "):
        training_config(raw)
