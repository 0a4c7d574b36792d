"""``potforge <verb>``: the command-line entry point.

Each verb lives in its own module with ``add_parser`` and ``run``; this module only builds
the parser, dispatches, and turns user errors (:class:`~potforge.core.errors.PotforgeError`)
into one line on stderr and exit status 2 (``--debug`` shows the traceback). Verb modules are
imported only when used, so ``potforge predict`` starts fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import warnings

#: verb -> (module, one-line help)
VERBS: dict[str, tuple[str, str]] = {
    "predict": ("potforge.cli.predict", "energies, forces and stress of structures with a model"),
    "data": ("potforge.cli.data", "inspect, convert and check data files (info, convert, check)"),
    "demo": ("potforge.cli.demo", "predict with the shipped water model and compare with DFT"),
    "train": ("potforge.cli.train", "train a potential from a YAML config"),
    "export": ("potforge.cli.export", "write a model in another code's format (n2p2, LAMMPS)"),
    "lammps": ("potforge.cli.lammps", "potforge's LAMMPS plugin (pair_style potforge): build it, print its path"),
    "cv": ("potforge.cli.cv", "leave-group-out cross-validation over config values"),
    "learning-curve": ("potforge.cli.learning_curve", "test errors against training-set size"),
    "evaluate": ("potforge.cli.evaluate", "errors of a model on labelled data, parity plots and a report"),
    "outliers": ("potforge.cli.outliers", "suspect labels: frames two or more models get wrong the same way (error vs error)"),
    "converge": ("potforge.cli.converge", "DFT convergence study: cheapest settings meeting accuracy targets, noise levels"),
    "generate": ("potforge.cli.generate", "build training structures: crystals, EOS, strains, rattles, surfaces, faults, defects, MD, melts"),
    "properties": ("potforge.cli.properties", "physical properties of a model: lattice, EOS, elastic constants, defects, surfaces, phonons"),
    "label": ("potforge.cli.label", "label structures with an ASE calculator (GPAW, EMT, ...) into an ASE database, resumable"),
}


def build_parser(verb: str | None = None) -> argparse.ArgumentParser:
    from ..core.provenance import __version__

    parser = argparse.ArgumentParser(
        prog="potforge",
        description="Interatomic potentials from first-principles data.",
        epilog="Example: potforge demo   (predicts with the shipped H2O model; no files needed)",
    )
    parser.add_argument("--version", action="version", version=f"potforge {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks for errors")
    sub = parser.add_subparsers(dest="verb", metavar="VERB")
    for name, (module, help_text) in VERBS.items():
        if verb in VERBS and name != verb:
            sub.add_parser(name, help=help_text)  # only the used verb's module is imported
            continue
        importlib.import_module(module).add_parser(sub, name, help_text)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(argv[0] if argv else None)
    args = parser.parse_args(argv)
    if args.verb is None:
        parser.print_help()
        return 2
    from ..core.errors import PotforgeError

    try:
        with warnings.catch_warnings():  # a warning is one line, like an error
            warnings.showwarning = lambda message, *_, **__: print(
                f"potforge {args.verb}: warning: {message}", file=sys.stderr)
            return int(args.run(args) or 0)
    except PotforgeError as err:
        if args.debug:
            raise
        print(f"potforge {args.verb}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"potforge {args.verb}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `potforge data info ... | head`: the reader has all it wanted
        _silence_stdout()
        return 141  # 128 + SIGPIPE, what a C tool killed by the signal reports
    except OSError as err:  # the machine refused (permissions, a full disk, a vanished file)
        if args.debug:
            raise
        where = f"{err.filename}: " if err.filename else ""
        print(f"potforge {args.verb}: error: {where}{err.strerror or err}", file=sys.stderr)
        return 2


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so that the final flush of a closed pipe does not raise."""
    import os

    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def entry() -> None:
    """Console-script entry point: ``main`` and a fast exit.

    All outputs are written (atomically) and flushed when ``main`` returns; interpreter
    teardown then only frees memory, which costs 15-25 ms per run (numpy, ASE, module
    finalisation). Registered exit handlers still run; only the teardown is skipped.
    """
    code = main()
    import atexit
    import os

    try:
        atexit._run_exitfuncs()
        try:
            sys.stdout.flush()
        except BrokenPipeError:
            _silence_stdout()
            code = code or 141
        sys.stderr.flush()
    finally:
        os._exit(code)


if __name__ == "__main__":
    entry()
