"""The layering rules of STYLE.md, checked on the source itself."""

import ast
from pathlib import Path

import pytest

SOURCE = Path(__file__).parents[1] / "src" / "tether"
DOMAINS = ("members", "clients", "organizations", "authorizations", "connections",
           "providers", "vault")  # fmt: skip
EDGES = ("api.py", "schemas.py")


def _modules(*folders: str) -> list[Path]:
    return sorted(p for folder in folders for p in (SOURCE / folder).rglob("*.py"))


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def _calls(path: Path, name: str) -> list[int]:
    return [
        node.lineno
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Call)
        and (
            (isinstance(node.func, ast.Name) and node.func.id == name)
            or (isinstance(node.func, ast.Attribute) and node.func.attr == name)
        )
    ]


@pytest.mark.parametrize("path", _modules(*DOMAINS), ids=lambda p: str(p.relative_to(SOURCE)))
def test_domain_code_never_imports_the_web_layer(path: Path) -> None:
    imported = _imports(path)
    assert not any(name.startswith("tether.web") for name in imported)
    if not path.name.endswith(EDGES):
        assert not any(name.split(".")[0] in ("fastapi", "starlette") for name in imported)


@pytest.mark.parametrize("path", _modules(*DOMAINS), ids=lambda p: str(p.relative_to(SOURCE)))
def test_sql_lives_only_in_repositories(path: Path) -> None:
    if not path.name.endswith("repository.py"):
        assert _calls(path, "select") == []


@pytest.mark.parametrize("path", _modules(*DOMAINS), ids=lambda p: str(p.relative_to(SOURCE)))
def test_services_never_commit(path: Path) -> None:
    assert _calls(path, "commit") == []


# What the worker (queue, actors, scheduler) may build on: no domain. Domains register their
# jobs and due work; `tether.jobs` loads them from the process entry points.
WORKER_MAY_IMPORT = ("tether.config", "tether.db", "tether.models", "tether.kit", "tether.worker")


@pytest.mark.parametrize("path", _modules("worker"), ids=lambda p: str(p.relative_to(SOURCE)))
def test_the_worker_imports_no_domain(path: Path) -> None:
    ours = {name for name in _imports(path) if name == "tether" or name.startswith("tether.")}
    allowed = ", ".join(WORKER_MAY_IMPORT)
    for name in sorted(ours):
        assert name.startswith(WORKER_MAY_IMPORT), (
            f"{path.relative_to(SOURCE)} imports {name}; worker/ may import only {allowed}. "
            "A domain registers its actors (worker.actor.actor) and due work "
            "(worker.due.register) in its tasks.py, and tether.jobs loads them."
        )
