"""``smtp_headers.HeaderFolder`` folds each header exactly as the generator folds what
Django's ``EmailMessage.message()`` stores, whatever the value."""

from __future__ import annotations

import email.policy

import pytest
from django.core.mail.message import forbid_multi_line_headers

from communications.smtp_headers import HeaderFolder

POLICY = email.policy.compat32.clone(linesep="\r\n")
TOKEN = "eyJzIjoxMjM0NSwicCI6Im5ld3NsZXR0ZXIiLCJlIjoiMGEx:1vPqRs:AbCdEfGhIjKlMnOpQrStUvWxYz0"

VALUES = [
    ("To", "subscriber12345@customers.example"),
    ("Message-ID", "<delivery-987654@shop.example>"),
    ("Date", "Sat, 28 Nov 2026 13:45:01 -0000"),
    (
        "List-Unsubscribe",
        f"<https://shop.example/unsubscribe/{TOKEN}/>, "
        "<mailto:unsubscribe@shop.example?subject=unsubscribe%20123456>",
    ),
    ("List-Unsubscribe", f"<https://shop.example/u/{TOKEN * 3}/>, <mailto:u@shop.example>"),
    ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
    ("X-Words", " ".join(["word"] * 40)),
    ("X-Semicolons", ";".join(["part=value"] * 20)),
    ("X-Mixed", "a,b; c\td  e,,f;;g " * 12),
    ("X-Edges", "  leading and trailing spaces  "),
    ("X-Long-Word", "x" * 200 + " tail"),
    ("X-Empty", ""),
    ("X-Not-Ascii", "Chloé Łukasz " * 10),
    ("Subject", "News for Ann, and more; " * 5),
]


@pytest.mark.parametrize(("name", "value"), VALUES)
def test_a_header_is_folded_as_the_generator_folds_it(name, value):
    expected = POLICY.fold_binary(*forbid_multi_line_headers(name, value, "utf-8"))
    folder = HeaderFolder(POLICY.fold_binary)

    # the first value of a shape, then another of the same shape (folded from the cache)
    assert folder(name, value) == expected
    twin = value.replace("e", "q").replace("1", "7")
    assert folder(name, twin) == POLICY.fold_binary(*forbid_multi_line_headers(name, twin, "utf-8"))
    assert folder.cached(name, value) == expected


@pytest.mark.parametrize(
    ("name", "value"),
    [
        # A first word too long for the header's first line: the folder breaks before it and
        # starts the continuation line with a space the value doesn't have.
        ("List-Unsubscribe", f"<https://shop.example/u/{TOKEN * 3}/>, <mailto:u@shop.example>"),
        ("X-Words", " ".join(["word"] * 40)),
        ("To", "subscriber12345@customers.example"),
    ],
)
def test_values_of_one_shape_are_folded_by_the_generator_once(name, value):
    calls = []

    def fold(*args):
        calls.append(args)
        return POLICY.fold_binary(*args)

    folder = HeaderFolder(fold)
    twin = value.replace("e", "q").replace("1", "7")

    # when: two recipients' values of the same shape
    first, second = folder(name, value), folder(name, twin)

    # then: right, and the generator folded only the shape
    assert first == POLICY.fold_binary(*forbid_multi_line_headers(name, value, "utf-8"))
    assert second == POLICY.fold_binary(*forbid_multi_line_headers(name, twin, "utf-8"))
    assert len(calls) == 1
