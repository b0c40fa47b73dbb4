"""``smtp_conversation.phased_sendmail`` writes the envelope and the message as ``smtplib``
would: addresses quoted as ``smtplib.quoteaddr`` quotes them (a plain one without its
parser), and a line of the message starting with a dot stuffed, so it arrives as written."""

from __future__ import annotations

import smtplib

import pytest

from communications.smtp_conversation import phased_sendmail, quoted_address

pytestmark = pytest.mark.smtp

ADDRESSES = [
    "subscriber12345@customers.example",
    "first.last+tag@mail.shop-example.co.uk",
    "o'brien!#$%&*/=?^_`{|}~-@example.org",
    "a@b",
    "Shop news <news@shop.example>",
    '"quoted local"@example.org',
    "<already@bracketed.example>",
    "<>",
    "no-at-sign",
    "two..dots@example.org",
    "trailing.dot.@example.org",
    "someone@-leading-hyphen.example",
    "Zoë <zoe@example.org>",
    "",
]


@pytest.mark.parametrize("address", ADDRESSES)
def test_an_address_is_quoted_as_smtplib_quotes_it(address):
    assert quoted_address(address) == smtplib.quoteaddr(address)


@pytest.mark.parametrize(
    "body",
    [
        ".starts with a dot\r\nmiddle\r\n..two dots\r\n.\r\nthe end\r\n",
        "no dot at the start of any line.\r\n. one here\r\n",
        "plain text, nothing to stuff\r\n",
    ],
)
def test_lines_starting_with_a_dot_arrive_as_written(smtp, body):
    connection = smtplib.SMTP(smtp.host, smtp.port)
    message = f"Subject: dots\r\nTo: someone@example.org\r\n\r\n{body}".encode()
    try:
        phased_sendmail(connection, "Shop <news@shop.example>", ["someone@example.org"], message)
    finally:
        connection.quit()

    (received,) = smtp.wait_for(1)
    assert received.mail_from == "news@shop.example"
    assert received.rcpt_tos == ("someone@example.org",)
    assert received.message.get_content() == body
