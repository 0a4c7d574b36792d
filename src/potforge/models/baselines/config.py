"""The ``baselines:`` section of a training config: a list of physical baselines, each chosen
by its kind and validated by that kind's schema::

    baselines:
      - {kind: zbl, inner: 1.0, outer: 2.0}
      - {kind: d3, method: pbe, damping: d3bj}
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

from ...core.config import build, doc
from ...core.errors import ConfigError, nearest
from ..potential import Potential

__all__ = ["ZBLConfig", "D3Config", "BASELINE_CONFIGS", "baselines_config", "make_baseline",
           "baseline_from_saved"]


@dataclass(frozen=True)
class ZBLConfig:
    inner: float = field(default=1.0, metadata=doc("where the switching to zero starts (Å)", unit="length"))
    outer: float = field(default=2.0, metadata=doc("cutoff of the ZBL repulsion (Å)", unit="length"))

    def check(self, key: str) -> None:
        make_baseline("zbl", self, key)


@dataclass(frozen=True)
class D3Config:
    method: str = field(default="pbe", metadata=doc("functional whose D3 parameters to use"))
    damping: str = field(default="d3bj", metadata=doc("d3bj, d3zero, d3bjm, d3zerom or d3op"))
    atm: bool = field(default=False, metadata=doc("three-body Axilrod-Teller-Muto term"))
    cutoff: float | None = field(default=None, metadata=doc("two-body cutoff (Å; default 60 Bohr)", unit="length"))
    cutoff_three_body: float | None = field(default=None, metadata=doc("three-body cutoff (Å; default 40 Bohr)", unit="length"))
    cutoff_cn: float | None = field(default=None, metadata=doc("coordination-number cutoff (Å; default 40 Bohr)", unit="length"))

    def check(self, key: str) -> None:
        make_baseline("d3", self, key)


#: baseline kind -> its schema
BASELINE_CONFIGS: dict[str, type] = {"zbl": ZBLConfig, "d3": D3Config}


def make_baseline(kind: str, config: Any, key: str) -> Potential:
    """The baseline Potential a validated schema instance describes (errors name ``key``)."""
    if kind == "zbl":
        from .zbl import ZBL

        return ZBL(config.inner, config.outer, key=key)
    from .d3 import D3

    return D3(config.method, config.damping, atm=config.atm, cutoff=config.cutoff,
              cutoff_three_body=config.cutoff_three_body, cutoff_cn=config.cutoff_cn, key=key)


def _kind(raw: Any, key: str) -> str:
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{key}: expected a mapping such as {{kind: zbl, inner: 1.0, outer: 2.0}}, "
                          f"got {type(raw).__name__}")
    kind = raw.get("kind")
    if not isinstance(kind, str) or kind not in BASELINE_CONFIGS:
        guess = nearest(str(kind), list(BASELINE_CONFIGS))
        hint = f" (did you mean '{guess}'?)" if guess else ""
        raise ConfigError(f"{key}.kind: {kind!r} is not a baseline{hint}; expected one of "
                          f"{', '.join(BASELINE_CONFIGS)}")
    return kind


def baselines_config(raw: Any, key: str = "baselines") -> tuple[tuple[str, Any], ...]:
    """Validate the raw ``baselines:`` list into ((kind, schema instance), ...)."""
    if raw is None:
        return ()
    if isinstance(raw, (str, bytes)) or not isinstance(raw, Sequence):
        raise ConfigError(f"{key}: expected a list of baselines such as [{{kind: zbl, inner: 1.0, "
                          f"outer: 2.0}}], got {type(raw).__name__}")
    out = []
    for k, item in enumerate(raw):
        sub = f"{key}[{k}]"
        kind = _kind(item, sub)
        options = {n: v for n, v in item.items() if n != "kind"}
        out.append((kind, build(BASELINE_CONFIGS[kind], options, sub)))
    return tuple(out)


def baseline_from_saved(description: Any, key: str) -> Potential:
    """A baseline from its saved form ``{kind: ..., options...}`` (ConfigError naming ``key``)."""
    kind = _kind(description, key)
    options = {n: v for n, v in description.items() if n != "kind"}
    # a saved model holds every parameter: a default filled in here could differ from the fit's
    missing = [f.name for f in fields(BASELINE_CONFIGS[kind]) if f.name not in options]
    if missing:
        raise ConfigError(f"{key}.{missing[0]}: missing from the saved {kind} baseline (a saved model holds "
                          f"every parameter: {', '.join(f.name for f in fields(BASELINE_CONFIGS[kind]))})")
    return make_baseline(kind, build(BASELINE_CONFIGS[kind], options, key), key)
