"""Small-count and secondary suppression, proved over random tables: a reader who has only the
published table (numbers, "<10", "withheld"), the totals and the rules can never narrow a
suppressed cell down to one value. The reader here is independent of the code under test: it
enumerates every assignment of the suppressed cells of a line that is consistent with what
is published, and collects the values each cell can take."""

from __future__ import annotations

from itertools import product

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sharing.suppression import (
    SMALL_MARK,
    THRESHOLD,
    WITHHELD_MARK,
    Line,
    LineKind,
    Mark,
    shown,
    suppress,
)

# A withheld cell is "ten or more"; the reader looks this far above the largest figure.
LOOK_ABOVE = 12


def _domain(text: str, minimum: int, cap: int) -> range:
    """What a published cell tells the reader."""
    if text == SMALL_MARK:
        return range(minimum, THRESHOLD)
    if text == WITHHELD_MARK:
        return range(max(minimum, THRESHOLD), cap + 1)
    return range(int(text), int(text) + 1)


def _consistent(kind: LineKind, members: tuple[int, ...], total: int) -> bool:
    if kind is LineKind.SUM:
        return sum(members) == total
    return all(member <= total for member in members) and total <= sum(members)


def values_a_reader_cannot_rule_out(
    published: list[str], line: Line, minimums: list[int], cap: int
) -> dict[int, set[int]]:
    """Every value each suppressed cell of ``line`` can take, by brute force."""
    cells = [*line.members, line.total]
    domains = [_domain(published[cell], minimums[cell], cap) for cell in cells]
    possible: dict[int, set[int]] = {cell: set() for cell in cells}
    for assignment in product(*domains):
        *members, total = assignment
        if _consistent(line.kind, tuple(members), total):
            for cell, value in zip(cells, assignment, strict=True):
                possible[cell].add(value)
    hidden = (SMALL_MARK, WITHHELD_MARK)
    return {cell: possible[cell] for cell in cells if published[cell] in hidden}


@st.composite
def tables(draw):
    """Columns of 1-4 rows, each column a line with a totals cell; sums or distinct counts,
    cells 0-30, each with a known minimum of 0 or 1 (a product row exists only if bought)."""
    rows = draw(st.integers(min_value=1, max_value=4))
    columns = draw(st.integers(min_value=1, max_value=3))
    values: list[int] = []
    minimums: list[int] = []
    lines: list[Line] = []
    for _ in range(columns):
        kind = draw(st.sampled_from(LineKind))
        minimum = draw(st.integers(min_value=0, max_value=1))
        members = draw(
            st.lists(st.integers(min_value=minimum, max_value=30), min_size=rows, max_size=rows)
        )
        if kind is LineKind.SUM:
            total = sum(members)
        else:
            total = draw(st.integers(min_value=max(members), max_value=max(sum(members), 0)))
        start = len(values)
        values += [*members, total]
        minimums += [minimum] * rows + [minimum]
        lines.append(Line(tuple(range(start, start + rows)), start + rows, kind))
    return values, lines, minimums


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tables())
def test_no_suppressed_cell_can_be_worked_out_from_the_published_cells_and_totals(table):
    values, lines, minimums = table

    marks = suppress(values, lines=lines, minimums=minimums)

    published = [shown(value, mark) for value, mark in zip(values, marks, strict=True)]
    cap = max(values) + LOOK_ABOVE
    for line in lines:
        possible = values_a_reader_cannot_rule_out(published, line, minimums, cap)
        for cell, options in possible.items():
            assert values[cell] in options
            assert len(options) >= 2, (published, line, cell, options)


@settings(max_examples=300, deadline=None)
@given(tables())
def test_every_count_under_ten_is_shown_as_under_ten_and_nothing_else_is(table):
    values, lines, minimums = table

    marks = suppress(values, lines=lines, minimums=minimums)

    for value, mark in zip(values, marks, strict=True):
        assert (mark is Mark.SMALL) == (value < THRESHOLD)
        if mark is Mark.WITHHELD:
            assert value >= THRESHOLD


@settings(max_examples=300, deadline=None)
@given(tables())
def test_a_sum_line_with_a_suppressed_cell_has_at_least_two(table):
    values, lines, minimums = table

    marks = suppress(values, lines=lines, minimums=minimums)

    for line in lines:
        if line.kind is not LineKind.SUM:
            continue
        hidden = [c for c in (*line.members, line.total) if marks[c] is not Mark.PUBLISHED]
        assert len(hidden) != 1


def test_a_single_small_cell_beside_a_published_total_takes_a_second_cell_with_it():
    # units: 3 + 25 + 40 = 68; the 3 alone could be worked out as 68 - 25 - 40
    line = Line((0, 1, 2), 3, LineKind.SUM)

    marks = suppress([3, 25, 40, 68], lines=[line], minimums=[1, 1, 1, 1])

    published = [shown(v, m) for v, m in zip([3, 25, 40, 68], marks, strict=True)]
    assert published in (["<10", "withheld", "40", "68"], ["<10", "25", "withheld", "68"])


