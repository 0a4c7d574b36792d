"""Predicting with an HDNNP uses the compiled kernels only: loading an n2p2 model and running
``potforge predict`` (and ``potforge demo``) never imports PyTorch, the classical families or
training code, although every family registers at import (potforge/core/lazy.py explains
how); and the lazy stand-in does not disturb anyone else's PyTorch. Each check runs in a
fresh interpreter."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

CHECK = textwrap.dedent("""
    import sys
    {work}
    heavy = sorted(k for k in sys.modules if k.startswith(("torch", "potforge.models.classical.",
                                                           "potforge.training", "scipy")))
    assert not heavy, heavy
    import potforge.models
    assert len(potforge.models.families()) >= 7  # the registry is complete nonetheless
    print("ok")
""")


def _run(work: str) -> None:
    proc = subprocess.run([sys.executable, "-c", CHECK.format(work=textwrap.dedent(work))],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and proc.stdout.strip().endswith("ok"), proc.stderr[-2000:]


def test_predicting_with_an_n2p2_model_leaves_torch_unloaded(water_dir):
    _run(f"""
        from potforge.data.io import read_frames
        from potforge.export import load_model
        model = load_model({str(water_dir)!r}, length_unit="bohr", energy_unit="hartree")
        frames = read_frames({str(water_dir / "input.data")!r}, length_unit="bohr", energy_unit="hartree")
        assert model.predict(frames[0].atoms).forces.shape == (len(frames[0].atoms), 3)
    """)


@pytest.mark.parametrize("argv", ["predict", "demo"])
def test_potforge_predict_and_demo_leave_torch_unloaded(argv, water_dir, tmp_path):
    args = (["demo"] if argv == "demo" else
            ["predict", str(water_dir), str(water_dir / "input.data"), "-o", str(tmp_path / "out.xyz"),
             "--length-unit", "bohr", "--energy-unit", "hartree", "--threads", "1"])
    _run(f"""
        from potforge.cli.main import main
        code = main({args!r})
        assert code == 0, code
    """)


def test_the_check_sees_torch():
    with pytest.raises(AssertionError):
        _run("from potforge.core.lazy import torch; torch.zeros(1)")


@pytest.mark.parametrize("code", [
    # training code and PyTorch's own submodules import normally after potforge registered
    "import potforge.models; import torch.autograd.forward_ad; import torch.optim; "
    "import potforge.training.fit; from potforge.core.lazy import torch as t; import torch; "
    "assert t.zeros(2).sum() == 0 and t.Tensor is torch.Tensor",
    # and potforge's stand-in works after someone else imported PyTorch
    "import torch; from potforge.core.lazy import torch as t; assert t.float64 is torch.float64",
])
def test_lazy_torch_leaves_pytorch_alone(code):
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_importing_any_module_leaves_torch_unloaded():
    """No module touches ``torch.*`` while it is imported (decorators, constants, default
    arguments): importing every module of the package, training and classical kernels
    included, loads no PyTorch."""
    code = textwrap.dedent("""
        import pkgutil, importlib, sys
        import potforge
        names = [m.name for m in pkgutil.walk_packages(potforge.__path__, "potforge.")
                 if not m.name.endswith("__main__")]  # that one runs the CLI
        for name in names:
            importlib.import_module(name)
        assert len(names) > 100, len(names)
        assert not any(k == "torch" or k.startswith("torch.") for k in sys.modules), \\
            [k for k in sys.modules if k.startswith("torch")][:5]
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
