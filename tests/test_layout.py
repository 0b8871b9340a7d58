"""The package's architecture holds: imports flow one way (down the layers) and never in a cycle."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
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
    # an integration has one home whatever layers it touches: the Label Studio backend is served
    # by serve and trains with train, so integrations sit above serve (which takes the backend's
    # routers from its caller, spert.serve.server.Extension, and never imports it)
    "integrations": 7,
    "cli": 8, "__main__": 9,
    "__init__": 9,
}
BASE = {"errors", "atomic", "runtime"}


def module_name(path: Path, package: Path = PACKAGE) -> str:
    parts = list(path.relative_to(package.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def spert_imports(path: Path, root: Path = PACKAGE) -> set[str]:
    """Every ``spert`` module that ``path`` imports (absolute or relative, at any depth);
    ``root`` is the ``spert`` directory that ``path`` lies in."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    name = module_name(path, root)
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
                candidate = root.parent.joinpath(*mod.split("."), a.name)
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


def test_the_checker_sees_a_violation(tmp_path):
    # the walk above must notice an upward import; a file that makes one is caught (the probe is
    # written to a temporary copy of the package layout, never into the source tree)
    probe_root = tmp_path / "spert"
    (probe_root / "data").mkdir(parents=True)
    for init in (probe_root / "__init__.py", probe_root / "data" / "__init__.py", probe_root / "data" / "schema.py"):
        init.write_text("")
    bad = probe_root / "data" / "_layout_probe.py"
    bad.write_text("from spert.train.loop import train\nfrom . import schema\n")
    deps = spert_imports(bad, root=probe_root)
    assert "spert.train.loop" in deps and "spert.data.schema" in deps
    assert LAYERS[part("spert.train.loop")] > LAYERS[part(module_name(bad, package=probe_root))]


def functions(path: Path):
    """(qualified name, first line, number of lines) of every function and method in ``path``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))

    def walk(node, prefix):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                yield f"{prefix}{child.name}", child.lineno, child.end_lineno - child.lineno + 1
                yield from walk(child, f"{prefix}{child.name}.")
            elif isinstance(child, ast.ClassDef):
                yield from walk(child, f"{prefix}{child.name}.")

    yield from walk(tree, "")


MAX_FUNCTION_LINES = 80


def test_no_long_functions():
    # a function longer than a screen does several jobs; split it into named steps
    long = [f"{p.relative_to(ROOT)}:{line} {name} ({n} lines)" for p in sorted(PACKAGE.rglob("*.py"))
            for name, line, n in functions(p) if n > MAX_FUNCTION_LINES]
    assert not long, f"functions over {MAX_FUNCTION_LINES} lines:\n" + "\n".join(long)


def test_long_functions_are_seen(tmp_path):
    f = tmp_path / "m.py"
    f.write_text("class C:\n    def f(self):\n" + "        x = 1\n" * MAX_FUNCTION_LINES)
    assert [n for _, _, n in functions(f)] == [MAX_FUNCTION_LINES + 1]


MAX_PUBLIC_PARAMETERS = 8
# a command's signature is its options (typer reads them), and spaCy's factory's parameters are its config
WIDE_BY_DESIGN = {"make_spert"}
# functions allowed more parameters while being renovated (none since issue 25 moved the wide ones
# to the typed options of spert.infer.options)
WIDE_ALLOWED: set[str] = set()


def parameter_count(node: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    """The parameters a caller can pass (``self`` and ``cls`` not counted; ``*args`` and ``**kwargs`` one each)."""
    a = node.args
    names = [x.arg for x in a.posonlyargs + a.args + a.kwonlyargs]
    if names and names[0] in ("self", "cls"):
        names = names[1:]
    return len(names) + (a.vararg is not None) + (a.kwarg is not None)


def wide_functions(path: Path, rel: str) -> list[str]:
    """Public functions and methods of ``path`` taking more than MAX_PUBLIC_PARAMETERS parameters,
    as "REL:NAME (N parameters)"."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and not node.name.startswith("_"):
            n = parameter_count(node)
            if n > MAX_PUBLIC_PARAMETERS:
                out.append(f"{rel}:{node.name} ({n} parameters)")
    return out


