"""``potforge converge CONFIG.yaml -o DIR``: a DFT convergence study (see generate/converge.py)."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from typing import Any

EXAMPLE = """\
example:
  potforge converge examples/al-gpaw/converge.yaml -o al-converge

CONFIG.yaml:
  calculator: calculator.yaml          # or {name: gpaw, parameters: {...}}
  structures: {element: Al, lattice: fcc, a: 4.04}   # or a file: structures.xyz
  axes:                                # dotted keys into the calculator parameters, loosest first
    mode.ecut: [250, 300, 350, 400, 500]
    kpts.density: [2, 3, 4, 5]
    occupations.width: [0.2, 0.1, 0.05]
  targets: {energy: 1 meV/atom, forces: 0.02 eV/Å, stress: 0.1 GPa}
  use: {kpts.density: 4}               # optional: a cheaper value than recommended (cost)

DIR gets convergence.json, convergence.png, report.md, calculator.yaml (the recommended
settings, or those of `use`, ready for potforge label) and noise.yaml (loss.energy_sigma,
force_sigma, stress_sigma measured at those settings, for the training config's
loss.noise_file). An axis that only its tightest value satisfies is reported as not
converged, and its last step counts as noise.
"""


@dataclass(frozen=True)
class StructuresConfig:
    element: str | None = None
    lattice: str = "fcc"
    a: float | None = field(default=None, metadata={"unit": "length", "doc": "lattice constant"})
    file: str | None = field(default=None, metadata={"doc": "structures to use instead (extxyz, input.data, .db)"})


@dataclass(frozen=True)
class TargetsConfig:
    energy: float = field(default=1e-3, metadata={"unit": "energy_per_atom"})
    forces: float = field(default=0.02, metadata={"unit": "force"})
    stress: float = field(default=0.1 * 0.006241509074460763, metadata={"unit": "stress"})


@dataclass(frozen=True)
class ConvergeConfig:
    calculator: Any = "calculator.yaml"
    structures: StructuresConfig = field(default_factory=StructuresConfig)
    axes: dict[str, list[Any]] = field(default_factory=dict)
    targets: TargetsConfig = field(default_factory=TargetsConfig)
    use: dict[str, Any] = field(default_factory=dict, metadata={
        "doc": "axis -> value to use instead of the recommendation (e.g. a cheaper k-point "
               "density); calculator.yaml and noise.yaml then hold that choice and its errors"})


def add_parser(sub, name: str, help_text: str) -> None:
    p = sub.add_parser(name, help=help_text, description=help_text + ".", epilog=EXAMPLE,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("config", help="YAML: calculator, structures, axes, targets")
    p.add_argument("-o", "--output", required=True, help="output directory")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import dataclasses
    import json
    import sys
    from pathlib import Path

    import yaml
    from ase.units import GPa

    from ..core.atomic import atomic_write
    from ..core.config import build, load_config_file
    from ..core.errors import ConfigError
    from ..generate.calculators import build_calculator, calculator_spec
    from ..generate.converge import (convergence_study, plot_convergence, report_markdown,
                                     representative_structures)

    base = Path(args.config).resolve().parent
    cfg = load_config_file(args.config, lambda raw: build(ConvergeConfig, raw, ""))
    if not cfg.axes:
        raise ConfigError(f"{args.config}: axes: give at least one setting to vary, e.g. mode.ecut: [300, 400, 500]")
    calc = cfg.calculator
    spec = calculator_spec(base / calc if isinstance(calc, str) else calc)
    s = cfg.structures
    if s.file:
        from ..data.io import read_frames

        structures = [f.atoms for f in read_frames(base / s.file)]
    else:
        if not s.element or s.a is None:
            raise ConfigError(f"{args.config}: structures: give element, lattice and a, or a file")
        structures = representative_structures(s.element, s.lattice, s.a)
    targets = {"energy": cfg.targets.energy, "forces": cfg.targets.forces, "stress": cfg.targets.stress / GPa}

    def make(parameters):
        return build_calculator(dataclasses.replace(spec, parameters=parameters))

    def say(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    say(f"convergence study: {len(structures)} structures, {spec.name}, "
        + ", ".join(f"{k} {len(v)} values" for k, v in cfg.axes.items()))
    result = convergence_study(structures, make, spec.parameters, cfg.axes, targets=targets, use=cfg.use,
                               progress=say)
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    with atomic_write(out / "convergence.json") as handle:
        json.dump(result.to_dict(), handle, indent=1, default=str)
    with atomic_write(out / "report.md") as handle:
        handle.write(report_markdown(result))
    plot_convergence(result, out / "convergence.png")
    recommended = dataclasses.replace(spec, parameters=result.settings).to_dict()
    with atomic_write(out / "calculator.yaml") as handle:
        yaml.safe_dump(recommended, handle, sort_keys=False)
    n = result.noise()
    with atomic_write(out / "noise.yaml") as handle:
        yaml.safe_dump({"loss": {"energy_sigma": f"{n['energy_sigma'] * 1000:.4g} meV/atom",
                                 "force_sigma": f"{n['force_sigma']:.4g} eV/Å",
                                 "stress_sigma": f"{n['stress_sigma']:.4g} GPa"}}, handle,
                       sort_keys=False, allow_unicode=True)
    print(f"recommended: {', '.join(f'{k} = {v}' for k, v in result.recommended.items())}")
    for key in result.unconverged:
        print(f"warning: {key} is not converged within the values studied (see report.md)")
    if result.used:
        print(f"used instead: {', '.join(f'{k} = {v}' for k, v in result.used.items())}")
    print(f"wrote {out}/report.md, convergence.png, convergence.json, calculator.yaml, noise.yaml")
    return 0
