"""The house rules a newcomer can rely on, checked on the source (ast: nothing is imported, so
the whole check takes a fraction of a second).

- No import cycle between the apps' modules, and no import tucked into a function to hide
  one (imports inside functions count as imports).
- rewards and notifications use loyalty's models, storage, rules and other non-service
  modules, never ``loyalty.services``, below their admin and API: the order path calls
  them, not the other way round (shared/DESIGN.md, "Layers").
- No module over MAX_MODULE_LINES lines, no function over MAX_FUNCTION_LINES.

Exceptions are listed below, with why, and must still be true: a stale entry fails, so the
lists only shrink.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APPS = ("config", "loyalty", "rewards", "notifications")
MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 60

# The top layer of rewards and notifications (their admin and API modules), which may call
# any app's services, as loyalty's own admin and API do (shared/DESIGN.md, "Layers").
TOP_LAYER = ("rewards.admin", "rewards.api", "notifications.admin")

# Imports inside a function that are not hiding a cycle: they wait for Django or Celery.
LATE_IMPORTS: dict[tuple[str, str], str] = {
    ("config.run", "loyalty.demo"): "runs after django.setup(), which the module starts",
    ("loyalty.apps", "config.celery"): "AppConfig.ready",
    ("loyalty.apps", "loyalty.api.schema"): "AppConfig.ready: registers the schema extensions",
    ("notifications.apps", "notifications.tasks"): "AppConfig.ready: registers the tasks by name",
    ("config.celery", "loyalty.metrics"): "a signal handler; the Celery app loads before Django",
    ("loyalty.metrics", "notifications.models"): "a collector; metrics load with the settings",
}


@dataclass
class Module:
    name: str
    path: Path
    tree: ast.Module
    # imported module -> the lines of imports at module level / inside a function
    top: dict[str, list[int]] = field(default_factory=dict)
    late: dict[str, list[int]] = field(default_factory=dict)


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


class _Imports(ast.NodeVisitor):
    """Every import of a module, split into module-level and inside-a-function ones
    (``if TYPE_CHECKING:`` blocks are not imports at run time)."""

    def __init__(self, module: Module, known: set[str]) -> None:
        self.module, self.known, self.depth = module, known, 0

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self.depth += 1
        self.generic_visit(node)
        self.depth -= 1

    visit_AsyncFunctionDef = visit_FunctionDef  # noqa: N815 - ast's visitor protocol

    def visit_If(self, node: ast.If) -> None:
        test = node.test
        if getattr(test, "id", getattr(test, "attr", None)) == "TYPE_CHECKING":
            for child in node.orelse:
                self.visit(child)
            return
        self.generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        self._add([alias.name for alias in node.names], node.lineno)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        base = node.module or ""
        if node.level:
            package = self.module.name.split(".")
            if self.module.path.name != "__init__.py":
                package = package[:-1]
            package = package[: len(package) - node.level + 1]
            base = ".".join([*package, base] if base else package)
        # ``from package import module`` imports the module; a name, its module.
        targets = [f"{base}.{alias.name}" for alias in node.names]
        self._add([t if t in self.known else base for t in targets], node.lineno)

    def _add(self, names: list[str], line: int) -> None:
        into = self.module.late if self.depth else self.module.top
        for name in names:
            while name and name not in self.known:
                name = name.rpartition(".")[0]
            if name and name != self.module.name:
                into.setdefault(name, []).append(line)


@cache
def modules() -> dict[str, Module]:
    paths = [
        path
        for app in APPS
        for path in sorted((ROOT / app).rglob("*.py"))
        if "migrations" not in path.relative_to(ROOT).parts
    ]
    found = {
        _module_name(path): Module(_module_name(path), path, ast.parse(path.read_text()))
        for path in paths
    }
    for module in found.values():
        _Imports(module, set(found)).visit(module.tree)
    return found


def _edges(*, late: bool = True) -> Iterator[tuple[str, str]]:
    for module in modules().values():
        yield from ((module.name, target) for target in module.top)
        if late:
            yield from ((module.name, target) for target in module.late)


def _cycles(edges: set[tuple[str, str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    graph: dict[str, list[str]] = {}
    for source, target in sorted(edges):
        graph.setdefault(source, []).append(target)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in graph.get(node, []):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def _reaches(start: str, goal: str, edges: set[tuple[str, str]]) -> bool:
    seen, todo = {start}, [start]
    while todo:
        node = todo.pop()
        for source, target in edges:
            if source == node and target not in seen:
                if target == goal:
                    return True
                seen.add(target)
                todo.append(target)
    return False


def test_no_import_cycle_between_modules():
    assert _cycles(set(_edges())) == []


def test_no_import_inside_a_function_hides_a_cycle():
    """An import moved into a function to dodge a cycle is still the cycle; the others
    (``LATE_IMPORTS``) wait for Django or Celery to be ready."""
    edges = set(_edges())
    hidden = [
        f"{module.name} -> {target} (line {lines[0]})"
        for module in modules().values()
        for target, lines in module.late.items()
        if _reaches(target, module.name, edges)
    ]

    assert hidden == []


def test_late_imports_are_the_listed_ones():
    late = {(module.name, target) for module in modules().values() for target in module.late}

    assert late == set(LATE_IMPORTS)


def test_rewards_and_notifications_import_no_loyalty_service():
    """The order path calls rewards and notifications, never the other way round: below their
    admin and API, they use loyalty's models, storage, rules, roles and audit only."""
    imports = {
        (source, target)
        for source, target in _edges()
        if source.split(".")[0] in ("rewards", "notifications")
        and not source.startswith(TOP_LAYER)
        and (target == "loyalty.services" or target.startswith("loyalty.services."))
    }

    assert imports == set()


