"""Numbers read from text a caller sent: a page number, an id in a URL, a reference."""

from __future__ import annotations


def whole_number(text: object) -> int | None:
    """``text`` as a number when it is made of the digits 0-9 only, else None.

    ``str.isdigit`` alone is not enough: it takes "²" and other Unicode digits, which ``int``
    then refuses (or reads as another number), so a check by it turns bad input into a 500.
    """
    value = str(text)
    return int(value) if value.isascii() and value.isdigit() else None
