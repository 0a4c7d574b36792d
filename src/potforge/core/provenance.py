"""Where a result came from: the potforge checkout's commit."""

from __future__ import annotations

import subprocess
from pathlib import Path

__all__ = ["git_sha"]


def git_sha() -> str | None:
    """Commit of the potforge checkout this runs from (None for an installed wheel)."""
    here = Path(__file__).resolve().parent
    try:
        out = subprocess.run(["git", "-C", str(here), "rev-parse", "HEAD"], capture_output=True,
                             text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    sha = out.stdout.strip()
    return sha if out.returncode == 0 and sha else None
