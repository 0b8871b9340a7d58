"""Each default is written once, in the settings that own it (STYLE: "a default value is written once").

The check walks ``src/spert`` and reports a literal that repeats a settings field's default where a
parameter, dataclass field, CLI option or fallback of the same name could take it from the settings:

- a parameter default (``max_span_size: int = 10``; ``typer.Option(10, ...)``, also through a module
  constant such as ``MAX_SPAN = typer.Option(10, ...)``);
- a field default in a class outside the settings modules (``max_span_size: int = 10`` in a dataclass);
- a fallback for a missing value (``d.get("rel_filter_threshold", 0.4)``, ``getattr(x, "seed", 42)``,
  ``x if x is not None else 0.4`` / ``x or 0.4`` where ``x`` is named after the field).

What it cannot catch: a default repeated under another name (``threshold=0.4``), or computed
(``1e-5 * 5``), or written as a module constant first used elsewhere; ``None`` and ``False``
defaults (they say "not given" / "off", not a chosen value) are not reported; nor a repeated value
in a test, a script or a YAML file.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any, Iterator

from pydantic_core import PydanticUndefined

from paths import ROOT
from spert.infer.options import PredictOptions
from spert.model.settings import InferenceSettings, ModelSettings
from spert.serve.settings import ServeSettings
from spert.train.config import TrainConfig

PACKAGE = ROOT / "src" / "spert"
OWNERS = (ModelSettings, InferenceSettings, TrainConfig, ServeSettings, PredictOptions)
SETTINGS_MODULES = {"model/settings.py", "train/config.py", "serve/settings.py", "infer/options.py"}

# "FILE:NAME" -> why the same name and value there is another setting, not a copy of the default
ANOTHER_SETTING = {
    "cli/data.py:seed": "spert data split's seed of the document shuffle, not training's",
    "data/split.py:seed": "the seed of the document shuffle, not training's",
}
# cases left to another change, named with who owns them (none since issue 25)
LEFT_TO_OWNER: dict[str, str] = {}


# free-text fields, whose default a module constant may spell out under another name
TEXT_FIELDS = {name for cls in OWNERS for name, f in cls.model_fields.items() if f.annotation in (str, "str")}


def settings_defaults() -> dict[str, Any]:
    """Field name -> default of every settings class (the first class that has the field wins; a
    field whose default differs between classes is kept as a set of values)."""
    out: dict[str, set] = {}
    for cls in OWNERS:
        for name, f in cls.model_fields.items():
            if f.default is PydanticUndefined or f.default_factory is not None:
                continue
            if f.default is None or f.default is False:
                continue
            out.setdefault(name, set()).add(_hashable(f.default))
    return out


def _hashable(v: Any) -> Any:
    return str(v) if not isinstance(v, (int, float, str, bool)) else (type(v).__name__, v)


def _literal(node: ast.AST | None) -> tuple[bool, Any]:
    """(True, value) for a literal default: a constant, -constant, or typer.Option/Argument(constant, ...)."""
    if node is None:
        return False, None
    if isinstance(node, ast.Constant):
        return True, node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and isinstance(node.operand, ast.Constant):
        return True, -node.operand.value
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in ("Option", "Argument")
            and node.args):
        return _literal(node.args[0])
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("Field", "field"):
        for kw in node.keywords:
            if kw.arg == "default":
                return _literal(kw.value)
        return _literal(node.args[0]) if node.args else (False, None)
    return False, None


def _module_constants(tree: ast.Module) -> dict[str, ast.AST]:
    return {t.id: node.value for node in tree.body if isinstance(node, ast.Assign)
            for t in node.targets if isinstance(t, ast.Name)}


def _name_of(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def repeated_defaults(path: Path, rel: str, defaults: dict[str, set]) -> Iterator[tuple[str, int, str, Any]]:
    """(rel, line, name, value) of each literal in ``path`` that repeats a settings default."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    constants = _module_constants(tree)

    def hit(name: str | None, node: ast.AST | None):
        if isinstance(node, ast.Name) and node.id in constants:
            node = constants[node.id]
        ok, value = _literal(node)
        if ok and name in defaults and value is not None and value is not False \
                and _hashable(value) in defaults[name]:
            return value
        return None

    for node in tree.body:  # a module constant spelling a free-text default (the encoder's name)
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            for name, values in defaults.items():
                if name in TEXT_FIELDS and _hashable(node.value.value) in values:
                    yield rel, node.lineno, name, node.value.value
    for node in ast.walk(tree):
        found: list[tuple[str, ast.AST | None]] = []
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            a = node.args
            positional = a.posonlyargs + a.args
            found += [(arg.arg, d) for arg, d in zip(positional[len(positional) - len(a.defaults):], a.defaults)]
            found += [(arg.arg, d) for arg, d in zip(a.kwonlyargs, a.kw_defaults)]
        elif isinstance(node, ast.ClassDef) and rel not in SETTINGS_MODULES:
            found += [(s.target.id, s.value) for s in node.body
                      if isinstance(s, ast.AnnAssign) and isinstance(s.target, ast.Name)]
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get" \
                and len(node.args) == 2 and isinstance(node.args[0], ast.Constant):
            found.append((node.args[0].value, node.args[1]))
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "getattr" \
                and len(node.args) == 3 and isinstance(node.args[1], ast.Constant):
            found.append((node.args[1].value, node.args[2]))
        elif isinstance(node, ast.IfExp) and isinstance(node.test, ast.Compare) \
                and isinstance(node.test.ops[0], ast.IsNot):
            found.append((_name_of(node.test.left), node.orelse))
        elif isinstance(node, ast.BoolOp) and isinstance(node.op, ast.Or) and len(node.values) == 2:
            found.append((_name_of(node.values[0]), node.values[1]))
        for name, value_node in found:
            value = hit(name, value_node)
            if value is not None:
                yield rel, getattr(value_node, "lineno", node.lineno), name, value