def test_which_member_is_withheld_is_drawn_from_the_seed_not_from_the_sizes():
    line = Line((0, 1, 2), 3, LineKind.SUM)
    table = [3, 25, 40, 68]

    chosen = {
        tuple(suppress(table, lines=[line], minimums=[1] * 4, seed=bytes([n]))) for n in range(40)
    }

    # both the smaller and the larger published member are withheld under some seed, so
    # the choice tells a reader nothing of which is smaller; the same seed, the same table
    assert {marks.index(Mark.WITHHELD) for marks in chosen} == {1, 2}
    assert suppress(table, lines=[line], minimums=[1] * 4, seed=b"k") == suppress(
        table, lines=[line], minimums=[1] * 4, seed=b"k"
    )


def test_a_small_total_hides_the_line_it_totals():
    line = Line((0, 1), 2, LineKind.SUM)

    marks = suppress([4, 3, 7], lines=[line], minimums=[1, 1, 1])

    assert marks == [Mark.SMALL, Mark.SMALL, Mark.SMALL]


def test_a_withheld_cell_is_known_to_be_ten_or_more_so_that_cannot_give_a_small_one_away():
    # 0 + 10 = 10: with the 10 withheld (ten or more), the "<10" could only be 0, so the
    # total goes too
    line = Line((0, 1, 2), 3, LineKind.SUM)

    marks = suppress([0, 10, 50, 60], lines=[line], minimums=[0, 0, 0, 0])

    assert marks[0] is Mark.SMALL
    published = [shown(v, m) for v, m in zip([0, 10, 50, 60], marks, strict=True)]
    possible = values_a_reader_cannot_rule_out(published, line, [0, 0, 0, 0], cap=80)
    assert all(len(options) >= 2 for options in possible.values())


def test_lines_must_not_share_cells():
    with pytest.raises(ValueError, match="one line only"):
        suppress(
            [1, 2, 3],
            lines=[Line((0,), 2, LineKind.SUM), Line((1,), 2, LineKind.SUM)],
            minimums=[0, 0, 0],
        )


@st.composite
def supplier_tables(draw):
    """A supplier's products: customers 1-25, units at least as many, orders from its site
    0 to customers; totals as the report counts them (distinct customers and orders)."""
    from sharing.report_figures import Figures

    products = []
    for n in range(draw(st.integers(min_value=1, max_value=3))):
        customers = draw(st.integers(min_value=1, max_value=25))
        units = draw(st.integers(min_value=customers, max_value=customers + 10))
        referred = draw(st.integers(min_value=0, max_value=customers))
        products.append(Figures(f"product {n}", customers, units, referred))
    customers = [p.customers for p in products]
    referred = [p.orders_from_your_site for p in products]
    total = Figures(
        "All products",
        draw(st.integers(min_value=max(customers), max_value=sum(customers))),
        sum(p.units for p in products),
        draw(st.integers(min_value=max(referred), max_value=sum(referred))),
    )
    return products, total


# (Fewer and smaller tables than the pure tests above: the whole-table protection withholds
# more cells, and this reader's work grows with the power of their number.)
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(supplier_tables())
def test_a_published_report_table_gives_no_small_count_away(table):
    from sharing.report_figures import COLUMNS, KINDS, publish

    products, total = table

    published = publish(products, total)

    height = len(products) + 1
    for c, column in enumerate(COLUMNS):
        kind, least = KINDS[column]
        cells = [row[c + 1] for row in published.rows]
        values = [getattr(row, column) for row in [*products, total]]
        line = Line(tuple(range(height - 1)), height - 1, kind)
        for shown_cell, value in zip(cells, values, strict=True):
            assert shown_cell in (SMALL_MARK, WITHHELD_MARK) or shown_cell == str(value)
            assert (shown_cell == SMALL_MARK) == (value < THRESHOLD)
        possible = values_a_reader_cannot_rule_out(
            cells, line, [least] * height, cap=max(values) + LOOK_ABOVE
        )
        for cell, options in possible.items():
            assert values[cell] in options and len(options) >= 2, (column, cells, options)


# --- Whole tables: a product's columns tied together ----------------------------------------
#
# A report's columns are not independent: in every row customers and orders from the site are
# at most the units (each bought at least one). The reader below knows that and every line at
# once; it enumerates each column's assignments that fit its line, then keeps those that fit
# some assignment of the other columns row by row.


def _column_assignments(published, cells, minimums, kind, cap) -> np.ndarray:
    domains = [_domain(published[cell], minimums[cell], cap) for cell in cells]
    fitting = [
        assignment
        for assignment in product(*domains)
        if _consistent(kind, tuple(assignment[:-1]), assignment[-1])
    ]
    return np.array(fitting, dtype=np.int64).reshape(-1, len(cells))


