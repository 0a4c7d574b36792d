"""data check on thermal data: near misses are rejected cheaply, true duplicates still found."""

import numpy as np
from ase.build import bulk

from potforge.data.frame import Frame
from potforge.validation import label_duplicates, label_pairs


def _thermal(n, rms, seed=3):
    rng = np.random.default_rng(seed)
    base = bulk("Cu", "fcc", a=3.61, cubic=True).repeat(2)
    frames = []
    for _ in range(n):
        atoms = base.copy()
        atoms.positions = base.positions + rng.normal(0, rms, base.positions.shape)
        frames.append(Frame(atoms=atoms, energy=-100.0, forces=rng.normal(0, 0.5, (len(atoms), 3)),
                            stress=np.zeros(6)))
    return frames


def test_thermal_frames_few_full_comparisons(monkeypatch):
    frames = _thermal(300, 0.04)
    # a true duplicate: frame 5 with its atoms reordered and shifted by a lattice vector's half
    copy = frames[5].atoms.copy()
    order = np.random.default_rng(0).permutation(len(copy))
    copy = copy[order]
    copy.positions += [1.805, 1.805, 0.0]
    frames.append(Frame(atoms=copy, energy=-100.0, forces=frames[5].forces[order], stress=np.zeros(6)))
    calls = []
    original = label_duplicates._compare
    monkeypatch.setattr(label_duplicates, "_compare", lambda *a: calls.append(a[1:3]) or original(*a))
    found = label_duplicates.find_duplicates(frames)
    assert [(p.a, p.b) for p in found] == [(5, 300)]
    assert found[0].displacement < 1e-9 and found[0].force_difference < 1e-12
    assert len(calls) < 30  # of 45,150 pairs, nearly all sharing the sorted fingerprint


def test_pair_edges_bounded_per_frame():
    frames = _thermal(200, 0.004)
    edges = label_pairs._edges_of_group(frames, 0.05, 0.1)
    counts = np.bincount([i for i, _, _ in edges], minlength=len(frames))
    assert counts.max() == label_pairs.MAX_EDGES_PER_FRAME
    tree, _ = label_pairs.pair_sets(frames)
    assert len(tree) == len(frames) - 1  # still one connected set
