"""DFT outputs read through ase.io: every code's file that ASE ships in its test data gives the
frames ``ase.io.read`` gives (structure, energy, forces, stress in ASE's convention); signs,
units and the energy choice checked against the numbers printed in the files; stopped and
damaged runs; format detection; the CLI and the training config.

The files are read where the installed ``ase`` keeps them (``ase/test/testdata``; the
Quantum ESPRESSO outputs are strings in ``ase/test/fio/test_espresso.py``); nothing of them is
copied into this repository. A test whose file is absent is skipped and says which.
"""

from __future__ import annotations

import ast
import re
import warnings
from pathlib import Path

import ase
import ase.io
import numpy as np
import pytest
from ase.units import GPa, Bohr, Hartree, Ry

from potforge.core.errors import ConfigError, DataFormatError
from potforge.data.io import detect_format, read_frames, write_frames
from potforge.data.io.dft import default_names, read_dft

ASE_TESTS = Path(ase.__file__).parent / "test"
DATA = ASE_TESTS / "testdata"


def _file(relative: str) -> Path:
    path = DATA / relative
    if not path.is_file():
        pytest.skip(f"ase {ase.__version__} does not ship test data file {relative}")
    return path


def _embedded(tmp_path: Path, module: str, name: str, suffix: str) -> Path:
    """An output that one of ASE's test modules keeps as a string, written to a file."""
    source = ASE_TESTS / "fio" / module
    if not source.is_file():
        pytest.skip(f"ase {ase.__version__} does not ship {source.name}")
    for node in ast.parse(source.read_text()).body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == name:
            path = tmp_path / f"{name}{suffix}"
            path.write_text(node.value.value)
            return path
    pytest.skip(f"{source.name} of ase {ase.__version__} has no {name}")


def _espresso(tmp_path: Path, name: str) -> Path:
    return _embedded(tmp_path, "test_espresso.py", name, ".pwo")


def _ase(path, fmt=None):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ase.io.read(path, index=":", format=fmt)


# (file in ase's test data, format to name or None: found from the name or content)
CASES = [
    ("vasp/OUTCAR_example_1", None),
    ("vasp/vasprun_pstress.xml", None),
    ("vasp/vasprun_dfpt.xml", None),
    ("aims/relax.out", "aims"),            # ASE's snippets lack aims' banner: named, as ASE's
    ("aims/md.out", "aims"),               # own tests name them
    ("aims/singlepoint.out", "aims"),
    ("aims/numerical_stress.out", "aims-output"),
    ("castep/md.castep", None),
    ("gpaw_expected_text_output", None),
    ("pw_output_text", None),              # Quantum ESPRESSO pw.x (relax with stress)
    ("pw_output_cell", None),              # pw.x vc-relax
    ("BUF_H2O_OPT", None),                 # Gaussian optimisation (test_gaussian_out.py)
    ("test_geom", None),                   # ONETEP geometry optimisation (test_onetep.py)
    ("test_output", None),                 # ONETEP single point
]
_EMBEDDED = {"pw_output_text": ("test_espresso.py", ".pwo"), "pw_output_cell": ("test_espresso.py", ".pwo"),
             "BUF_H2O_OPT": ("test_gaussian_out.py", ".log"), "test_geom": ("test_onetep.py", ".out"),
             "test_output": ("test_onetep.py", ".out")}


def _case(tmp_path, relative):
    if relative in _EMBEDDED:
        module, suffix = _EMBEDDED[relative]
        return _embedded(tmp_path, module, relative, suffix)
    return _file(relative)


@pytest.mark.parametrize("relative,fmt", CASES, ids=[c[0] for c in CASES])
def test_frames_equal_what_ase_reads(tmp_path, relative, fmt):
    path = _case(tmp_path, relative)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a complete file: nothing dropped, no warning
        frames = read_frames(path, fmt)
        zero = read_frames(path, fmt, dft_energy="sigma0")
    images = _ase(path, detect_format(path, fmt))
    assert len(frames) == len(images) >= 1
    for frame, low, atoms in zip(frames, zero, images):
        results = atoms.calc.results
        assert frame.symbols == atoms.get_chemical_symbols()
        np.testing.assert_array_equal(frame.atoms.positions, atoms.positions)
        np.testing.assert_array_equal(frame.atoms.cell.array, atoms.cell.array)
        np.testing.assert_array_equal(frame.atoms.pbc, atoms.pbc)
        free = results.get("free_energy", results["energy"])
        assert frame.energy == free == atoms.get_potential_energy(force_consistent="free_energy" in results)
        assert low.energy == results["energy"]
        assert frame.info["dft_energy"] == ("free_energy" if "free_energy" in results else "energy")
        for label in ("forces", "stress"):
            if results.get(label) is None:
                assert getattr(frame, label) is None
            else:
                np.testing.assert_array_equal(getattr(frame, label), np.asarray(results[label]).ravel()
                                              if label == "stress" else results[label])
    assert frames[0].group == str(path) and frames[0].config_type == default_names(path)[0]
    assert [f.info["dft_step"] for f in frames] == list(range(len(frames)))