def test_no_public_function_takes_too_many_parameters():
    # options that travel together are one typed object; only the CLI's commands (whose parameters
    # are their options) and spaCy's factory may list them one by one
    wide = []
    for p in sorted(PACKAGE.rglob("*.py")):
        rel = p.relative_to(PACKAGE).as_posix()
        if rel.startswith("cli/"):
            continue
        wide += [w for w in wide_functions(p, rel)
                 if w.split(" ")[0] not in WIDE_ALLOWED and w.split(" ")[0].split(":")[1] not in WIDE_BY_DESIGN]
    assert not wide, f"public functions with more than {MAX_PUBLIC_PARAMETERS} parameters:\n" + "\n".join(wide)


def test_wide_functions_are_seen(tmp_path):
    f = tmp_path / "m.py"
    params = ", ".join(f"a{i}" for i in range(MAX_PUBLIC_PARAMETERS))
    f.write_text(f"def ok(self, {params}): pass\ndef wide({params}, *rest): pass\ndef _private({params}, b): pass\n"
                 f"class C:\n    def method(self, {params}, *, b=1): pass\n")
    assert wide_functions(f, "m.py") == [f"m.py:wide ({MAX_PUBLIC_PARAMETERS + 1} parameters)",
                                         f"m.py:method ({MAX_PUBLIC_PARAMETERS + 1} parameters)"]


def test_the_allowlists_name_what_exists():
    # an entry for a function that is gone or no longer too wide must leave the list
    for entry in sorted(WIDE_ALLOWED):
        rel, name = entry.split(":")
        path = PACKAGE / rel
        assert path.exists(), entry
        assert any(w.startswith(f"{entry} ") for w in wide_functions(path, rel)), f"{entry} is no longer wide"


def test_module_names_are_seen_twice(tmp_path):
    for rel in ("a/x.py", "b/x.py", "b/settings.py", "c/settings.py", "cli/y.py", "a/y.py"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("")
    assert repeated_module_names(tmp_path) == {"x": ["a/x.py", "b/x.py"]}


# a module name may repeat only where the repetition is the point: each layer's own settings,
# and the CLI, whose modules are named after the commands they register
SHARED_NAMES = {"__init__", "settings"}


def repeated_module_names(package: Path = PACKAGE) -> dict[str, list[str]]:
    """Module base names used more than once under ``package`` (outside SHARED_NAMES and cli/)."""
    seen: dict[str, list[str]] = {}
    for p in sorted(package.rglob("*.py")):
        rel = p.relative_to(package)
        if p.stem in SHARED_NAMES or rel.parts[0] == "cli":
            continue
        seen.setdefault(p.stem, []).append(rel.as_posix())
    return {name: paths for name, paths in seen.items() if len(paths) > 1}


def test_module_names_are_unique():
    twice = repeated_module_names()
    assert not twice, f"module names used more than once: {twice}"


def test_eval_reads_records_only():
    # eval's layer (4) is above infer's, but since the prediction records (DocPrediction and
    # drop_overlapping) live in data.predictions it imports neither infer nor model: scoring and
    # rendering take records; train.evaluation (layer 5) predicts and hands them over
    used = {part(dep) for mod, deps in graph().items() if part(mod) == "eval" for dep in deps}
    assert used <= {"eval", "data", *BASE}, f"eval imports {sorted(used - {'eval', 'data', *BASE})}"


def test_eval_is_torch_free():
    # scoring and rendering are pure: importing any spert.eval module must not import torch
    mods = sorted(module_name(p) for p in (PACKAGE / "eval").rglob("*.py"))
    code = ("import importlib, sys\n"
            f"for m in {mods!r}:\n"
            "    importlib.import_module(m)\n"
            "    assert 'torch' not in sys.modules, m\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(PACKAGE.parent)})
    assert done.returncode == 0, done.stderr[-2000:]
