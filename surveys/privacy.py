"""What the surveys app holds about a person: their survey answers and contest entries.

Surveys and contests are not built yet, so there is nothing to export or erase; the section
is part of every export already so that its shape does not change when they are.
"""

from __future__ import annotations

from privacy_site.auth_user import AuthUser

KEPT_ON_ERASURE: list[dict[str, str]] = []


def export_for_user(user: AuthUser) -> dict:
    return {"survey_entries": [], "contest_entries": []}


def erase_for_user(user: AuthUser) -> None:
    """Nothing held yet."""
