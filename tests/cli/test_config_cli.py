"""The verbs that read a YAML config print one line naming the file, the line and the key,
and exit 2 (issue 13: duplicate keys were accepted, and errors named the key only)."""

from __future__ import annotations

import pytest

from potforge.cli.main import main

CASES = {
    "train: a key twice": (["train"], "data:\n  train: [t.xyz]\ntraining:\n  epochs: 2\n  epochs: 3\n",
                           5, "duplicate key training.epochs (first at line 4)"),
    "train: a wrong value": (["train"], "data:\n  train: [t.xyz]\ntraining:\n  epochs: two\n",
                             4, "training.epochs: expected an integer"),
    "cv: an unknown key": (["cv"], "data:\n  train: [t.xyz]\nloss:\n  force_weigth: 2\n",
                           4, "loss.force_weigth: unknown key; did you mean 'force_sigma'?"),
    "generate: a key twice": (["generate"], "element: Cu\ngenerators:\n  - kind: bulk\n    kind: eos\n",
                              4, "duplicate key generators[0].kind (first at line 3)"),
    "generate: a wrong value": (["generate"], "element: Cu\ngenerators:\n  - kind: bulk\n    sizee: 2\n",
                                4, "generators[0].sizee: unknown key"),
}


@pytest.mark.parametrize("case", CASES)
def test_config_errors_are_one_line_with_file_line_and_key(tmp_path, capsys, case):
    verb, text, line, words = CASES[case]
    path = tmp_path / "config.yaml"
    path.write_text(text)
    output = ["-o", str(tmp_path / ("out.xyz" if verb == ["generate"] else "out"))]
    assert main([*verb, str(path), *output]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and f"{path}:{line}: {words}" in err, err
