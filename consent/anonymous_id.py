"""The browser's anonymous id: a random UUID kept in a cookie, which ties together the cookie
choices made in one browser, logged in or not."""

from __future__ import annotations

import uuid


def parse_anonymous_id(value: object) -> uuid.UUID | None:
    """The browser's anonymous id as a UUID, or None when it is missing or not a UUID."""
    if isinstance(value, uuid.UUID):
        return value
    if not isinstance(value, str) or not value:
        return None
    try:
        return uuid.UUID(value)
    except ValueError:
        return None
