"""Small-count suppression of aggregate tables, so that no published figure, alone or with the
others and the totals, tells how many people (fewer than ten) are behind a cell.

A table is a list of cells (non-negative counts) and the *lines* that tie them: each line is
some cells and the cell holding their total, of one of two kinds:

- ``SUM``: the total is the sum of the cells (units bought);
- ``DISTINCT``: the total counts distinct things the cells may share (customers who bought
  any of a supplier's products: one customer may be in several cells), so each cell is at
  most the total and the total at most their sum.

And *relations* between cells of different lines that every reader knows: ``(a, b)`` says
cell ``a`` is at most cell ``b`` (a product's customers are at most its units: each bought
at least one).

Every cell (totals too) under ``THRESHOLD`` is published as ``<10`` (*primary* suppression).
Then, while a suppressed cell could be worked out (its exact value is the only whole number
consistent with everything published: the published cells, the totals, the lines, the
relations, each cell's own lower bound, and what the markers say, ``<10`` under ten and
``withheld`` ten or more), one more cell is withheld (*secondary* suppression): a published
member of its line or of a cell related to it, the totals only when no member is left, chosen
by a draw seeded with ``seed`` (keyed with a secret by the caller), so that which cell was
withheld says nothing about the sizes of the others. Each line is first checked on its own
(cheap); with relations, the whole table is then checked at once: the least and the greatest
whole number each suppressed cell can take, by integer programming (SciPy's ``milp``, HiGHS).
"""

from __future__ import annotations

import enum
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

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


def _check_lines(lines: Sequence[Line], relations: Sequence[tuple[int, int]], size: int) -> None:
    seen: set[int] = set()
    for line in lines:
        cells = [*line.members, line.total]
        if any(cell < 0 or cell >= size for cell in cells):
            raise ValueError("a line names a cell outside the table")
        if seen & set(cells) or len(set(cells)) != len(cells):
            raise ValueError("each cell may belong to one line only")
        seen |= set(cells)
    if any(not (0 <= cell < size) for pair in relations for cell in pair):
        raise ValueError("a relation names a cell outside the table")


def suppress(
    values: Sequence[int],
    *,
    lines: Sequence[Line],
    minimums: Sequence[int],
    relations: Sequence[tuple[int, int]] = (),
    seed: bytes = b"",
) -> list[Mark]:
    """The mark of each cell: ``SMALL`` under the threshold, ``WITHHELD`` where needed so
    that no suppressed cell can be worked out from the table, else ``PUBLISHED``.
    ``minimums[i]`` is the lower bound every reader knows for cell ``i``; ``relations`` the
    pairs ``(a, b)`` with cell ``a`` at most cell ``b``, which the values must satisfy."""
    if len(minimums) != len(values):
        raise ValueError("give a minimum for every cell")
    if any(value < minimum for value, minimum in zip(values, minimums, strict=True)):
        raise ValueError("a cell is below its own minimum")
    _check_lines(lines, relations, len(values))
    if any(values[a] > values[b] for a, b in relations):
        raise ValueError("the values break a relation")
    marks = [Mark.SMALL if value < THRESHOLD else Mark.PUBLISHED for value in values]
    draw = random.Random(seed)  # noqa: S311 - reproducible from a keyed seed; not a secret
    while (exposed := _first_exposed(values, marks, lines, minimums, relations)) is not None:
        _withhold_one_near(exposed, values, marks, lines, relations, draw)
    return marks


def _boxes(cells: Sequence[int], values, marks, minimums) -> dict[int, _Box]:
    return {
        cell: box(value=values[cell], mark=marks[cell], minimum=minimums[cell]) for cell in cells
    }


def _first_exposed(
    values: Sequence[int],
    marks: list[Mark],
    lines: Sequence[Line],
    minimums: Sequence[int],
    relations: Sequence[tuple[int, int]],
) -> int | None:
    """A suppressed cell a reader can work out, or None. The total of a line with no members
    (a report of a period with no sales) is nothing, for everyone: it tells nobody anything,
    and no other cell could hide it."""
    empty = {line.total for line in lines if not line.members}
    for line in lines:
        cells = [*line.members, line.total]
        boxes = _boxes(cells, values, marks, minimums)
        for cell in cells:
            if (
                marks[cell] is not Mark.PUBLISHED
                and cell not in empty
                and determined(line, cell, values, boxes)
            ):
                return cell
    if not relations:
        return None  # each cell is in one line at most: the lines were the whole story
    hidden = [c for c, mark in enumerate(marks) if mark is not Mark.PUBLISHED and c not in empty]
    if not hidden:
        return None
    model = _Model(values, marks, lines, minimums, relations)
    # Two solutions pushing every suppressed cell down, then up, free most cells at once (a
    # cell that takes another value in either is not worked out); the rest one by one.
    undecided = set(hidden)
    for direction in (1.0, -1.0):
        solution = model.solve(dict.fromkeys(undecided, direction))
        undecided -= {cell for cell in undecided if solution[cell] != values[cell]}
    for cell in sorted(undecided):
        if model.solve({cell: 1.0})[cell] == model.solve({cell: -1.0})[cell]:
            return cell
    return None


