"""Labelling with an ASE calculator into an ASE database: exact EMT values, resume after SIGKILL,
failures and retries, timeouts, local processes against Dask, and bad input.

The calculator classes below are importable by path (``tests.generate.test_labelling:SlowEMT``)
so worker processes and a ``potforge label`` subprocess can build them from a spec.
"""

from __future__ import annotations

import hashlib
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk
from ase.calculators.emt import EMT

from potforge.core.errors import ConfigError, DataFormatError, StructureError
from potforge.data.frame import Frame
from potforge.data.io import read_frames, write_frames
from potforge.generate.calculators import CalculatorSpec, calculator_spec, load_calculator_spec
from potforge.generate.label_workers import label_one
from potforge.generate.labelling import label, read_labelled, structure_key

REPO = Path(__file__).resolve().parents[2]
HERE = "tests.generate.test_labelling"


# -- test calculators (importable by path) -----------------------------------------------------------
class SlowEMT(EMT):
    """EMT that sleeps ``delay`` seconds per calculation (a stand-in for DFT)."""

    default_parameters = {**EMT.default_parameters, "delay": 0.2}

    def calculate(self, atoms=None, properties=("energy",), system_changes=()):
        time.sleep(self.parameters.delay)
        super().calculate(atoms, properties, system_changes)


class FailingEMT(EMT):
    """EMT whose SCF 'does not converge' for structures of ``fail_natoms`` atoms unless ``fixed``."""

    default_parameters = {**EMT.default_parameters, "fail_natoms": 0, "fixed": False}

    def calculate(self, atoms=None, properties=("energy",), system_changes=()):
        if len(atoms) == self.parameters.fail_natoms and not self.parameters.fixed:
            raise RuntimeError("SCF did not converge in 333 iterations (test)")
        super().calculate(atoms, properties, system_changes)


class HangingEMT(EMT):
    """EMT that loops (Python-level, like an SCF) for ``hang`` s on structures of ``hang_natoms``."""

    default_parameters = {**EMT.default_parameters, "hang_natoms": 0, "hang": 5.0}

    def calculate(self, atoms=None, properties=("energy",), system_changes=()):
        if len(atoms) == self.parameters.hang_natoms:
            end = time.perf_counter() + self.parameters.hang
            while time.perf_counter() < end:
                time.sleep(0.005)
        super().calculate(atoms, properties, system_changes)


class EnvEMT(EMT):
    """EMT that appends its process's OMP_NUM_THREADS and OPENBLAS_NUM_THREADS to ``record``."""

    default_parameters = {**EMT.default_parameters, "record": ""}

    def calculate(self, atoms=None, properties=("energy",), system_changes=()):
        with open(self.parameters.record, "a") as fh:
            fh.write(f"{os.environ.get('OMP_NUM_THREADS')} {os.environ.get('OPENBLAS_NUM_THREADS')}\n")
        super().calculate(atoms, properties, system_changes)


# -- helpers -------------------------------------------------------------------------------------------
def cu_frames(n: int = 6, *, same_size: bool = False) -> list[Frame]:
    """Rattled periodic Cu cells (of alternating sizes and lattice constants unless
    ``same_size``), and one open cluster (no stress)."""
    frames = []
    for i in range(n - 1):
        repeat = 1 if same_size else 1 + i % 2
        a = 3.6 if same_size else 3.6 + 0.02 * i
        atoms = bulk("Cu", "fcc", a=a, cubic=True).repeat((1, 1, repeat))
        atoms.rattle(0.05, seed=i)
        frames.append(Frame(atoms, config_type="rattle", group=f"g{i % 2}", info={"seed": i}))
    cluster = Atoms("Cu3", positions=[[0, 0, 0], [2.5, 0, 0], [0, 2.5, 0.1]])
    frames.append(Frame(cluster, config_type="cluster", group="007"))
    return frames


def emt_reference(frame: Frame):
    atoms = frame.atoms.copy()
    atoms.calc = EMT()
    stress = atoms.get_stress() if atoms.pbc.all() else None
    return atoms.get_potential_energy(), atoms.get_forces(), stress


def rows(db_path) -> list:
    from ase.db import connect

    return list(connect(str(db_path), type="db", use_lock_file=False).select())


def by_key(db_path) -> dict[str, dict]:
    out = {}
    for row in rows(db_path):
        key = row.key_value_pairs["structure_key"]
        assert key not in out, "duplicate row"
        out[key] = {"status": row.status, "energy": row.get("energy"), "forces": row.get("forces"),
                    "stress": row.get("stress"), "index": row.input_index}
    return out


