"""Closed-form refit of the networks' output layers at the end of training.

For a neural-network potential whose output neuron is linear, every prediction — the energy
E = Σ_i s · c (w_{Z_i} · h_i + b_{Z_i}) + offsets, the forces and the stress — is exactly
linear in the output layer's weights w_Z and bias b_Z of every element's network, given the
hidden layers (h_i: the last hidden layer of atom i, s: the output scale, c: 1 or the fan-in
of ``normalize``). The loss (:class:`~potforge.training.loss.Loss`: energies per atom, force
components and the stress components it selects, each weighted by 1/σ² and the frame
factors, plus the L2 prior λ on the weights) is therefore a quadratic function of those
parameters, and its minimum over them is one linear solve:

    (Aᵀ W A + λ D) δ = −(Aᵀ W r + λ D p),

with A the design matrix (∂ prediction / ∂ output parameter, one row per energy, force
component and stress component of the training set), W the loss's weights, r the residuals
(prediction − label) at the current parameters p, D the mask of regularised parameters
(weights, not biases). The solve is for the change δ with a pseudo-inverse of the
column-scaled normal matrix (float64), so that directions the data do not determine keep
their values. That is the exact optimum of the last layer, which an iterative optimizer
only approaches; the Kalman filter in particular stops short of it in the energy direction
(≈200 energies against thousands of force components).

:func:`refit_output_layer` builds A chunk by chunk (normal equations accumulated, never the
whole matrix), solves, and keeps the result only if the validation loss decreases (with no
validation set: the training loss with its L2 term, which the solve minimises). Only θ
changes: per-element reference energies, the global offset and the output scale stay as
they are (the biases absorb any constant per atom), so the saved model predicts what the
refitted model in memory predicts.

The design matrix of a 2G HDNNP comes in closed form from the last hidden layer and its
derivative with respect to the symmetry functions (one pass over the pairs with H columns);
other families with a :class:`~potforge.models.network.NetworkLayout` and linear outputs
(3G/4G stage-2 short-range networks, 1G) get theirs from one prediction per output
parameter (exact, as the predictions are affine in them). Models without such a layer
(classical kinds, charge-only stages) are skipped with a note.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from ..core.lazy import torch
from ..data.labels import voigt
from ..models.hdnnp.trainable import TrainableHDNNP
from ..models.network import activation
from ..models.trainable import TrainableModel
from .guard import check_parameters
from .loss import Loss, LossWeights
from .trainer import _record_dict

__all__ = ["OutputColumns", "Design", "output_columns", "design_matrix", "refit_output_layer"]

#: bytes of the per-pair intermediate of the closed-form force design (bounds its memory)
_PAIR_BLOCK_BYTES = 64 * 2**20
#: eigenvalues of the scaled normal matrix below this fraction of the largest are dropped
_RCOND = 1e-12


@dataclass(frozen=True)
class OutputColumns:
    """The output-layer parameters of a model: where they sit in θ.

    Attributes
    ----------
    index : (P,) long tensor
        Positions in θ, network by network: the output weights, then the bias.
    regularized : (P,) bool tensor
        Which of them the L2 prior applies to (the weights).
    networks : list of (start, stop)
        The columns of each network in ``index``.
    """

    index: torch.Tensor
    regularized: torch.Tensor
    networks: list[tuple[int, int]]

    @property
    def n(self) -> int:
        return int(self.index.numel())


@dataclass
class Design:
    """Derivatives of a batch's predictions with respect to the output parameters.

    energy (F, P) eV; forces (n_atoms, 3, P) eV/Å or None; stress (F, 6, P) eV/Å³ or None.
    """

    energy: torch.Tensor
    forces: torch.Tensor | None
    stress: torch.Tensor | None


def output_columns(model: TrainableModel) -> OutputColumns | str:
    """The model's output-layer parameters, or the reason why the refit does not apply."""
    layout = getattr(model, "layout", None)
    if layout is None or not hasattr(layout, "slices"):
        return f"a {model.kind} model has no network output layer"
    if getattr(model, "charges_only", False):
        return f"a {model.kind} model in this stage predicts charges only"
    index, regularized, networks = [], [], []
    for k, (layers, acts) in enumerate(zip(layout.slices, layout.activations)):
        if acts[-1] != "l":
            return f"network {k} of the {model.kind} model has a non-linear output ({acts[-1]!r})"
        w, _, b = layers[-1]
        start = len(index)
        index += list(range(w.start, w.stop)) + list(range(b.start, b.stop))
        regularized += [True] * (w.stop - w.start) + [False] * (b.stop - b.start)
        networks.append((start, len(index)))
    return OutputColumns(torch.tensor(index, dtype=torch.long), torch.tensor(regularized), networks)


