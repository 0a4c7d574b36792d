"""A file system that refuses an output gives one line naming it; the old output survives."""

import errno
import os

import pytest

from potforge.core.atomic import atomic_directory, atomic_write
from potforge.core.errors import OutputError


def test_an_output_below_a_file_is_one_line_naming_it(tmp_path):
    (tmp_path / "afile").write_text("x")
    target = tmp_path / "afile" / "out.xyz"
    with pytest.raises(OutputError, match=r"out\.xyz: cannot write this output: .*afile is a file, not a folder"):
        with atomic_write(target) as handle:
            handle.write("data")
    with pytest.raises(OutputError, match="is a file, not a folder"):
        with atomic_directory(tmp_path / "afile" / "model"):
            pass


def test_a_full_disk_leaves_the_old_output_and_no_temporary_file(tmp_path, monkeypatch):
    target = tmp_path / "out.xyz"
    target.write_text("old")

    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(OutputError, match="No space left on device"):
        with atomic_write(target) as handle:
            handle.write("new")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.xyz"]


def test_the_callers_own_os_errors_keep_their_meaning(tmp_path):
    with pytest.raises(FileNotFoundError):
        with atomic_write(tmp_path / "out.xyz"):
            open(tmp_path / "missing-input.xyz")
    assert list(tmp_path.iterdir()) == []
