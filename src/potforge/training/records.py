"""What training writes down, as plain data (no PyTorch import, so plotting and reports can
read it cheaply)."""

from __future__ import annotations

__all__ = ["CHARGE_CURVE_COLUMNS", "LEARNING_CURVE_COLUMNS", "learning_curve_columns"]

#: Columns of ``learning_curve.csv``, one row per epoch (epoch 0: before training). RMSEs in
#: meV/atom, eV/Å, GPa; the losses are χ² per frame without the L2 term; validation cells are
#: empty without a validation set; ``best`` is 1 on the epochs that improved the selection
#: criterion (validation loss, else training loss).
LEARNING_CURVE_COLUMNS = (
    "epoch", "time_s",
    "train_energy_rmse_mev_per_atom", "train_force_rmse_ev_per_angstrom", "train_stress_rmse_gpa",
    "validation_energy_rmse_mev_per_atom", "validation_force_rmse_ev_per_angstrom",
    "validation_stress_rmse_gpa", "train_loss", "validation_loss", "best")

#: Extra columns of a charge model's (3G/4G) learning curve: charge RMSE in me (milli-e),
#: after the stress columns; other models' files keep :data:`LEARNING_CURVE_COLUMNS`.
CHARGE_CURVE_COLUMNS = ("train_charge_rmse_me", "validation_charge_rmse_me")


def learning_curve_columns(charges: bool) -> tuple[str, ...]:
    """The columns of ``learning_curve.csv``: with the charge RMSEs for a charge model."""
    if not charges:
        return LEARNING_CURVE_COLUMNS
    k = LEARNING_CURVE_COLUMNS.index("validation_stress_rmse_gpa") + 1
    return LEARNING_CURVE_COLUMNS[:k] + CHARGE_CURVE_COLUMNS + LEARNING_CURVE_COLUMNS[k:]
