"""Where a result came from: potforge's version, the checkout's commit, the versions of the
libraries that produced it.

``__version__`` lives here so that every layer can stamp its outputs without importing the
package root (which only re-exports it).
"""

from __future__ import annotations

import sys

__all__ = ["__version__", "git_sha", "versions"]

__version__ = "0.1.0"


def git_sha() -> str | None:
    """Commit of the potforge checkout this runs from (None for an installed wheel)."""
    import subprocess  # here: importing this module (for __version__) must stay cheap
    from pathlib import Path

    here = Path(__file__).resolve().parent
    try:
        out = subprocess.run(["git", "-C", str(here), "rev-parse", "HEAD"], capture_output=True,
                             text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    sha = out.stdout.strip()
    return sha if out.returncode == 0 and sha else None


def versions(*packages: str) -> dict[str, str | None]:
    """potforge (version and commit), Python, NumPy and ASE, plus each named package: its
    installed distribution's version, else the ``__version__`` of the module if it is
    imported, else None."""
    import platform

    import ase
    import numpy

    out: dict[str, str | None] = {"potforge": __version__, "git_sha": git_sha(),
                                  "python": platform.python_version(),
                                  "numpy": numpy.__version__, "ase": ase.__version__}
    for name in packages:
        if name in out:
            continue
        out[name] = _package_version(name)
    return out


def _package_version(name: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        module = sys.modules.get(name)
        version = getattr(module, "__version__", None) if module is not None else None
        return str(version) if version is not None else None
