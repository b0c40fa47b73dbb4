"""Numbers read from text a caller sent: a page number, an id in a URL, a reference."""

from __future__ import annotations

# A PostgreSQL bigint (an id) has at most 19 digits.
MAX_DIGITS = 19


def whole_number(text: object) -> int | None:
    """``text`` as a number when it is made of the digits 0-9 only, else None.

    ``str.isdigit`` alone is not enough: it takes "²" and other Unicode digits, which ``int``
    then refuses (or reads as another number), so a check by it turns bad input into a 500.
    Nor is a run of more than ``MAX_DIGITS`` digits: no id is that long, and ``int`` refuses
    a string of over 4,300 digits.
    """
    value = str(text)
    if not (value.isascii() and value.isdigit()) or len(value) > MAX_DIGITS:
        return None
    return int(value)
