"""Modules loaded on first use.

PyTorch takes about a second to import. potforge's compiled HDNNP path (``potforge
predict``, the ASE calculator, ``potforge demo`` with n2p2 models) never touches it, yet every
model family registers at import time (:mod:`potforge.models`), and the classical kernels and
the trainable forms are written in PyTorch. So potforge's modules take ``torch`` from here:

    from ..core.lazy import torch

a module object (:class:`importlib.util.LazyLoader`) that imports PyTorch the moment one of
its attributes is first used and is the real module from then on (also for ``import torch``
elsewhere in the process). An ``import torch`` statement would load it at once (the import
system reads ``__spec__``), and so would touching ``torch.*`` while a module is imported
(constants, default arguments, decorators): tests/test_lazy_torch.py checks that loading
and predicting with an n2p2 model leaves PyTorch unloaded.
"""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType

__all__ = ["lazy_import", "torch"]


def lazy_import(name: str) -> ModuleType | None:
    """``name`` as a module that loads on first attribute access (the module itself if it is
    imported already; None if it is not installed)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None:
        return None
    loader = importlib.util.LazyLoader(spec.loader)
    spec.loader = loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    loader.exec_module(module)
    return module


#: PyTorch, loaded on first use (None if it is not installed: every model needs it but the
#: compiled HDNNP path)
torch = lazy_import("torch")