def all_repeated_defaults() -> list[str]:
    defaults = settings_defaults()
    out = []
    for p in sorted(PACKAGE.rglob("*.py")):
        rel = p.relative_to(PACKAGE).as_posix()
        for rel_, line, name, value in repeated_defaults(p, rel, defaults):
            key = f"{rel_}:{name}"
            if key not in ANOTHER_SETTING and key not in LEFT_TO_OWNER:
                out.append(f"{rel_}:{line}: {name}={value!r} repeats the settings' default")
    return out


def test_each_settings_default_is_written_once():
    found = all_repeated_defaults()
    assert not found, "take these from the settings that own them:\n" + "\n".join(found)


def test_the_allowlists_name_what_is_found():
    # an entry whose case is gone must leave its list (the lead empties LEFT_TO_OWNER after merging)
    defaults = settings_defaults()
    found = {f"{rel}:{name}" for p in PACKAGE.rglob("*.py")
             for rel, _, name, _ in repeated_defaults(p, p.relative_to(PACKAGE).as_posix(), defaults)}
    stale = sorted(k for k in {**ANOTHER_SETTING, **LEFT_TO_OWNER} if k not in found)
    assert not stale, f"no longer found, remove from the lists: {stale}"


def test_a_repeated_default_is_seen(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text(
        "import typer\n"
        "SPAN = typer.Option(10, '--max-span-size')\n"
        "ENCODER = 'all-MiniLM-L6-v2'\n"
        "def f(x, lr=5e-5, *, max_span_size=SPAN, seed=None, no_overlap=False, threshold=0.4): pass\n"
        "class C:\n    neg_entity_count: int = 100\n"
        "def g(d, rel_filter_threshold):\n"
        "    return d.get('rel_filter_threshold', 0.4), rel_filter_threshold or 0.4, getattr(d, 'epochs', 20)\n")
    found = sorted((name, value) for _, _, name, value in repeated_defaults(probe, "probe.py", settings_defaults()))
    assert found == sorted([("encoder", "all-MiniLM-L6-v2"), ("lr", 5e-5), ("max_span_size", 10),
                            ("neg_entity_count", 100), ("rel_filter_threshold", 0.4), ("rel_filter_threshold", 0.4),
                            ("epochs", 20)])
