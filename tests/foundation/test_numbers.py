"""``privacy_site.numbers.whole_number``: digits 0-9 only are a number."""

import pytest

from privacy_site.numbers import whole_number


@pytest.mark.parametrize(
    ("text", "number"), [("0", 0), ("42", 42), (7, 7), ("007", 7), ("9" * 19, int("9" * 19))]
)
def test_digits_are_read_as_the_number(text, number):
    assert whole_number(text) == number


@pytest.mark.parametrize(
    "text", ["", "²", "١٢", "-1", "+1", " 1", "1.0", "1e3", "abc", "1'", "1" * 20, "1" * 5000]
)
def test_anything_else_is_no_number(text):
    assert whole_number(text) is None
