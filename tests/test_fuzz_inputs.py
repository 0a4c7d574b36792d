"""Fuzzing of every file type potforge reads: a mutated file loads and gives finite output,
or it is refused with a one-line PotforgeError. Never a traceback, a signal, a hang or a NaN.

File types (:data:`~tests.fuzz_inputs.FILE_TYPES`): extended XYZ, n2p2 ``input.data``, ASE
``.db``, the YAML training config, n2p2 model directories (``input.nn``, ``scaling.data``,
``weights.NNN.data`` of n2p2's water model), potforge model directories (``model.json`` +
``arrays.npz`` of every kind in ``tests/fixtures/models_v0_1``), LAMMPS ``eam/alloy``
(setfl), ``tersoff`` and ``sw`` files (two elements), and the DFT outputs of ASE's test data
(``dft-*``: these switch themselves on once :mod:`potforge.data.io.dft` exists, see
``fuzz_inputs._dft_files``).

Mutations (seeded: case ``TYPE:K`` draws from ``random.Random(f"{SEED}:{TYPE}:{K}")``): one
to three of byte flips, token replacements (nan, inf, ±1e308, 1e999, 0, −1, huge integers,
Unicode digits, empty, ...), numbers scaled by 1e±k, deleted / duplicated / swapped /
truncated lines, truncation of the file, non-UTF-8 bytes and very long lines; for the binary
files, values inside the ``arrays.npz`` arrays and the database's columns and blobs (with the
checksum or the format kept valid, so that the value checks themselves are reached).

Each case loads the file as the CLI does, checks that every number the loaded object holds is
finite (frames; a model's parameters; a config's values), predicts ordinary structures with
the model (a clean model for data files, also through ``predict_file`` and ``evaluate``) and
checks that the result is finite. The cases run in a child process, restarted after a crash with the cases left, so
that a signal in native code is reported with its case and its Python stack (faulthandler)
instead of killing pytest. Hangs: ``signal.alarm`` in the child (Python code), a faulthandler
watchdog that ends the child (native code) and a timeout in the parent.

Knobs (environment): ``POTFORGE_FUZZ_N`` cases per file type (default 30: about 20 s here),
``POTFORGE_FUZZ_SEED`` (0), ``POTFORGE_FUZZ_TYPES`` (comma-separated subset),
``POTFORGE_FUZZ_TIMEOUT`` (seconds per case, 10). One case, with its traceback:
``python tests/fuzz_inputs.py --repro TYPE K``.

:data:`KNOWN_FAILURES` lists the failures that belong to other parts of issue 13, by (file
type, failure class): the test passes with those and fails on any other. Remove an entry
once its fix has landed (the test prints the known failures it still meets, with ``-s``).
Failure classes: an exception's class name, ``signal SIGxxx``, ``hang``, ``multi-line
message``, ``temporary file left``, ``nonfinite-data`` (frames with NaN/inf accepted),
``nonfinite-parameter`` (a model holding NaN/inf accepted), ``nonfinite-prediction`` (a model
or structure accepted whose prediction is NaN/inf, or a NonFiniteError: the last guard, not
the loader, stopped it), ``nonfinite-config``, ``fuzzer error`` (a bug of the fuzzer).
"""

from __future__ import annotations

import pytest

from .fuzz_inputs import _OK, FILE_TYPES, N, build_base, run_cases

#: (file type, failure class) -> why it is tolerated. Empty: every class the fuzzer found while
#: issue 13 was worked on has been fixed; a new entry needs a reason and an issue.
KNOWN_FAILURES: dict[tuple[str, str], str] = {}


def failures(results: dict, file_type: str) -> tuple[list[str], list[str]]:
    """(unknown, known) failures of one file type, each ``TYPE:K class: detail [mutation]``."""
    unknown, known = [], []
    for (t, k), (category, detail, mutation) in sorted(results.items(), key=lambda x: x[0][1]):
        if t != file_type or category in _OK:
            continue
        line = f"{t}:{k} {category}: {detail} [{mutation}]"
        (known if (t, category) in KNOWN_FAILURES else unknown).append(line)
    return unknown, known


@pytest.fixture(scope="module")
def fuzz_results(tmp_path_factory):
    base = build_base(tmp_path_factory.mktemp("fuzz") / "base")
    return run_cases(base, [(t, k) for t in FILE_TYPES for k in range(N)])


@pytest.mark.parametrize("file_type", FILE_TYPES)
def test_mutated_files_load_finite_or_are_refused_in_one_line(fuzz_results, file_type):
    unknown, known = failures(fuzz_results, file_type)
    counts: dict[str, int] = {}
    for (t, _), (category, _, _) in fuzz_results.items():
        if t == file_type:
            counts[category] = counts.get(category, 0) + 1
    print(f"{file_type}: {counts}")
    for line in known:
        print(f"known: {line}")
    assert not unknown, f"{len(unknown)} of {N} mutations of {file_type} failed:\n" + "\n".join(unknown)


def test_the_harness_catches_signals_hangs_exceptions_and_nan(tmp_path):
    """Cases that crash, hang in Python, hang in native code, raise, or predict NaN (as a model
    that a loader let a NaN into would): each is caught and named, and the cases after it run."""
    names = ["selftest-segv", "selftest-exception", "selftest-hang", "selftest-native-hang", "selftest-nan",
             "selftest-none"]
    results = run_cases(tmp_path, [(name, 0) for name in names], timeout=1.0)
    category = {name: results[(name, 0)][0] for name in names}
    assert category == {"selftest-segv": "signal SIGSEGV", "selftest-exception": "IndexError",
                        "selftest-hang": "hang", "selftest-native-hang": "hang",
                        "selftest-nan": "nonfinite-prediction", "selftest-none": "ok"}
    assert "in _selftest" in results[("selftest-segv", 0)][1]          # the Python stack of the crash
    assert "in _selftest" in results[("selftest-native-hang", 0)][1]
    assert "fuzz_inputs.py" in results[("selftest-hang", 0)][1]
    assert "structure 0: energy (nan)" in results[("selftest-nan", 0)][1]