def emt_subclass_spec(cls: str, **parameters) -> dict:
    return {"name": f"{HERE}:{cls}", "parameters": parameters}


# -- labelling -------------------------------------------------------------------------------------------
def test_labels_equal_emt_exactly_and_read_back_as_frames(tmp_path):
    frames = cu_frames()
    report = label(frames, {"name": "emt"}, tmp_path / "out.db")
    assert (report.total, report.labelled, report.skipped, report.failed) == (6, 6, 0, 0)
    assert report.seconds_mean is not None and report.seconds_max >= report.seconds_mean
    assert len(rows(tmp_path / "out.db")) == 6
    labelled = read_labelled(tmp_path / "out.db")
    assert len(labelled) == 6
    for frame, got in zip(frames, labelled):
        energy, forces, stress = emt_reference(frame)
        assert got.energy == energy
        assert np.array_equal(got.forces, forces)
        if stress is None:
            assert got.stress is None
        else:
            assert np.array_equal(got.stress, stress)
        assert np.array_equal(got.atoms.positions, frame.atoms.positions)
        assert (got.config_type, got.group, got.info) == (frame.config_type, frame.group, frame.info)
    # the database is a potforge data file (potforge train reads *.db through this)
    again = read_frames(tmp_path / "out.db")
    assert all(a.same_as(b) for a, b in zip(again, labelled))
    for row in rows(tmp_path / "out.db"):
        assert row.status == "done" and row.attempts == 1 and row.label_seconds >= 0
        assert row.structure_key == structure_key(frames[row.input_index].atoms, row.input_index)


def test_second_run_skips_everything_and_keeps_the_file(tmp_path):
    frames = cu_frames(4)
    label(frames, {"name": "emt"}, tmp_path / "out.db")
    before = (tmp_path / "out.db").read_bytes()
    report = label(frames, {"name": "emt"}, tmp_path / "out.db")
    assert (report.labelled, report.skipped) == (0, 4)
    assert (tmp_path / "out.db").read_bytes() == before
    assert not (tmp_path / "out.db.label-lock").exists()


def test_progress_lines_with_eta(tmp_path):
    lines = []
    label(cu_frames(3), {"name": "emt"}, tmp_path / "out.db", progress=lines.append)
    assert len(lines) == 3
    assert all("ETA" in line for line in lines) and lines[-1].startswith("label: 3/3")


def test_eta_weighs_structures_by_their_atoms(monkeypatch):
    # a 1-atom cell done in 10 s with a 30-atom cell to go: 300 s left, not 10 s
    from potforge.generate import labelling

    clock = iter([0.0, 10.0])
    monkeypatch.setattr(labelling.time, "perf_counter", lambda: next(clock))
    lines = []
    bar = labelling._Progress(lines.append, 2, 0, 2, atoms_todo=31)
    small = Frame(Atoms("Cu", cell=[3, 3, 3], pbc=True))
    bar.update(0, small, {"status": "done", "seconds": 10.0})
    assert lines[-1].endswith("ETA 5.0 min")