# -- signs, units and the energy choice against the numbers the codes print ------------------------

def _numbers(line: str) -> list[float]:
    return [float(x) for x in re.findall(r"-?\d+\.\d+", line)]


def test_outcar_energies_and_stress_from_the_text():
    path = _file("vasp/OUTCAR_example_1")
    text = path.read_text().splitlines()
    toten = _numbers([s for s in text if "free  energy   TOTEN" in s][-1])[0]
    sigma0 = _numbers([s for s in text if "energy(sigma->0)" in s][-1])[-1]
    kbar = np.array(_numbers([s for s in text if s.strip().startswith("in kB")][-1]))
    frame, = read_frames(path)
    zero, = read_frames(path, dft_energy="sigma0")
    assert frame.energy == toten and zero.energy == sigma0 and toten != sigma0
    # VASP prints -σ in kbar, XX YY ZZ XY YZ ZX; potforge: σ in eV/Å³, xx yy zz yz xz xy
    expected = -kbar[[0, 1, 2, 4, 5, 3]] * 0.1 * GPa
    np.testing.assert_allclose(frame.stress, expected, rtol=1e-12, atol=0)
    # external pressure -4.46 kB: the cell pulls inwards (tensile), so σ is positive
    assert frame.stress[:3].mean() > 0


def test_vasprun_stress_from_the_text():
    path = _file("vasp/vasprun_dfpt.xml")
    text = path.read_text()
    block = re.search(r'<varray name="stress" >(.*?)</varray>', text, re.S).group(1)
    kbar = np.array([_numbers(v) for v in re.findall(r"<v>(.*?)</v>", block)])
    frame, = read_frames(path)
    voigt = -kbar[[0, 1, 2, 1, 0, 0], [0, 1, 2, 2, 2, 1]] * 0.1 * GPa
    np.testing.assert_allclose(frame.stress, voigt, rtol=1e-12, atol=1e-15)


def test_espresso_energy_and_stress_from_the_text(tmp_path):
    # pw.x's Ry and bohr are CODATA 2006's; ASE converts with those (8e-8 from ase.units')
    from ase.units import create_units

    Ry, Bohr = create_units("2006")["Ry"], create_units("2006")["Bohr"]
    path = _espresso(tmp_path, "pw_output_text")
    lines = path.read_text().splitlines()
    energies = [_numbers(s)[0] * Ry for s in lines if s.startswith("!    total energy")]
    heads = [k for k, s in enumerate(lines) if "total   stress" in s]
    frames = read_frames(path)
    assert [f.energy for f in frames] == pytest.approx(energies, rel=1e-14)
    for frame, k in zip(frames, heads):
        ry = np.array([_numbers(lines[k + i])[:3] for i in (1, 2, 3)])  # Ry/bohr³, printed as -σ
        sigma = -ry * Ry / Bohr**3
        np.testing.assert_allclose(frame.stress, sigma[[0, 1, 2, 1, 0, 0], [0, 1, 2, 2, 2, 1]],
                                   rtol=1e-12, atol=1e-14)
        assert frame.stress[:3].mean() < 0  # P = +384 kbar: compressed


def test_vasprun_energy_under_pstress_is_not_the_enthalpy():
    """vasprun.xml's final e_fr_energy includes PSTRESS·V (an enthalpy); the label is the
    energy (ASE subtracts it; so does OUTCAR's TOTEN)."""
    path = _file("vasp/vasprun_pstress.xml")
    text = path.read_text()
    pstress = float(re.search(r'<i name="PSTRESS">\s*(\S+)</i>', text).group(1))     # kbar
    enthalpy = float(re.findall(r'<i name="e_fr_energy">\s*(\S+) </i>', text)[-1])
    frame, = read_frames(path)
    volume = frame.atoms.get_volume()
    assert pstress == 1.0
    assert frame.energy + pstress * 0.1 * GPa * volume == pytest.approx(enthalpy, abs=1e-8)


