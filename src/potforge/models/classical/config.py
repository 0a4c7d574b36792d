"""The ``model:`` section of a classical training config (``kind: pair | eam | tersoff | sw``).

One schema serves the four kinds (:func:`classical_schema` makes each kind's); the forms
and the parameter syntax are those of :mod:`potforge.models.classical.spec`::

    model:
      kind: eam
      cutoff: 5.5 Å
      smooth_width: 1.5 Å
      pair:      {Cu-Cu: {form: morse, D0: 0.3, alpha: 1.4, r0: 2.7}}
      density:   {Cu: {form: exponential, A: {value: 1.0, fixed: true}, beta: 3.0, re: 2.556}}
      embedding: {Cu: {form: universal, F0: -2.0, eta: 0.6, rho_e: 12.0}}
"""

from __future__ import annotations

import typing
from dataclasses import dataclass, field
from typing import Any, Literal

from ...core.config import doc
from ...core.elements import by_atomic_number, is_element
from ...core.errors import ConfigError
from .spec import potential_from_spec

__all__ = ["ClassicalConfig", "classical_schema", "PairConfig", "EAMConfig", "TersoffConfig", "SWConfig"]


@dataclass(frozen=True)
class ClassicalConfig:
    """Pair, EAM, Tersoff and Stillinger–Weber models (see
    :mod:`potforge.models.classical.spec` for the form and parameter syntax)."""

    kind: typing.ClassVar[str] = "classical"
    species: tuple[str, ...] | None = field(default=None, metadata=doc(
        "element symbols (default: those the forms name, ordered by atomic number)"))
    cutoff: float | None = field(default=None, metadata=doc("interaction range (pair, eam)", unit="length"))
    smooth_width: float = field(default=1.0, metadata=doc(
        "width of the smooth switch below the cutoff (pair, eam)", unit="length"))
    pair: dict[str, Any] = field(default_factory=dict, metadata=doc(
        "per element pair A-B: {form: morse|lj|buckingham|exponential|zhou_pair|spline, parameters}"))
    density: dict[str, Any] = field(default_factory=dict, metadata=doc(
        "eam, per element: {form: exponential|zhou_density|spline|…, parameters}"))
    embedding: dict[str, Any] = field(default_factory=dict, metadata=doc(
        "eam, per element: {form: fs|universal|spline, parameters}"))
    parameters: dict[str, Any] = field(default_factory=dict, metadata=doc(
        "tersoff, sw: per element triplet A-B-C, the LAMMPS keys and values"))
    fix: tuple[str, ...] = field(default=(), metadata=doc(
        "parameters held fixed: full names (pair.Cu-Cu.r0) or keys (R, D)"))
    element_energies: Literal["fit", "zero"] | dict[str, float] = field(default="fit", metadata=doc(
        "per-element reference energies: least squares on composition, zero, or given (eV)"))

    def spec(self) -> dict:
        """The keys of this kind for :func:`potforge.models.classical.spec.potential_from_spec`
        (keys of other kinds must be absent or empty)."""
        if self.kind in ("tersoff", "sw"):
            for name in ("cutoff", "pair", "density", "embedding"):
                if getattr(self, name):
                    raise ConfigError(f"model.{name}: not a key of a {self.kind} model (its cutoff "
                                      "and forms follow from model.parameters)")
            return {"parameters": self.parameters, "fix": list(self.fix)}
        if self.parameters:
            raise ConfigError(f"model.parameters: not a key of a {self.kind} model (give forms "
                              "under pair/density/embedding)")
        out = {"cutoff": self.cutoff, "smooth_width": self.smooth_width, "pair": self.pair,
               "fix": list(self.fix)}
        if self.kind == "eam":
            out.update(density=self.density, embedding=self.embedding)
        elif self.density or self.embedding:
            raise ConfigError("model.density/embedding: only an eam model has them")
        return out

    def named_species(self) -> tuple[str, ...] | None:
        """The species the forms name (None if they name none)."""
        if self.species is not None:
            return tuple(self.species)
        names: list[str] = []
        for key in (*self.pair, *self.density, *self.embedding, *self.parameters):
            for part in str(key).split("-"):
                if part not in names:
                    names.append(part)
        if not names:
            return None
        bad = [n for n in names if not is_element(n)]
        if bad:
            raise ConfigError(f"model: {bad[0]!r} (in a pair/element/triplet name) is not an element symbol")
        return by_atomic_number(names)

    def check(self, key: str) -> None:
        species = self.named_species()
        if species is None:
            raise ConfigError(f"{key}: a {self.kind} model needs its forms or parameters")
        if self.cutoff is not None and not self.cutoff > 0:
            raise ConfigError(f"{key}.cutoff: expected a positive length, got {self.cutoff}")
        if not self.smooth_width >= 0:
            raise ConfigError(f"{key}.smooth_width: expected a length >= 0, got {self.smooth_width}")
        potential_from_spec(self.kind, self.spec(), species, key=key)


def classical_schema(kind: str) -> type:
    """The config schema of one classical kind (:class:`ClassicalConfig` with its ``kind``)."""
    return dataclass(frozen=True)(type(f"{kind.capitalize()}Config", (ClassicalConfig,), {
        "kind": kind, "__doc__": ClassicalConfig.__doc__, "__annotations__": {}}))


PairConfig = classical_schema("pair")
EAMConfig = classical_schema("eam")
TersoffConfig = classical_schema("tersoff")
SWConfig = classical_schema("sw")
