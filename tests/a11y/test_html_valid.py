"""Every page a customer can reach, in each of its states, is valid HTML: the Nu Html Checker
(the W3C validator) finds no error in any of them."""

from __future__ import annotations

import pytest

from tests.a11y.pages import customer_pages
from tests.harness.services import require
from tests.harness.vnu import validate, vnu_problem

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clean_cache")]


def test_every_customer_page_in_every_state_is_valid_html():
    require(vnu_problem())
    # given every page and state a customer can reach
    documents = customer_pages()
    assert len(documents) > 60
    # when the checker reads them all
    errors = validate({f"{doc.name} ({doc.url})": doc.html for doc in documents})
    # then
    assert not errors, summary(errors)


def summary(errors) -> str:
    """Each distinct error once, with the pages it is on."""
    pages: dict[tuple[str, str], list[str]] = {}
    for error in errors:
        pages.setdefault((error.message, error.extract.strip()), []).append(
            f"{error.document}:{error.line}"
        )
    lines = [f"{len(errors)} HTML errors, {len(pages)} distinct:"]
    for (message, extract), where in pages.items():
        lines.append(f"- {message}\n    {extract[:160]}\n    on {', '.join(where[:4])}")
        if len(where) > 4:
            lines.append(f"    and {len(where) - 4} more pages")
    return "\n".join(lines)
