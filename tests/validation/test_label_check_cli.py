"""``potforge data check``: one JSON object, the report files, one-line errors."""

from __future__ import annotations

import json

import pytest

from potforge.cli.main import main
from potforge.data.io import write_frames

from .test_label_check import emt_set


def run(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture(scope="module")
def offset_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("check") / "strained.xyz"
    write_frames(path, emt_set(-2.0))
    return path


def test_check_json_is_one_object_with_the_offset(offset_file, capsys):
    code, stdout, _ = run(capsys, "data", "check", str(offset_file), "--json")
    assert code == 0
    report = json.loads(stdout)
    assert report["stress_offset_gpa"] == pytest.approx(2.0, abs=0.05)   # labels carry −2 GPa
    assert set(report["energy_stress_mismatch_mev_per_atom"]) == {"before", "after"}
    for key in ("energy_force_pairs", "duplicates", "reference_energies"):
        assert key in report


def test_check_writes_report_plot_and_names_frames(offset_file, tmp_path, capsys):
    out = tmp_path / "report"
    code, stdout, _ = run(capsys, "data", "check", str(offset_file), "-o", str(out))
    assert code == 0
    assert "stress offset: +2.0" in stdout and "significant" in stdout
    assert (out / "label_check.png").read_bytes()[:4] == b"\x89PNG"
    report = json.loads((out / "label_check.json").read_text())
    assert report["strain_series"]["pairs"][0]["a"].startswith(f"{offset_file}:frame ")
    assert (out / "label_check.txt").read_text().startswith(str(offset_file))


def test_check_bad_input_is_one_line_and_exit_2(tmp_path, capsys):
    bad = tmp_path / "bad.xyz"
    bad.write_text("3\nnot a comment line with a cell\nCu 0 0\n")
    for argv in ([str(bad)], [str(tmp_path / "missing.xyz")]):
        code, stdout, stderr = run(capsys, "data", "check", *argv)
        assert code == 2 and stdout == ""
        assert len(stderr.strip().splitlines()) == 1


def test_check_rejects_a_non_positive_tolerance(offset_file, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["data", "check", str(offset_file), "--max-strain", "-1"])
    assert exit_info.value.code == 2
    assert "expected a positive number" in capsys.readouterr().err


def test_check_help_shows_an_example(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["data", "check", "--help"])
    assert exit_info.value.code == 0
    assert "potforge data check" in capsys.readouterr().out
