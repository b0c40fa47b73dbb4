"""Folding a message's headers as Django's SMTP backend writes them, cheaply, for
``smtp_fast_path``: one recipient's headers differ from the next one's only in their values.

``EmailMessage.message()`` passes each header through ``forbid_multi_line_headers`` and the
generator folds it with the message's policy (``compat32``). An ASCII value (other than the
subject, which Django encodes first) comes through unchanged and is folded where its spaces,
tabs, commas and semicolons fall, by the lengths between them and nothing else. So it is
folded once per *shape* (the value with every other character read as ``x``) and the line
breaks found there, each with the whitespace that starts its continuation line if the folder
added one (as it does before a first word too long for the header's first line), are put into
the value's own bytes; a shape whose folding does anything else, and any other value, is
folded in full.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from django.conf import settings
from django.core.mail.message import forbid_multi_line_headers

_CRLF = b"\r\n"
_LINE_BREAK = re.compile("[\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")
# Every ASCII character but the ones folding breaks at, as ``x``.
_SHAPE = {code: "x" for code in range(128) if chr(code) not in " \t,;"}


class HeaderFolder:
    """``folder(name, value)``: the header's bytes, as the generator writes them with the
    policy's ``fold_binary`` (``fold``); ``folder.cached`` also remembers each value."""

    def __init__(self, fold: Callable[[str, str], bytes]) -> None:
        self.fold = fold
        self._folded: dict[tuple[str, str], bytes] = {}
        self._breaks: dict[tuple[str, str], tuple[tuple[int, bytes], ...] | None] = {}

    def __call__(self, name: str, value: str) -> bytes:
        if name.lower() == "subject" or not value.isascii() or _LINE_BREAK.search(value):
            return self._in_full(name, value)
        shape = (name, value.translate(_SHAPE))
        if shape not in self._breaks:
            self._breaks[shape] = _breaks_in(self.fold(*shape), name, shape[1])
        breaks = self._breaks[shape]
        if breaks is None:
            return self._in_full(name, value)
        raw = f"{name}: {value}\r\n".encode()
        if not breaks:
            return raw
        pieces, start = [], 0
        for at, inserted in breaks:
            pieces += [raw[start:at], inserted]
            start = at
        pieces.append(raw[start:])
        return b"".join(pieces)

    def cached(self, name: str, value: str) -> bytes:
        """The same subject (most first names repeat) folded once per batch."""
        key = (name, value)
        folded = self._folded.get(key)
        if folded is None:
            folded = self._folded[key] = self(name, value)
        return folded

    def _in_full(self, name: str, value: str) -> bytes:
        # What EmailMessage.message() stores, then what the generator writes.
        return self.fold(*forbid_multi_line_headers(name, value, settings.DEFAULT_CHARSET))


def _breaks_in(folded: bytes, name: str, shape: str) -> tuple[tuple[int, bytes], ...] | None:
    """What the folder put into ``name: shape``: (offset in the unfolded bytes, the line break
    and any whitespace it added after it) for each break; None if it changed anything else."""
    raw = f"{name}: {shape}\r\n".encode()
    breaks: list[tuple[int, bytes]] = []
    at = 0  # in ``raw``
    index = 0  # in ``folded``
    end = len(raw) - 2  # the final CRLF, which both end with
    while index < len(folded) - 2:
        if at < end and folded[index] == raw[at]:
            index += 1
            at += 1
            continue
        if not folded.startswith(_CRLF, index):
            return None
        added = index + 2
        # Whitespace the folder added to start the continuation line: what raw doesn't have.
        while (
            added < len(folded) - 2
            and folded[added] in b" \t"
            and (at >= end or folded[added] != raw[at])
        ):
            added += 1
        breaks.append((at, folded[index:added]))
        index = added
    rebuilt, start = [], 0
    for offset, inserted in breaks:
        rebuilt += [raw[start:offset], inserted]
        start = offset
    rebuilt.append(raw[start:])
    if b"".join(rebuilt) != folded:
        return None
    return tuple(breaks)
