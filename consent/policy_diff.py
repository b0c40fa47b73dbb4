"""What changed between two versions of the policy, marked up with <ins> and <del>.

Lines are compared first, so unchanged paragraphs stay whole; lines that were rewritten are
then compared word by word, so a changed phrase is marked rather than its whole paragraph.
Every piece of policy text is escaped before it is wrapped: the result is safe to render.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

# Words and the whitespace between them, so that joining the tokens gives the text back.
_TOKENS = re.compile(r"\s+|\w+|[^\w\s]+")


@dataclass(frozen=True)
class DiffHunk:
    """A run of changed lines with a little unchanged context; ``first_line`` is 1-based
    and counts lines of the newer text."""

    first_line: int
    html: SafeString


def _wrap(tag: str, text: str) -> Iterator[str]:
    if text:
        yield f"<{tag}>{escape(text)}</{tag}>"


def _word_diff(old: str, new: str) -> Iterator[str]:
    old_tokens, new_tokens = _TOKENS.findall(old), _TOKENS.findall(new)
    matcher = SequenceMatcher(None, old_tokens, new_tokens, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            yield escape("".join(old_tokens[i1:i2]))
            continue
        yield from _wrap("del", "".join(old_tokens[i1:i2]))
        yield from _wrap("ins", "".join(new_tokens[j1:j2]))


def _lines_html(old: Sequence[str], new: Sequence[str], opcodes) -> Iterator[str]:
    for tag, i1, i2, j1, j2 in opcodes:
        if tag == "equal":
            yield escape("\n".join(new[j1:j2]))
        elif tag == "replace":
            yield from _word_diff("\n".join(old[i1:i2]), "\n".join(new[j1:j2]))
        else:
            yield from _wrap("del", "\n".join(old[i1:i2]))
            yield from _wrap("ins", "\n".join(new[j1:j2]))
        yield "\n"


def policy_diff(old: str, new: str, *, context: int = 2) -> list[DiffHunk]:
    """The differences from ``old`` to ``new`` as hunks of HTML; empty if the texts are equal."""
    if old == new:
        return []
    old_lines, new_lines = old.splitlines(), new.splitlines()
    matcher = SequenceMatcher(None, old_lines, new_lines, autojunk=False)
    hunks = []
    for group in matcher.get_grouped_opcodes(context):
        html = "".join(_lines_html(old_lines, new_lines, group)).rstrip("\n")
        # Every piece above went through escape(); only our own tags are unescaped.
        hunks.append(DiffHunk(first_line=group[0][3] + 1, html=mark_safe(html)))  # noqa: S308
    return hunks
