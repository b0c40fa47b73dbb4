"""The apps' import layers: the import-linter contract names our apps in their
``INSTALLED_APPS`` order, ``make test`` checks it, and the code keeps it."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

from django.apps import apps

ROOT = Path(__file__).resolve().parents[2]


def import_linter_config() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]


def our_apps_lowest_first() -> list[str]:
    return [config.name for config in apps.get_app_configs() if Path(config.path).parent == ROOT]


def test_the_layers_are_our_apps_highest_first():
    config = import_linter_config()
    (layers,) = [c for c in config["contracts"] if c["id"] == "app-layers"]

    assert layers["type"] == "layers"
    assert layers["layers"] == our_apps_lowest_first()[::-1]


def test_the_project_package_is_checked_for_chains_between_apps():
    # A lower app importing privacy_site.clients, say, must not reach a higher app through it.
    root_packages = set(import_linter_config()["root_packages"])
    assert root_packages == {*our_apps_lowest_first(), "privacy_site"}


def test_make_lint_and_so_make_test_run_lint_imports():
    makefile = (ROOT / "Makefile").read_text()
    lint = re.search(r"^lint:.*\n((?:\t.*\n)+)", makefile, re.M).group(1)
    assert "lint-imports" in lint
    assert re.search(r"^test:.*\blint\b", makefile, re.M)


def test_the_code_keeps_the_contract():
    lint_imports = Path(sys.executable).parent / "lint-imports"
    result = subprocess.run(
        [str(lint_imports), "--no-cache"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
