"""Hiding small demographic groups from survey results, including groups that subtraction
would reveal.

A breakdown splits every respondent into groups (each postcode district, or each age band,
and "not given"), and the total is shown. A group of fewer than ``MIN_GROUP`` people is
hidden. Hiding one group alone is not enough: its size would be the total less the groups
shown. So the hidden groups are always shown only as one combined figure, and that figure is
either zero or at least ``MIN_GROUP``: while it is between 1 and ``MIN_GROUP - 1``, the
smallest group still shown is hidden too. What stays hidden can then not be worked out from
what is shown, by any sum or difference of the figures on the page. Hidden groups are not
named: even that a district had a respondent is not shown.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

MIN_GROUP = 10


@dataclass(frozen=True)
class Breakdown:
    shown: dict[str, int]  # group -> size, each at least MIN_GROUP
    hidden_total: int  # the people in hidden groups together: 0, or at least MIN_GROUP
    total: int

    @property
    def hidden_groups(self) -> bool:
        return self.hidden_total > 0


def hide_small_groups(sizes: Mapping[str, int], *, minimum: int = MIN_GROUP) -> Breakdown:
    """The groups that may be shown, and the hidden ones as one figure (see the module)."""
    sizes = {group: count for group, count in sizes.items() if count > 0}
    total = sum(sizes.values())
    hidden = {group for group, count in sizes.items() if count < minimum}
    # Smallest first, then by name, so the same figures always hide the same groups.
    candidates = sorted((count, group) for group, count in sizes.items() if group not in hidden)
    hidden_total = sum(sizes[group] for group in hidden)
    while 0 < hidden_total < minimum and candidates:
        count, group = candidates.pop(0)
        hidden.add(group)
        hidden_total += count
    shown = {group: count for group, count in sizes.items() if group not in hidden}
    return Breakdown(shown=shown, hidden_total=hidden_total, total=total)