def test_every_listed_late_import_still_exists():
    """A listed exception that the code no longer has must leave the list."""
    assert set(LATE_IMPORTS) - set(_edges()) == set()


def _lines(node: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    """From ``def`` to the last line of the body (decorators not counted)."""
    return (node.end_lineno or node.lineno) - node.lineno + 1


def test_no_module_is_longer_than_the_limit():
    long = {
        str(module.path.relative_to(ROOT))
        for module in modules().values()
        if len(module.path.read_text().splitlines()) > MAX_MODULE_LINES
    }

    assert long == set(), f"split these (at most {MAX_MODULE_LINES} lines)"


def test_no_function_is_longer_than_the_limit():
    long = {
        f"{module.path.relative_to(ROOT)}::{node.name}"
        for module in modules().values()
        for node in ast.walk(module.tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and _lines(node) > MAX_FUNCTION_LINES
    }

    assert long == set(), f"split these (at most {MAX_FUNCTION_LINES} lines)"


# What the storage layer and the rules may use of the apps (shared/DESIGN.md, "The order
# path"): storage knows the models and how rows are written; rules are plain functions over
# models' values, with no query and no write.
STORAGE_MAY_IMPORT = ("loyalty.models", "loyalty.storage", "loyalty.errors", "loyalty.metrics",
                      "rewards.models", "notifications.models")  # fmt: skip
RULES_MAY_IMPORT = ("loyalty.models", "loyalty.rules", "loyalty.money", "loyalty.errors")


def _uses(prefix: str) -> dict[str, set[str]]:
    return {
        module.name: set(module.top) | set(module.late)
        for module in modules().values()
        if module.name == prefix or module.name.startswith(f"{prefix}.")
    }


def test_the_storage_layer_imports_only_models():
    found = {
        name: sorted(t for t in targets if not t.startswith(STORAGE_MAY_IMPORT))
        for name, targets in _uses("loyalty.storage").items()
    }

    assert {name: targets for name, targets in found.items() if targets} == {}


def test_the_rules_are_plain_functions():
    found = {
        name: sorted(t for t in targets if not t.startswith(RULES_MAY_IMPORT))
        for name, targets in _uses("loyalty.rules").items()
    }
    queries = [
        name for name in _uses("loyalty.rules") if ".objects" in modules()[name].path.read_text()
    ]

    assert {name: targets for name, targets in found.items() if targets} == {}
    assert queries == []
