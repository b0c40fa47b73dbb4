"""Reads of the schedule and the holds, for the export, the record of processing and admin."""

from __future__ import annotations

from dataclasses import dataclass

from retention.rules import ACTION_WORDS
from retention.schedule import RULES, rule


@dataclass(frozen=True)
class ScheduleLine:
    key: str
    what: str
    kept_for: str
    then: str
    why: str
    setting: str
    fields: tuple[str, ...]


def schedule_lines() -> list[ScheduleLine]:
    """The schedule as people and staff read it, one line per rule, with today's periods."""
    return [
        ScheduleLine(
            key=entry.key,
            what=entry.what,
            kept_for=entry.kept_for(),
            then=ACTION_WORDS[entry.action],
            why=entry.why,
            setting=entry.setting,
            fields=entry.fields,
        )
        for entry in RULES
    ]


def kept_until(key: str) -> str:
    """One rule's statement for a person: "Kept 30 days from ..., then deleted"."""
    entry = rule(key)
    return f"Kept {entry.kept_for()}, then {ACTION_WORDS[entry.action]}. {entry.why}"