def design_matrix(model: TrainableModel, batch: Any, columns: OutputColumns, *, forces: bool,
                  stress: bool) -> Design:
    """The design matrix of a batch: closed form for a 2G HDNNP, otherwise one prediction per
    output parameter (exact for predictions affine in them)."""
    if type(model) is TrainableHDNNP:  # not its subclasses: their networks take more inputs
        with torch.no_grad():
            return _hdnnp_design(model, batch, columns, forces, stress)
    return _design_by_evaluation(model, batch, columns, forces, stress)


def _design_by_evaluation(model: TrainableModel, batch: Any, columns: OutputColumns, forces: bool,
                          stress: bool) -> Design:
    """Column j = prediction(p + e_j) − prediction(p)."""
    with torch.no_grad():
        return _columns_by_evaluation(model, batch, columns, forces, stress)


def _columns_by_evaluation(model: TrainableModel, batch: Any, columns: OutputColumns, forces: bool,
                           stress: bool) -> Design:
    theta0 = model.theta.detach().clone()
    base = model.predict(batch, forces=forces, stress=stress)
    cols: list[tuple[torch.Tensor, ...]] = []
    try:
        for j in columns.index.tolist():
            model.theta.data.copy_(theta0)
            model.theta.data[j] += 1.0
            out = model.predict(batch, forces=forces, stress=stress)
            cols.append((out.energy - base.energy,
                         out.forces - base.forces if forces else None,
                         out.stress - base.stress if stress else None))
    finally:
        model.theta.data.copy_(theta0)
    stack = [torch.stack([c[k] for c in cols], -1) if (k == 0 or cols[0][k] is not None) else None
             for k in range(3)]
    return Design(stack[0].to(torch.float64), *(s.to(torch.float64) if s is not None else None
                                                for s in stack[1:]))


def _hidden(layers, activations: str, x: torch.Tensor, normalize: bool, derivative: bool):
    """Last hidden layer h (n, H) of a network and ∂h/∂x (n, H, n_in) for inputs x (n, n_in)
    (with no hidden layer: h = x)."""
    y, derivs = x, []
    for (w, b), letter in zip(layers, activations):
        z = torch.addmm(b, y, w.t()) if not normalize else (y @ w.t() + b) / w.shape[1]
        y, dy = activation(letter, z)
        derivs.append(dy)
    if not derivative:
        return y, None
    n, width = y.shape
    jac = torch.eye(width, dtype=x.dtype).expand(n, width, width)
    for k in range(len(layers) - 1, -1, -1):
        jac = jac * derivs[k].unsqueeze(1)
        w = layers[k][0]
        jac = jac @ (w / w.shape[1] if normalize else w)
    return y, jac


def _hdnnp_design(model: TrainableHDNNP, batch, columns: OutputColumns, forces: bool,
                  stress: bool) -> Design:
    """Closed form: ∂E_i/∂w = s c h_i, ∂E_i/∂b = s c; ∂F/∂w and ∂σ/∂w from s c ∂h_i/∂G_i
    contracted with the pair Jacobians as :meth:`TrainableHDNNP.predict` contracts ∂E_i/∂G_i."""
    theta = model.theta.detach().to(torch.float64)
    n_atoms, n_frames, p = batch.values.shape[0], batch.n_frames, columns.n
    energy = torch.zeros((n_frames, p), dtype=torch.float64)
    f_design = torch.zeros((n_atoms, 3, p), dtype=torch.float64) if forces else None
    s_design = torch.zeros((n_frames, 6, p), dtype=torch.float64) if stress else None
    for e, sym in enumerate(model.species):
        idx = torch.nonzero(batch.element == e).squeeze(1)
        if idx.numel() == 0:
            continue
        layers = model.layout.layers(theta, e)
        n_sf = model.n_functions[e]
        a, b = (torch.as_tensor(v, dtype=torch.float64) for v in model.scaling.affine(sym))
        x = batch.values[idx, :n_sf].to(torch.float64) * a + b
        h, dh = _hidden(layers[:-1], model.activations[sym][:-1], x, model.normalize, forces or stress)
        factor = model.output_scale / (h.shape[1] if model.normalize else 1.0)
        start, stop = columns.networks[e]
        frames = batch.frame_of_atom[idx]
        energy[:, start:stop - 1].index_add_(0, frames, factor * h)
        energy[:, stop - 1].index_add_(0, frames, torch.full((idx.numel(),), factor, dtype=torch.float64))
        if forces or stress:
            f_e, v_e = _pair_terms(batch, idx, dh * (factor * a), forces, stress)
            if forces:
                f_design[:, :, start:stop - 1] = f_e
            if stress:
                s_design[:, :, start:stop - 1] = voigt(v_e).transpose(1, 2) / batch.volume.view(-1, 1, 1)
    return Design(energy, f_design, s_design)


