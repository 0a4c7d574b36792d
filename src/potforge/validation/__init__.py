"""Validation: applying models to data, error metrics, extrapolation, properties."""
