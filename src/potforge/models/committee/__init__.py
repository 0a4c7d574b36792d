"""Committees (``kind: committee``): N models of the same data whose mean is the prediction
and whose spread estimates its uncertainty (:mod:`.potential`); ``potforge train --committee N``
trains and calibrates one (:func:`potforge.training.committee.fit_committee`)."""

from ..registry import ModelFamily, register_family

_HERE = "potforge.models.committee"

register_family(ModelFamily(
    kind="committee", summary="a committee of models: their mean, and their spread as uncertainty",
    potential_ref=f"{_HERE}.potential:Committee", example_ref=f"{_HERE}.potential:example"))
