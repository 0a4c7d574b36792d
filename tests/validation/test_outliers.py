"""Error-vs-error outlier detection (potforge outliers, validation/outliers.py).

Reference: data whose labels were corrupted here on purpose (n2p2's water training set, 20 DFT
frames with n2p2's published model and a second model, its copy with perturbed weights, as the
two "independent" fits): the corrupted frames and only they are flagged; a frame that only one
model gets wrong is not; the clean subset, JSON, CSV and PNG are written; bad arguments are
one-line errors. bench/bench_outliers.py measures the same on mlearn Cu with two trained models
(BENCHMARKS.md §15).
"""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest

from potforge.cli.main import main
from potforge.core.errors import ConfigError
from potforge.data.dataset import Dataset
from potforge.data.io import read_frames, write_frames
from potforge.export import load_model
from potforge.models.potential import Prediction
from potforge.validation.outliers import find_outliers, write_outlier_report


@pytest.fixture(scope="module")
def water(water_dir):
    model = load_model(water_dir, length_unit="bohr", energy_unit="hartree")
    other = copy.deepcopy(model)
    rng = np.random.default_rng(3)
    for net in other.networks.values():
        net.weights = [w * (1 + 2e-3 * rng.standard_normal(w.shape)) for w in net.weights]
    other._kernel = None
    frames = list(Dataset.read(water_dir / "train" / "input.data", length_unit="bohr", energy_unit="hartree"))
    return model, other, frames


def _corrupted(frames):
    frames = copy.deepcopy(frames)
    frames[3].energy += 0.02 * frames[3].n_atoms           # 20 meV/atom: another DFT setting
    frames[7].forces[5] += np.array([1.0, 0.0, 0.0])        # one atom's force off by 1 eV/Å
    frames[11].forces *= 1.2                                # every force by a wrong factor
    return frames


def test_corrupted_labels_and_only_they_are_flagged(water):
    model, other, frames = water
    clean = find_outliers([model, other], frames)
    assert clean.flagged == []
    result = find_outliers([model, other], _corrupted(frames), names=["a", "b"])
    assert result.flagged == [3, 7, 11]
    assert result.energy_suspect[3] and not result.force_suspect_atoms[3]
    assert result.force_suspect_atoms[7] == [5] and not result.energy_suspect[7]
    assert len(result.force_suspect_atoms[11]) == frames[11].n_atoms     # the whole frame's forces
    assert result.energy_errors[3] == pytest.approx([-0.02, -0.02], abs=4e-3)   # label − 20 meV/atom


class _WrongOn:
    """A model that is wrong (by 50 meV/atom) on the structures marked 'hard', else ``inner``."""

    def __init__(self, inner):
        self.inner = inner
        self.species, self.cutoff = inner.species, inner.cutoff

    def predict(self, atoms, **kw) -> Prediction:
        p = self.inner.predict(atoms, **kw)
        if atoms.info.get("hard"):
            p.energy += 0.05 * len(atoms)
        return p


def test_a_frame_only_one_model_gets_wrong_is_not_a_suspect_label(water):
    model, other, frames = water
    frames = copy.deepcopy(frames)
    frames[5].atoms.info["hard"] = True
    result = find_outliers([model, _WrongOn(other)], frames)
    assert 5 not in result.flagged and abs(result.energy_errors[5, 1]) > 0.04


def test_cli_json_report_and_clean_subset(water, tmp_path, capsys):
    model, other, frames = water
    data = tmp_path / "bad.xyz"
    write_frames(data, _corrupted(frames))
    other.save(tmp_path / "other")
    model.save(tmp_path / "model")
    assert main(["outliers", str(tmp_path / "model"), str(tmp_path / "other"), str(data), "--json",
                 "-o", str(tmp_path / "report"), "--clean", str(tmp_path / "clean.xyz")]) == 0
    out = json.loads(capsys.readouterr().out.splitlines()[0])
    assert out["flagged"] == [3, 7, 11] and out["n_frames"] == len(frames)
    assert len(out["frames"][3]["energy_error_mev_per_atom"]) == 2
    assert len(read_frames(tmp_path / "clean.xyz")) == len(frames) - 3
    rows = (tmp_path / "report" / "outliers.csv").read_text().splitlines()
    assert len(rows) == len(frames) + 1 and rows[4].split(",")[-1] == "1"
    assert (tmp_path / "report" / "outliers.png").stat().st_size > 10_000


def test_few_frames_and_a_shared_shift_are_not_flagged(water):
    """Fewer than 5 labelled energies define no spread; a shift of every label alike is a
    reference-energy matter, not wrong labels."""
    model, other, frames = water
    assert find_outliers([model, other], frames[1:2]).flagged == []
    shifted = copy.deepcopy(frames)
    for f in shifted:
        f.energy += 0.01 * f.n_atoms
    assert find_outliers([model, other], shifted).flagged == []


def test_bad_arguments_are_one_line_errors(water, tmp_path):
    model, _, frames = water
    with pytest.raises(ValueError, match="at least two models"):
        find_outliers([model], frames)
    with pytest.raises(ConfigError, match="at least two models and the data"):
        _run_cli(["outliers", "a", "b"])
    with pytest.raises(ConfigError, match="--threshold: expected a positive number"):
        _run_cli(["outliers", "a", "b", "c", "--threshold", "0"])
    result = find_outliers([model, model], frames[:4])
    write_outlier_report(result, tmp_path / "r")
    assert (tmp_path / "r" / "outliers.csv").is_file()


def _run_cli(argv):
    """The verb's run() directly, so that its ConfigError reaches the test."""
    import argparse

    from potforge.cli import outliers

    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers()
    outliers.add_parser(sub, "outliers", "x")
    args = parser.parse_args(argv)
    return args.run(args)
