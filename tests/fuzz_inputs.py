"""The machinery of tests/test_fuzz_inputs.py: base files, mutations, one case, the child
process that runs cases and the parent that restarts it after a crash (read that module's
docstring for what is fuzzed and why).

Run as a script:
  ``python tests/fuzz_inputs.py --child BASE``   the child (cases as JSON on stdin)
  ``python tests/fuzz_inputs.py --repro TYPE K`` one case in this process, with its traceback
"""

from __future__ import annotations

import json
import math
import os
import queue
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
N = int(os.environ.get("POTFORGE_FUZZ_N", "30"))
SEED = int(os.environ.get("POTFORGE_FUZZ_SEED", "0"))
TIMEOUT = float(os.environ.get("POTFORGE_FUZZ_TIMEOUT", "10"))

_OK = ("ok", "refused")

# -- the base files -------------------------------------------------------------------------------

WATER = HERE.parent.parent / "shared" / "data" / "n2p2" / "H2O_RPBE-D3"
FIXTURES = HERE / "fixtures" / "models_v0_1"
#: DFT outputs of ASE's test data -> the format to name (None: potforge tells it from the file)
ASE_TESTDATA = {"vasp/OUTCAR_example_1": None, "vasp/vasprun_pstress.xml": None,
                "aims/singlepoint.out": "aims-output", "aims/md.out": "aims-output",
                "castep/md.castep": None, "qbox_test.xml": None}
DFT_FORMATS = {Path(name).name: fmt for name, fmt in ASE_TESTDATA.items()}


def _dft_files() -> list[Path]:
    """ASE's own DFT outputs: fuzzed once potforge reads DFT outputs (potforge.data.io.dft)."""
    import importlib.util

    import ase

    if importlib.util.find_spec("potforge.data.io.dft") is None:
        return []
    root = Path(ase.__file__).parent / "test" / "testdata"
    return [root / name for name in ASE_TESTDATA if (root / name).is_file()]


def file_types() -> list[str]:
    types = ["extxyz", "n2p2-data", "ase-db", "yaml-config", "n2p2-model", "potforge-model",
             "lammps-setfl", "lammps-tersoff", "lammps-sw"]
    types += [f"dft-{p.name}" for p in _dft_files()]
    chosen = os.environ.get("POTFORGE_FUZZ_TYPES")
    return [t for t in types if not chosen or t in chosen.split(",")]


FILE_TYPES = file_types()