def test_qbox_atomic_units_are_converted():
    """ASE's Qbox reader leaves bohr, hartree and Qbox's GPa stress as they are; potforge
    converts, and gives the stress of the energy alone (sigma_eks) with ASE's sign."""
    path = _file("qbox_test.xml")
    frames, images = read_frames(path), _ase(path)
    assert len(frames) == len(images) == 5
    blocks = re.findall(r"<iteration.*?</iteration>", path.read_text(), re.S)
    for frame, atoms, block in zip(frames, images, blocks):
        np.testing.assert_allclose(frame.atoms.positions, atoms.positions * Bohr, rtol=1e-15)
        np.testing.assert_allclose(frame.atoms.cell.array, atoms.cell.array * Bohr, rtol=1e-15)
        assert frame.energy == pytest.approx(atoms.get_potential_energy() * Hartree, rel=1e-15)
        np.testing.assert_allclose(frame.forces, atoms.get_forces() * Hartree / Bohr, rtol=1e-15)
        eks = {k: float(v) for k, v in re.findall(r"<sigma_eks_(\w\w)>\s*(\S+)", block)}
        np.testing.assert_allclose(frame.stress, [-eks[k] * GPa for k in ("xx", "yy", "zz", "yz", "xz", "xy")])
    al = read_frames(_file("qbox_04_md_ntc.reference.xml"))[0]
    d = np.linalg.norm(al.atoms.positions[1] - al.atoms.positions[0])
    assert d == pytest.approx(4.05 / np.sqrt(2), rel=0.01)   # fcc Al nearest neighbours, in Å


# -- stopped and damaged runs ---------------------------------------------------------------------

def _outcar(tmp_path, steps=3, edit=None, cut=None, footer=True, name="OUTCAR"):
    """A VASP OUTCAR of ``steps`` ionic steps built from ASE's one-step example (each step a
    copy with its own step number and TOTEN); ``edit(step, lines)`` changes step ``step``."""
    lines = _file("vasp/OUTCAR_example_1").read_text().splitlines(keepends=True)
    begin = next(k for k, s in enumerate(lines) if "Iteration    1(   1)" in s)
    end = next(k for k, s in enumerate(lines) if "FREE ENERGIE OF THE ION-ELECTRON" in s) + 5
    out = lines[:begin]
    for step in range(1, steps + 1):
        block = [s.replace("Iteration    1(", f"Iteration {step:4d}(") for s in lines[begin:end]]
        block = [s.replace("-68.22868532", f"{-68.22868532 + 0.01 * step:.8f}") for s in block]
        if edit is not None:
            edit(step, block)
        out += block
    out += lines[end:] if footer else []
    text = "".join(out)
    path = tmp_path / name
    path.write_text(text if cut is None else text[:cut])
    return path


def _starred_force(bad_step):
    def edit(step, block):
        if step == bad_step:
            k = next(i for i, s in enumerate(block) if "TOTAL-FORCE" in s) + 2
            block[k] = block[k][:-12] + " ***********\n"
    return edit


def test_multi_step_outcar_equals_ase(tmp_path):
    path = _outcar(tmp_path)
    frames, images = read_frames(path), _ase(path)
    assert len(frames) == len(images) == 3
    assert [f.energy for f in frames] == [a.calc.results["free_energy"] for a in images]
    assert [f.energy for f in frames] == pytest.approx([-68.21868532, -68.20868532, -68.19868532])


