"""The package's layering, read from its source: no import cycles, and the lower layers import nothing above.

Every import counts, also those inside functions (a lazy import still ties two modules together).
Run `python -m pytest tests/test_architecture.py -s` to print the graph's size and the layer table.
"""

import ast
from pathlib import Path

import decensor

ROOT = Path(decensor.__file__).parent
# Layers from the bottom up; a module may import its own layer and the layers below it only.
LAYERS = [
    ("decensor.paths", "decensor.errors", "decensor.text", "decensor.hashing"),
    ("decensor.models",),
    ("decensor.generation",),
    ("decensor.data", "decensor.eval"),
    ("decensor.train", "decensor.report", "decensor.hub"),
    ("decensor.demo", "decensor.cli", "decensor.testing", "decensor.__main__", "decensor.train.__main__"),
]


def module_names() -> dict[str, Path]:
    mods = {}
    for path in ROOT.rglob("*.py"):
        name = ".".join(("decensor",) + path.relative_to(ROOT).with_suffix("").parts)
        mods[name.removesuffix(".__init__")] = path
    return mods


def import_graph() -> dict[str, set[str]]:
    mods = module_names()

    def resolve(name: str) -> str:
        while name and name not in mods:
            name = name.rpartition(".")[0]
        return name

    graph = {}
    for name, path in mods.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        deps = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                deps.update(resolve(a.name) for a in node.names if a.name.startswith("decensor"))
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(parts + ([base] if base else []))
                if base.startswith("decensor"):
                    deps.update(resolve(f"{base}.{a.name}") for a in node.names)
        graph[name] = {d for d in deps if d and d != name}
    return graph


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    index, low, stack, on_stack, found, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
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
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def layer_of(module: str) -> int:
    """The layer of the most specific prefix that names ``module``."""
    matches = [(len(p), level) for level, prefixes in enumerate(LAYERS) for p in prefixes
               if module == p or module.startswith(p + ".")]
    assert matches, f"{module} is in no layer; add it to LAYERS in {__file__}"
    return max(matches)[1]


def test_no_import_cycles():
    graph = import_graph()
    print(f"\n{len(graph)} modules, {sum(map(len, graph.values()))} imports between them")
    assert strongly_connected(graph) == []


def test_the_cycle_finder_finds_a_cycle():
    assert strongly_connected({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_lower_layers_import_nothing_above_them():
    upward = [f"{m} -> {d}" for m, deps in import_graph().items() for d in deps
              if d != "decensor" and layer_of(d) > layer_of(m)]
    assert upward == []
