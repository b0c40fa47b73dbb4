"""Small-count suppression of aggregate tables, so that no published figure, alone or with the
others and the totals, tells how many people (fewer than ten) are behind a cell.

A table is a list of cells (non-negative counts) and the *lines* that tie them: each line is
some cells and the cell holding their total, of one of two kinds:

- ``SUM``: the total is the sum of the cells (units bought);
- ``DISTINCT``: the total counts distinct things the cells may share (customers who bought
  any of a supplier's products: one customer may be in several cells), so each cell is at
  most the total and the total at most their sum.

Every cell (totals too) under ``THRESHOLD`` is published as ``<10`` (*primary* suppression).
Then, line by line, while a suppressed cell could be worked out from what the line publishes
(its exact value is the only one consistent with the published cells, the total, the bounds
every reader knows and what the markers themselves say), one more cell of the line is withheld
(*secondary* suppression), the smallest published member first, the total last. A withheld
cell is ten or more (the reader knows that, so the check assumes it too).

Each cell belongs to at most one line, as a member or as its total (a table of one measure per
column with a totals row), so lines are checked on their own. Knowing a cell's own lower bound
(a product's row exists only if someone bought it) is part of what a reader knows; each cell
has one.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

THRESHOLD = 10
SMALL_MARK = f"<{THRESHOLD}"
WITHHELD_MARK = "withheld"
# An unbounded upper limit (a withheld cell: ten or more, nothing says how many).
UNBOUNDED = None


class LineKind(enum.Enum):
    SUM = "sum"
    DISTINCT = "distinct"


class Mark(enum.Enum):
    """What the published table shows for a cell."""

    PUBLISHED = "published"  # its value
    SMALL = "small"  # "<10": under the threshold
    WITHHELD = "withheld"  # ten or more, withheld so that a "<10" can't be worked out


@dataclass(frozen=True)
class Line:
    """Cells ``members`` whose total is the cell ``total`` (indices into the table)."""

    members: tuple[int, ...]
    total: int
    kind: LineKind


@dataclass(frozen=True)
class _Box:
    """What a reader knows of a cell: at least ``low``, at most ``high`` (None: no limit)."""

    low: int
    high: int | None

    def holds(self, value: int) -> bool:
        return value >= self.low and (self.high is None or value <= self.high)


def box(*, value: int, mark: Mark, minimum: int) -> _Box:
    """What the published table tells of a cell, with the lower bound every reader knows."""
    if mark is Mark.PUBLISHED:
        return _Box(value, value)
    if mark is Mark.SMALL:
        return _Box(minimum, THRESHOLD - 1)
    return _Box(max(minimum, THRESHOLD), UNBOUNDED)


def _add(left: int | None, right: int | None) -> int | None:
    return None if left is None or right is None else left + right


def _sum_feasible(member_boxes: list[_Box], total: _Box) -> bool:
    """Can members in their boxes add up to a total in its box? (Sums of integer ranges are
    integer ranges, so comparing the ends is exact.)"""
    low = sum(b.low for b in member_boxes)
    high: int | None = 0
    for b in member_boxes:
        high = _add(high, b.high)
    if high is not None and high < total.low:
        return False
    return total.high is None or low <= total.high


def _distinct_feasible(member_boxes: list[_Box], total: _Box) -> bool:
    """Is there a total ``t`` in its box and members ``x`` in theirs with every ``x <= t`` and
    ``t <= sum(x)``? For a given ``t`` the best members are ``min(high, t)``; the slack
    ``sum(min(high, t)) - t`` is concave in ``t``, so its ends and breakpoints decide."""
    start = max([total.low, *(b.low for b in member_boxes)])
    if total.high is not None and start > total.high:
        return False
    finite = [b.high for b in member_boxes if b.high is not None]
    unbounded = len(member_boxes) - len(finite)
    if total.high is None and unbounded >= 2:
        return True  # the slack grows without limit
    candidates = {start, *(h for h in finite if h >= start)}
    if total.high is not None:
        candidates = {t for t in candidates if t <= total.high} | {total.high}
    for t in candidates:
        reach = sum(min(h, t) for h in finite) + unbounded * t
        if reach >= t:
            return True
    return False


def _feasible(line: Line, boxes: dict[int, _Box]) -> bool:
    members = [boxes[cell] for cell in line.members]
    if line.kind is LineKind.SUM:
        return _sum_feasible(members, boxes[line.total])
    return _distinct_feasible(members, boxes[line.total])


def determined(line: Line, cell: int, values: Sequence[int], boxes: dict[int, _Box]) -> bool:
    """True if ``cell``'s value is the only one consistent with what ``line`` publishes: no
    value next to it fits. (Looking only next to it may withhold more than needed, never
    less: a value next to it that fits is a second value a reader can't rule out.)"""
    value = values[cell]
    own = boxes[cell]
    for other in (value - 1, value + 1):
        if other < 0 or not own.holds(other):
            continue
        if _feasible(line, {**boxes, cell: _Box(other, other)}):
            return False
    return True


def _check_lines(lines: Sequence[Line], size: int) -> None:
    seen: set[int] = set()
    for line in lines:
        cells = [*line.members, line.total]
        if any(cell < 0 or cell >= size for cell in cells):
            raise ValueError("a line names a cell outside the table")
        if seen & set(cells) or len(set(cells)) != len(cells):
            raise ValueError("each cell may belong to one line only")
        seen |= set(cells)


def suppress(
    values: Sequence[int], *, lines: Sequence[Line], minimums: Sequence[int]
) -> list[Mark]:
    """The mark of each cell: ``SMALL`` under the threshold, ``WITHHELD`` where needed so
    that no suppressed cell can be worked out from its line, else ``PUBLISHED``.
    ``minimums[i]`` is the lower bound every reader knows for cell ``i``."""
    if len(minimums) != len(values):
        raise ValueError("give a minimum for every cell")
    if any(value < minimum for value, minimum in zip(values, minimums, strict=True)):
        raise ValueError("a cell is below its own minimum")
    _check_lines(lines, len(values))
    marks = [Mark.SMALL if value < THRESHOLD else Mark.PUBLISHED for value in values]
    for line in lines:
        _protect(line, values, marks, minimums)
    return marks


def _protect(line: Line, values: Sequence[int], marks: list[Mark], minimums: Sequence[int]) -> None:
    cells = [*line.members, line.total]
    while True:
        boxes = {
            cell: box(value=values[cell], mark=marks[cell], minimum=minimums[cell])
            for cell in cells
        }
        exposed = [
            cell
            for cell in cells
            if marks[cell] is not Mark.PUBLISHED and determined(line, cell, values, boxes)
        ]
        if not exposed:
            return
        # The smallest published member loses least; the total, the figure readers want
        # most, only when no member is left.
        published = sorted(
            (values[cell], cell) for cell in line.members if marks[cell] is Mark.PUBLISHED
        )
        if published:
            marks[published[0][1]] = Mark.WITHHELD
        elif marks[line.total] is Mark.PUBLISHED:
            marks[line.total] = Mark.WITHHELD
        else:
            # Everything suppressed and still determined: only a cell whose own bounds pin
            # it (its minimum is 9), which no table of ours has.
            raise ValueError("a suppressed cell is pinned by its own bounds")


def shown(value: int, mark: Mark) -> str:
    """The cell as published."""
    if mark is Mark.SMALL:
        return SMALL_MARK
    if mark is Mark.WITHHELD:
        return WITHHELD_MARK
    return str(value)
