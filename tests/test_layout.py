"""The package's architecture holds: imports flow one way (down the layers) and never in a cycle."""

from __future__ import annotations

import ast
from pathlib import Path

from paths import ROOT

PACKAGE = ROOT / "src" / "spert"

# Each top-level part of ``spert`` and its layer: a module may import from lower layers and
# from its own subpackage, never from a higher layer or a sibling on the same layer.
LAYERS = {
    "errors": 0, "atomic": 0, "runtime": 0,
    "data": 1,
    "model": 2,
    "infer": 3,
    "eval": 4,
    "train": 5,
    "serve": 6, "tools": 6,
    "cli": 7, "__main__": 8,
    "__init__": 8,
}
BASE = {"errors", "atomic", "runtime"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def spert_imports(path: Path) -> set[str]:
    """Every ``spert`` module that ``path`` imports (absolute or relative, at any depth)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.split(".")[0] == "spert"}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            if mod.split(".")[0] != "spert":
                continue
            out.add(mod)
            # ``from spert.data import schema`` imports the module spert.data.schema
            for a in node.names:
                candidate = PACKAGE.parent.joinpath(*mod.split("."), a.name)
                if candidate.with_suffix(".py").exists() or (candidate / "__init__.py").exists():
                    out.add(f"{mod}.{a.name}")
    return out


def part(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def graph() -> dict[str, set[str]]:
    return {module_name(p): spert_imports(p) for p in PACKAGE.rglob("*.py")}


def test_every_part_has_a_layer():
    parts = {part(m) for m in graph()}
    assert parts <= set(LAYERS), f"parts without a layer in this test: {sorted(parts - set(LAYERS))}"


def test_imports_flow_down():
    bad = []
    for mod, deps in graph().items():
        src = part(mod)
        for dep in deps:
            dst = part(dep)
            if dst == src or dep == "spert" and src == "__init__":
                continue
            if src in BASE and dst in BASE:
                continue
            if LAYERS[dst] >= LAYERS[src]:
                bad.append(f"{mod} imports {dep} ({src} is layer {LAYERS[src]}, {dst} layer {LAYERS[dst]})")
    assert not bad, "imports against the layering:\n" + "\n".join(sorted(bad))


def test_no_import_cycles():
    full = graph()
    g = {m: {d for d in deps if d in full} for m, deps in full.items()}
    state: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[str] = []

    def visit(m: str) -> None:
        state[m] = 1
        stack.append(m)
        for d in sorted(g.get(m, ())):
            if d == m:
                continue
            if state.get(d) == 1:
                cycles.append(" -> ".join(stack[stack.index(d):] + [d]))
            elif d not in state:
                visit(d)
        stack.pop()
        state[m] = 2

    for m in sorted(g):
        if m not in state:
            visit(m)
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


def test_subpackages_say_what_they_hold():
    for init in PACKAGE.glob("*/__init__.py"):
        doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8")))
        assert doc and len(doc.split()) >= 15, f"{init}: needs a docstring saying what the subpackage holds"


def test_the_checker_sees_a_violation():
    # the walk above must notice an upward import; a file that makes one is caught
    bad = PACKAGE / "data" / "_layout_probe.py"
    bad.write_text("from spert.train.loop import train\n")
    try:
        deps = spert_imports(bad)
        assert "spert.train.loop" in deps
        assert LAYERS[part("spert.train.loop")] > LAYERS[part(module_name(bad))]
    finally:
        bad.unlink()
