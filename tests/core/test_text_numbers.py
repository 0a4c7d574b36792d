"""Strict number parsing and message length: the helpers every reader uses."""

import pytest

from potforge.core.errors import MESSAGE_LIMIT, DataFormatError, PotforgeError
from potforge.core.text import is_number, parse_float, parse_int, shorten


@pytest.mark.parametrize("token", ["1", "-1.5e3", "1.", ".5", "+2E-7", "nan", "-inf", "Infinity"])
def test_plain_ascii_numbers_are_numbers(token):
    assert is_number(token)
    float(token)


@pytest.mark.parametrize("token", ["١٢", "1_0", " 1", "1e", "0x1", "1d3", "", "٣.٥", "１"])
def test_what_float_would_take_or_c_would_not_is_refused(token):
    assert not is_number(token)
    with pytest.raises(DataFormatError, match="expected a number"):
        parse_float(token, "energy", path="f.xyz", line=3)


def test_parse_float_names_file_line_and_refuses_non_finite():
    with pytest.raises(DataFormatError, match=r"^f\.xyz:3: energy: expected a finite number, found inf$"):
        parse_float("inf", "energy", path="f.xyz", line=3)
    assert parse_float("nan", "x", finite=False) != parse_float("nan", "x", finite=False)
    assert parse_float("-2.5e-3", "x") == -2.5e-3


def test_parse_int():
    assert parse_int("-12", "count") == -12
    for bad in ("1.0", "١", "1_2", "3e2"):
        with pytest.raises(DataFormatError, match="expected an integer"):
            parse_int(bad, "count")


def test_messages_stay_one_short_line():
    huge = "9" * 800_000
    assert len(shorten(huge)) < 100
    err = PotforgeError(f"bad value {huge}\nsecond line", path="data.xyz", line=2)
    text = str(err)
    assert "\n" not in text and len(text) < MESSAGE_LIMIT + 100 and text.startswith("data.xyz:2: ")