def test_sigkill_mid_run_then_resume_labels_every_structure_exactly_once(tmp_path):
    n = 10
    frames = cu_frames(n, same_size=True)  # a calculator reused without reset would show here
    write_frames(tmp_path / "in.xyz", frames)
    (tmp_path / "calc.yaml").write_text(f"name: {HERE}:SlowEMT\nparameters: {{delay: 0.2}}\n")
    db = tmp_path / "out.db"
    command = [sys.executable, "-m", "potforge.cli", "label", str(tmp_path / "in.xyz"),
               "--calculator", str(tmp_path / "calc.yaml"), "--db", str(db), "--quiet"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    committed = 0
    deadline = time.monotonic() + 30
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if db.exists():
                try:
                    with sqlite3.connect(db, timeout=5) as con:
                        committed = con.execute("SELECT COUNT(*) FROM systems").fetchone()[0]
                except sqlite3.OperationalError:  # the table is not there yet
                    committed = 0
            if committed >= 3:
                break
            time.sleep(0.02)
        assert proc.poll() is None, f"finished before the kill: {proc.communicate()}"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(10)
    assert proc.returncode == -signal.SIGKILL
    first = by_key(db)
    assert 3 <= len(first) < n
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert f"{n - len(first)} labelled, {len(first)} already done, 0 failed" in done.stdout
    resumed = by_key(db)
    assert len(rows(db)) == n and sorted(r["index"] for r in resumed.values()) == list(range(n))
    clean_db = tmp_path / "clean.db"
    label(frames, {"name": "emt"}, clean_db)
    clean = by_key(clean_db)
    assert resumed.keys() == clean.keys()
    for key, row in resumed.items():
        assert row["status"] == "done"
        assert row["energy"] == clean[key]["energy"]
        assert np.array_equal(row["forces"], clean[key]["forces"])
        if key in first:  # the rows written before the kill are still the same
            assert row["energy"] == first[key]["energy"]


def test_failure_is_recorded_then_retried_with_an_override(tmp_path):
    frames = cu_frames(5)
    bad = 3  # the one open cluster has 3 atoms
    assert [len(f.atoms) == bad for f in frames].count(True) == 1
    spec = emt_subclass_spec("FailingEMT", fail_natoms=bad)
    report = label(frames, spec, tmp_path / "out.db")
    assert (report.labelled, report.failed) == (4, 1)
    assert report.failures == [(4, "RuntimeError: SCF did not converge in 333 iterations (test)")]
    failed = [r for r in rows(tmp_path / "out.db") if r.status == "failed"]
    assert len(failed) == 1 and failed[0].attempts == 1 and "SCF did not converge" in failed[0].reason
    assert failed[0].input_index == 4 and failed[0].get("energy") is None
    assert len(read_labelled(tmp_path / "out.db")) == 4  # failures are not training data
    assert len(read_frames(tmp_path / "out.db")) == 4
    assert len(read_labelled(tmp_path / "out.db", include_failed=True)) == 5
    # a later run leaves it alone unless asked
    report = label(frames, spec, tmp_path / "out.db")
    assert (report.labelled, report.skipped, report.failed_before) == (0, 4, 1)
    # retry overrides are not part of the settings; the first attempt fails, the retry succeeds
    retry_spec = {**spec, "retry": [{"fixed": True}]}
    report = label(frames, retry_spec, tmp_path / "out.db", retry_failed=True)
    assert (report.labelled, report.failed, report.skipped) == (1, 0, 4)
    all_rows = rows(tmp_path / "out.db")
    assert len(all_rows) == 5
    row = next(r for r in all_rows if r.input_index == 4)
    assert row.status == "done" and row.attempts == 2 and "reason" not in row.key_value_pairs
    assert "attempt 1: RuntimeError" in row.data["label_failures"][0]
    assert row.energy == emt_reference(frames[4])[0]


def test_retries_run_out_and_the_run_goes_on(tmp_path):
    spec = {**emt_subclass_spec("FailingEMT", fail_natoms=3), "retry": [{"asap_cutoff": False}],
            "max_retries": 2}
    report = label(cu_frames(5), spec, tmp_path / "out.db")
    assert (report.labelled, report.failed) == (4, 1)
    row = next(r for r in rows(tmp_path / "out.db") if r.status == "failed")
    assert row.attempts == 3 and len(row.data["label_failures"]) == 3


def test_timeout_is_recorded_as_a_failure(tmp_path):
    spec = {**emt_subclass_spec("HangingEMT", hang_natoms=3, hang=20.0), "timeout": "0.3 s"}
    t0 = time.perf_counter()
    report = label(cu_frames(4), spec, tmp_path / "out.db")
    assert time.perf_counter() - t0 < 5
    assert (report.labelled, report.failed) == (3, 1)
    assert report.failures[0][1] == "timeout after 0.3 s"
    row = next(r for r in rows(tmp_path / "out.db") if r.status == "failed")
    assert row.reason == "timeout after 0.3 s" and row.attempts == 1


def test_timeout_in_a_worker_thread(tmp_path):
    """Dask runs tasks in threads, where SIGALRM is not available."""
    spec = calculator_spec({**emt_subclass_spec("HangingEMT", hang_natoms=3, hang=20.0),
                            "timeout": 0.3})
    frame = cu_frames(1)[0]
    out = {}
    t0 = time.perf_counter()
    thread = threading.Thread(target=lambda: out.update(
        label_one(spec, 0, structure_key(frame.atoms, 0), frame.atoms)))
    thread.start()
    thread.join(10)
    assert time.perf_counter() - t0 < 5
    assert out["status"] == "failed" and out["reason"] == "timeout after 0.3 s"
    time.sleep(0.4)  # nothing fires later into the finished thread (it would print a traceback)


@pytest.mark.parametrize("user_value", [None, "3"])
def test_worker_processes_split_the_cores(tmp_path, monkeypatch, user_value):
    """Two workers get cores // 2 BLAS/OpenMP threads each; a value the user set is kept."""
    from potforge.generate.label_workers import _available_cores

    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        monkeypatch.delenv(name, raising=False)
    if user_value is not None:
        monkeypatch.setenv("OMP_NUM_THREADS", user_value)
    record = tmp_path / "threads.txt"
    label(cu_frames(4), emt_subclass_spec("EnvEMT", record=str(record)), tmp_path / "out.db",
          workers=2)
    split = str(max(1, _available_cores() // 2))
    expected = f"{user_value or split} {split}"
    assert record.read_text().splitlines() == [expected] * 4
    assert os.environ.get("OMP_NUM_THREADS") == user_value  # the parent's is restored
    assert "OPENBLAS_NUM_THREADS" not in os.environ


def test_dask_gives_the_same_database_as_local_processes(tmp_path):
    pytest.importorskip("dask.distributed")
    from dask.distributed import Client, LocalCluster

    frames = cu_frames(6)
    local = label(frames, {"name": "emt"}, tmp_path / "local.db", workers=2)
    assert local.labelled == 6
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        report = label(frames, {"name": "emt"}, tmp_path / "dask.db", dask=client)
    assert report.labelled == 6
    a, b = by_key(tmp_path / "local.db"), by_key(tmp_path / "dask.db")
    assert a.keys() == b.keys() and len(a) == 6
    for key in a:
        assert a[key]["energy"] == b[key]["energy"]
        assert np.array_equal(a[key]["forces"], b[key]["forces"])


def test_dask_local_cluster_of_processes(tmp_path):
    pytest.importorskip("dask.distributed")
    frames = cu_frames(3)
    report = label(frames, {"name": "emt"}, tmp_path / "dask.db", workers=2, dask="local")
    assert report.labelled == 3
    got = read_labelled(tmp_path / "dask.db")
    assert [f.energy for f in got] == [emt_reference(f)[0] for f in frames]


# -- bad input ---------------------------------------------------------------------------------------
def test_unknown_calculator_name(tmp_path):
    with pytest.raises(ConfigError, match=r"name: unknown calculator 'emtt'; did you mean 'emt'\? "
                                          r"known names: gpaw, emt"):
        label(cu_frames(2), {"name": "emtt"}, tmp_path / "out.db")
    assert not (tmp_path / "out.db").exists()


def test_unknown_parameter(tmp_path):
    with pytest.raises(ConfigError, match=r"^parameters\.asap_cutof: unknown parameter of EMT; "
                                          r"did you mean 'asap_cutoff'"):
        label(cu_frames(2), {"name": "emt", "parameters": {"asap_cutof": True}}, tmp_path / "o.db")
    with pytest.raises(ConfigError, match=r"retry\[0\]\.delays: unknown parameter"):
        label(cu_frames(2), {**emt_subclass_spec("SlowEMT"), "retry": [{"delays": 1}]},
              tmp_path / "o.db")
    assert not (tmp_path / "o.db").exists()


def test_yaml_spec_errors_name_the_file_and_key(tmp_path):
    path = tmp_path / "calc.yaml"
    path.write_text("name: emt\nparamters: {}\n")
    with pytest.raises(ConfigError, match=r"calc\.yaml:2: paramters: unknown key; did you mean "
                                          r"'parameters'"):
        load_calculator_spec(path)
    path.write_text("name: emt\ntimeout: 10 min\nretry: [{asap_cutoff: true}]\n")
    spec = load_calculator_spec(path)
    assert (spec.timeout, spec.max_retries, spec.retry) == (600.0, 1, ({"asap_cutoff": True},))


def test_database_with_other_settings_is_refused_unchanged(tmp_path):
    db = tmp_path / "out.db"
    label(cu_frames(3), {"name": "emt"}, db)
    before = db.read_bytes()
    other = {"name": "emt", "parameters": {"asap_cutoff": True}}
    with pytest.raises(ConfigError, match=r"was labelled with different settings \(hash [0-9a-f]{16}"
                                          r".*use a new --db or the same calculator\.yaml"):
        label(cu_frames(4), other, db)
    assert db.read_bytes() == before
    assert len(rows(db)) == 3


def test_foreign_database_files_are_refused_unchanged(tmp_path):
    text = tmp_path / "notes.db"
    text.write_bytes(b"not a database at all\n")
    with pytest.raises(DataFormatError, match="not an SQLite database"):
        label(cu_frames(2), {"name": "emt"}, text)
    assert text.read_bytes() == b"not a database at all\n"
    plain = tmp_path / "plain.db"
    write_frames(plain, cu_frames(2))  # an ordinary potforge ASE database
    before = plain.read_bytes()
    with pytest.raises(ConfigError, match="did not write"):
        label(cu_frames(2), {"name": "emt"}, plain)
    assert plain.read_bytes() == before


def test_structure_the_calculator_cannot_handle_is_a_failure(tmp_path):
    frames = cu_frames(3) + [Frame(bulk("Si", "diamond", a=5.43))]
    report = label(frames, {"name": "emt"}, tmp_path / "out.db")
    assert (report.labelled, report.failed) == (3, 1)
    assert report.failures == [(3, "NotImplementedError: No EMT-potential for Si")]
    assert "No EMT-potential for Si" in report.summary()


def test_broken_structures_fail_before_any_work(tmp_path):
    frames = cu_frames(3)
    frames[1].atoms.positions[0, 0] = np.nan
    with pytest.raises(StructureError, match="frame 1: has non-finite"):
        label(frames, {"name": "emt"}, tmp_path / "out.db")
    flat = Atoms("Cu2", positions=[[0, 0, 0], [1, 1, 1]], cell=[[3, 0, 0], [0, 3, 0], [3, 3, 0]],
                 pbc=True)
    with pytest.raises(StructureError, match="frame 0: has a singular"):
        label([flat], {"name": "emt"}, tmp_path / "out.db")
    assert not (tmp_path / "out.db").exists()


# -- spec and keys --------------------------------------------------------------------------------
def test_settings_hash_is_canonical_and_version_independent():
    expected = hashlib.sha256(b'{"name":"emt","parameters":{}}').hexdigest()
    assert CalculatorSpec("emt").settings_hash() == expected
    a = calculator_spec({"name": "gpaw", "parameters": {"xc": "PBE", "convergence": {
        "energy": "1e-6", "forces": 1e-4}}, "timeout": 600})
    b = calculator_spec({"parameters": {"convergence": {"forces": 0.0001, "energy": 1.0e-6},
                                        "xc": "PBE"}, "name": "gpaw", "retry": [{"maxiter": 9}]})
    assert a.parameters["convergence"]["energy"] == 1e-6  # YAML 1.1's "1e-6" is a number here
    assert a.settings_hash() == b.settings_hash()
    c = calculator_spec({"name": "gpaw", "parameters": {"xc": "LDA", "convergence": {
        "energy": 1e-6, "forces": 1e-4}}})
    assert c.settings_hash() != a.settings_hash()


def test_settings_hash_of_a_potforge_model_follows_its_content(tmp_path):
    # the physics of potforge labels is the model, not its folder name: retraining in place
    # must not append to a database labelled by the old model
    model = tmp_path / "model"
    model.mkdir()
    (model / "model.json").write_text('{"arrays_sha256": "aaa"}')
    (model / "training.log").write_text("epoch 1")
    spec = calculator_spec({"name": "potforge", "parameters": {"model": str(model)}})
    first = spec.settings_hash()
    (model / "training.log").write_text("epoch 2")          # not part of the model
    assert spec.settings_hash() == first
    (model / "model.json").write_text('{"arrays_sha256": "bbb"}')
    assert spec.settings_hash() != first
    n2p2 = tmp_path / "n2p2"                                  # an n2p2 folder: every file counts
    n2p2.mkdir()
    (n2p2 / "input.nn").write_text("cutoff_type 2")
    (n2p2 / "weights.001.data").write_text("0.1")
    other = calculator_spec({"name": "potforge", "parameters": {"model": str(n2p2)}})
    before = other.settings_hash()
    (n2p2 / "weights.001.data").write_text("0.2")
    assert other.settings_hash() != before
    missing = calculator_spec({"name": "potforge", "parameters": {"model": str(tmp_path / "none")}})
    assert len(missing.settings_hash()) == 64                # the loader reports the missing model


def test_structure_key_is_stable_and_includes_the_index():
    atoms = bulk("Cu", cubic=True)
    key = structure_key(atoms, 0)
    assert len(key) == 64 and structure_key(atoms.copy(), 0) == key
    nudged = atoms.copy()
    nudged.positions += 1e-12
    assert structure_key(nudged, 0) == key
    moved = atoms.copy()
    moved.positions[0, 0] += 1e-6
    assert structure_key(moved, 0) != key
    assert structure_key(atoms, 1) != key
