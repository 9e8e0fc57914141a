"""The layering rules of STYLE.md, checked on the source itself."""

import ast
import importlib
import re
from pathlib import Path

import pytest

from tether import events
from tether.events import DomainEvent

SOURCE = Path(__file__).parents[1] / "src" / "tether"
# The only modules that call `commit`: the request's transaction, and Alembic's connection.
# Everything else that must end a transaction scopes it as `async with sessions.begin()`, which
# commits when the block ends and rolls back if it raises (docs/architecture.md, Transactions).
TRANSACTION_OWNERS = {
    "db.py": "db.transaction: a request's session, committed by its dependency",
    "migrations/env.py": "Alembic's connection: a pragma must be set outside any transaction",
}
EDGES = ("api.py", "schemas.py")

# The domain packages. Each may import the shared foundation (config, db, errors, actor, events,
# metrics, kit, models) and the domains it builds on; the graph between domains has no cycle, so
# each can be read, tested and changed knowing only what is below it. Composition (app, web, cli,
# demo, jobs, probes, reactions, runtime, scrape, worker) sits above them all.
ALL_DOMAINS = (
    "audit", "authorizations", "clients", "connections", "health", "integrations", "members",
    "notifications", "organizations", "providers", "sync", "vault",
)  # fmt: skip


def _modules(*folders: str, root: Path = SOURCE) -> list[Path]:
    return sorted(p for folder in folders for p in (root / folder).rglob("*.py"))


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


@pytest.mark.parametrize("path", _modules(*ALL_DOMAINS), ids=lambda p: str(p.relative_to(SOURCE)))
def test_domain_code_never_imports_the_web_layer(path: Path) -> None:
    imported = _imports(path)
    assert not any(name.startswith("tether.web") for name in imported)
    if not path.name.endswith(EDGES):
        assert not any(name.split(".")[0] in ("fastapi", "starlette") for name in imported)


# What builds SQL. Only repositories (`repository.py`, `<what>_repository.py`) import it; models
# and migrations describe the schema with it.
SQL_CONSTRUCTS = {"select", "insert", "update", "delete", "text", "union", "union_all", "exists"}
SCHEMA = ("models", "migrations")
# A statement written as a string, to be sent as it is.
NOT_OUR_DATABASE = {"providers/google_ads.py": "GAQL, Google Ads' query language, sent to Google"}
RAW_SQL = re.compile(
    r"\s*(SELECT\s|INSERT\s+INTO\s|UPDATE\s+\w+\s+SET\s|DELETE\s+FROM\s|WITH\s+\w+\s+AS\s)"
)