def build_base(root: Path) -> Path:
    """The unmutated files, one folder per file type, and the structures to predict."""
    from ase.build import molecule
    from ase.io import write

    from potforge.data.frame import Frame
    from potforge.data.io import write_frames
    from potforge.export import export_model
    from potforge.models.classical.eam import SetflEAM
    from potforge.models.classical.examples import (SW_SI, TERSOFF_SI_C, eam_example, sw_example,
                                                    tersoff_example)
    from potforge.models.classical.sw import StillingerWeber
    from potforge.models.classical.tersoff import Tersoff
    from potforge.models.hdnnp.example import example

    ex = example()
    frames = []
    for k, atoms in enumerate((ex.periodic, ex.cluster)):
        p = ex.potential.predict(atoms)
        frames.append(Frame(atoms.copy(), energy=p.energy + 0.1, forces=p.forces + 0.01,
                            stress=p.stress, config_type=f"type{k}", group=f"g{k}", weight=1.5,
                            info={"note": "fuzz", "step": k}))
    for name, file in (("extxyz", "data.xyz"), ("n2p2-data", "input.data"), ("ase-db", "data.db")):
        (root / name).mkdir(parents=True)
        write_frames(root / name / file, frames)
    ex.potential.save(root / "data-model")

    (root / "n2p2-model").mkdir()
    for name in ("input.nn", "scaling.data", "weights.001.data", "weights.008.data"):
        shutil.copyfile(WATER / name, root / "n2p2-model" / name)
    water = molecule("H2O")
    second = molecule("H2O")
    second.translate([2.9, 0.3, 0.1])
    pair = water + second
    box = pair.copy()
    box.cell, box.pbc = [6.5, 6.2, 6.0], True
    write(root / "n2p2-model.structures.xyz", [pair, box], format="extxyz")

    (root / "potforge-model").mkdir()
    for kind in sorted(p.name for p in FIXTURES.iterdir() if (p / "model.json").is_file()):
        shutil.copytree(FIXTURES / kind, root / "potforge-model" / kind)
    shutil.copyfile(FIXTURES / "structures.xyz", root / "potforge-model.structures.xyz")

    setfl = SetflEAM(eam_example().potential.to_setfl(nr=300, nrho=300, rho_max=60.0))
    two = ["Si", "C"]
    tersoff = Tersoff.from_entries(two, [(a, b, c, TERSOFF_SI_C) for a in two for b in two for c in two])
    sw = StillingerWeber.from_entries(two, [(a, b, c, SW_SI) for a in two for b in two for c in two])
    for kind, potential, structures in (("setfl", setfl, eam_example()), ("tersoff", tersoff, tersoff_example()),
                                        ("sw", sw, sw_example())):
        out = root / f"lammps-{kind}"
        record = export_model(potential, "lammps", out)
        for path in out.iterdir():
            if path != record["potential_file"]:
                path.unlink()
        mixed = structures.periodic.copy()
        if kind != "setfl":
            mixed.symbols[::3] = "C"
        write(root / f"lammps-{kind}.structures.xyz", [mixed, structures.cluster], format="extxyz")

    config = {
        "data": {"train": "train.xyz", "validation_fraction": 0.25, "split_seed": 0},
        "model": {"kind": "hdnnp",
                  "symmetry_functions": {"n2p2": ["Cu 2 Cu 0.5 0.0 4.0", "Cu 3 Cu Cu 0.1 -1 1.0 4.0"],
                                         "prune": {"enabled": False}},
                  "network": {"hidden": [4, 4], "activation": "t"}},
        "loss": {"energy_sigma": "1 meV/atom", "force_sigma": "0.05 eV/Å", "stress_sigma": "0.1 GPa"},
        "training": {"epochs": 3, "seed": 3, "threads": 1, "l2": 1e-6,
                     "optimizer": {"kind": "adam", "lr": 0.001, "batch_size": 4}}}
    classical = {
        "data": {"train": "train.xyz", "validation_fraction": 0.0},
        "model": {"kind": "eam", "cutoff": 5.0, "smooth_width": 1.0,
                  "pair": {"Cu-Cu": {"form": "morse", "D0": 0.25, "alpha": 1.5, "r0": 2.7}},
                  "density": {"Cu": {"form": "exponential", "A": 1.0, "beta": 3.0, "re": 2.55}},
                  "embedding": {"Cu": {"form": "fs", "A": 1.2, "B": 0.002}}},
        "loss": {"energy_sigma": 0.001, "force_sigma": 0.02},
        "training": {"epochs": 2, "optimizer": {"kind": "lsq"}}}
    import yaml

    (root / "yaml-config").mkdir()
    for name, raw in (("hdnnp.yaml", config), ("eam.yaml", classical)):
        (root / "yaml-config" / name).write_text(yaml.safe_dump(raw, sort_keys=False, allow_unicode=True),
                                                 encoding="utf-8")
    for path in _dft_files():
        (root / f"dft-{path.name}").mkdir()
        shutil.copyfile(path, root / f"dft-{path.name}" / path.name)
    return root


# -- mutations --------------------------------------------------------------------------------------

TOKENS = ["nan", "NaN", "-nan", "inf", "-inf", "Infinity", "1e308", "-1e308", "1e999", "-1e999",
          "0", "-1", "0.0", "-0.0", "1e-320", "1e-300", "99999999999999999999999", "2147483648",
          "9223372036854775808", "-9223372036854775809", "1000000000", "\u0661\u0662", "\uff11.\uff15",
          "\u00b2", "", "x", "1,5", "0x10", "1_000", "+-1", "1e", "True", ".nan", ".inf", "null",
          "{}", "[]", "'", '"']
