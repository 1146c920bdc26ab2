"""The house rules of docs/architecture.md that import-linter cannot see, checked over the source."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PACKAGE = REPO / "hiljade"
TESTS = REPO / "tests"
MAX_LINES = 400


def _modules(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*.py") if "migrations" not in p.parts)


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _imported(node: ast.AST) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
        return [node.module]
    return []


def _where(path: Path, node: ast.AST) -> str:
    return f"{path.relative_to(REPO)}:{node.lineno}"


@pytest.mark.parametrize("path", _modules(PACKAGE), ids=lambda p: str(p.relative_to(REPO)))
def test_module_is_small_enough_to_read_in_one_sitting(path: Path) -> None:
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{path.relative_to(REPO)} has {lines} lines (at most {MAX_LINES})"


def test_no_import_of_the_project_inside_a_function() -> None:
    """Imports of hiljade's own modules stand at the top; none is hidden in a function to dodge a cycle."""
    hidden = []
    for path in _modules(PACKAGE):
        for func in ast.walk(_tree(path)):
            if not isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for node in ast.walk(func):
                if any(name == "hiljade" or name.startswith("hiljade.") for name in _imported(node)):
                    hidden.append(_where(path, node))
    assert not hidden, "\n".join(hidden)


def _module_names(tree: ast.Module) -> set[str]:
    """Names bound to hiljade's own modules (``from hiljade.x import module``, ``import hiljade.x``)."""
    names = set()
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("hiljade"):
            folder = REPO.joinpath(*node.module.split("."))
            names |= {
                a.asname or a.name for a in node.names
                if (folder / f"{a.name}.py").exists() or (folder / a.name).is_dir()
            }
        elif isinstance(node, ast.Import):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names if a.name.startswith("hiljade")}
    return names


def test_no_guard_around_the_project_own_imports() -> None:
    """No `except ImportError` around an import of hiljade, nor `getattr`/`hasattr` probing one of its
    modules: a missing or broken module of the project is an error to see, not a case to handle."""
    guarded = []
    for path in _modules(PACKAGE):
        tree = _tree(path)
        modules = _module_names(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.Try):
                catches = {
                    n.id for h in node.handlers if h.type is not None for n in ast.walk(h.type)
                    if isinstance(n, ast.Name)
                }
                names = [name for stmt in node.body for n in ast.walk(stmt) for name in _imported(n)]
                if catches & {"ImportError", "ModuleNotFoundError"} and any(
                    name.startswith("hiljade") for name in names
                ):
                    guarded.append(_where(path, node))
            elif (
                isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                and node.func.id in {"getattr", "hasattr"} and node.args
                and isinstance(node.args[0], ast.Name) and node.args[0].id in modules
            ):
                guarded.append(_where(path, node))
    assert not guarded, "\n".join(guarded)


def test_the_pipeline_reads_no_clock_and_no_file() -> None:
    """pipeline/ is pure: the time and the bytes of a file are passed in by its callers."""
    impure = []
    for path in _modules(PACKAGE / "pipeline"):
        for node in ast.walk(_tree(path)):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            if isinstance(func, ast.Name) and func.id == "open":
                impure.append(_where(path, node))
            elif isinstance(func, ast.Attribute) and func.attr in {
                "now", "utcnow", "today", "time", "monotonic", "read_text", "read_bytes", "write_text",
                "write_bytes", "iterdir", "glob", "rglob",
            }:
                impure.append(f"{_where(path, node)} ({func.attr})")
    assert not impure, "\n".join(impure)


@pytest.mark.parametrize("path", sorted(TESTS.glob("test_*.py")), ids=lambda p: p.name)
def test_no_test_module_imports_another(path: Path) -> None:
    """Shared test helpers live in tests/support/ (and fixtures in conftest.py)."""
    wrong = [
        _where(path, node)
        for node in ast.walk(_tree(path))
        for name in _imported(node)
        if name.startswith("tests.") and not name.startswith("tests.support")
    ]
    assert not wrong, "\n".join(wrong)
