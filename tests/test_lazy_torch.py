"""Predicting with an HDNNP uses the compiled kernels only: loading an n2p2 model and running
``potforge predict`` (and ``potforge demo``) never imports PyTorch, the classical families or
training code, although every family registers at import (potforge/core/lazy.py explains
how). Each check runs in a fresh interpreter."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

CHECK = textwrap.dedent("""
    import sys
    {work}
    heavy = sorted(k for k in sys.modules if k == "torch._C" or
                   k.startswith(("potforge.models.classical.", "potforge.training", "scipy")))
    assert type(sys.modules.get("torch")).__name__ in ("_LazyModule", "NoneType"), "torch loaded"
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
