"""The import graph: no cycles, the library below the commands, no generic
top-level packages.

Every `import` in the source tree is read (module level and inside functions),
as are module names written as strings (the CLI's command table and the lazy
tables load modules with `importlib`). An edge goes to the most specific
module named: `from keras_stylegan import ops` is an edge to
`keras_stylegan.ops`, not to the package.
"""

import ast
import pathlib

import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]
# source folder -> the package it installs as (see setup.py's MAPPED)
ROOTS = {"keras_stylegan": "keras_stylegan", "training": "keras_stylegan.training",
         "export": "keras_stylegan.export"}


def module_files():
    """{module name: path} of every module of the installed package."""
    out = {}
    for folder, package in ROOTS.items():
        for path in (REPO / folder).rglob("*.py"):
            parts = list(path.relative_to(REPO / folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join([package] + parts)] = path
    return out


def _absolute(node, module, is_package):
    if not node.level:
        return node.module
    base = module.split(".")
    base = base if is_package else base[:-1]
    base = base[:len(base) - node.level + 1]
    return ".".join(base + ([node.module] if node.module else []))


def imported_names(module, path, modules):
    """Every internal module that `module` imports or names as a string."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    is_package = path.name == "__init__.py"
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(node, module, is_package)
            subs = [f"{base}.{a.name}" for a in node.names]
            yield from (s for s in subs if s in modules)
            if not all(s in modules for s in subs):
                yield base  # names defined in `base` itself
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and \
                "." in node.value:  # a dotted module name, e.g. for importlib
            yield node.value


def graph():
    """{module: set of internal modules it imports}."""
    files = module_files()
    return {m: {n for n in imported_names(m, path, files) if n in files and n != m}
            for m, path in files.items()}


def cycles(edges):
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def layer(module):
    for name in ("cli", "training", "export"):
        if module == f"keras_stylegan.{name}" or module.startswith(f"keras_stylegan.{name}."):
            return name
    return "library"


# layer -> the layers it may import
ALLOWED = {"library": {"library"}, "training": {"library", "training"},
           "export": {"library", "export"}, "cli": {"library", "training", "export", "cli"}}


def test_the_walk_sees_the_tree():
    edges = graph()
    assert "keras_stylegan.cli.generate" in edges
    assert "keras_stylegan.training.loop" in edges["keras_stylegan.cli.train"]
    assert "keras_stylegan.networks.generator" in edges["keras_stylegan.loading"]


def test_cycles_are_found():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_cycles():
    assert cycles(graph()) == []


@pytest.mark.parametrize("lower", ["library", "training", "export"])
def test_layers_import_only_downwards(lower):
    bad = [(m, t) for m, targets in graph().items() if layer(m) == lower
           for t in targets if layer(t) not in ALLOWED[lower]]
    assert bad == []


def test_no_generic_top_level_imports():
    bad = []
    for module, path in module_files().items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                     [node.module] if isinstance(node, ast.ImportFrom) and not node.level
                     else [])
            bad += [(module, n) for n in names if n and n.split(".")[0] in ("training", "export")]
    assert bad == []


def test_installed_packages_are_namespaced():
    """setup.py installs nothing but `keras_stylegan` and its subpackages."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("setup_under_test", REPO / "setup.py")
    source = (REPO / "setup.py").read_text(encoding="utf-8")
    namespace = {"__name__": "setup_under_test", "__file__": str(REPO / "setup.py")}
    exec(compile(source.split("\nsetup(")[0], spec.origin, "exec"), namespace)
    packages = namespace["_packages"]()
    assert packages and all(p == "keras_stylegan" or p.startswith("keras_stylegan.")
                            for p in packages)
    assert "keras_stylegan.training.data" in packages
