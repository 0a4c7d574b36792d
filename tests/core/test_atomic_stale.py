"""A killed write leaves ``.NAME.PID.HEX.tmp`` (and ``.old``) files beside its target; the
next write of that target removes them when their process is gone, and nothing else
(issue 13, defect 5)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from potforge.core.atomic import atomic_directory, atomic_write, remove_stale


@pytest.fixture(scope="module")
def dead_pid() -> int:
    """The id of a process that has exited (and been reaped)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    try:
        os.kill(child.pid, 0)
    except ProcessLookupError:
        return child.pid
    pytest.skip("the id of the exited process was reused at once")


def test_a_stale_temporary_file_of_a_dead_process_is_removed(tmp_path, dead_pid):
    target = tmp_path / "out.xyz"
    stale = tmp_path / f".out.xyz.{dead_pid}.0badc0de.tmp"
    stale.write_text("half a file")
    with atomic_write(target) as handle:
        handle.write("new\n")
    assert target.read_text() == "new\n"
    assert not stale.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.xyz"]


def test_live_processes_and_other_targets_are_left_alone(tmp_path, dead_pid):
    live = {f".out.xyz.{os.getpid()}.00000001.tmp",            # our own (another thread's write)
            f".out.xyz.{os.getppid()}.00000002.tmp"}            # a live process
    others = {f".out.xyz.bak.{dead_pid}.00000003.tmp",          # target out.xyz.bak
              f".out.xyz.{dead_pid}.00000004.tmp.{dead_pid}.00000005.tmp",   # target out.xyz.<..>.tmp
              f".out.xyz.{dead_pid}.123.tmp",                   # not potforge's pattern
              f".out.xyz.{dead_pid}.00000006.TMP",
              f"out.xyz.{dead_pid}.00000007.tmp",
              f".other.{dead_pid}.00000008.tmp"}
    for name in live | others:
        (tmp_path / name).write_text("x")
    stale = tmp_path / f".out.xyz.{dead_pid}.abcdef01.tmp"
    stale.write_text("x")
    removed = remove_stale(tmp_path / "out.xyz")
    assert removed == [stale]
    assert {p.name for p in tmp_path.iterdir()} == live | others


def test_stale_directories_of_atomic_directory(tmp_path, dead_pid):
    target = tmp_path / "model"
    stale_tmp = tmp_path / f".model.{dead_pid}.11111111.tmp"
    stale_old = tmp_path / f".model.{dead_pid}.22222222.old"
    for d in (stale_tmp, stale_old):
        (d / "sub").mkdir(parents=True)
        (d / "sub" / "weights.001.data").write_text("x")
    # the process died between its two renames: the target is missing and the .old is the
    # only copy of the previous version, so it is kept
    remove_stale(target)
    assert not stale_tmp.exists() and stale_old.exists()
    with atomic_directory(target) as tmp:
        (tmp / "model.json").write_text("{}")
    assert stale_old.exists()
    with atomic_directory(target) as tmp:              # target exists now: the .old goes
        (tmp / "model.json").write_text("{}")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


def test_a_killed_writer_leaves_a_file_that_the_next_write_removes(tmp_path):
    """The real thing: a process killed inside atomic_write."""
    target = tmp_path / "frames.xyz"
    code = ("import os, sys\nfrom potforge.core.atomic import atomic_write\n"
            f"with atomic_write({str(target)!r}) as h:\n    h.write('half')\n    h.flush()\n"
            "    os._exit(9)\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    assert subprocess.run([sys.executable, "-c", code], env=env).returncode == 9
    left = [p.name for p in tmp_path.iterdir()]
    assert len(left) == 1 and left[0].startswith(".frames.xyz.") and left[0].endswith(".tmp")
    with atomic_write(target) as handle:
        handle.write("whole\n")
    assert [p.name for p in tmp_path.iterdir()] == ["frames.xyz"]


def test_temporary_names_carry_this_machines_tag_and_others_are_left_alone(tmp_path, dead_pid):
    """A dead PID only means something on the machine (and PID namespace) that made the name:
    a file another node of a shared file system is writing must survive our cleaning."""
    from potforge.core import atomic

    target = tmp_path / "out.xyz"
    ours = tmp_path / f".out.xyz.{dead_pid}.{atomic._HOST_TAG}.0badc0de.tmp"
    foreign_tag = f"{(int(atomic._HOST_TAG, 16) + 1) % 2**32:08x}"
    theirs = tmp_path / f".out.xyz.{dead_pid}.{foreign_tag}.0badc0de.tmp"
    ours.write_text("ours")
    theirs.write_text("another machine's write in progress")
    assert atomic.temporary_name(target, "tmp").name.startswith(f".out.xyz.{os.getpid()}.{atomic._HOST_TAG}.")
    assert remove_stale(target) == [ours]
    assert theirs.exists()


def test_a_failed_swap_of_a_directory_restores_the_previous_version(tmp_path, monkeypatch):
    from potforge.core.errors import OutputError

    target = tmp_path / "model"
    target.mkdir()
    (target / "weights").write_text("old")
    real_replace = os.replace
    calls = []

    def second_replace_fails(src, dst):
        calls.append((src, dst))
        if len(calls) == 2:             # moving the new directory into place
            raise OSError(28, "No space left on device")
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", second_replace_fails)
    with pytest.raises(OutputError, match="No space left on device"):
        with atomic_directory(target) as new:
            (new / "weights").write_text("new")
    monkeypatch.setattr(os, "replace", real_replace)
    assert (target / "weights").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


def test_a_file_replaced_by_a_directory_leaves_no_old_copy(tmp_path):
    target = tmp_path / "model"
    target.write_text("a file where the model directory goes")
    with atomic_directory(target) as new:
        (new / "model.json").write_text("{}")
    assert (target / "model.json").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]
