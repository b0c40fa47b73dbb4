"""HTML validation with the Nu Html Checker (the W3C validator), ``vnu.jar`` from npm.

The checker is a Java program: starting it takes seconds, checking a page milliseconds. So
pages are collected first and checked together, in one run of the jar over a folder.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

VNU_JAR = (
    Path(__file__).resolve().parents[2] / "node_modules" / "vnu-jar" / "build" / "dist" / "vnu.jar"
)


def vnu_problem() -> str | None:
    if shutil.which("java") is None:
        return "java is not installed (apt-get install default-jre-headless)"
    if not VNU_JAR.is_file():
        return f"vnu.jar is not installed at {VNU_JAR} (run `make install`, which runs npm ci)"
    return None


@dataclass(frozen=True)
class HtmlError:
    document: str
    line: int | None
    message: str
    extract: str

    def __str__(self) -> str:
        where = f"{self.document}:{self.line}" if self.line else self.document
        return f"{where}: {self.message}\n      {self.extract.strip()[:200]}"


def validate(documents: dict[str, str]) -> list[HtmlError]:
    """Every error the checker finds in ``documents`` (name -> HTML), in one run of the jar."""
    with tempfile.TemporaryDirectory(prefix="vnu-") as folder:
        files: dict[str, str] = {}
        for number, (name, html) in enumerate(documents.items()):
            slug = re.sub(r"[^A-Za-z0-9]+", "-", name).strip("-")[:80]
            path = Path(folder) / f"{number:03d}-{slug}.html"
            path.write_text(html, encoding="utf-8")
            files[path.name] = name
        result = subprocess.run(
            [
                "java",
                "-Xss4m",  # the checker's own advice for deep documents
                "-jar",
                str(VNU_JAR),
                "--errors-only",
                "--format",
                "json",
                "--exit-zero-always",
                folder,
            ],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    try:
        messages = json.loads(result.stderr or result.stdout)["messages"]
    except (ValueError, KeyError) as error:
        raise RuntimeError(
            f"vnu.jar gave no report (exit {result.returncode}):\n{result.stderr[-2000:]}"
        ) from error
    errors = []
    for message in messages:
        if message.get("type") not in {"error", "non-document-error"}:
            continue
        file_name = Path(unquote(urlsplit(message.get("url", "")).path)).name
        errors.append(
            HtmlError(
                document=files.get(file_name, file_name or "?"),
                line=message.get("lastLine"),
                message=message.get("message", ""),
                extract=message.get("extract", ""),
            )
        )
    return errors
