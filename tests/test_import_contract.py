"""The seam between the libraries: governance never imports automl (nor scikit-learn)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT


def imported_modules(package: str) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in sorted((REPO_ROOT / package).rglob("*.py")):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module)
        found[str(path.relative_to(REPO_ROOT))] = names
    return found


@pytest.mark.parametrize("forbidden", ["automl", "sklearn"])
def test_governance_never_imports(forbidden: str) -> None:
    offenders = {
        path: sorted(n for n in names if n == forbidden or n.startswith(f"{forbidden}."))
        for path, names in imported_modules("governance").items()
    }
    assert not {p: n for p, n in offenders.items() if n}


def test_the_checker_sees_imports() -> None:
    # Guards the test above against passing because it parsed nothing.
    automl_imports = set().union(*imported_modules("automl").values())
    assert "pandas" in automl_imports
    assert Path(REPO_ROOT / "governance" / "cli.py").is_file()


@pytest.mark.parametrize(
    ("library", "homes"),
    [
        (
            "mlflow",
            ("automl/tracking/", "governance/mlflow_plugin.py", "governance/mlflow_registry.py"),
        ),
        ("cryptography", ("governance/crypto/",)),
        ("evidently", ("automl/monitor.py",)),
    ],
)
def test_only_one_place_imports(library: str, homes: tuple[str, ...]) -> None:
    offenders = [
        path
        for package in ("automl", "governance")
        for path, names in imported_modules(package).items()
        if not path.startswith(homes)
        and any(n == library or n.startswith(f"{library}.") for n in names)
    ]
    assert not offenders