def test_killed_vasp_run_drops_its_last_step_with_a_warning(tmp_path):
    full = _outcar(tmp_path, name="OUTCAR.full")
    text = full.read_text()
    third = text.index("Iteration    3(")
    for name, cut in (("OUTCAR.a", third + 5000), ("OUTCAR.b", len(text) - 3000)):
        path = _outcar(tmp_path, cut=cut, footer=False, name=name)
        with pytest.warns(UserWarning, match=r"step 3 \(from line \d+\) is unfinished, dropped"):
            frames = read_frames(path)
        assert len(frames) == 2
        for a, b in zip(frames, read_frames(full, group=name, config_type="full")):
            b.group, b.config_type = str(path), name.split(".")[1]
            assert a.same_as(b)
    path = _outcar(tmp_path, steps=1, cut=len(text) // 6, footer=False, name="OUTCAR.c")
    with pytest.raises(DataFormatError, match="OUTCAR.c: no complete step"):
        read_frames(path)


def test_unreadable_step_is_an_error_naming_step_and_line(tmp_path):
    path = _outcar(tmp_path, edit=_starred_force(2))
    with pytest.raises(DataFormatError) as info:
        read_frames(path)
    line = next(k for k, s in enumerate(path.read_text().splitlines(), 1) if "Iteration    2(   1)" in s)
    assert str(info.value).startswith(f"{path}:{line}: step 2 of 3 cannot be read (ValueError")
    assert "\n" not in str(info.value) and "Traceback" not in str(info.value)
    # the last step of a finished run (the OUTCAR has VASP's closing timing table) is damage too
    path = _outcar(tmp_path, edit=_starred_force(3), name="OUTCAR.last")
    with pytest.raises(DataFormatError, match=r"OUTCAR.last:\d+: step 3 of 3 cannot be read"):
        read_frames(path)
    # ... but in a stopped run it is where the run stopped
    path = _outcar(tmp_path, edit=_starred_force(3), footer=False, name="OUTCAR.stopped")
    with pytest.warns(UserWarning, match="step 3, the last .*cannot be read and is dropped"):
        assert len(read_frames(path)) == 2


def test_non_finite_label_is_an_error(tmp_path):
    def nan(step, block):
        if step == 2:
            k = max(i for i, s in enumerate(block) if "free  energy   TOTEN" in s)
            block[k] = block[k].replace("-68.20868532", "NaN")
    with pytest.raises(DataFormatError, match="OUTCAR: step 2: energy is not finite"):
        read_frames(_outcar(tmp_path, edit=nan))


def test_middle_step_without_forces_is_an_error(tmp_path):
    path = _espresso(tmp_path, "pw_output_cell")
    lines = path.read_text().splitlines(keepends=True)
    heads = [k for k, s in enumerate(lines) if "Forces acting on atoms" in s]
    del lines[heads[1]:heads[1] + 8]
    path.write_text("".join(lines))
    with pytest.raises(DataFormatError, match="step 2 of 3 has no forces"):
        read_frames(path)


def test_stopped_espresso_run_drops_an_incomplete_last_step(tmp_path):
    path = _espresso(tmp_path, "pw_output_cell")
    text = path.read_text()
    path.write_text(text[:text.rindex("Forces acting on atoms")])   # killed while computing forces
    with pytest.warns(UserWarning, match="step 3, the last, has no forces: dropped"):
        frames = read_frames(path)
    assert len(frames) == 2
    # a single step stopped after its energy: forces were on their way, nothing is left
    one = _espresso(tmp_path, "pw_output_text")
    text = one.read_text()
    one.write_text(text[:text.index("Forces acting on atoms")])
    with pytest.raises(DataFormatError, match="no complete step: step 1, the last, has no forces"):
        read_frames(one)
    # the same with the line pw.x writes at the end: an energy-only single point
    one.write_text(text[:text.index("Forces acting on atoms")] + "\n     JOB DONE.\n")
    frame, = read_frames(one)
    assert frame.forces is None and frame.energy == pytest.approx(-509.83425823 * Ry, rel=1e-7)


@pytest.mark.parametrize("relative,fmt", [c for c in CASES if not c[0].startswith("gpaw")] +
                         [("qbox_test.xml", None)], ids=lambda c: str(c))
def test_truncated_files_give_complete_steps_or_one_line(tmp_path, relative, fmt):
    """Every cut of every file: the steps read are the full file's (never a half-read step),
    or a one-line DataFormatError naming the file; never another exception."""
    path = _case(tmp_path, relative)
    full = read_frames(path, fmt)
    text = path.read_bytes()
    rng = np.random.default_rng(13)
    for cut in sorted(rng.integers(1, len(text), 12)):
        part = tmp_path / ("cut_" + path.name)
        part.write_bytes(text[:cut])
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                frames = read_frames(part, fmt)
        except DataFormatError as err:
            assert str(err).startswith(str(part)) and "\n" not in str(err)
            continue
        assert 1 <= len(frames) <= len(full)
        for a, b in zip(frames, full):
            assert a.energy == b.energy
            np.testing.assert_array_equal(a.atoms.positions, b.atoms.positions)
            for label in ("forces", "stress"):
                x = getattr(a, label)
                assert x is None or np.array_equal(x, getattr(b, label))


def test_not_a_dft_output(tmp_path):
    path = tmp_path / "OUTCAR"
    path.write_text("this is not VASP\n" * 50)
    with pytest.raises(DataFormatError, match=r"OUTCAR: not a readable VASP OUTCAR \(ParseError"):
        read_frames(path)
    # ASE's aims snippets start without aims' banner: with the .out extension alone, no guess
    with pytest.raises(DataFormatError, match="cannot tell the format .* name the format"):
        read_frames(_file("aims/md.out"))
    with pytest.raises(DataFormatError, match="no step with an energy"):
        read_frames(_file("aims/md.out"), "espresso")


# -- formats, names, options ----------------------------------------------------------------------

def test_format_detection_and_names(tmp_path):
    import gzip
    import shutil

    outcar = _file("vasp/OUTCAR_example_1")
    runs = tmp_path / "runs" / "Cu_vac"
    runs.mkdir(parents=True)
    for name in ("OUTCAR", "OUTCAR.relax"):
        shutil.copy(outcar, runs / name)
    with open(outcar, "rb") as src, gzip.open(runs / "OUTCAR.md.gz", "wb") as dst:
        dst.write(src.read())
    assert detect_format(runs / "OUTCAR") == "vasp-out" == detect_format(runs / "OUTCAR.md.gz")
    assert detect_format("x/vasprun.xml") == "vasp-xml" and detect_format("a.castep") == "castep-castep"
    assert detect_format("a.xyz", "outcar") == "vasp-out" and detect_format("a", "QE") == "espresso-out"
    pw = _espresso(tmp_path, "pw_output_text")
    renamed = pw.rename(tmp_path / "relax.log")                 # by content: "Program PWSCF"
    assert detect_format(renamed) == "espresso-out"
    assert [default_names(runs / n)[0] for n in ("OUTCAR", "OUTCAR.relax", "OUTCAR.md.gz")] == \
        ["Cu_vac", "relax", "md"]
    assert default_names("a/vasprun.xml")[0] == "a" and default_names("b/vasprun_md.xml")[0] == "md"
    assert default_names("runs/si_bulk.castep")[0] == "si_bulk"
    frame, = read_frames(runs / "OUTCAR.md.gz")
    assert frame.same_as(read_frames(outcar, config_type="md", group=str(runs / "OUTCAR.md.gz"))[0])
    frame, = read_frames(runs / "OUTCAR", config_type="vac", group="g1")
    assert (frame.config_type, frame.group) == ("vac", "g1")
    with pytest.raises(DataFormatError, match="unknown format 'outcra' \\(did you mean outcar\\?\\)"):
        detect_format("x", "outcra")
    with pytest.raises(DataFormatError, match="energy 'zero' is not one of free, sigma0"):
        read_dft(outcar, energy="zero")
    with pytest.raises(DataFormatError, match="potforge writes .*not vasp-out"):
        write_frames(tmp_path / "OUTCAR.new", [frame])
    assert not (tmp_path / "OUTCAR.new").exists()


def test_cli_convert_and_info(tmp_path, capsys):
    from potforge.cli.main import main

    path = _outcar(tmp_path)
    out = tmp_path / "data.xyz"
    assert main(["data", "convert", str(path), str(out)]) == 0
    back = read_frames(out)
    assert len(back) == 3 and all(a.same_as(b) for a, b in zip(back, read_frames(path)))
    assert back[0].config_type == tmp_path.name and back[0].group == str(path)
    assert main(["data", "info", str(path), "--dft-energy", "sigma0", "--config-type", "bulk"]) == 0
    assert "bulk" in capsys.readouterr().out
    stopped = _outcar(tmp_path, cut=len(path.read_text()) - 3000, footer=False, name="OUTCAR.killed")
    assert main(["data", "convert", str(stopped), str(tmp_path / "k.xyz")]) == 0
    err = capsys.readouterr().err
    assert err.startswith("potforge data: warning: ") and err.count("\n") == 1
    bad = _outcar(tmp_path, edit=_starred_force(2), name="OUTCAR.bad")
    assert main(["data", "convert", str(bad), str(tmp_path / "b.xyz")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"potforge data: error: {bad}:") and err.count("\n") == 1
    assert not (tmp_path / "b.xyz").exists()
    aims = _file("aims/relax.out")
    assert main(["data", "info", str(aims), "--format", "aims", "--json"]) == 0
    import json

    assert json.loads(capsys.readouterr().out)["n_frames"] == 8


# -- training ------------------------------------------------------------------------------------

def test_training_config_takes_globs_formats_and_the_energy_choice(tmp_path):
    from potforge.training.config import training_config
    from potforge.training.data import load_data

    for k in (1, 2):
        (tmp_path / f"run{k}").mkdir()
        _outcar(tmp_path / f"run{k}", steps=k + 1)
    model = {"kind": "pair", "cutoff": 5.0, "pair": {"Ni-Ni": {"form": "morse", "D0": 0.4, "alpha": 1.4,
                                                              "r0": 2.5}}}

    def config(**data):
        return training_config({"data": {"validation_fraction": 0.0, **data}, "model": model},
                               base_dir=tmp_path)

    train, _, _ = load_data(config(train="run*/OUTCAR"))
    assert len(train) == 5 and [f.config_type for f in train] == ["run1"] * 2 + ["run2"] * 3
    assert len({f.group for f in train}) == 2
    zero, _, _ = load_data(config(train=["run1/OUTCAR"], dft_energy="sigma0"))
    assert zero[0].energy != train[0].energy and zero[0].info["dft_energy"] == "energy"
    aims = load_data(config(train=str(_file("aims/relax.out")), format="aims"))[0]
    assert len(aims) == 8
    with pytest.raises(ConfigError, match=r"data.train: the pattern .*nothing\*/OUTCAR matches no file"):
        load_data(config(train="nothing*/OUTCAR"))
    with pytest.raises(ConfigError, match="data.dft_energy: expected one of free, sigma0, got 'total'"):
        config(train="run1/OUTCAR", dft_energy="total")
    with pytest.raises(ConfigError, match="data.format: unknown format 'outcr'"):
        config(train="run1/OUTCAR", format="outcr")


def test_potforge_train_on_outcars(tmp_path, capsys):
    """The verb end to end on a glob of OUTCARs (no epoch: the data path is what is tested)."""
    from potforge.cli.main import main

    for k in (1, 2):
        (tmp_path / f"run{k}").mkdir()
        _outcar(tmp_path / f"run{k}", steps=2)
    (tmp_path / "config.yaml").write_text(
        "data: {train: 'run*/OUTCAR', validation_fraction: 0.0}\n"
        "model: {kind: pair, cutoff: 4.0, pair: {Ni-Ni: {form: morse, D0: 0.4, alpha: 1.4, r0: 2.5}}}\n"
        "loss: {energy_sigma: 1 meV/atom, force_sigma: 0.1 eV/Å}\n"
        "training: {epochs: 0}\n")
    assert main(["train", str(tmp_path / "config.yaml"), "-o", str(tmp_path / "model")]) == 0
    assert (tmp_path / "model" / "model.json").is_file()
    assert "data: 4 training, 0 validation, 0 test frames (72 training atoms)" in capsys.readouterr().out


# -- CP2K trajectories (not read by ase.io with their labels) ------------------------------------

def _cp2k(directory: Path, steps=3, forces_steps=None):
    """EMT Cu written the way CP2K writes an MD run: positions (Å), forces (hartree/bohr),
    energies (hartree) in the comment lines, the cell file; returns the reference frames."""
    from ase.build import bulk
    from ase.calculators.emt import EMT

    box = bulk("Cu", "fcc", 3.6, cubic=True).repeat(2)
    box.set_cell(box.cell.array + [[0, 0, 0], [0.3, 0, 0], [0, 0, 0]], scale_atoms=True)
    pos, frc, reference = [], [], []
    cell = ["#   Step   Time [fs]       Ax [Angstrom]       Ay [Angstrom]       Az [Angstrom]       "
            "Bx [Angstrom]       By [Angstrom]       Bz [Angstrom]       Cx [Angstrom]       "
            "Cy [Angstrom]       Cz [Angstrom]      Volume [Angstrom^3]"]
    for i in range(0, 2 * steps, 2):                     # CP2K step numbers need not be 0, 1, 2
        atoms = box.copy()
        atoms.rattle(0.05, seed=i)
        atoms.calc = EMT()
        e, f = atoms.get_potential_energy(), atoms.get_forces()
        head = f"{len(atoms):8d}\n i = {i:8d}, time = {0.5 * i:12.3f}, E = {e / Hartree:20.10f}\n"
        pos.append(head + "".join(f"  Cu {x:20.10f} {y:20.10f} {z:20.10f}\n" for x, y, z in atoms.positions))
        frc.append(head + "".join(f"  Cu {x:20.10f} {y:20.10f} {z:20.10f}\n"
                                  for x, y, z in f / (Hartree / Bohr)))
        cell.append(f"{i:8d} {0.5 * i:12.3f} " + " ".join(f"{x:20.10f}" for x in atoms.cell.array.ravel())
                    + f" {atoms.get_volume():20.10f}")
        reference.append((atoms.positions.copy(), atoms.cell.array.copy(), e, f))
    (directory / "cu-pos-1.xyz").write_text("".join(pos))
    (directory / "cu-frc-1.xyz").write_text("".join(frc[:forces_steps]))
    (directory / "cu-1.cell").write_text("\n".join(cell) + "\n")
    return directory / "cu-pos-1.xyz", reference


def test_cp2k_trajectory(tmp_path):
    path, reference = _cp2k(tmp_path)
    assert detect_format(path) == "cp2k" and detect_format(tmp_path / "out-pos-1.xyz", write=True) == "extxyz"
    frames = read_frames(path)
    assert len(frames) == 3 and {f.config_type for f in frames} == {"cu"}
    for frame, (r, cell, e, f) in zip(frames, reference):
        np.testing.assert_allclose(frame.atoms.positions, r, atol=1e-10)
        np.testing.assert_allclose(frame.atoms.cell.array, cell, atol=1e-10)
        assert frame.atoms.pbc.all() and frame.stress is None
        assert frame.energy == pytest.approx(e, abs=1e-8)                    # printed to 1e-10 Ha
        np.testing.assert_allclose(frame.forces, f, atol=1e-8)
    assert [f.info["cp2k_step"] for f in frames] == [0, 2, 4]
    plain = read_frames(path, "extxyz")                       # the positions alone, when asked
    assert len(plain) == 3 and plain[0].forces is None
    with pytest.raises(DataFormatError, match="cu-frc-1.xyz: a CP2K trajectory is read from its "
                                              "PROJECT-pos-N.xyz"):
        read_frames(tmp_path / "cu-frc-1.xyz")              # forces are no positions


def test_cp2k_stopped_and_damaged_runs(tmp_path):
    path, _ = _cp2k(tmp_path, forces_steps=2)                # killed before the last forces
    with pytest.warns(UserWarning, match="step i = 4, the last, has no forces in cu-frc-1.xyz: dropped"):
        assert len(read_frames(path)) == 2
    text = path.read_text()
    path.write_text(text[:-200])                               # and cut inside the last block
    with pytest.warns(UserWarning, match="cu-pos-1.xyz ends inside the block at line 69"):
        assert len(read_frames(path)) == 2
    path.write_text(text.replace("-0.0", "-O.0", 1))
    with pytest.raises(DataFormatError, match=r"cu-pos-1.xyz:\d+: coordinate: expected a number"):
        read_frames(path)
    path.write_text(text)
    (tmp_path / "cu-1.cell").unlink()
    with pytest.raises(DataFormatError, match="no cu-1.cell beside it: CP2K writes the cell"):
        read_frames(path)


def test_an_xyz_named_like_a_cp2k_trajectory_without_its_companions_is_extxyz(tmp_path):
    """``md-pos-1.xyz`` alone is somebody's extxyz file; only with CP2K's -frc-/.cell files
    beside it is it a CP2K trajectory."""
    from ase.build import molecule

    from potforge.data import detect_format

    atoms = molecule("H2O")
    atoms.center(4.0)
    path = tmp_path / "md-pos-1.xyz"
    ase.io.write(path, atoms, format="extxyz")
    assert detect_format(path) == "extxyz"
    frames = read_frames(path)
    assert len(frames) == 1 and frames[0].atoms.get_chemical_formula() == "H2O"
    (tmp_path / "md-frc-1.xyz").write_text("")
    assert detect_format(path) != "extxyz"


def test_an_extension_alone_does_not_make_a_dft_format(tmp_path):
    """ASE maps ``*.md`` to CASTEP MD files; a README.md is not one."""
    path = tmp_path / "README.md"
    path.write_text("# notes\nnothing to read here\n")
    with pytest.raises(DataFormatError, match="cannot tell the format"):
        read_frames(path)
