"""The layer rules of the design hold in the code (DESIGN §2 "Layers"), counting imports made
inside functions too: they couple modules exactly as much as top-level ones do.

One graph of every ``worker`` module and what it imports, built from the source with ``ast``;
each rule is a test that names the offending imports, so a break reads as what to fix.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from functools import cache
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "worker"

PLUMBING = {"config", "logging", "db", "broker", "http", "ratelimit", "models", "errors"}
PLUMBING |= {"clock", "retry", "embedded", "migrate", "metrics", "queues"}
#: Entry points: what the process runs. Only these may read the composition root.
ENTRY_POINTS = ("actors", "cli", "web", "scheduler", "demo", "entrypoint", "bootstrap")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@cache
def _sources() -> dict[str, Path]:
    return {_module_name(p): p for p in PACKAGE.rglob("*.py")}


def _resolve(name: str) -> str | None:
    """The module a dotted import lands in (``worker.db.Database`` -> ``worker.db``)."""
    modules = _sources()
    while name:
        if name in modules:
            return name
        name = name.rpartition(".")[0]
    return None


@cache
def _graph() -> dict[str, frozenset[str]]:
    edges: dict[str, set[str]] = defaultdict(set)
    for module, path in _sources().items():
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    up = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*up, base] if base else up)
                names = [base] + [f"{base}.{alias.name}" for alias in node.names]
            for name in names:
                target = _resolve(name) if name.startswith("worker") else None
                # "from worker import x" names the (empty) root package too: not a dependency.
                if target and target not in (module, "worker"):
                    edges[module].add(target)
    return {m: frozenset(edges.get(m, ())) for m in _sources()}


def _area(module: str) -> str:
    """``worker.registrars.crossref.service`` -> ``registrars``; top-level modules by name."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "worker"


def _imports() -> list[tuple[str, str]]:
    return [(a, b) for a, targets in _graph().items() for b in sorted(targets)]


def _is_entry_point(module: str) -> bool:
    parts = module.split(".")
    return any(part in ENTRY_POINTS for part in parts[1:]) or module == "worker.actors"


def test_the_graph_sees_imports_inside_functions():
    # The CLI's emit command imports the client inside the function: the graph must see it.
    assert "worker.client" in _graph()["worker.cli.events"]


def test_no_import_cycles_among_product_modules():
    graph = {m: t for m, t in _graph().items() if _area(m) != "sandbox"}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(v: str) -> None:  # Tarjan's strongly connected components, iteratively deep
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in graph:
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    assert cycles == []


@pytest.mark.parametrize(
    ("rule", "broken"),
    [
        (
            "metadata is pure: no database, broker, settings, agency client or flow",
            lambda a, b: (
                _area(a) == "metadata"
                # It may read the official schemas (worker.reference) and use pids.identifiers.
                and (_area(b) in PLUMBING or _area(b) not in {"metadata", "pids", "reference"})
            ),
        ),
        (
            "the two flows meet only through events and the database",
            lambda a, b: {_area(a), _area(b)} == {"registrars", "orcid"},
        ),
        (
            "web never imports an agency flow's service",
            lambda a, b: _area(a) == "web" and _area(b) == "registrars",
        ),
        (
            "no product module depends on the sandbox except the CLI and the demo",
            lambda a, b: (
                _area(b) == "sandbox"
                and _area(a) != "sandbox"
                and not (_area(a) in {"cli", "demo"} or a.endswith(".cli"))
            ),
        ),
        (
            "plumbing imports no domain",
            lambda a, b: _area(a) in PLUMBING and _area(b) not in PLUMBING,
        ),
        (
            "only entry points read the composition root",
            lambda a, b: b == "worker.bootstrap" and not _is_entry_point(a),
        ),
        (
            "services send messages by name, never by importing actors",
            lambda a, b: b.endswith(".actors") and not _is_entry_point(a),
        ),
    ],
)
def test_layer_rule(rule, broken):
    offending = [f"{a} -> {b}" for a, b in _imports() if broken(a, b)]
    assert offending == [], rule


def _declared_actor_names() -> set[str]:
    names = set()
    for path in _sources().values():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef):
                for deco in node.decorator_list:
                    if (
                        isinstance(deco, ast.Call)
                        and getattr(deco.func, "id", None) == "actor"
                        and deco.args
                        and isinstance(deco.args[0], ast.Constant)
                    ):
                        names.add(deco.args[0].value)
    return names


def test_every_message_sent_by_name_reaches_a_declared_actor():
    declared = _declared_actor_names()
    sent: list[tuple[str, str]] = []
    for module, path in _sources().items():
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and getattr(node.func, "id", None) == "enqueue_after_commit"
                and len(node.args) > 1
            ):
                name = node.args[1]
                if isinstance(name, ast.Constant):
                    sent.append((module, name.value))
                elif isinstance(name, ast.JoinedStr):  # f"registrars.crossref.{step}"
                    prefix = "".join(
                        v.value for v in name.values if isinstance(v, ast.Constant)
                    ).split("{")[0]
                    sent.append((module, prefix + "*"))
    assert sent, "no message sent by name found: the scan is broken"
    unknown = [
        f"{module}: {name}"
        for module, name in sent
        if not (
            name in declared
            or (name.endswith("*") and any(d.startswith(name[:-1]) for d in declared))
        )
    ]
    assert unknown == []


def test_every_actor_module_is_declared_for_the_worker():
    """The worker process imports worker.actors: every domain's actors must be listed there."""
    listed = _graph()["worker.actors"]
    actor_modules = {m for m in _sources() if m.endswith(".actors") and m != "worker.actors"}
    assert actor_modules - listed == set()
