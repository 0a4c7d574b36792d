"""``potforge generate``: a small config end to end, farthest-point selection, calculators
and one-line errors."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from potforge.cli.main import main
from potforge.core.errors import ConfigError
from potforge.data import read_frames

SMALL = {
    "element": "Al",
    "seed": 3,
    "calculator": {"name": "emt"},
    "generators": [
        {"kind": "bulk", "phases": ["fcc", "bcc"]},
        {"kind": "eos", "phase": "fcc", "strains": [-0.05, 0.05], "n": 3},
        {"kind": "strain", "magnitudes": [0.01], "components": ["xx", "xy"]},
        {"kind": "rattle", "supercell": [2, 2, 2], "sigma": 0.05, "n": 2},
        {"kind": "surface", "miller": [[1, 1, 1]], "layers": 3, "vacuum": 8},
        {"kind": "stacking_fault", "system": "fcc111_112", "fractions": [0.5, 1.0], "layers": 6},
        {"kind": "vacancy", "supercell": [1, 1, 1]},
        {"kind": "interstitial", "site": "tetrahedral", "supercell": [1, 1, 1]},
        {"kind": "md", "temperatures": [300], "steps": 6, "interval": 3, "equilibration": 3,
         "supercell": [1, 1, 1]},
    ],
}


def write_config(path, raw):
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    return path


def test_generate_end_to_end(tmp_path, capsys):
    config = write_config(tmp_path / "gen.yaml", SMALL)
    out = tmp_path / "structures.xyz"
    code = main(["generate", str(config), "-o", str(out)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    frames = read_frames(out)
    assert len(frames) == 2 + 3 + 4 + 2 + 1 + 2 + 1 + 1 + 2
    types = [f.config_type for f in frames]
    assert types[:2] == ["bulk", "bulk"] and types[-2:] == ["md", "md"]
    assert all(f.group for f in frames)
    strain = [f for f in frames if f.config_type == "strain"]
    assert np.array_equal(strain[0].info["strain_voigt"], [-0.01, 0, 0, 0, 0, 0])
    faults = [f for f in frames if f.config_type == "stacking_fault"]
    assert len(faults[0].info["fault_displacement"]) == 3
    assert all(f.energy is None for f in frames)  # unlabelled
    assert "stacking_fault" in captured.out and "total" in captured.out
    assert "md 300 K: step" in captured.err  # progress lines
    resolved = yaml.safe_load((tmp_path / "structures.xyz.config.yaml").read_text(encoding="utf-8"))
    assert resolved["config"]["generators"][0]["kind"] == "bulk"
    # the resolved config reproduces the same structures
    again = tmp_path / "again.xyz"
    write_config(tmp_path / "resolved.yaml", resolved["config"])
    assert main(["generate", str(tmp_path / "resolved.yaml"), "-o", str(again), "--quiet"]) == 0
    assert all(a.same_as(b) for a, b in zip(frames, read_frames(again)))


def test_generate_with_selection(tmp_path, capsys):
    raw = dict(SMALL, select={"n": 6, "cutoff": 5.0, "n_radial": 4, "n_angular": 2,
                              "keep_config_types": ["vacancy"]})
    config = write_config(tmp_path / "gen.yaml", raw)
    out = tmp_path / "sel.xyz"
    assert main(["generate", str(config), "-o", str(out), "--quiet"]) == 0
    frames = read_frames(out)
    assert len(frames) == 6
    assert "vacancy" in [f.config_type for f in frames]
    assert "selected 6 of 18" in capsys.readouterr().out
    assert main(["generate", str(config), "-o", str(tmp_path / "sel2.xyz"), "--quiet"]) == 0
    assert all(a.same_as(b) for a, b in zip(frames, read_frames(tmp_path / "sel2.xyz")))


@pytest.mark.parametrize("raw,message", [
    ({"element": "Al", "generators": [{"kind": "bulk", "phase": "fcc", "supercel": [2, 2, 2]}]},
     "generators[0].supercel: unknown key; did you mean 'supercell'?"),
    ({"element": "Al", "calculator": {"name": "emtt"}, "generators": [{"kind": "md"}]},
     "calculator.name: unknown calculator 'emtt'"),
])
def test_generate_errors_are_one_line(tmp_path, capsys, raw, message):
    config = write_config(tmp_path / "bad.yaml", raw)
    code = main(["generate", str(config), "-o", str(tmp_path / "x.xyz")])
    err = capsys.readouterr().err
    assert code == 2
    assert message in err and err.count("\n") == 1
    assert not (tmp_path / "x.xyz").exists()


def test_build_calculator_by_name_and_import_path():
    from ase.calculators.emt import EMT
    from ase.calculators.lj import LennardJones

    from potforge.cli.generate import build_calculator

    assert isinstance(build_calculator("emt"), EMT)
    lj = build_calculator("ase.calculators.lj:LennardJones", {"sigma": 2.5})
    assert isinstance(lj, LennardJones) and lj.parameters.sigma == 2.5
    with pytest.raises(ConfigError, match="^calculator.name: unknown calculator 'mors'; did you mean 'morse'"):
        build_calculator("mors")
    with pytest.raises(ConfigError, match="cannot import"):
        build_calculator("no_such_package.module:Thing")
    with pytest.raises(ConfigError, match="^calculator.parameters.model: missing"):
        build_calculator("potforge")
    with pytest.raises(ConfigError, match="^calculator.parameters"):
        build_calculator("lj", {"sigmaa": 2.5})


def test_generate_and_label_build_the_same_calculators(tmp_path):
    """One factory: the names generate accepts are the names label accepts, same objects."""
    from ase.build import bulk
    from ase.calculators.morse import MorsePotential

    from potforge.cli.generate import build_calculator
    from potforge.generate import calculators

    morse = build_calculator("morse", {"epsilon": 0.3, "r0": 2.7, "rho0": 5.0})
    assert isinstance(morse, MorsePotential)
    spec = calculators.calculator_spec({"name": "morse",
                                        "parameters": {"epsilon": 0.3, "r0": 2.7, "rho0": 5.0}})
    other = calculators.build_calculator(spec)
    atoms = bulk("Al", "fcc", 4.05).repeat(2)
    atoms.rattle(0.05, seed=1)
    e1 = atoms.copy()
    e1.calc = morse
    e2 = atoms.copy()
    e2.calc = other
    assert e1.get_potential_energy() == e2.get_potential_energy()


def test_example_config_is_valid():
    from pathlib import Path

    from potforge.core.config import load_yaml
    from potforge.generate.configurations import GENERATORS, generation_config

    path = Path(__file__).resolve().parents[2] / "examples" / "al-gpaw" / "generate.yaml"
    config = generation_config(load_yaml(path))
    assert {g.kind for g in config.generators} == set(GENERATORS)


def test_every_config_of_the_al_gpaw_example_is_valid(tmp_path):
    """The example's files are only run by hand (GPAW for an hour); keep them loadable."""
    from pathlib import Path

    from potforge.cli.converge import ConvergeConfig
    from potforge.core.config import build, load_yaml
    from potforge.generate.calculators import load_calculator_spec
    from potforge.generate.configurations import generation_config
    from potforge.training.config import training_config

    folder = Path(__file__).resolve().parents[2] / "examples" / "al-gpaw"
    spec = load_calculator_spec(folder / "calculator.yaml")
    assert spec.name == "gpaw" and spec.parameters["kpts"]["density"] == 5.0
    for name in ("converge.yaml", "converge-k.yaml"):
        cfg = build(ConvergeConfig, load_yaml(folder / name), "")
        for key, value in cfg.use.items():
            assert value in cfg.axes[key]
    assert generation_config(load_yaml(folder / "test.yaml")).generators
    # the noise file is an output of converge-k.yaml: stand one in as potforge converge writes it
    (tmp_path / "noise.yaml").write_text("loss:\n  energy_sigma: 4.58 meV/atom\n  force_sigma: 0.04843 eV/Å\n"
                                         "  stress_sigma: 0.3846 GPa\n", encoding="utf-8")
    for name, kind in (("hdnnp.yaml", "hdnnp"), ("eam.yaml", "eam")):
        raw = load_yaml(folder / name)
        assert raw["loss"]["noise_file"] == "al-converge-k/noise.yaml"
        raw["loss"]["noise_file"] = str(tmp_path / "noise.yaml")
        config = training_config(raw, base_dir=folder)
        assert config.model_kind == kind and config.loss.force_sigma == 0.04843
