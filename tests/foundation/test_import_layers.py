"""The direction of imports: an app imports only the apps listed before it, and the project
package (the shared admin tools, downloads, staff check and address mask among it) imports no
app at all, so every app may use it."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]
LAYERS = ["api_keys", "consent", "communications", "sharing", "surveys", "accounts"]


def modules_imported_by(path: Path) -> Iterator[str]:
    """Every absolute import in the file, those inside functions included."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module


def apps_imported_by(package: str) -> set[tuple[str, str]]:
    return {
        (str(path.relative_to(ROOT)), module)
        for path in (ROOT / package).rglob("*.py")
        for module in modules_imported_by(path)
        if module.split(".")[0] in LAYERS
    }


def test_the_layers_are_the_installed_order_of_our_apps():
    assert [app for app in settings.INSTALLED_APPS if app in LAYERS] == LAYERS


def test_the_scan_sees_imports_of_apps():
    # Guards the scan: communications uses consent, so finding nothing would prove nothing.
    assert any(module.startswith("consent") for _, module in apps_imported_by("communications"))


@pytest.mark.parametrize("app", LAYERS)
def test_an_app_imports_no_app_listed_after_it(app):
    higher = set(LAYERS[LAYERS.index(app) + 1 :])
    offenders = sorted(
        (path, module) for path, module in apps_imported_by(app) if module.split(".")[0] in higher
    )
    assert offenders == []


def test_the_project_package_imports_no_app():
    assert sorted(apps_imported_by("privacy_site")) == []
