"""A NaN or an infinity from a model is never written: ``predict``, ``evaluate``, the ASE
calculator and ``properties`` stop with one line that names the frame and the quantity, and
an existing output file stays as it was (no temporary file left).

The models here are in memory: a real small HDNNP whose answer is poisoned for one
structure, so that the guard itself is tested whatever the file loaders refuse.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from potforge.core.errors import NonFiniteError, PotforgeError
from potforge.data.frame import Frame
from potforge.data.io import write_frames
from potforge.models.potential import Potential, Prediction


class Poisoned(Potential):
    """Delegates to ``inner``; for structures of ``n_atoms`` atoms one value becomes ``value``
    (``energy``, ``force`` on atom ``atom`` (component y), ``stress`` component ``yz``)."""

    kind = "poisoned-test"

    def __init__(self, inner: Potential, n_atoms: int, where: str, value: float = math.nan,
                 atom: int = 2) -> None:
        self.inner, self.n_atoms, self.where, self.value, self.atom = inner, n_atoms, where, value, atom

    @property
    def species(self):
        return self.inner.species

    @property
    def cutoff(self):
        return self.inner.cutoff

    def predict(self, atoms, *, forces=True, stress=True) -> Prediction:
        p = self.inner.predict(atoms, forces=forces, stress=stress)
        if len(atoms) == self.n_atoms:
            if self.where == "energy":
                p.energies = p.energies.copy()
                p.energies[self.atom] = self.value
                p.energy = float(np.sum(p.energies))
            elif self.where == "force":
                p.forces = p.forces.copy()
                p.forces[self.atom, 1] = self.value
            elif self.where == "stress":
                p.stress = p.stress.copy()
                p.stress[3] = self.value
            elif self.where == "huge":
                p.energy = p.energy + self.value
        return p

    def to_dict(self):
        return {}

    def _arrays(self):
        return {}

    @classmethod
    def from_saved(cls, description, arrays):
        raise NotImplementedError


@pytest.fixture(scope="module")
def example():
    from potforge.models.hdnnp.example import example

    return example()


@pytest.fixture
def data_file(tmp_path, example):
    """Three labelled frames: the periodic box (10 atoms), the cluster (7), a 5-atom cluster."""
    model = example.potential
    structures = [example.periodic, example.cluster, example.cluster[:5]]
    frames = []
    for atoms in structures:
        p = model.predict(atoms)
        frames.append(Frame(atoms.copy(), energy=p.energy + 0.01, forces=p.forces + 0.02,
                            stress=p.stress))
    path = tmp_path / "data.xyz"
    write_frames(path, frames)
    return path


EXPECTED = {  # where -> (frame of the poisoned structure, words of the message)
    "energy": (1, "non-finite energy (nan; energy of atom 2 is nan)"),
    "force": (1, "non-finite force on atom 2 (nan)"),
    "stress": (0, "non-finite stress component yz (nan)"),
}
SIZE = {1: 7, 0: 10}


def _leftovers(directory):
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".tmp"))


@pytest.mark.parametrize("where", sorted(EXPECTED))
@pytest.mark.parametrize("value", [math.nan, math.inf])
def test_predict_refuses_and_leaves_the_output_untouched(tmp_path, example, data_file, where, value):
    from potforge.validation.predict import predict_file

    frame, words = EXPECTED[where]
    out = tmp_path / "out.xyz"
    out.write_bytes(b"an earlier result\n")
    model = Poisoned(example.potential, SIZE[frame], where, value)
    with pytest.raises(NonFiniteError) as info:
        predict_file(model, data_file, out)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{data_file} frame {frame}: the model gives a ")
    assert words.replace("nan", str(value)) in message
    assert out.read_bytes() == b"an earlier result\n"
    assert _leftovers(tmp_path) == []


def test_predict_writes_nothing_when_a_later_frame_fails(tmp_path, example, data_file):
    """The last frame is the bad one: no output file at all, not the first frames."""
    from potforge.validation.predict import predict_file

    out = tmp_path / "new.xyz"
    with pytest.raises(NonFiniteError, match=r"frame 2: .*energy of atom 2 is inf"):
        predict_file(Poisoned(example.potential, 5, "energy", math.inf), data_file, out)
    assert not out.exists() and _leftovers(tmp_path) == []


def test_predict_cli_exit_2_with_one_line(tmp_path, example, data_file, monkeypatch, capsys):
    import potforge.export
    from potforge.cli.main import main

    monkeypatch.setattr(potforge.export, "load_model",
                        lambda path, **units: Poisoned(example.potential, 7, "force"))
    out = tmp_path / "out.xyz"
    out.write_text("kept\n")
    assert main(["predict", "any-model", str(data_file), "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "Traceback" not in err
    assert err.startswith(f"potforge predict: error: {data_file} frame 1: the model gives a "
                          "non-finite force on atom 2 (nan)")
    assert out.read_text() == "kept\n" and _leftovers(tmp_path) == []


def test_evaluate_refuses_a_non_finite_prediction(example, data_file):
    from potforge.data import read_frames
    from potforge.validation.evaluate import evaluate

    frames = read_frames(data_file)
    evaluate(example.potential, frames)   # the real model passes
    with pytest.raises(NonFiniteError, match=r"^data.xyz frame 0: .*stress component yz \(-inf\)"):
        evaluate(Poisoned(example.potential, 10, "stress", -math.inf), frames, source="data.xyz")


def test_evaluate_refuses_an_error_whose_square_overflows(example, data_file, tmp_path):
    """Finite predictions of 1e300 eV: an infinite RMSE is not reported as 'no label' (null)."""
    from potforge.data import read_frames
    from potforge.validation.evaluate import evaluate

    frames = read_frames(data_file)
    with pytest.raises(NonFiniteError) as info:
        evaluate(Poisoned(example.potential, 7, "huge", 1e300), frames, source="data.xyz")
    assert str(info.value).startswith("data.xyz frame 1: the energy RMSE overflows")


def test_evaluate_cli_writes_no_report(tmp_path, example, data_file, monkeypatch, capsys):
    import potforge.export
    from potforge.cli.main import main

    monkeypatch.setattr(potforge.export, "load_model",
                        lambda path, **units: Poisoned(example.potential, 5, "energy"))
    report = tmp_path / "report"
    assert main(["evaluate", "any-model", str(data_file), "--report", str(report), "--json"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(f"potforge evaluate: error: {data_file} frame 2: the model gives")
    assert not report.exists()


@pytest.mark.parametrize("where, words", [("energy", "energy (nan; energy of atom 2 is nan)"),
                                          ("force", "force on atom 2 (nan)"),
                                          ("stress", "stress component yz (nan)")])
def test_calculator_refuses_non_finite_results(example, where, words):
    from potforge.calculators.ase import PotforgeCalculator

    atoms = example.periodic.copy()
    atoms.calc = PotforgeCalculator(Poisoned(example.potential, len(atoms), where))
    with pytest.raises(NonFiniteError) as info:
        atoms.get_forces()
    assert str(info.value) == (f"the model gives a non-finite {words} for "
                               f"{atoms.get_chemical_formula()} (10 atoms, periodic)")
    assert isinstance(info.value, PotforgeError)


def test_properties_name_the_property_whose_structure_failed(example):
    """The calculator's refusal reaches ``property_table`` with the property's name."""
    from ase.build import bulk

    from potforge.calculators.ase import PotforgeCalculator
    from potforge.validation.properties import property_table

    n = len(bulk("H", "sc", 2.0))   # the one-atom sc cell of the lattice scan
    calc = PotforgeCalculator(Poisoned(example.potential, n, "energy", atom=0))
    with pytest.raises(NonFiniteError, match=r"^lattice: the model gives a non-finite energy \(nan"):
        property_table(calc, "H", "sc", which=["lattice"])


def test_properties_refuse_a_result_that_comes_out_non_finite():
    """A calculator (any ASE one) whose stress is NaN: the elastic constants would be NaN."""
    from ase.calculators.emt import EMT

    from potforge.validation.properties import property_table

    class NaNStress(EMT):
        def calculate(self, *args, **kwargs):
            super().calculate(*args, **kwargs)
            if "stress" in self.results:
                self.results["stress"] = self.results["stress"] * math.nan

    with pytest.raises(NonFiniteError, match=r"^elastic: c11_gpa came out nan \(non-finite"):
        property_table(NaNStress(), "Cu", "fcc", which=["elastic"])


def test_a_crash_inside_the_model_leaves_no_temporary_file(tmp_path, data_file):
    """Every frame is predicted before the output is opened: a native crash (here SIGKILL on
    the second frame) leaves the old output and no ``.out.xyz.PID.HEX.tmp`` beside it."""
    import subprocess
    import sys

    out = tmp_path / "out.xyz"
    out.write_text("kept\n")
    script = f"""
import os, signal
from potforge.models.hdnnp.example import example
from potforge.validation.predict import predict_file
model = example().potential
inner = model.predict
def predict(atoms, **kw):
    if len(atoms) == 7:
        os.kill(os.getpid(), signal.SIGKILL)
    return inner(atoms, **kw)
model.predict = predict
predict_file(model, {str(data_file)!r}, {str(out)!r})
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True)
    assert done.returncode == -9
    assert out.read_text() == "kept\n" and _leftovers(tmp_path) == []
