"""An email address as logs and staff pages show it: enough to follow, not to learn.

Any app may import this module; it imports nothing from the apps.
"""

from __future__ import annotations


def mask_address(address: str) -> str:
    """``j***@example.com``: the first character and the domain; ``***`` for a value with no
    domain."""
    local, _, domain = address.partition("@")
    return f"{local[:1]}***@{domain}" if domain else "***"