def _pair_terms(batch, idx: torch.Tensor, coeff: torch.Tensor, forces: bool, stress: bool):
    """Forces (n_atoms, 3, H) and virials (n_frames, H, 3, 3) of the H columns whose
    ∂E_i/∂G_i are ``coeff`` (len(idx), H, n_sf) for the atoms ``idx`` (0 elsewhere).

    The pairs of each centre atom are padded to the largest neighbour count K, so that one
    batched product per block of atoms, coeff_i (H, n_sf) @ J_i (n_sf, 3K), gives every pair's
    g = ∂E/∂(pair vector) (no (H, n_sf) copy per pair); as in ``predict``, g adds to the centre's
    force, subtracts from the neighbour's, and g ⊗ r adds to the virial."""
    n_atoms, width, n_sf = batch.values.shape[0], coeff.shape[1], coeff.shape[2]
    row = torch.full((n_atoms,), -1, dtype=torch.long)
    row[idx] = torch.arange(idx.numel())
    pairs = torch.nonzero(row[batch.center] >= 0).squeeze(1)
    pairs = pairs[torch.argsort(row[batch.center[pairs]], stable=True)]
    rows = row[batch.center[pairs]]
    counts = torch.bincount(rows, minlength=idx.numel())
    slot = torch.arange(pairs.numel()) - (torch.cumsum(counts, 0) - counts)[rows]
    k_max = max(int(counts.max()), 1) if counts.numel() else 1
    f_e = torch.zeros((n_atoms, 3, width), dtype=torch.float64) if forces else None
    v_e = torch.zeros((batch.n_frames, width, 3, 3), dtype=torch.float64) if stress else None
    block = max(1, _PAIR_BLOCK_BYTES // (8 * k_max * 3 * max(n_sf, width)))
    bounds = torch.searchsorted(rows, torch.arange(0, idx.numel() + block, block).clamp(max=idx.numel()))
    for lo in range(0, idx.numel(), block):
        hi = min(lo + block, idx.numel())
        p0, p1 = int(bounds[lo // block]), int(bounds[lo // block + 1])
        sel, r, sl = pairs[p0:p1], rows[p0:p1] - lo, slot[p0:p1]
        flat = r * k_max + sl  # the pair's place among its centre's K slots
        jac = torch.zeros(((hi - lo) * k_max, 3, n_sf), dtype=torch.float64)
        jac.index_copy_(0, flat, batch.jacobian[sel, :n_sf, :].transpose(1, 2).to(torch.float64))
        g = torch.bmm(jac.view(hi - lo, k_max * 3, n_sf), coeff[lo:hi].transpose(1, 2))  # (n, 3K, H)
        if forces:
            f_e.index_add_(0, idx[lo:hi], g.view(hi - lo, k_max, 3, width).sum(1))
            f_e.index_add_(0, batch.neighbor[sel], -g.view(-1, 3, width)[flat])
        if stress:
            vec = torch.zeros(((hi - lo) * k_max, 3), dtype=torch.float64)
            vec.index_copy_(0, flat, batch.vectors[sel].to(torch.float64))
            v_e.index_add_(0, batch.frame_of_atom[idx[lo:hi]],
                           torch.einsum("nkch,nkd->nhcd", g.view(hi - lo, k_max, 3, width),
                                        vec.view(hi - lo, k_max, 3)))
    return f_e, v_e


# -- the solve ---------------------------------------------------------------------------------
def _rows(trainer, batch, design: Design):
    """(rows (m, P), residuals (m,), weights (m,)) of a chunk, as the loss weighs them."""
    loss, model = trainer.loss, trainer.model
    w = loss.frame_factors(batch, trainer.train_labels.config_types)
    out = model.predict(batch, forces=design.forces is not None, stress=design.stress is not None)
    rows, res, wts = [], [], []
    if loss.weights.energy > 0:
        n = batch.n_atoms.to(torch.float64)
        r = (out.energy - batch.energy) / n
        ok = ~torch.isnan(r)
        rows.append((design.energy / n.unsqueeze(1))[ok])
        res.append(r[ok])
        wts.append(loss.weights.energy * w[ok])
    if design.forces is not None:
        r = out.forces - batch.forces
        ok = ~torch.isnan(r).any(1)
        rows.append(design.forces[ok].reshape(-1, design.forces.shape[2]))
        res.append(r[ok].reshape(-1))
        wts.append((loss.weights.forces * w[batch.frame_of_atom[ok]]).repeat_interleave(3))
    if design.stress is not None:
        mask = loss._stress_mask
        r = (out.stress - batch.stress)[:, mask]
        ok = ~torch.isnan(r).any(1)
        rows.append(design.stress[ok][:, mask].reshape(-1, design.stress.shape[2]))
        res.append(r[ok].reshape(-1))
        wts.append((loss.weights.stress * w[ok]).repeat_interleave(int(mask.sum())))
    return torch.cat(rows), torch.cat(res).to(torch.float64), torch.cat(wts)


def normal_equations(trainer, columns: OutputColumns) -> tuple[torch.Tensor, torch.Tensor]:
    """Aᵀ W A and Aᵀ W r over the training set (float64), chunk by chunk."""
    loss, model = trainer.loss, trainer.model
    forces = loss.weights.forces > 0
    stress = loss.weights.stress > 0
    matrix = torch.zeros((columns.n, columns.n), dtype=torch.float64)
    vector = torch.zeros(columns.n, dtype=torch.float64)
    with torch.no_grad():
        for frames in trainer.chunks(trainer.train_data):
            batch = model.batch(trainer.train_data, frames, derivatives=forces or stress)
            design = design_matrix(model, batch, columns, forces=forces, stress=stress)
            rows, res, wts = _rows(trainer, batch, design)
            weighted = rows * wts.unsqueeze(1)
            matrix += weighted.T @ rows
            vector += weighted.T @ res
    return matrix, vector


def solve_step(matrix: torch.Tensor, vector: torch.Tensor, current: torch.Tensor,
               regularized: torch.Tensor, l2: float) -> torch.Tensor:
    """The change δ of the output parameters that minimises the quadratic loss: a
    pseudo-inverse of the (Jacobi-scaled) normal matrix, so undetermined directions stay."""
    d = regularized.to(torch.float64) * l2
    m = matrix + torch.diag(d)
    g = vector + d * current
    scale = torch.sqrt(torch.clamp(torch.diagonal(m), min=0.0))
    scale = torch.where(scale > 0, scale, torch.ones_like(scale))
    ms = m / scale.unsqueeze(0) / scale.unsqueeze(1)
    values, vectors = torch.linalg.eigh(0.5 * (ms + ms.T))
    keep = values > _RCOND * float(values.max().clamp(min=0.0))
    if not keep.any():
        return torch.zeros_like(current)
    inv = vectors[:, keep] @ torch.diag(1.0 / values[keep]) @ vectors[:, keep].T
    return -(inv @ (g / scale)) / scale


# -- the step of a training run ----------------------------------------------------------------
def _rmse(errors: dict | None) -> dict | None:
    if errors is None:
        return None
    keys = ("energy_rmse_mev_per_atom", "force_rmse_ev_per_angstrom", "stress_rmse_gpa")
    return {k: errors[k] for k in keys if k in errors}


def _fmt(errors: dict | None) -> str:
    if errors is None:
        return ""
    parts = []
    for key, tag, digits in (("energy_rmse_mev_per_atom", "E", 3), ("force_rmse_ev_per_angstrom", "F", 4),
                             ("stress_rmse_gpa", "S", 3)):
        v = errors.get(key)
        if v is not None and not math.isnan(v):
            parts.append(f"{tag} {v:.{digits}f}")
    return " ".join(parts)


def _l2_term(trainer) -> float:
    loss, model = trainer.loss, trainer.model
    if loss.l2 <= 0:
        return 0.0
    theta = model.theta.detach()[model.regularized()]
    return loss.l2 * float((theta * theta).sum()) / trainer.train_labels.n_frames


def _best_record(trainer):
    for r in trainer.history:
        if r.epoch == trainer.best_epoch:
            return r
    return None


def refit_output_layer(trainer, log: Callable[[str], None] | None = None, *,
                       force_factor: float = 1.0) -> dict:
    """Refit the output layers of ``trainer.model`` (in its best state, after
    :meth:`Trainer.run`) to the exact minimum of the loss over them; keep the result only if
    the validation loss (no validation set: the training loss with L2) decreases.

    ``force_factor`` scales the force term of the loss for the refit and for that decision
    (``training.refit_force_factor``; 1: the loss as configured).

    Returns the summary entry: ``accepted``, ``parameters``, ``time_s``, losses and RMSE
    (meV/atom, eV/Å, GPa) of the training and validation sets before and after, and
    ``train``/``validation`` (the full error records of the model now held); or ``skipped``
    with the reason.
    """
    log = log or (lambda line: None)
    columns = output_columns(trainer.model)
    before = _best_record(trainer)
    if isinstance(columns, str) or before is None:
        reason = columns if isinstance(columns, str) else "no finite training record"
        log(f"output-layer refit skipped: {reason}")
        return {"skipped": reason}
    if force_factor == 1.0:
        return _refit(trainer, columns, before, log)
    loss = trainer.loss
    w = loss.weights
    trainer.loss = Loss(LossWeights(w.energy, w.forces * force_factor, w.stress, w.charges), l2=loss.l2,
                        config_type_weights=loss.config_type_weights, stress_components=loss.stress_components)
    try:
        train = trainer.evaluate(trainer.train_data)
        val = trainer.evaluate(trainer.validation_data) if trainer.validation_data is not None else None
        before = SimpleNamespace(train=before.train, validation=before.validation, train_loss=train.loss,
                                 validation_loss=val.loss if val is not None else None)
        return {**_refit(trainer, columns, before, lambda line: log(f"{line} (force term x{force_factor:g})")),
                "force_factor": force_factor}
    finally:
        trainer.loss = loss


def _refit(trainer, columns: OutputColumns, before, log: Callable[[str], None]) -> dict:
    model = trainer.model
    t0 = time.perf_counter()
    theta0 = model.theta.detach().clone()
    l2_before = _l2_term(trainer)
    matrix, vector = normal_equations(trainer, columns)
    if not bool(matrix.diagonal().gt(0).any()):
        log("output-layer refit skipped: the loss has no term that the output layers change")
        return {"skipped": "no loss term depends on the output layers"}
    step = solve_step(matrix, vector, theta0[columns.index], columns.regularized, trainer.loss.l2)
    with torch.no_grad():
        model.theta[columns.index] += step.to(model.theta.dtype)
    check_parameters(model, "output-layer refit")
    l2_after = _l2_term(trainer)
    train = trainer.evaluate(trainer.train_data)
    val = trainer.evaluate(trainer.validation_data) if trainer.validation_data is not None else None
    if val is not None:
        accepted = val.loss < before.validation_loss
    else:
        accepted = train.loss + l2_after < before.train_loss + l2_before
    if not accepted:
        with torch.no_grad():
            model.theta.copy_(theta0)
    elapsed = time.perf_counter() - t0
    after_train = _record_dict(train.errors)
    after_val = _record_dict(val.errors) if val is not None else None
    result = {
        "accepted": bool(accepted), "parameters": columns.n, "time_s": elapsed,
        "train_loss": {"before": before.train_loss + l2_before, "after": train.loss + l2_after},
        "validation_loss": {"before": before.validation_loss, "after": val.loss if val else None},
        "train_rmse": {"before": _rmse(before.train), "after": _rmse(after_train)},
        "validation_rmse": {"before": _rmse(before.validation), "after": _rmse(after_val)},
        "train": after_train if accepted else before.train,
        "validation": after_val if accepted else before.validation,
    }
    verdict = "accepted" if accepted else \
        f"rejected: the {'validation' if val is not None else 'training'} loss did not decrease"
    val_text = f"; val {_fmt(before.validation)} -> {_fmt(after_val)}" if val is not None else ""
    log(f"output-layer refit ({columns.n} parameters, {elapsed:.1f} s): train {_fmt(before.train)} -> "
        f"{_fmt(after_train)}{val_text} (RMSE meV/atom, eV/Å, GPa); {verdict}")
    return result
