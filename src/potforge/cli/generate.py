"""``potforge generate CONFIG.yaml -o structures.xyz``: training structures from generators.

The config (see :mod:`potforge.generate.configurations`) is validated once; MD generators get
the calculator built by :func:`build_calculator`; an optional ``select`` block keeps the
farthest-point subset by symmetry-function statistics (:mod:`potforge.generate.selection`).
The structures go to an extended XYZ file (``config_type``, ``group`` and provenance per frame),
the resolved config beside it (``<output>.config.yaml``), and a count per config_type to stdout.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from typing import Any

EXAMPLE = """\
example (aluminium: crystals, EOS, strains, rattles, surfaces, faults, defects, EMT MD):
  potforge generate examples/al-gpaw/generate.yaml -o structures.xyz

a minimal config:
  element: Al
  seed: 1
  calculator: {name: emt}          # only md, liquid and amorphous need one
  generators:
    - {kind: bulk, phases: [fcc, bcc, hcp]}
    - {kind: eos, phase: fcc, strains: [-0.06, 0.06], n: 7}
    - {kind: rattle, supercell: [2, 2, 2], sigma: 0.05, n: 10}
    - {kind: md, temperatures: [300, 900], steps: 200, interval: 20}
  select: {n: 100}                 # optional farthest-point selection

kinds: bulk, eos, strain, rattle, surface, stacking_fault, vacancy, interstitial, md, liquid,
amorphous (options: see `python -m pydoc potforge.generate.configurations`).
calculators: emt, lj, morse, gpaw, potforge (parameters: {model: DIR}) or 'package.module:Class'.
"""

def add_parser(sub, name: str, help_text: str) -> None:
    p = sub.add_parser(name, help=help_text, description=help_text + ".", epilog=EXAMPLE,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("config", help="YAML config (element, seed, calculator, generators, select)")
    p.add_argument("-o", "--output", required=True, help="output file (extended XYZ, .xyz)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config value (YAML), e.g. --set seed=2; repeatable")
    p.add_argument("--threads", type=int, default=1, help="threads for the descriptors of select")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    p.set_defaults(run=run)


def build_calculator(name: str, parameters: Mapping[str, Any] | None = None, *,
                     key: str = "calculator") -> Any:
    """The ASE calculator of a generation config: a registered name of
    :data:`potforge.generate.calculators.KNOWN_CALCULATORS` or an import path
    ``package.module:Class``, built as labelling builds it; errors name ``key``."""
    from ..core.errors import ConfigError
    from ..generate.calculators import build_calculator as build_spec, calculator_spec

    try:
        return build_spec(calculator_spec({"name": name, "parameters": dict(parameters or {})}))
    except ConfigError as err:
        raise ConfigError(f"{key}.{err.reason}") from None


def structure_features(structures: Sequence, element: str, *, cutoff: float = 6.0,
                       n_radial: int = 8, n_angular: int = 4, n_threads: int = 1) -> list:
    """Per-atom symmetry functions (a potforge preset set) of each structure."""
    import numpy as np

    from ..core.elements import species_indices
    from ..core.neighbors import neighbor_list
    from ..descriptors.presets import preset

    species = (element,)
    sfs = preset(species, cutoff, n_radial=n_radial, n_angular=n_angular)
    out = []
    for atoms in structures:
        idx, numbers = species_indices(atoms, species)
        nl = neighbor_list(atoms.positions, np.asarray(atoms.cell), atoms.pbc, sfs.cutoff,
                           n_threads=n_threads)
        values, _ = sfs.compute(idx, numbers, nl, n_threads=n_threads)
        out.append(values[:, :sfs.n_functions(element)])
    return out


def select_structures(structures: list, config, *, n_threads: int = 1) -> list:
    """The farthest-point subset of ``structures`` (config.select), in their original order."""
    from ..generate.selection import farthest_point_selection

    sel = config.select
    keep = [k for k, a in enumerate(structures) if a.info["config_type"] in sel.keep_config_types]
    rest = [k for k in range(len(structures)) if k not in set(keep)]
    n = max(0, sel.n - len(keep))
    if n >= len(rest):
        return structures
    features = structure_features([structures[k] for k in rest], config.element, cutoff=sel.cutoff,
                                  n_radial=sel.n_radial, n_angular=sel.n_angular, n_threads=n_threads)
    chosen = [rest[k] for k in farthest_point_selection(features, n, std=sel.std)]
    return [structures[k] for k in sorted(keep + chosen)]


def to_frames(structures: Sequence) -> list:
    """Frames (config_type, group; the rest of ``info`` as provenance) for the writers."""
    from ase import Atoms

    from ..data import Frame

    frames = []
    for atoms in structures:
        info = dict(atoms.info)
        config_type = info.pop("config_type", None)
        group = info.pop("group", None)
        bare = Atoms(atoms.numbers, positions=atoms.positions, cell=atoms.cell, pbc=atoms.pbc)
        frames.append(Frame(bare, config_type=config_type, group=group, info=info))
    return frames


def summary_table(structures: Sequence) -> str:
    counts: dict[str, list[int]] = {}
    for atoms in structures:
        c = counts.setdefault(atoms.info["config_type"], [0, 0, 0])
        c[0] += 1
        c[1] += len(atoms)
        c[2] = max(c[2], len(atoms))
    lines = [f"{'config_type':16s} {'structures':>10s} {'atoms':>8s} {'max atoms':>10s}"]
    for name, (n, atoms, biggest) in counts.items():
        lines.append(f"{name:16s} {n:10d} {atoms:8d} {biggest:10d}")
    total = sum(c[0] for c in counts.values())
    lines.append(f"{'total':16s} {total:10d} {sum(c[1] for c in counts.values()):8d}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    import yaml

    from ..core.atomic import atomic_write
    from ..core.config import load_config_file, to_plain
    from ..core.errors import ConfigError
    from ..core.provenance import __version__
    from ..data import detect_format, write_frames
    from ..generate.configurations import generate_structures, generation_config, needs_calculator

    output = Path(args.output)
    detect_format(output, write=True)  # a name we can write, checked before any work
    config = load_config_file(args.config, generation_config, args.overrides)
    calc = None
    if needs_calculator(config):
        calc = build_calculator(config.calculator.name, config.calculator.parameters)

    def progress(line: str) -> None:
        if not args.quiet:
            print(f"generate: {line}", file=sys.stderr, flush=True)

    structures = generate_structures(config, calculator=calc, progress=progress)
    generated = len(structures)
    if config.select is not None:
        if args.threads < 0:
            raise ConfigError(f"--threads: expected >= 0, got {args.threads}")
        progress(f"selecting {config.select.n} of {generated} structures (farthest point)")
        structures = select_structures(structures, config, n_threads=args.threads)
    write_frames(output, to_frames(structures))
    resolved = {"potforge_version": __version__, "config": to_plain(config)}
    with atomic_write(output.with_name(output.name + ".config.yaml")) as handle:
        yaml.safe_dump(_plain(resolved), handle, sort_keys=False, allow_unicode=True)
    print(summary_table(structures))
    if config.select is not None:
        print(f"selected {len(structures)} of {generated} generated structures")
    print(f"wrote {len(structures)} structures to {output}")
    return 0


def _plain(value: Any) -> Any:
    """YAML-safe: mapping proxies and tuples as dicts and lists."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
