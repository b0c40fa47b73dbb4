"""Type checking: ``make test`` runs mypy, strict where writes, reads and tasks live, and the
code passes it."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

from mypy.main import define_options
from mypy.options import PER_MODULE_OPTIONS

ROOT = Path(__file__).resolve().parents[2]
STRICT_MODULES = {"*.services", "*.services.*", "*.selectors", "*.tasks", "communications.gate"}


def mypy_config() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mypy"]


def strict_override() -> dict:
    (override,) = [o for o in mypy_config()["overrides"] if set(o["module"]) >= STRICT_MODULES]
    return override


def strict_flags() -> list[tuple[str, bool]]:
    """What ``mypy --strict`` turns on, as this version of mypy defines it."""
    _, _, assignments = define_options()
    return assignments


def test_make_lint_and_so_make_test_run_mypy():
    makefile = (ROOT / "Makefile").read_text()
    lint = re.search(r"^lint:.*\n((?:\t.*\n)+)", makefile, re.M).group(1)
    assert re.search(r"/mypy \.$", lint, re.M)
    assert re.search(r"^test:.*\blint\b", makefile, re.M)


def test_the_strict_modules_get_every_flag_of_strict_mode():
    # ``strict = true`` in an override would turn strict mode on for every module (mypy reads
    # it as a global flag), so the override spells out the flags; this keeps them complete
    # when a new mypy adds one to strict mode.
    override, config = strict_override(), mypy_config()
    for flag, value in strict_flags():
        where = override if flag in PER_MODULE_OPTIONS else config
        assert where.get(flag) is value, f"{flag} = {str(value).lower()} is missing"


def test_no_override_sets_strict_for_every_module_by_mistake():
    assert all("strict" not in override for override in mypy_config()["overrides"])


def test_the_rest_of_the_code_is_checked_too():
    # Functions without annotations are checked as well, not skipped.
    assert mypy_config()["check_untyped_defs"] is True


def test_the_code_passes_mypy():
    mypy = Path(sys.executable).parent / "mypy"
    result = subprocess.run([str(mypy), "."], cwd=ROOT, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
