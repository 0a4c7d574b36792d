"""Convergence study on a calculator with known convergence behaviour, and real GPAW."""

from __future__ import annotations

import math

import numpy as np
import pytest
from ase.build import bulk
from ase.calculators.calculator import Calculator, all_changes
from ase.calculators.emt import EMT
from ase.units import GPa

from potforge.core.errors import ConfigError
from potforge.generate.converge import convergence_study, with_override


class FakeDFT(Calculator):
    """EMT plus errors that decay with a 'cutoff' and a 'k-point density' in a known way:
    energy per atom + a·ρ·exp(−ecut/50) (ρ: atoms per Å³, so relative energies err too),
    forces + 0.3·exp(−kdensity) on atom 0, stress + 2 GPa·exp(−ecut/50)."""

    implemented_properties = ("energy", "free_energy", "forces", "stress")

    def __init__(self, ecut, kdensity, **kwargs):
        super().__init__(**kwargs)
        self.ecut, self.kdensity = ecut, kdensity

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        ref = self.atoms.copy()
        ref.calc = EMT()
        n = len(ref)
        rho = n / ref.get_volume()
        e = ref.get_potential_energy() + n * 5.0 * rho * math.exp(-self.ecut / 50.0)
        f = ref.get_forces()
        f[0, 0] += 0.3 * math.exp(-self.kdensity)
        s = ref.get_stress() + 2.0 * GPa * math.exp(-self.ecut / 50.0) * np.array([1, 1, 1, 0, 0, 0])
        self.results = {"energy": e, "free_energy": e, "forces": f, "stress": s}


def _structures():
    a = bulk("Cu", "fcc", 3.61, cubic=True)
    b = a.copy()
    b.set_cell(a.cell * 1.05, scale_atoms=True)   # another density: relative energies err
    c = a.repeat((2, 1, 1))
    c.rattle(0.05, seed=1)
    return [a, b, c]


def test_study_picks_the_expected_settings(tmp_path):
    structures = _structures()
    ecuts, kdens = [100, 200, 300, 400, 600], [1.0, 2.0, 3.0, 4.0, 6.0]
    targets = {"energy": 1e-3, "forces": 0.02, "stress": 0.1}

    def make(p):
        return FakeDFT(p["mode"]["ecut"], p["kpts"]["density"])

    result = convergence_study(structures, make, {"mode": {"name": "pw", "ecut": 0}, "kpts": {"density": 0}},
                               {"mode.ecut": ecuts, "kpts.density": kdens}, targets=targets)
    # independent expectation from the error model
    rho = [len(s) / s.get_volume() for s in structures]

    def ecut_ok(x):
        d = [5.0 * r * (math.exp(-x / 50) - math.exp(-600 / 50)) for r in rho]
        energy = max(abs(v - d[0]) for v in d)
        stress = 2.0 * (math.exp(-x / 50) - math.exp(-600 / 50))
        return energy <= targets["energy"] and stress <= targets["stress"]

    def k_ok(x):
        return 0.3 * abs(math.exp(-x) - math.exp(-6.0)) <= targets["forces"]

    want_ecut = next(x for k, x in enumerate(ecuts) if all(ecut_ok(y) for y in ecuts[k:]))
    want_k = next(x for k, x in enumerate(kdens) if all(k_ok(y) for y in kdens[k:]))
    assert result.recommended == {"mode.ecut": want_ecut, "kpts.density": want_k}
    assert want_ecut not in (ecuts[0], ecuts[-1]) and want_k not in (kdens[0], kdens[-1])
    assert result.settings["mode"]["ecut"] == want_ecut and result.settings["mode"]["name"] == "pw"
    noise = result.noise()
    assert 0 < noise["energy_sigma"] <= targets["energy"] and 0 < noise["force_sigma"] <= targets["forces"]
    # the loosest cutoff misses the energy target, and its error is what the model says
    first = result.points["mode.ecut"][0]
    d = [5.0 * r * (math.exp(-100 / 50) - math.exp(-600 / 50)) for r in rho]
    assert first.energy_error == pytest.approx(max(abs(v - d[0]) for v in d), rel=1e-9)
    rms = math.sqrt(sum((v - d[0]) ** 2 for v in d[1:]) / (len(d) - 1))
    assert first.energy_rms == pytest.approx(rms, rel=1e-9) and first.energy_rms < first.energy_error