BAD_BYTES = [b"\xff", b"\xfe\xff", b"\xc3\x28", b"\x00", b"\xed\xa0\x80", b"\x80\x80", b"\r"]
_NUMBER = re.compile(rb"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")
_TOKEN = re.compile(rb"[^\s,\[\]{}:=\"']+")


def mutate_text(data: bytes, rng: random.Random) -> tuple[bytes, list[str]]:
    """One to three random edits of a text file; returns the bytes and their description."""
    done = []
    for _ in range(rng.choice((1, 1, 1, 2, 3))):
        op = rng.choice(_TEXT_OPS)
        data, what = op(data, rng)
        done.append(what)
    return data, done


def _lines(data: bytes) -> list[bytes]:
    return data.splitlines(keepends=True) or [b""]


def _replace_token(data, rng):
    spans = [m.span() for m in _NUMBER.finditer(data)] if rng.random() < 0.8 else []
    spans = spans or [m.span() for m in _TOKEN.finditer(data)] or [(0, 0)]
    a, b = rng.choice(spans)
    new = rng.choice(TOKENS).encode()
    line = data.count(b"\n", 0, a) + 1
    return data[:a] + new + data[b:], f"line {line}: token {data[a:b][:30]!r} -> {new!r}"


def _scale_number(data, rng):
    spans = [m.span() for m in _NUMBER.finditer(data)] or [(0, 0)]
    a, b = rng.choice(spans)
    try:
        value = float(data[a:b])
    except ValueError:
        value = 1.0
    new = repr(value * rng.choice((-1.0, 1e6, -1e6, 1e100, 1e-100, 1e200, 1e300))).encode()
    line = data.count(b"\n", 0, a) + 1
    return data[:a] + new + data[b:], f"line {line}: number {data[a:b][:30]!r} -> {new!r}"


def _delete_line(data, rng):
    lines = _lines(data)
    k = rng.randrange(len(lines))
    return b"".join(lines[:k] + lines[k + 1:]), f"line {k + 1} deleted"


def _duplicate_line(data, rng):
    lines = _lines(data)
    k = rng.randrange(len(lines))
    return b"".join(lines[:k + 1] + lines[k:]), f"line {k + 1} duplicated"


def _swap_lines(data, rng):
    lines = _lines(data)
    i, j = rng.randrange(len(lines)), rng.randrange(len(lines))
    lines[i], lines[j] = lines[j], lines[i]
    return b"".join(lines), f"lines {i + 1} and {j + 1} swapped"


def _truncate_line(data, rng):
    lines = _lines(data)
    k = rng.randrange(len(lines))
    cut = rng.randrange(len(lines[k]) + 1)
    lines[k] = lines[k][:cut] + (b"\n" if lines[k].endswith(b"\n") and rng.random() < 0.5 else b"")
    return b"".join(lines), f"line {k + 1} cut after {cut} bytes"


def _truncate_file(data, rng):
    cut = rng.randrange(len(data) + 1)
    return data[:cut], f"file cut after {cut} of {len(data)} bytes"


def _bad_bytes(data, rng):
    at = rng.randrange(len(data) + 1)
    new = rng.choice(BAD_BYTES)
    line = data.count(b"\n", 0, at) + 1
    return data[:at] + new + data[at:], f"bytes {new!r} inserted at offset {at} (line {line})"


def _flip_bit(data, rng):
    if not data:
        return data, "empty file kept"
    at = rng.randrange(len(data))
    bit = 1 << rng.randrange(8)
    return data[:at] + bytes([data[at] ^ bit]) + data[at + 1:], f"bit {bit:#x} flipped at offset {at}"


def _long_line(data, rng):
    lines = _lines(data)
    k = rng.randrange(len(lines) + 1)
    long = rng.choice((b"1.0 " * 40000, b"x" * 150000, b"9" * 100000, b"# " + b"c" * 150000))
    return b"".join(lines[:k] + [long + b"\n"] + lines[k:]), f"a line of {len(long)} bytes inserted before line {k + 1}"