def _sql_imports(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("sqlalchemy"):
            names = {alias.name for alias in node.names}
            if (node.module or "").startswith("sqlalchemy.dialects") or names & SQL_CONSTRUCTS:
                found.append(f"{node.module}: {', '.join(sorted(names))}")
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "exec_driver_sql":
            found.append(f"exec_driver_sql at line {node.lineno}")
        elif isinstance(node, ast.Constant) and RAW_SQL.match(str(node.value)):
            found.append(f"raw SQL at line {node.lineno}")
    return found


@pytest.mark.parametrize(
    "path",
    [p for p in SOURCE.rglob("*.py") if p.relative_to(SOURCE).parts[0] not in SCHEMA],
    ids=lambda p: str(p.relative_to(SOURCE)),
)
def test_sql_lives_only_in_repositories(path: Path) -> None:
    if not path.name.endswith("repository.py"):
        found = _sql_imports(path)
        if str(path.relative_to(SOURCE)) in NOT_OUR_DATABASE:
            found = [f for f in found if not f.startswith("raw SQL")]
        assert found == [], (
            f"{path.relative_to(SOURCE)} builds SQL: move it into its package's repository.py "
            "(or a <what>_repository.py beside it)."
        )


@pytest.mark.parametrize(
    "path", sorted(SOURCE.rglob("*.py")), ids=lambda p: str(p.relative_to(SOURCE))
)
def test_only_the_transaction_owners_commit(path: Path) -> None:
    if str(path.relative_to(SOURCE)) in TRANSACTION_OWNERS:
        return
    owners = "\n".join(f"  {m}: {why}" for m, why in TRANSACTION_OWNERS.items())
    assert _calls(path, "commit") == [], (
        f"{path.relative_to(SOURCE)} commits. A request's transaction is committed by its "
        "dependency; work that must end one (a job, a route that waits on a provider) scopes it "
        "as `async with sessions.begin() as session:`. The owners:\n" + owners
    )


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


def _domain_graph(root: Path = SOURCE) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {domain: set() for domain in ALL_DOMAINS}
    for domain in ALL_DOMAINS:
        for path in _modules(domain, root=root):
            for name in _imports(path):
                parts = name.split(".")
                if parts[0] == "tether" and len(parts) > 1 and parts[1] in set(graph) - {domain}:
                    graph[domain].add(parts[1])
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the graph, as the path around it, or None."""
    done: set[str] = set()

    def visit(node: str, path: list[str]) -> list[str] | None:
        if node in path:
            return [*path[path.index(node) :], node]
        if node in done:
            return None
        for target in sorted(graph[node]):
            found = visit(target, [*path, node])
            if found:
                return found
        done.add(node)
        return None

    for start in sorted(graph):
        found = visit(start, [])
        if found:
            return found
    return None


ARCHITECTURE = SOURCE.parents[1] / "docs" / "architecture.md"


def _allowed() -> dict[str, set[str]]:
    """The table of docs/architecture.md: each domain and the domains it may import."""
    allowed = {}
    for line in ARCHITECTURE.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 2 and cells[0].startswith("`") and cells[0].strip("`") in ALL_DOMAINS:
            allowed[cells[0].strip("`")] = set(re.findall(r"`(\w+)`", cells[1]))
    return allowed


def _table(graph: dict[str, set[str]]) -> str:
    return "\n".join(f"  {d:<15} -> {', '.join(sorted(graph[d])) or '-'}" for d in sorted(graph))


def test_the_allowed_dependencies_name_every_domain_and_form_no_cycle() -> None:
    allowed = _allowed()
    assert set(allowed) == set(ALL_DOMAINS)
    assert _cycle(allowed) is None, "docs/architecture.md allows a cycle:\n" + _table(allowed)


def test_domains_import_only_what_docs_architecture_allows() -> None:
    graph, allowed = _domain_graph(), _allowed()
    beyond = {d: sorted(graph[d] - allowed[d]) for d in graph if graph[d] - allowed[d]}
    assert beyond == {}, (
        "A domain imports one its row in docs/architecture.md does not allow. A domain tells "
        "others what happened by publishing an event (tether/events.py); who reacts is in "
        "tether/reactions.py. The allowed dependencies:\n" + _table(allowed)
    )


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_every_domain_event_has_a_reaction() -> None:
    """An event nobody subscribed to is a change that silently stopped having effects."""
    for path in _modules(*ALL_DOMAINS):
        if path.name == "events.py":
            importlib.import_module(f"tether.{path.parent.name}.events")
    handled = events.subscribed()
    declared = DomainEvent.__subclasses__()
    assert declared, "the domains declare their events in events.py"
    assert [e.__name__ for e in declared if not handled.get(e)] == []


LONGEST_MODULE = 500


def test_no_module_is_over_500_lines() -> None:
    """A module past 500 lines holds more than one thing: split it by what its parts do."""
    long = {
        str(path.relative_to(SOURCE)): n
        for path in SOURCE.rglob("*.py")
        if (n := len(path.read_text().splitlines())) > LONGEST_MODULE
    }
    assert long == {}


def test_each_rule_catches_a_planted_breach(tmp_path: Path) -> None:
    """The checks above, given a module that breaks each rule on purpose, find every breach."""
    planted = tmp_path / "service.py"
    planted.write_text(
        "from sqlalchemy import select, update\n"
        "from tether.web.pages import connections\n"
        "from tether.health import checks\n"
        "async def run(session):\n"
        "    await session.execute(select(1))\n"
        "    await session.commit()\n"
        "    await session.connection().exec_driver_sql('DELETE FROM connections')\n"
        + "\n"
        * LONGEST_MODULE
    )

    assert _calls(planted, "commit") == [6]
    assert _sql_imports(planted) == [
        "sqlalchemy: select, update",
        "exec_driver_sql at line 7",
        "raw SQL at line 7",
    ]
    assert {"tether.web.pages", "tether.health"} <= _imports(planted)
    assert len(planted.read_text().splitlines()) > LONGEST_MODULE
    # Health importing notifications: beyond its row, and a cycle back through notifications.
    (tmp_path / "health").mkdir()
    (tmp_path / "health" / "incidents.py").write_text("from tether.notifications import outbox\n")
    graph, allowed = _domain_graph(tmp_path), _allowed()
    assert graph["health"] - allowed["health"] == {"notifications"}
    assert _cycle({d: allowed[d] | graph[d] for d in allowed}) is not None
