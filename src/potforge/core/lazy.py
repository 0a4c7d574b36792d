"""Modules loaded on first use.

PyTorch takes 1.5 to 2 seconds to import (``python -c "import torch"`` on the project's
machine). potforge's compiled HDNNP path (``potforge predict``, the ASE calculator,
``potforge demo`` with n2p2 models) never touches it, yet the classical kernels and the
trainable forms are written in PyTorch, and modules that only name it should not load it. So
potforge's modules take ``torch`` from here:

    from ..core.lazy import torch

a stand-in that imports PyTorch (an ordinary import) the first time one of its attributes is
used, and then keeps each attribute it has handed out as its own, so that later uses cost
what a module attribute costs. It is not a module: ``sys.modules`` and everyone else's
``import torch`` are untouched, and submodules are imported as usual where they are used
(``import torch.autograd.forward_ad`` inside the function that needs it). Module-level code
must not touch ``torch.*`` (constants, default arguments, decorators of modules imported
when models register): tests/test_lazy_torch.py checks that predicting with an n2p2 model
never imports PyTorch, and tests/test_layers.py that no module imports torch directly.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["LazyModule", "torch"]


class LazyModule:
    """The module ``name``, imported when an attribute is first asked for."""

    def __init__(self, name: str) -> None:
        self._lazy_name = name

    def __getattr__(self, attr: str) -> Any:
        # only called for attributes this object does not hold yet
        if attr.startswith("__") and attr.endswith("__"):
            raise AttributeError(attr)  # copy, pickle and friends probe for these
        value = getattr(importlib.import_module(self._lazy_name), attr)
        setattr(self, attr, value)
        return value

    def __repr__(self) -> str:
        return f"<lazily imported module {self._lazy_name!r}>"


#: PyTorch, imported on first use
torch = LazyModule("torch")
