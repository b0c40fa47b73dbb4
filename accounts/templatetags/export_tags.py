"""Filters for the readable copy of a person's data (``/accounts/export/``): the same data
as the JSON download, with keys and values put into words."""

from __future__ import annotations

from datetime import datetime

from django import template
from django.utils import timezone
from django.utils.dateformat import format as format_date

register = template.Library()


@register.filter
def label(key: str) -> str:
    """``"ip_address_prefix"`` -> ``"Ip address prefix"``, with a few words fixed."""
    words = str(key).replace("_", " ").strip()
    words = words.replace("ip address", "IP address").replace("Ip address", "IP address")
    return words[:1].upper() + words[1:]


@register.filter
def cell(value) -> str:
    if value is None or value == "":
        return "—"
    if value is True:
        return "Yes"
    if value is False:
        return "No"
    if isinstance(value, str) and len(value) >= 19 and value[4] == "-" and value[10] == "T":
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return value
        return format_date(timezone.localtime(moment), "j M Y, H:i")
    if isinstance(value, list):
        return ", ".join(str(item) for item in value) or "—"
    return str(value)


@register.filter
def datetime_attribute(value: str) -> str:
    """An ISO 8601 moment as HTML's ``datetime`` attribute takes it: to the second, with its
    offset (``isoformat()`` gives microseconds, which HTML does not allow)."""
    moment = datetime.fromisoformat(value)
    return format_date(timezone.localtime(moment), r"Y-m-d\TH:i:sO")


@register.filter
def columns(rows: list[dict]) -> list[str]:
    return list(rows[0]) if rows else []


@register.filter
def get(row: dict, key: str):
    return row.get(key)