def _blank_line(data, rng):
    lines = _lines(data)
    k = rng.randrange(len(lines) + 1)
    return b"".join(lines[:k] + [rng.choice((b"\n", b"   \n", b"\t\n"))] + lines[k:]), f"blank line before line {k + 1}"


_TEXT_OPS = [_replace_token] * 6 + [_scale_number] * 2 + [
    _delete_line, _duplicate_line, _swap_lines, _truncate_line, _truncate_file, _bad_bytes, _flip_bit,
    _long_line, _blank_line]


def _weird_value(rng: random.Random) -> float:
    return rng.choice((math.nan, math.inf, -math.inf, 1e308, -1e308, 0.0, -1.0, 1e-320, 1e200, -1e200))


def mutate_npz(path: Path, rng: random.Random) -> str:
    """A value, the shape or the dtype of one array in ``arrays.npz``; the checksum in
    ``model.json`` is updated (a model written by another tool), so that loading reaches the
    value checks."""
    import numpy as np

    from potforge.models.potential import sha256

    with np.load(path, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    name = rng.choice(sorted(arrays))
    a = arrays[name]
    op = rng.choice(("value", "value", "value", "shape", "dtype", "drop", "empty"))
    if op == "value" and a.size and a.dtype.kind in "fiu":
        a = a.astype(np.float64) if a.dtype.kind == "f" else a.copy()
        k = rng.randrange(a.size)
        value = _weird_value(rng) if a.dtype.kind == "f" else rng.choice((-1, 0, 2**31, 10**12))
        a.reshape(-1)[k] = value
        what = f"{name}[{k}] = {value}"
    elif op == "shape" and a.size:
        a = a.reshape(-1)[:-1]
        what = f"{name} loses its last value (shape {a.shape})"
    elif op == "dtype":
        a = a.astype(rng.choice((np.int64, np.float32, np.bool_, "U3")))
        what = f"{name} as {a.dtype}"
    elif op == "drop":
        del arrays[name]
        what = f"{name} removed"
        a = None
    else:
        a = np.zeros((0,) + a.shape[1:], dtype=a.dtype)
        what = f"{name} emptied"
    if a is not None:
        arrays[name] = a
    with open(path, "wb") as handle:
        np.savez(handle, **arrays)
    meta = path.parent / "model.json"
    description = json.loads(meta.read_text())
    description["arrays_sha256"] = sha256(path)
    meta.write_text(json.dumps(description, indent=1))
    return f"arrays.npz: {what} (checksum updated)"


def mutate_db(path: Path, rng: random.Random) -> str:
    """A column or a blob value of one row of the ASE database, or a table entry."""
    import sqlite3

    import numpy as np

    con = sqlite3.connect(path)
    try:
        ids = [r[0] for r in con.execute("SELECT id FROM systems")]
        row = rng.choice(ids)
        column = rng.choice(("energy", "natoms", "pbc", "key_value_pairs", "numbers", "positions",
                             "cell", "forces", "stress", "data", "charges", "fmax", "volume"))
        (blob,) = con.execute(f"SELECT {column} FROM systems WHERE id=?", (row,)).fetchone()
        if isinstance(blob, bytes) and rng.random() < 0.7:
            if len(blob) % 8 == 0 and blob and rng.random() < 0.7 and column not in ("data", "numbers"):
                values = np.frombuffer(blob, dtype=np.float64).copy()
                k = rng.randrange(values.size)
                values[k] = _weird_value(rng)
                value, what = values.tobytes(), f"value {k} = {values[k]}"
            else:
                cut = rng.randrange(len(blob) + 1)
                value, what = blob[:cut] + rng.choice((b"", b"\xff\x00")), f"blob cut at {cut}"
        elif column == "key_value_pairs":
            value = rng.choice(('{"config_type": 5}', '{"weight": "x"}', '{"weight": NaN}', '{"energy": 1}',
                                '{', '[]', '{"group": null}', '{"total_charge": 1e999}', '{"config_type": "\\ud800"}'))
            what = f"= {value!r}"
        else:
            value = rng.choice((None, math.inf, 1e308, -1, 0, 10**12, "text", b"\x00" * 7))
            what = f"= {value!r}"
        con.execute(f"UPDATE systems SET {column}=? WHERE id=?", (value, row))
        con.commit()
    finally:
        con.close()
    return f"row {row} column {column} {what}"


def mutate_case(file_type: str, base: Path, work: Path, rng: random.Random) -> tuple[Path, str]:
    """Copy the base files of ``file_type`` into ``work`` and mutate one file. Returns the path
    to load and the description of the mutation."""
    source = base / file_type
    if file_type == "potforge-model":
        kind = rng.choice(sorted(p.name for p in source.iterdir()))
        shutil.copytree(source / kind, work / kind)
        target = work / kind
        import numpy as np

        with np.load(target / "arrays.npz") as npz:
            has_arrays = bool(npz.files)
        if has_arrays and rng.random() < 0.45:
            return target, f"{kind}: " + mutate_npz(target / "arrays.npz", rng)
        victim = target / ("model.json" if rng.random() < 0.9 else "arrays.npz")
        prefix = f"{kind}: "
    else:
        shutil.copytree(source, work / file_type)
        target = work / file_type
        files = sorted(p for p in target.iterdir())
        if file_type == "ase-db" and rng.random() < 0.7:
            return files[0], mutate_db(files[0], rng)
        if file_type == "yaml-config" or file_type.startswith(("n2p2-model",)):
            victim = rng.choice(files)
        else:
            victim = files[0]
        if file_type != "n2p2-model":
            target = victim
        prefix = ""
    data, done = mutate_text(victim.read_bytes(), rng)
    victim.write_bytes(data)
    return target, f"{prefix}{victim.name}: " + "; ".join(done)


# -- one case, in the child ----------------------------------------------------------------------


class Failure(Exception):
    """A check of the fuzzer failed (not raised by potforge): ``category`` names it."""

    def __init__(self, category: str, detail: str) -> None:
        super().__init__(detail)
        self.category = category


class Hang(BaseException):
    """Raised by SIGALRM: potforge's ``except Exception`` cannot swallow it."""


def _nonfinite_numbers(value, key: str = ""):
    """Dotted keys of the non-finite floats in nested dicts, lists, dataclasses and arrays."""
    import dataclasses

    import numpy as np

    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        for f in dataclasses.fields(value):
            yield from _nonfinite_numbers(getattr(value, f.name), f"{key}.{f.name}")
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _nonfinite_numbers(v, f"{key}.{k}")
    elif isinstance(value, (list, tuple)):
        for k, v in enumerate(value):
            yield from _nonfinite_numbers(v, f"{key}[{k}]")
    elif isinstance(value, np.ndarray) and value.dtype.kind in "fc":
        bad = np.flatnonzero(~np.isfinite(value))
        if bad.size:
            yield f"{key}[{bad[0]}]"
    elif isinstance(value, float) and not math.isfinite(value):
        yield key


def _check_frames(frames) -> None:
    for k, frame in enumerate(frames):
        arrays = {"positions": frame.atoms.positions, "cell": frame.atoms.cell.array,
                  "energy": frame.energy, "forces": frame.forces, "stress": frame.stress,
                  "charges": frame.charges, "weight": frame.weight, "total_charge": frame.total_charge,
                  "atomic_energies": frame.atomic_energies}
        bad = [name for name, value in arrays.items()
               if value is not None and next(_nonfinite_numbers([_as_array(value)]), None)]
        if bad:
            raise Failure("nonfinite-data", f"frame {k}: {', '.join(bad)} non-finite")


def _as_array(value):
    import numpy as np

    return np.asarray(value, dtype=np.float64)


def _predict(potential, structures) -> None:
    potential.configure(n_threads=1)
    for k, atoms in enumerate(structures):
        if not set(atoms.get_chemical_symbols()) <= set(potential.species):
            continue
        what = potential.predict(atoms, forces=True, stress=bool(atoms.pbc.all())).nonfinite()
        if what is not None:
            raise Failure("nonfinite-prediction", f"structure {k}: {what}")


def _check_model(potential) -> None:
    bad = list(_nonfinite_numbers(potential.to_dict())) + list(_nonfinite_numbers(potential._arrays()))
    if bad:
        raise Failure("nonfinite-parameter", f"{potential.kind} model holds non-finite {', '.join(bad[:3])}")


_CACHE: dict = {}


def _evaluate(model, frames) -> None:
    """``potforge evaluate`` on frames whose predictions are finite (checked before): its
    NonFiniteError can only refuse labels so large that the RMSE overflows (a one-line refusal,
    as an unreadable file gets)."""
    from potforge.core.errors import DataFormatError, NonFiniteError
    from potforge.validation.evaluate import evaluate

    try:
        evaluate(model, frames)
    except NonFiniteError as err:
        raise DataFormatError(err.reason, path=err.path, frame=err.frame) from None


def run_case(file_type: str, path: Path, base: Path) -> None:
    """Load as the CLI does, check every number, predict: raises on anything wrong."""
    from ase.io import read

    from potforge.export import load_model

    if file_type in ("extxyz", "n2p2-data", "ase-db") or file_type.startswith("dft-"):
        from potforge.data.dataset import Dataset

        fmt = DFT_FORMATS[path.name] if file_type.startswith("dft-") else None
        frames = list(Dataset.read(path, fmt) if fmt else Dataset.read(path))
        _check_frames(frames)
        if file_type.startswith("dft-"):
            return
        if "model" not in _CACHE:
            _CACHE["model"] = load_model(base / "data-model")
        model = _CACHE["model"]
        _predict(model, [f.atoms for f in frames])
        from potforge.validation.predict import predict_file

        predict_file(model, path, path.parent / "predicted.xyz")
        _evaluate(model, frames)
    elif file_type == "yaml-config":
        from potforge.training.config import load_config

        bad = list(_nonfinite_numbers(load_config(path)))
        if bad:
            raise Failure("nonfinite-config", f"config holds non-finite {', '.join(bad[:3])}")
    else:
        units = {"length_unit": "bohr", "energy_unit": "hartree"} if file_type == "n2p2-model" else {}
        potential = load_model(path, **units)
        _check_model(potential)
        structures = read(base / f"{file_type}.structures.xyz", ":")
        if file_type == "potforge-model":
            from potforge.models.examples import nearest_cluster

            structures += [nearest_cluster(a, 5) for a in structures if a.pbc.all()]
        _predict(potential, structures)


def _where(err: BaseException) -> str:
    """The innermost potforge frame and the innermost frame of a traceback."""
    frames = traceback.extract_tb(err.__traceback__)
    ours = [f for f in frames if "potforge" in f.filename and "fuzz_inputs" not in f.filename]
    parts = []
    for f in ours[-1:] + frames[-1:]:
        name = f.filename.split("site-packages/")[-1].split("src/")[-1]
        parts.append(f"{name}:{f.lineno} in {f.name}")
    return " / ".join(dict.fromkeys(parts))


def classify(call) -> tuple[str, str]:
    """(category, detail) of running ``call``: "ok", "refused" (a one-line PotforgeError), or
    a failure class."""
    from potforge.core.errors import NonFiniteError, PotforgeError

    try:
        call()
    except Failure as err:
        return err.category, str(err)
    except Hang as err:
        return "hang", f"over {TIMEOUT:g} s at {_where(err)}"
    except NonFiniteError as err:
        return "nonfinite-prediction", str(err)[:300]
    except PotforgeError as err:
        text = str(err)
        if "\n" in text or not text.strip():
            return "multi-line message", repr(text[:300])
        return "refused", text[:300]
    except BaseException as err:  # noqa: B902 - everything else is a failure, named
        return type(err).__name__, f"{str(err)[:200]!r} at {_where(err)}"
    return "ok", ""


def child(base: Path, work_root: Path | None = None) -> None:
    """Run the cases read from stdin (JSON [[type, k], ...]); one JSON line per event on the
    original stdout (potforge's own output goes to stderr)."""
    import faulthandler
    import resource
    import warnings

    out = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    faulthandler.enable(file=sys.stderr)
    warnings.simplefilter("ignore")
    try:  # a file that says "10^12 atoms" must not take the machine's memory
        resource.setrlimit(resource.RLIMIT_AS, (8 << 30, 8 << 30))
    except (ValueError, OSError):
        pass

    def alarm(signum, frame):
        raise Hang()

    signal.signal(signal.SIGALRM, alarm)
    import importlib

    importlib.import_module("potforge.export")   # imports outside the cases' time limit

    cases = json.loads(sys.stdin.read())
    # the parent's folder (removed by the parent: a crashed child cleans nothing up)
    work_root = Path(tempfile.mkdtemp(prefix="potforge-fuzz-", dir=work_root))
    try:
        for file_type, k in cases:
            rng = random.Random(f"{SEED}:{file_type}:{k}")
            work = work_root / f"{file_type}-{k}"
            work.mkdir()
            out.write(json.dumps({"start": [file_type, k]}) + "\n")
            try:
                path, mutation = (work, file_type) if file_type.startswith("selftest") else \
                    mutate_case(file_type, base, work, rng)
            except Exception as err:  # the fuzzer's own bug: say so, go on
                detail = f"{type(err).__name__}: {err} at {_where(err)}"
                out.write(json.dumps({"done": [file_type, k], "category": "fuzzer error", "detail": detail}) + "\n")
                continue
            out.write(json.dumps({"mutation": mutation}) + "\n")
            if file_type.startswith(("potforge-model", "lammps-")):   # PyTorch models: import
                importlib.import_module("torch")   # it here, not inside a case's time limit (2-4 s)
            faulthandler.dump_traceback_later(TIMEOUT * 1.5 + 1, exit=True)
            signal.setitimer(signal.ITIMER_REAL, TIMEOUT)
            try:
                category, detail = classify(lambda: _run(file_type, path, base))
            except Hang:   # the (one-shot) alarm went off while classify handled another exception
                category, detail = "hang", f"over {TIMEOUT:g} s, then an exception"
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
                faulthandler.cancel_dump_traceback_later()
            left = [p.name for p in work.rglob(".*.tmp")]
            if category in _OK and left:
                category, detail = "temporary file left", ", ".join(left)
            out.write(json.dumps({"done": [file_type, k], "category": category, "detail": detail}) + "\n")
            shutil.rmtree(work, ignore_errors=True)
    finally:
        shutil.rmtree(work_root, ignore_errors=True)


def _run(file_type: str, path: Path, base: Path) -> None:
    if file_type.startswith("selftest"):
        _selftest(file_type)
    else:
        run_case(file_type, path, base)


def _selftest(name: str) -> None:
    """Cases that must be caught: the harness can fail."""
    import time

    if name == "selftest-segv":
        import faulthandler

        faulthandler._sigsegv()
    elif name == "selftest-exception":
        [][1]
    elif name == "selftest-hang":
        while True:
            pass
    elif name == "selftest-native-hang":   # SIGALRM blocked: only the watchdog can end it
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
        time.sleep(3600)
    elif name == "selftest-nan":
        from potforge.models.hdnnp.example import example

        ex = example()   # as a loader that let a NaN through would build it (the loaders
        potential = ex.potential   # now refuse one, so the model is poisoned after loading)
        predict = potential.predict

        def poisoned(*args, **kwargs):
            result = predict(*args, **kwargs)
            result.energy = math.nan
            return result

        potential.predict = poisoned
        _predict(potential, [ex.cluster])


# -- the parent ------------------------------------------------------------------------------------


def run_cases(base: Path, cases: list, *, timeout: float = TIMEOUT) -> dict:
    """{(type, k): (category, detail, mutation)} of every case, with restarts after crashes."""
    import potforge

    env = dict(os.environ, OMP_NUM_THREADS="1", POTFORGE_FUZZ_TIMEOUT=str(timeout),
               PYTHONPATH=os.pathsep.join([str(Path(potforge.__file__).parents[1]),
                                           os.environ.get("PYTHONPATH", "")]))
    results: dict = {}
    pending = [tuple(c) for c in cases]
    scratch = tempfile.mkdtemp(prefix="potforge-fuzz-")
    try:
        while pending:
            _run_child(base, scratch, env, pending, results, timeout)
            pending = [c for c in pending if c not in results]
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return results


def _run_child(base: Path, scratch: str, env: dict, pending: list, results: dict, timeout: float) -> None:
    """One child process: runs ``pending`` until it ends or dies; fills ``results``."""
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen([sys.executable, __file__, "--child", str(base), scratch],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err, env=env)
        lines: queue.Queue = queue.Queue()
        threading.Thread(target=lambda: ([lines.put(x) for x in proc.stdout], lines.put(None)),
                         daemon=True).start()
        proc.stdin.write(json.dumps(pending).encode())
        proc.stdin.close()
        current, mutation, before = None, "", len(results)
        patience = timeout * 2 + 20   # the child's own alarm and watchdog come first
        while True:
            try:
                line = lines.get(timeout=patience + 60 if current is None else patience)
            except queue.Empty:
                proc.kill()
                if current is not None:
                    results[current] = ("hang", f"no answer in {patience:g} s; killed", mutation)
                break
            if line is None:
                code = proc.wait()
                if current is not None:
                    err.seek(0)
                    results[current] = (*_crash(code, err.read().decode(errors="replace")), mutation)
                break
            event = json.loads(line)
            if "start" in event:
                current, mutation = tuple(event["start"]), ""
            elif "mutation" in event:
                mutation = event["mutation"]
            else:
                results[tuple(event["done"])] = (event["category"], event["detail"], mutation)
                current = None
        proc.wait()
        if len(results) == before and current is None:
            err.seek(0)
            raise RuntimeError(f"the fuzz child did not start: {err.read().decode(errors='replace')[-2000:]}")


def _crash(code: int, stderr: str) -> tuple[str, str]:
    """(category, detail) of a child that died: its signal (or a watchdog's timeout) and the
    Python frames faulthandler printed, innermost first."""
    marker = max((m for m in re.finditer(r"^(Fatal Python error: .*|Timeout \(.*\)!)$", stderr, re.M)),
                 key=lambda m: m.start(), default=None)
    frames = re.findall(r'^\s+File "(.*)", line (\d+) in (\S+)', stderr[marker.start():] if marker else "", re.M)
    where = ", ".join(f"{f.split('site-packages/')[-1].split('src/')[-1]}:{n} in {fn}" for f, n, fn in frames[:3])
    if marker is not None and marker.group(1).startswith("Timeout"):
        return "hang", f"native code, over {TIMEOUT:g} s: {where}"
    thrown = re.search(r"terminate called after throwing an instance of '(.*)'", stderr)
    if thrown:   # a C++ exception out of the compiled kernel (std::terminate)
        return f"C++ {thrown.group(1)}", f"{stderr.strip().splitlines()[-1][:200]}: {where}"
    category = f"signal {signal.Signals(-code).name}" if code < 0 else f"exit {code}"
    last = stderr.strip().splitlines()[-1][:200] if stderr.strip() else "no output"
    return category, f"{marker.group(1) if marker else last}: {where}"


if __name__ == "__main__":
    if sys.argv[1] == "--child":
        child(Path(sys.argv[2]), Path(sys.argv[3]) if len(sys.argv) > 3 else None)
    elif sys.argv[1] == "--repro":   # one case in this process, with its full traceback
        file_type, k = sys.argv[2], int(sys.argv[3])
        base = build_base(Path(tempfile.mkdtemp()) / "base")
        work = Path(tempfile.mkdtemp())
        path, mutation = mutate_case(file_type, base, work, random.Random(f"{SEED}:{file_type}:{k}"))
        print(f"{file_type}:{k}: {mutation}\nfiles in {work}", flush=True)
        run_case(file_type, path, base)
        print("loaded; every number finite")
