"""YAML configs: a key given twice is an error at any depth, and every error, syntax or
validation, names the file, the line and the dotted key (issue 13, defects 4 and 5)."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from potforge.core.config import read_yaml
from potforge.core.errors import MESSAGE_LIMIT, ConfigError
from potforge.training.config import load_config

CONFIG = """\
data:
  train: [train.xyz]
  format: extxyz
model:
  kind: hdnnp
  network:
    hidden: [4, 4]
loss:
  energy_sigma: 1 meV/atom
training:
  epochs: 3
  l2: 1e-6
"""

DUPLICATES = {
    "top level": ("data:\n  train: [a.xyz]\n" + "\n" + "data:\n  train: [b.xyz]\n", 4, "data", 1),
    "nested": (CONFIG.replace("  epochs: 3\n", "  epochs: 3\n  epochs: 30\n"), 12, "training.epochs", 11),
    "three levels down": (CONFIG.replace("    hidden: [4, 4]\n", "    hidden: [4, 4]\n    hidden: [8]\n"),
                          8, "model.network.hidden", 7),
    "same value twice": (CONFIG.replace("  l2: 1e-6\n", "  l2: 1e-6\n  l2: 1e-6\n"), 13, "training.l2", 12),
    "quoted and plain": (CONFIG.replace("  l2: 1e-6\n", '  l2: 1e-6\n  "l2": 0\n'), 13, "training.l2", 12),
    "flow mapping": ("training: {epochs: 3, epochs: 4}\n", 1, "training.epochs", 1),
    "inside a list item": ("generators:\n  - kind: bulk\n    n: 1\n    n: 2\n", 4, "generators[0].n", 3),
}


@pytest.mark.parametrize("case", DUPLICATES)
def test_duplicate_keys_are_refused_with_file_line_and_dotted_key(tmp_path, case):
    text, line, key, first = DUPLICATES[case]
    path = tmp_path / "config.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        read_yaml(path)
    assert str(info.value) == (f"{path}:{line}: duplicate key {key} (first at line {first}); "
                               "a key may appear once in a mapping")


def test_merge_keys_are_not_duplicates(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("base: &b {x: 1, y: 2}\nd:\n  <<: *b\n  x: 3\n")
    data, lines = read_yaml(path)
    assert data["d"] == {"x": 3, "y": 2} and lines["d.x"] == 4


SYNTAX = {
    "unclosed list": ("data:\n  train: [a.xyz\nloss: {}\n", 3, "column"),
    "tab indentation": ("data:\n\ttrain: [a.xyz]\n", 2, "'\\t'"),
    "control character": ("data:\n  train: [a\x07.xyz]\n", 2, "U+0007"),
    "python tag": ("data: !!python/object/apply:os.system [ls]\n", 1, "constructor"),
    "undefined alias": ("data: *nowhere\n", 1, "undefined alias"),
    "recursive alias": ("data: &a [1, *a]\n", 1, "recursive"),
    "top level list": ("- data\n- loss\n", 1, "mapping"),
}


@pytest.mark.parametrize("case", SYNTAX)
def test_yaml_syntax_errors_name_file_and_line(tmp_path, case):
    text, line, word = SYNTAX[case]
    path = tmp_path / "config.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    msg = str(info.value)
    assert msg.startswith(f"{path}:{line}: ") and word in msg and "\n" not in msg, msg


def test_an_alias_bomb_is_refused_quickly(tmp_path):
    rows = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    rows += [f"a{k}: &a{k} [{', '.join([f'*a{k - 1}'] * 10)}]" for k in range(1, 9)]
    path = tmp_path / "bomb.yaml"
    path.write_text("\n".join(rows) + "\n")
    start = time.perf_counter()
    with pytest.raises(ConfigError, match=r"bomb\.yaml:\d+: invalid YAML: its aliases expand"):
        read_yaml(path)
    assert time.perf_counter() - start < 5


VALIDATION = {
    "unknown nested key": ("  l2: 1e-6\n", "  l2: 1e-6\n  epoch: 5\n", 13, "training.epoch: unknown key"),
    "unknown section": ("training:\n", "trainng:\n", 10, "trainng: unknown key"),
    "wrong type": ("  epochs: 3\n", "  epochs: three\n", 11, "training.epochs: expected an integer"),
    "list item": ("  hidden: [4, 4]\n", "  hidden:\n      - 4\n      - four\n", 9, "model.network.hidden[1]"),
    "physical check": ("  l2: 1e-6\n", "  l2: -1\n", 12, "training.l2: expected >= 0"),
    "unit": ("1 meV/atom", "1 meV/furlong", 9, "loss.energy_sigma: unknown unit"),
    "Arabic-Indic digits": ("1 meV/atom", "\u0661 meV/atom", 9, "loss.energy_sigma"),
    "underscore in a quoted number": ("  l2: 1e-6\n", "  l2: '1_0'\n", 12, "training.l2: expected a number"),
}


@pytest.mark.parametrize("case", VALIDATION)
def test_validation_errors_name_file_line_and_key(tmp_path, case):
    old, new, line, words = VALIDATION[case]
    path = tmp_path / "config.yaml"
    path.write_text(CONFIG.replace(old, new))
    with pytest.raises(ConfigError) as info:
        load_config(path)
    msg = str(info.value)
    assert msg.startswith(f"{path}:{line}: ") and words in msg, msg


def test_errors_of_set_overrides_name_the_override_not_the_file(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text(CONFIG)
    with pytest.raises(ConfigError) as info:
        load_config(path, ["training.epochs=lots"])
    assert str(info.value) == "--set training.epochs: expected an integer, got 'lots'"


def test_a_huge_value_is_not_echoed(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text(CONFIG.replace("  epochs: 3", "  epochs: " + "x" * 800_000))
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert len(str(info.value)) < MESSAGE_LIMIT + len(str(path)) + 20
    assert str(info.value).startswith(f"{path}:11: training.epochs: expected an integer")


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_fuzzed_yaml_is_read_or_refused_in_one_line(tmp_path_factory, data):
    """Edits of a valid config (characters inserted, deleted, replaced; lines duplicated)
    give a config, or a ConfigError that names the file: never another exception."""
    text = CONFIG
    for _ in range(data.draw(st.integers(1, 4))):
        op = data.draw(st.sampled_from(["insert", "delete", "replace", "duplicate line"]))
        at = data.draw(st.integers(0, len(text)))
        char = data.draw(st.sampled_from(list(":-[]{}&*!|>'\"#%@`, \t\n?x1") + ["\x00", "\u0661", "\ufeff"]))
        if op == "insert":
            text = text[:at] + char + text[at:]
        elif op == "delete":
            text = text[:at] + text[at + 1:]
        elif op == "replace":
            text = text[:at] + char + text[at + 1:]
        else:
            lines = text.splitlines(keepends=True)
            k = data.draw(st.integers(0, len(lines) - 1))
            text = "".join(lines[:k + 1] + [lines[k]] + lines[k + 1:])
    path = tmp_path_factory.mktemp("yaml") / "config.yaml"
    path.write_text(text, encoding="utf-8")
    try:
        load_config(path)
    except ConfigError as err:
        assert "\n" not in str(err)
        assert str(err).startswith(str(path)) or str(err).startswith("data.train"), str(err)
