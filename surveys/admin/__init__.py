"""The surveys admin: surveys and contests with their steps (``surveys``, ``steps``) and the
numbered sponsor statements (``statements``). Entries are never listed: staff see results as
counts only."""

from . import statements, surveys

__all__ = ["statements", "surveys"]
