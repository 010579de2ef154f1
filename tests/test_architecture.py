"""Imports point one way: checks import neither Prefect nor SQLAlchemy; incidents never
import Prefect; only flows/ (and the shell lazily) reach Prefect."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize(("package", "forbidden"), [
    ("checks", {"prefect", "sqlalchemy", "incidents", "flows", "mlwatch", "slack_sdk"}),
    ("incidents", {"prefect", "flows", "mlwatch"}),
])
def test_dependencies_point_one_way(package, forbidden):
    for path in (REPO / package).glob("*.py"):
        bad = imported_modules(path) & forbidden
        assert not bad, f"{path.relative_to(REPO)} imports {sorted(bad)}"
