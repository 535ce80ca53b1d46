"""The layout's dependency rule, checked on every import statement in drid/ (also the lazy ones
inside functions):

    errors ← schemas ← pipeline ← {sources, detect, recognize, interpret, decide, sinks}
           ← {eval, pipeline.backends, demos, testing} ← cli ← drid (the public API)

Nothing imports from a higher layer, and the packages import each other without cycles."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from conftest import ROOT

PACKAGE = ROOT / "drid"

#: Layer of each unit (a top-level package or module of drid, or pipeline.backends).
LAYERS = {
    "errors": 0,
    "schemas": 1,
    "pipeline": 2,
    **dict.fromkeys(("sources", "detect", "recognize", "interpret", "decide", "sinks"), 3),
    **dict.fromkeys(("eval", "pipeline.backends", "demos", "testing"), 4),
    "cli": 5,
    "drid": 6,  # drid/__init__.py: re-exports only
}


def unit_of(module: str) -> str:
    """``drid.pipeline.backends.shards`` → ``pipeline.backends``; ``drid.detect.track`` → ``detect``."""
    parts = module.split(".")[1:]
    if not parts or parts == ["__init__"]:
        return "drid"
    if parts[:2] == ["pipeline", "backends"]:
        return "pipeline.backends"
    return parts[0]


def module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def imports_of(path: Path) -> list[tuple[int, str]]:
    """Every ``drid.*`` module ``path`` imports, with the line, relative imports resolved."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    here = module_name(path)
    package = here if path.name == "__init__.py" else here.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name == "drid" or a.name.startswith("drid.")]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target == "drid" or target.startswith("drid."):
                # `from drid.x import y` may import a submodule y: count it as drid.x.y when it is one
                for alias in node.names:
                    sub = f"{target}.{alias.name}"
                    is_module = (ROOT / Path(*sub.split("."))).with_suffix(".py").is_file() or (ROOT / Path(*sub.split("."))).is_dir()
                    found.append((node.lineno, sub if is_module else target))
    return found


FILES = sorted(PACKAGE.rglob("*.py"))


def test_every_unit_has_a_layer():
    units = {unit_of(module_name(p)) for p in FILES}
    assert units <= set(LAYERS), f"packages without a layer in this test: {sorted(units - set(LAYERS))}"


def violations(mine: str, targets: list[tuple[int, str]]) -> list[str]:
    """The imports of a module of unit ``mine`` that break the rule."""
    wrong = []
    for line, target in targets:
        theirs = unit_of(target)
        if theirs == mine or LAYERS[theirs] < LAYERS[mine]:
            continue
        if LAYERS[theirs] == LAYERS[mine] == 3:
            continue  # stage packages may use each other's libraries (cycles are checked below)
        wrong.append(f"line {line}: {target} ({theirs}, layer {LAYERS[theirs]})")
    return wrong


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_import_from_a_higher_layer(path):
    mine = unit_of(module_name(path))
    wrong = violations(mine, imports_of(path))
    assert not wrong, f"{path.relative_to(ROOT)} ({mine}, layer {LAYERS[mine]}) imports upward or sideways: " + "; ".join(wrong)


def test_no_import_cycle_between_packages():
    graph: dict[str, set[str]] = {}
    for path in FILES:
        mine = unit_of(module_name(path))
        for _, target in imports_of(path):
            theirs = unit_of(target)
            if theirs != mine:
                graph.setdefault(mine, set()).add(theirs)

    def cycle_from(start: str) -> list[str] | None:
        stack = [(start, [start])]
        while stack:
            node, trail = stack.pop()
            for nxt in graph.get(node, ()):
                if nxt == start:
                    return [*trail, start]
                if nxt not in trail:
                    stack.append((nxt, [*trail, nxt]))
        return None

    cycles = [c for u in sorted(graph) if (c := cycle_from(u))]
    assert not cycles, "import cycle: " + " -> ".join(cycles[0])


def test_the_checker_sees_violations():
    """The rule is not vacuous: upward and sideways imports are caught, downward ones pass."""
    assert violations("detect", [(3, "drid.cli.run")]) == ["line 3: drid.cli.run (cli, layer 5)"]
    assert violations("recognize", [(1, "drid.eval.metrics")])
    assert violations("eval", [(1, "drid.demos.video")])  # siblings above the stages stay apart
    assert violations("pipeline", [(1, "drid.pipeline.backends.shards")])
    assert not violations("detect", [(1, "drid.schemas"), (2, "drid.pipeline.hookspecs"), (3, "drid.sources.media")])
    assert not violations("cli", [(1, "drid.eval.detector"), (2, "drid.pipeline.backends")])
