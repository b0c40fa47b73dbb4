"""A clause of the privacy policy in force, in its own words, for pages that must say what
the policy says (joining Jessops Photo, say)."""

from __future__ import annotations

from consent.models import PolicyVersion


def policy_clause(heading: str) -> str:
    """The paragraphs under the line ``heading`` in the current policy, up to the next heading
    (a short line followed by a paragraph); empty if the policy has no such section."""
    version = PolicyVersion.objects.filter(is_current=True).only("text").first()
    if version is None:
        return ""
    blocks = [block.strip() for block in version.text.replace("\r\n", "\n").split("\n\n")]
    for block in blocks:
        lines = block.split("\n")
        if lines[0].strip() == heading:
            return "\n".join(line.strip() for line in lines[1:] if line.strip())
    return ""
