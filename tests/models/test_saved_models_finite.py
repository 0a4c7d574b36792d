"""A potforge model directory with a NaN or an infinity in it is refused at load, for every
kind: in ``arrays.npz`` (even with a matching checksum, as another tool would write it) and
in ``model.json`` (JSON admits ``NaN`` and ``Infinity``). Before, hdnnp-1g and eam-setfl
models loaded such values and predicted NaN."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest

from potforge.core.errors import ModelFormatError
from potforge.models import load_potential
from potforge.models.potential import sha256

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "models_v0_1"
KINDS = sorted(p.name for p in FIXTURES.iterdir() if (p / "model.json").is_file())


def _copy_with_edited_json(tmp_path: Path, kind: str, edit) -> Path:
    """A copy of the ``kind`` fixture whose model.json went through ``edit(meta)``."""
    model = tmp_path / kind
    shutil.copytree(FIXTURES / kind, model)
    meta = json.loads((model / "model.json").read_text())
    edit(meta)
    (model / "model.json").write_text(json.dumps(meta))     # writes Infinity/NaN, as json.dump does
    return model


def _with_arrays(kind: str) -> list[str]:
    with np.load(FIXTURES / kind / "arrays.npz") as npz:
        return sorted((k for k in npz.files if npz[k].dtype.kind == "f" and npz[k].size > 3),
                      key=lambda k: npz[k].size)


@pytest.mark.parametrize("kind", [k for k in KINDS if _with_arrays(k)])
@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_a_non_finite_array_value_is_refused(tmp_path, kind, value):
    model = tmp_path / kind
    shutil.copytree(FIXTURES / kind, model)
    with np.load(model / "arrays.npz") as npz:
        arrays = {k: npz[k] for k in npz.files}
    name = _with_arrays(kind)[-1]
    arrays[name] = arrays[name].copy()
    arrays[name].reshape(-1)[3] = value
    with open(model / "arrays.npz", "wb") as handle:
        np.savez(handle, **arrays)
    meta = json.loads((model / "model.json").read_text())
    meta["arrays_sha256"] = sha256(model / "arrays.npz")
    (model / "model.json").write_text(json.dumps(meta))
    with pytest.raises(ModelFormatError) as info:
        load_potential(model)
    assert str(info.value) == (f"{model / 'arrays.npz'}: array {name!r} holds {value} (flat index 3 of "
                               f"{arrays[name].size}); a saved model holds finite numbers only")


def _first_float(value, path=()):
    if isinstance(value, float):
        return path
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for k, v in items:
        found = _first_float(v, path + (k,))
        if found is not None:
            return found
    return None


@pytest.mark.parametrize("kind", [k for k in KINDS if _first_float(
    json.loads((FIXTURES / k / "model.json").read_text())["model"]) is not None])
def test_a_non_finite_number_in_model_json_is_refused(tmp_path, kind):
    def set_first_float_to_inf(meta):
        where, target = _first_float(meta["model"]), meta["model"]
        for k in where[:-1]:
            target = target[k]
        target[where[-1]] = math.inf

    model = _copy_with_edited_json(tmp_path, kind, set_first_float_to_inf)
    with pytest.raises(ModelFormatError, match=r"model\..* is inf; a saved model holds finite numbers only$"):
        load_potential(model)


def test_non_finite_values_outside_the_parameters_are_left_alone(tmp_path):
    """The resolved config may say max_time: .inf; that is not a parameter of the model."""
    model = _copy_with_edited_json(tmp_path, "pair",
                                   lambda meta: meta.update(config={"training": {"max_time": math.inf}}))
    assert load_potential(model).kind == "pair"


def test_an_integer_of_100000_digits_in_model_json(tmp_path):
    """Python refuses to convert such an integer (ValueError, not JSONDecodeError)."""
    model = tmp_path / "pair"
    shutil.copytree(FIXTURES / "pair", model)
    text = (model / "model.json").read_text()
    (model / "model.json").write_text(text.replace('"format_version": 1', '"format_version": ' + "9" * 100000))
    with pytest.raises(ModelFormatError, match=r"model.json: invalid JSON \(Exceeds the limit"):
        load_potential(model)


def test_a_null_that_the_model_reads_as_nan(tmp_path):
    """JSON null in a list of numbers becomes NaN in the model's arrays: refused after building."""
    def null_sigma(meta):
        meta["model"]["scaling"]["statistics"]["Cu"]["sigma"][4] = None

    model = _copy_with_edited_json(tmp_path, "hdnnp", null_sigma)
    # the family's own check (reading the statistics) or the generic one after building
    with pytest.raises(ModelFormatError, match=r"model\.scaling(\.statistics\.Cu\.sigma\[4\] is nan; a saved "
                                               r"model holds finite numbers only|: statistics\.Cu: symmetry "
                                               r"function 5: sigma nan is not a finite number)"):
        load_potential(model)
