"""The figures a fault scenario measured: printed, and written to ``var/faults/<name>.json``
for docs/RELIABILITY.md."""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path
from typing import Any

from django.conf import settings


def machine() -> str:
    return f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"


def write_figures(name: str, figures: dict[str, Any]) -> Path:
    """Print a scenario's figures and write them to ``var/faults/<name>.json`` (with the
    machine), for docs/RELIABILITY.md."""
    out = Path(settings.BASE_DIR) / "var" / "faults"
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}.json"
    figures = {"machine": machine(), "load_average": os.getloadavg()[0], **figures}
    path.write_text(json.dumps(figures, indent=2, default=str))
    print(f"\n{name}: {json.dumps(figures, indent=2, default=str)}")
    return path
