"""The contest entry form's statement about the sponsor, in the policy's own words.

The sentence is taken from the "Surveys & Contests" clause of the policy in force, as the
policy says it; an entry records the ``SponsorStatement`` (numbered) it was made under, so
what each entrant was told stays provable when the policy changes.
"""

from __future__ import annotations

import hashlib
import re

from consent.models import PolicyVersion
from sharing.policy_clauses import policy_clause

CLAUSE = "Surveys & Contests"
# The clause's sentences about sharing with sponsors, and about what answers are used for.
_SPONSOR_SENTENCE = re.compile(r"[^.]*\bsponsors?\b[^.]*\.", re.IGNORECASE)
_USE_SENTENCE = re.compile(r"[^.]*\bSurvey information\b[^.]*\.", re.IGNORECASE)


def _sentence(pattern: re.Pattern[str]) -> str:
    clause = " ".join(policy_clause(CLAUSE).split())
    match = pattern.search(clause)
    return match[0].strip() if match else ""


def sponsor_sentence() -> str:
    """The policy's sentence saying that contact details may be shared with sponsors; empty
    when the policy in force has no such sentence (then no contest can be entered)."""
    return _sentence(_SPONSOR_SENTENCE)


def use_sentence() -> str:
    """The policy's sentence saying what survey answers are used for."""
    return _sentence(_USE_SENTENCE)


def current_policy_version() -> PolicyVersion | None:
    return PolicyVersion.objects.filter(is_current=True).first()


def digest(text: str) -> str:
    """A short fingerprint of a statement, carried by the form, so an entry is refused if
    the statement changed between the page being shown and the entry being sent."""
    return hashlib.sha256(text.encode()).hexdigest()[:16]
