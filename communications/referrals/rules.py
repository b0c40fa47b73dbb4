"""What a wishlist may hold: the rules the form shows and the service enforces again.

The message is the sender's own words, plain text and short, and carries no link of the
sender's own (a web address, an email address, a bare domain): the email is ours, with our
name on it, and must not become a way to send anyone a link. Product links go only to the
shop (``SITE_URL``'s host and ``REFERRAL_LINK_HOSTS``).
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import urlsplit

from django.conf import settings

from .sealing import WishlistItem

MAX_ITEMS = 10
NAME_MAX_LENGTH = 100
LINK_MAX_LENGTH = 500

# A scheme (https://, ftp://, mailto:), "www.", or anything shaped like a domain name
# (example.com, bit.ly/x, someone@example.org).
_LINK = re.compile(
    r"[a-z][a-z0-9+.-]*://|\bmailto:|\bwww\.|[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,24}\b",
    re.IGNORECASE,
)


def has_link(text: str) -> bool:
    return bool(_LINK.search(text))


def _has_control_characters(text: str, *, allow_newlines: bool) -> bool:
    allowed = {"\n", "\r", "\t"} if allow_newlines else set()
    return any(unicodedata.category(char) in {"Cc", "Cf"} and char not in allowed for char in text)


def message_problem(message: str) -> str | None:
    """Why the personal message can't go, or None."""
    limit = settings.REFERRAL_MESSAGE_MAX_LENGTH
    if len(message) > limit:
        return f"Keep the message to {limit} characters (it has {len(message)})."
    if has_link(message):
        return (
            "The message can't contain links, web addresses or email addresses "
            "(such as example.com): add products to the wishlist instead."
        )
    if _has_control_characters(message, allow_newlines=True):
        return "The message can only contain plain text."
    return None


def name_problem(name: str, *, what: str) -> str | None:
    """Why a name (the friend's, a product's) can't go, or None."""
    if len(name) > NAME_MAX_LENGTH:
        return f"Keep {what} to {NAME_MAX_LENGTH} characters."
    if has_link(name):
        return f"{what.capitalize()} can't contain a link or a web address."
    if _has_control_characters(name, allow_newlines=False) or "\n" in name or "\r" in name:
        return f"{what.capitalize()} can only contain plain text on one line."
    return None


def allowed_hosts() -> set[str]:
    site_host = urlsplit(settings.SITE_URL).hostname or ""
    return {host.lower() for host in [site_host, *settings.REFERRAL_LINK_HOSTS] if host}


def link_problem(url: str) -> str | None:
    """Why a product link can't go, or None: only http(s) links to the shop."""
    if len(url) > LINK_MAX_LENGTH:
        return f"Keep the link to {LINK_MAX_LENGTH} characters."
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        credentials = parts.username is not None or parts.password is not None
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        return "Enter a product link from our shop, starting with https://."
    if parts.scheme not in {"http", "https"} or not host or credentials:
        return "Enter a product link from our shop, starting with https://."
    if host not in allowed_hosts():
        return "Only links to products in our shop can be sent: " + ", ".join(
            sorted(allowed_hosts())
        )
    if any(char.isspace() for char in url) or _has_control_characters(url, allow_newlines=False):
        return "A link can't contain spaces."
    return None


def wishlist_problem(items: list[WishlistItem]) -> str | None:
    """Why the wishlist as a whole can't go, or None (each item checked on its own too)."""
    if not any(item.name or item.url for item in items):
        return "Add at least one product: its name, its link, or both."
    if len(items) > MAX_ITEMS:
        return f"A wishlist can hold at most {MAX_ITEMS} products."
    for item in items:
        problem = name_problem(item.name, what="a product name") or (
            link_problem(item.url) if item.url else None
        )
        if problem:
            return problem
    return None