def test_an_axis_converged_only_at_its_tightest_value_is_flagged_and_use_sets_the_noise():
    # k-point force error 0.3 exp(-k): at k = 2, 3 it is 0.041, 0.015 (targets 0.02), so with
    # axis [1, 2, 3] only the tightest passes against itself: not converged, and the noise
    # levels take the last step (k 2 -> 3: 0.3 (e^-2 - e^-3)) as the tightest value's error,
    # as an RMS over all force components: one component in each of the 3 cells is off, of
    # (4 + 4 + 8) x 3 = 48, so the RMS is the error / 4
    structures = _structures()
    targets = {"energy": 1e-3, "forces": 0.02, "stress": 0.1}

    def make(p):
        return FakeDFT(p["mode"]["ecut"], p["kpts"]["density"])

    params = {"mode": {"name": "pw", "ecut": 0}, "kpts": {"density": 0}}
    axes = {"mode.ecut": [300, 600], "kpts.density": [1.0, 2.0, 3.0]}
    result = convergence_study(structures, make, params, axes, targets=targets)
    assert result.recommended["kpts.density"] == 3.0 and result.unconverged == ["kpts.density"]
    last_step = 0.3 * (math.exp(-2.0) - math.exp(-3.0))
    assert result.combined.force_error < 1e-12          # the recommendation is the reference
    assert result.points["kpts.density"][1].force_error == pytest.approx(last_step, rel=1e-6)
    assert result.noise()["force_sigma"] == pytest.approx(last_step / 4, rel=1e-6)
    assert any("kpts.density: not converged" in note for note in result.notes)
    # a cheaper value chosen for cost: its errors against the reference become the noise
    cheap = convergence_study(structures, make, params, axes, targets=targets, use={"kpts.density": 1.0})
    assert cheap.settings["kpts"]["density"] == 1.0 and cheap.used == {"kpts.density": 1.0}
    assert cheap.noise()["force_sigma"] == pytest.approx(0.3 * (math.exp(-1.0) - math.exp(-3.0)) / 4, rel=1e-6)
    with pytest.raises(ConfigError, match="use.kpts.density: 2.5 is not one of"):
        convergence_study(structures, make, params, axes, targets=targets, use={"kpts.density": 2.5})
    with pytest.raises(ConfigError, match="use.xc: not an axis"):
        convergence_study(structures, make, params, axes, targets=targets, use={"xc": "LDA"})


def test_override_errors_are_one_line():
    assert with_override({"mode": {"ecut": 1}}, "mode.ecut", 2) == {"mode": {"ecut": 2}}
    with pytest.raises(ConfigError, match="parameters.xc is not a mapping"):
        with_override({"xc": "PBE"}, "xc.name", "LDA")
    with pytest.raises(ConfigError, match="at least two values"):
        convergence_study(_structures(), lambda p: EMT(), {}, {"mode.ecut": [300]})


def test_real_gpaw_aluminium_stress_matches_energy_derivative():
    """A real DFT calculation (GPAW, PW, 1-atom Al cell, seconds): the analytic stress equals
    the derivative of the energy with respect to volume, −P = (1/3) tr σ = dE/dV."""
    import gpaw  # a CI dependency (.ci/run builds it): a missing GPAW fails, never skips
    from gpaw import GPAW, PW

    def energy(a):
        atoms = bulk("Al", "fcc", a)
        atoms.calc = GPAW(mode=PW(250), xc="PBE", kpts=(4, 4, 4), txt=None,
                          occupations={"name": "fermi-dirac", "width": 0.1},
                          convergence={"energy": 1e-7})
        return atoms, atoms.get_potential_energy()

    a0, h = 4.05, 0.01
    atoms, _ = energy(a0)
    stress = atoms.get_stress()
    (_, e_plus), (_, e_minus) = energy(a0 + h), energy(a0 - h)
    v = lambda a: a**3 / 4  # noqa: E731  (fcc primitive cell volume)
    dedv = (e_plus - e_minus) / (v(a0 + h) - v(a0 - h))
    assert gpaw.__version__
    assert abs(stress[:3].mean() - dedv) < 2e-4, (stress, dedv)   # eV/Å³ (0.03 GPa)


def test_converge_cli_writes_report_settings_and_noise(tmp_path):
    import json

    import yaml

    from potforge.cli.main import main

    (tmp_path / "c.yaml").write_text(yaml.safe_dump({
        "calculator": {"name": "tests.generate.test_converge:FakeDFT",
                       "parameters": {"ecut": 0, "kdensity": 0}},
        "structures": {"element": "Cu", "lattice": "fcc", "a": 3.61},
        "axes": {"ecut": [100, 200, 300, 400, 600], "kdensity": [1.0, 2.0, 3.0, 4.0, 6.0]},
        "targets": {"energy": "1 meV/atom", "forces": "0.02 eV/Å", "stress": "0.1 GPa"}}))
    assert main(["converge", str(tmp_path / "c.yaml"), "-o", str(tmp_path / "out")]) == 0
    out = tmp_path / "out"
    data = json.loads((out / "convergence.json").read_text())
    assert set(data["recommended"]) == {"ecut", "kdensity"}
    calc = yaml.safe_load((out / "calculator.yaml").read_text())
    assert calc["parameters"] == {"ecut": data["recommended"]["ecut"], "kdensity": data["recommended"]["kdensity"]}
    noise = yaml.safe_load((out / "noise.yaml").read_text())["loss"]
    from potforge.training.config import training_config

    cfg = training_config({"data": {"train": "x.xyz"}, "loss": noise})   # the training config takes them
    assert 0 < cfg.loss.energy_sigma <= 1e-3
    assert (out / "convergence.png").read_bytes()[:4] == b"\x89PNG" and "recommended" in (out / "report.md").read_text()
    assert main(["converge", str(tmp_path / "missing.yaml"), "-o", str(tmp_path / "o2")]) == 2