def values_a_reader_of_the_whole_table_cannot_rule_out(published, height, minimums, cap):
    """(cell -> every value it can take) for the suppressed cells of a report-shaped table:
    columns customers (distinct), units (sum), orders (distinct), ``height`` rows each (the
    last the total), cells numbered column by column."""
    kinds = [LineKind.DISTINCT, LineKind.SUM, LineKind.DISTINCT]
    columns = [list(range(c * height, (c + 1) * height)) for c in range(3)]
    customers, units, orders = (
        _column_assignments(published, cells, minimums, kind, cap)
        for cells, kind in zip(columns, kinds, strict=True)
    )
    # at most the units, row by row
    fits_customers = (customers[:, None, :] <= units[None, :, :]).all(axis=2)
    fits_orders = (orders[:, None, :] <= units[None, :, :]).all(axis=2)
    units_ok = fits_customers.any(axis=0) & fits_orders.any(axis=0)
    customers_ok = (fits_customers & units_ok[None, :]).any(axis=1)
    orders_ok = (fits_orders & units_ok[None, :]).any(axis=1)
    possible = {}
    for cells, assignments, ok in (
        (columns[0], customers, customers_ok),
        (columns[1], units, units_ok),
        (columns[2], orders, orders_ok),
    ):
        for index, cell in enumerate(cells):
            if published[cell] in (SMALL_MARK, WITHHELD_MARK):
                possible[cell] = set(assignments[ok, index].tolist())
    return possible


def report_table(rows: list[tuple[int, int, int]], totals: tuple[int, int]):
    """(values, lines, minimums, relations) of a report: ``rows`` (customers, units, orders)
    per product, ``totals`` the distinct customers and orders of all products."""
    height = len(rows) + 1
    customers = [r[0] for r in rows] + [totals[0]]
    units = [r[1] for r in rows] + [sum(r[1] for r in rows)]
    orders = [r[2] for r in rows] + [totals[1]]
    values = customers + units + orders
    minimums = [1] * height + [1] * height + [0] * height
    kinds = [LineKind.DISTINCT, LineKind.SUM, LineKind.DISTINCT]
    lines = [
        Line(tuple(range(c * height, c * height + height - 1)), c * height + height - 1, kind)
        for c, kind in enumerate(kinds)
    ]
    relations = [(first * height + r, height + r) for first in (0, 2) for r in range(height)]
    return values, lines, minimums, relations


@st.composite
def report_tables(draw):
    products = draw(st.integers(min_value=1, max_value=2))
    rows = []
    for _ in range(products):
        units = draw(st.integers(min_value=1, max_value=14))
        rows.append(
            (
                draw(st.integers(min_value=1, max_value=units)),
                units,
                draw(st.integers(min_value=0, max_value=units)),
            )
        )
    customers_total = draw(
        st.integers(min_value=max(r[0] for r in rows), max_value=sum(r[0] for r in rows))
    )
    orders_total = draw(
        st.integers(min_value=max(r[2] for r in rows), max_value=sum(r[2] for r in rows))
    )
    return report_table(rows, (customers_total, orders_total)), draw(st.binary(max_size=4))


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(report_tables())
def test_no_suppressed_cell_of_a_report_can_be_worked_out_from_the_whole_table(drawn):
    (values, lines, minimums, relations), seed = drawn

    marks = suppress(values, lines=lines, minimums=minimums, relations=relations, seed=seed)

    published = [shown(value, mark) for value, mark in zip(values, marks, strict=True)]
    cap = max(values) + LOOK_ABOVE
    possible = values_a_reader_of_the_whole_table_cannot_rule_out(
        published, len(values) // 3, minimums, cap
    )
    for cell, options in possible.items():
        assert values[cell] in options
        assert len(options) >= 2, (published, cell, options)


def test_a_small_product_is_not_given_away_by_its_customers_and_units_together():
    # Lens cap: 5 customers, 5 units; Strap: 10 and 10; 15 customers and 15 units in all,
    # no orders from the site. Column by column every "<10" has several possible values, but
    # with customers at most units a reader could pin the lens cap at exactly 5 if only the
    # strap's units were withheld (units <= 15 - 10, customers >= 15 - 10).
    values, lines, minimums, relations = report_table([(5, 5, 0), (10, 10, 0)], (15, 0))

    marks = suppress(values, lines=lines, minimums=minimums, relations=relations)

    published = [shown(value, mark) for value, mark in zip(values, marks, strict=True)]
    possible = values_a_reader_of_the_whole_table_cannot_rule_out(
        published, 3, minimums, max(values) + LOOK_ABOVE
    )
    assert possible[0] != {5} and possible[3] != {5}
    assert all(len(options) >= 2 for options in possible.values()), (published, possible)
