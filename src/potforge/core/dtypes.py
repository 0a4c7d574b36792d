"""The arithmetic a model may run in: float64 (the default, reproduces n2p2 and the
references) or float32 (faster; the accuracy per family is measured in
:attr:`potforge.models.potential.Potential.dtype`)."""

from __future__ import annotations

from .errors import ConfigError

__all__ = ["DTYPES", "check_dtype"]

#: the names potforge accepts, default first
DTYPES = ("float64", "float32")


def check_dtype(dtype: str, key: str = "dtype") -> str:
    """``dtype`` if one of :data:`DTYPES`, else a ConfigError naming ``key``."""
    if dtype not in DTYPES:
        raise ConfigError(f"{key}: {dtype!r} is not one of {', '.join(DTYPES)}")
    return dtype