class _Model:
    """Everything a reader knows of the table, as an integer program over its cells. (NumPy
    and SciPy are imported here, when a table needs them: not at every process's start.)"""

    def __init__(
        self,
        values: Sequence[int],
        marks: list[Mark],
        lines: Sequence[Line],
        minimums: Sequence[int],
        relations: Sequence[tuple[int, int]],
    ) -> None:
        import numpy as np
        from scipy.optimize import Bounds, LinearConstraint

        size = self.size = len(values)
        ceiling = 2 * sum(values) + 10 * THRESHOLD  # "no limit", for a withheld cell
        low, high = np.empty(size), np.empty(size)
        for index, (value, mark, minimum) in enumerate(zip(values, marks, minimums, strict=True)):
            cell_box = box(value=value, mark=mark, minimum=minimum)
            low[index] = cell_box.low
            high[index] = ceiling if cell_box.high is None else cell_box.high
        self.bounds = Bounds(low, high)
        rows: list[Any] = []
        row_low: list[float] = []
        row_high: list[float] = []

        def constrain(coefficients: dict[int, float], least: float, most: float) -> None:
            row: np.ndarray = np.zeros(size)
            for index, coefficient in coefficients.items():
                row[index] += coefficient
            rows.append(row)
            row_low.append(least)
            row_high.append(most)

        for line in lines:
            if line.kind is LineKind.SUM:
                constrain({**dict.fromkeys(line.members, 1.0), line.total: -1.0}, 0, 0)
            else:
                for member in line.members:
                    constrain({member: 1.0, line.total: -1.0}, -np.inf, 0)
                constrain({**dict.fromkeys(line.members, -1.0), line.total: 1.0}, -np.inf, 0)
        for smaller, larger in relations:
            constrain({smaller: 1.0, larger: -1.0}, -np.inf, 0)
        self.constraints = [LinearConstraint(np.array(rows), row_low, row_high)] if rows else []

    def solve(self, objective: dict[int, float]) -> list[int]:
        """A solution minimising the sum of ``objective``'s cells times their weights."""
        import numpy as np
        from scipy.optimize import milp

        weights = np.zeros(self.size)
        for cell, weight in objective.items():
            weights[cell] = weight
        result = milp(
            weights,
            constraints=self.constraints,
            integrality=np.ones(self.size, dtype=np.int64),
            bounds=self.bounds,
        )
        if result.status != 0:
            raise ValueError(f"the table's own figures do not fit its rules ({result.message})")
        return [round(x) for x in result.x]


def _withhold_one_near(
    cell: int,
    values: Sequence[int],
    marks: list[Mark],
    lines: Sequence[Line],
    relations: Sequence[tuple[int, int]],
    draw: random.Random,
) -> None:
    """Withhold one published cell that ties ``cell`` down: a member of its line or of a line
    of a cell it is related to; then their totals; then any member, then any total."""
    totals = {line.total for line in lines}
    line_of = {c: line for line in lines for c in (*line.members, line.total)}
    near = {cell} | {b for a, b in relations if a == cell} | {a for a, b in relations if b == cell}
    around: set[int] = set()
    for c in near:
        around |= set((*line_of[c].members, line_of[c].total)) if c in line_of else {c}
    published = [c for c, mark in enumerate(marks) if mark is Mark.PUBLISHED]
    for pool in (
        [c for c in published if c in around and c not in totals],
        [c for c in published if c in around],
        [c for c in published if c not in totals],
        published,
    ):
        if pool:
            marks[draw.choice(sorted(pool))] = Mark.WITHHELD
            return
    # Everything suppressed and still worked out: only a cell whose own bounds pin it (its
    # minimum is 9), which no table of ours has.
    raise ValueError("a suppressed cell is pinned by its own bounds")


def shown(value: int, mark: Mark) -> str:
    """The cell as published."""
    if mark is Mark.SMALL:
        return SMALL_MARK
    if mark is Mark.WITHHELD:
        return WITHHELD_MARK
    return str(value)
