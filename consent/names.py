"""What a person's name may be when a stranger types it: one short line of name characters.

A name typed into a public form (the newsletter sign-up) is later merged into emails
("Hello Nia"). Free text there could carry a message of someone else's: line breaks, a link,
markup ("Nia\n\nYOUR ACCOUNT IS LOCKED. Verify at http://..."). So a name is letters (any
script, with their accents), spaces, hyphens, apostrophes and full stops, at most
``NAME_MAX_LENGTH`` characters, and a full stop is never followed straight by a letter
("J. R." is a name, "evil.example" a host name).
"""

from __future__ import annotations

import unicodedata

from django.core.exceptions import ValidationError

NAME_MAX_LENGTH = 50
NAME_PUNCTUATION = frozenset(" -'\u2019.")
INVALID_NAME = "Use letters, spaces, hyphens, apostrophes and full stops only."


def _is_letter(char: str) -> bool:
    # L*: letters of any script; M*: the combining accents some names are written with.
    return unicodedata.category(char)[0] in "LM"


def is_valid_person_name(value: str) -> bool:
    if len(value) > NAME_MAX_LENGTH or not any(_is_letter(char) for char in value):
        return False
    for index, char in enumerate(value):
        if not (_is_letter(char) or char in NAME_PUNCTUATION):
            return False
        if char == "." and index + 1 < len(value) and _is_letter(value[index + 1]):
            return False
    return True


def validate_person_name(value: str) -> None:
    """A form/model validator: ``ValidationError`` unless ``value`` is a name as above."""
    if value and not is_valid_person_name(value):
        raise ValidationError(INVALID_NAME, code="invalid_name")
