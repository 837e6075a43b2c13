"""The layers of docs/architecture.md, enforced: a module imports only from its own layer and
the layers below it, packages have no import cycles, and no module grows past 400 lines.

The import graph is read from the source (every `import` and `from ... import`, including
those inside functions), so a lazy import cannot hide an edge.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Each top-level package or module of the project, and what it may import besides itself.
# Lowest first; docs/architecture.md draws the same table.
ALLOWED: dict[str, frozenset[str]] = {
    "settings": frozenset(),
    "models": frozenset(),
    "core": frozenset({"models", "settings"}),
    "auth": frozenset({"core", "models", "settings"}),
    # Payment channels: protocol adapters that know nothing of cards or the ledger.
    "channel": frozenset({"settings"}),
    "services": frozenset({"channel", "auth", "core", "models", "settings"}),
    "resolvers": frozenset({"services", "auth", "core", "models", "settings"}),
    "schema": frozenset({"resolvers", "services", "auth", "core", "models", "settings"}),
    "graphiql": frozenset(),
    # Compiled plans for trusted documents, beside the general executor.
    "plans": frozenset({"schema", "services", "auth", "core", "models", "settings"}),
    "transport": frozenset({"schema", "services", "channel", "core", "settings"}),
    "server": frozenset(
        {"transport", "plans", "schema", "services", "channel", "auth", "core", "models"}
        | {"settings"}
        | {"graphiql"}
    ),
    # Programs on top of everything: the command line and the benchmarks.
    "cli": frozenset(
        {
            "server",
            "transport",
            "plans",
            "schema",
            "resolvers",
            "services",
            "channel",
            "auth",
            "core",
            "models",
        }
        | {"settings", "graphiql"}
    ),
    "bench": frozenset(
        {"cli", "server", "transport", "plans", "schema", "resolvers", "services", "auth", "core"}
        | {"channel", "models", "settings"}
    ),
}
MAX_LINES = 400


def _modules() -> Iterator[tuple[str, Path]]:
    for layer in ALLOWED:
        single = ROOT / f"{layer}.py"
        if single.exists():
            yield layer, single
        for path in sorted((ROOT / layer).rglob("*.py")) if (ROOT / layer).is_dir() else ():
            if "migrations" not in path.parts:
                yield layer, path


def _imported_layers(path: Path) -> Iterator[tuple[int, str]]:
    """(line, top-level project name) for each import of the project in the file."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        for name in names:
            top = name.split(".")[0]
            if top in ALLOWED:
                yield node.lineno, top


def test_each_layer_imports_only_the_layers_below_it():
    wrong = [
        f"{path.relative_to(ROOT)}:{line} imports {target}"
        for layer, path in _modules()
        for line, target in _imported_layers(path)
        if target != layer and target not in ALLOWED[layer]
    ]
    assert wrong == []


def test_the_allowed_edges_have_no_cycle():
    """The table itself is layered: no two layers may import each other, directly or not."""
    seen: dict[str, int] = {}

    def visit(layer: str, trail: tuple[str, ...]) -> None:
        assert layer not in trail, " -> ".join((*trail, layer))
        if seen.get(layer):
            return
        for lower in ALLOWED[layer]:
            visit(lower, (*trail, layer))
        seen[layer] = 1

    for layer in ALLOWED:
        visit(layer, ())


def test_the_architecture_test_sees_a_step_back_up(tmp_path):
    """A lower layer importing a higher one is caught (the check above is not vacuous)."""
    offender = tmp_path / "offender.py"
    offender.write_text("def f():\n    from schema.root import Query\n", encoding="utf-8")
    assert list(_imported_layers(offender)) == [(2, "schema")]
    assert "schema" not in ALLOWED["services"]


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_no_module_is_over_400_lines(layer):
    long = {
        str(path.relative_to(ROOT)): lines
        for owner, path in _modules()
        if owner == layer
        and (lines := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert long == {}
