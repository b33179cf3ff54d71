"""Apps import downward only: sync (the foundation) < audit < analytics < orders < recovery < ops
(the operations console, which reads them all).

Every import statement counts, those inside functions too: a lazy import is no way around a layer.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parent.parent
LAYERS = ("sync", "audit", "analytics", "orders", "recovery", "ops")


def imported_apps(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names & set(LAYERS)


@pytest.mark.parametrize("app", LAYERS)
def test_an_app_imports_only_the_layers_below_it(app: str) -> None:
    allowed = set(LAYERS[: LAYERS.index(app) + 1])
    upward = {
        str(path.relative_to(PROJECT)): sorted(imported_apps(path) - allowed)
        for path in (PROJECT / app).rglob("*.py")
        if imported_apps(path) - allowed
    }
    assert upward == {}, f"{app} imports layers above it"


def test_the_layers_catch_an_upward_import(tmp_path: Path) -> None:
    module = tmp_path / "module.py"
    module.write_text("def later():\n    from recovery.services import cart_sync\n")
    assert imported_apps(module) == {"recovery"}
