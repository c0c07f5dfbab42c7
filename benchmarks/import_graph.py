"""The import graph of the ``rag`` package, and the layout rules it should keep.

    python benchmarks/import_graph.py            # the graph, its cycles, sizes and private imports
    python benchmarks/import_graph.py --dot      # the same graph for Graphviz (dot -Tsvg)
    python benchmarks/import_graph.py /some/checkout   # another tree, e.g. an older commit

Imports are found by reading the source with ``ast``, never by importing it: a module that
imports something heavy or broken is still measured, and nothing runs. Every import counts,
including those inside functions, because a function-local import closes a cycle just as
surely when it runs; such edges are marked ``*`` (dashed with ``--dot``). An import of a
package's own parent (importing ``rag.x.y`` runs ``rag/__init__.py``) is not an edge: every
module would then sit in a cycle with the package root, which tells nothing.

``from a.b import c`` is an edge to the module ``a.b.c`` when there is one, else to ``a.b``.
Only modules of the package are nodes; the standard library and third-party packages are left
out. tests/test_layout.py asserts on the same findings, so the rules hold for everyone.
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "rag"
MAX_LINES = 400


@dataclass(frozen=True)
class PrivateImport:
    """``importer`` takes the private ``name`` from ``module`` (at ``line``)."""

    importer: str
    module: str
    name: str
    line: int


@dataclass
class Module:
    """One module: where it is, its length, and which package modules it imports."""

    name: str
    path: Path
    lines: int
    imports: dict[str, bool] = field(default_factory=dict)  # module -> imported only inside functions
    private: list[PrivateImport] = field(default_factory=list)


def module_names(root: Path, package: str = PACKAGE) -> dict[str, Path]:
    """Every module of ``package`` under ``root``: dotted name -> file."""
    names = {}
    for path in sorted((root / package).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        names[".".join(parts)] = path
    return names


def scan(root: Path = ROOT, package: str = PACKAGE) -> dict[str, Module]:
    """Read every module of ``package`` and record its imports of the package's modules."""
    paths = module_names(root, package)
    modules = {}
    for name, path in paths.items():
        source = path.read_text(encoding="utf-8")
        module = Module(name, path, len(source.splitlines()))
        is_package = path.name == "__init__.py"
        for node, local in _imports(ast.parse(source, filename=str(path))):
            for target, imported in _targets(node, name, is_package, paths):
                if target != name:
                    module.imports[target] = module.imports.get(target, True) and local
                if imported and _is_private(imported) and target != name:
                    module.private.append(PrivateImport(name, target, imported, node.lineno))
        modules[name] = module
    return modules


def _imports(tree: ast.Module) -> Iterable[tuple[ast.Import | ast.ImportFrom, bool]]:
    """Each import statement, with whether it sits inside a function."""

    def visit(node: ast.AST, local: bool):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                yield child, local
            inner = local or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            yield from visit(child, inner)

    yield from visit(tree, False)


def _targets(node, importer: str, is_package: bool, paths: Mapping[str, Path]) -> Iterable[tuple[str, str | None]]:
    """The package modules one statement imports, each with the name taken from it (None for a
    plain ``import a.b``)."""
    if isinstance(node, ast.Import):
        for alias in node.names:
            if alias.name in paths:
                yield alias.name, None
        return
    base = _absolute(node, importer, is_package)
    for alias in node.names:
        submodule = f"{base}.{alias.name}"
        if submodule in paths:
            yield submodule, None
        elif base in paths:
            yield base, alias.name


def _absolute(node: ast.ImportFrom, importer: str, is_package: bool) -> str:
    """The absolute module a ``from … import`` names (relative imports resolved)."""
    if not node.level:
        return node.module or ""
    parts = importer.split(".")
    package = parts if is_package else parts[:-1]
    base = package[: len(package) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


# ----------------------------------------------------------------------------------------
# Findings


def edge_count(modules: Mapping[str, Module]) -> int:
    return sum(len(m.imports) for m in modules.values())


def cycles(modules: Mapping[str, Module]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan's algorithm), each sorted;
    any one of them is an import cycle."""
    index: dict[str, int] = {}
    lowlink: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def connect(start: str) -> None:
        # Iterative, so that a long chain of imports cannot reach the recursion limit.
        work = [(start, iter(sorted(modules[start].imports)))]
        index[start] = lowlink[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, successors = work[-1]
            for successor in successors:
                if successor not in modules:
                    continue
                if successor not in index:
                    index[successor] = lowlink[successor] = len(index)
                    stack.append(successor)
                    on_stack.add(successor)
                    work.append((successor, iter(sorted(modules[successor].imports))))
                    break
                if successor in on_stack:
                    lowlink[node] = min(lowlink[node], index[successor])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    lowlink[parent] = min(lowlink[parent], lowlink[node])
                if lowlink[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))

    for name in sorted(modules):
        if name not in index:
            connect(name)
    return sorted(found)


def oversized(modules: Mapping[str, Module], limit: int = MAX_LINES) -> dict[str, int]:
    """Modules longer than ``limit`` lines, longest first: module -> lines."""
    long = [(m.name, m.lines) for m in modules.values() if m.lines > limit]
    return dict(sorted(long, key=lambda item: (-item[1], item[0])))


def private_imports(modules: Mapping[str, Module]) -> list[PrivateImport]:
    return [p for name in sorted(modules) for p in modules[name].private]


def relative_path(module: Module, root: Path) -> str:
    return module.path.relative_to(root).as_posix()


# ----------------------------------------------------------------------------------------
# Output


def text_report(modules: Mapping[str, Module], root: Path, limit: int = MAX_LINES) -> str:
    local = sum(local for m in modules.values() for local in m.imports.values())
    lines = [
        f"{len(modules)} modules, {edge_count(modules)} import edges ({local} of them only inside functions, marked *)",
        "",
    ]
    for name in sorted(modules):
        module = modules[name]
        targets = ", ".join(t + ("*" if module.imports[t] else "") for t in sorted(module.imports)) or "-"
        lines.append(f"{name} ({module.lines} lines) -> {targets}")
    found = cycles(modules)
    lines += ["", f"Import cycles (function-local imports included): {len(found) or 'none'}"]
    lines += [f"  {' <-> '.join(component)}" for component in found]
    long = oversized(modules, limit)
    lines += ["", f"Modules over {limit} lines: {len(long) or 'none'}"]
    lines += [f"  {relative_path(modules[name], root)}: {count}" for name, count in long.items()]
    private = private_imports(modules)
    lines += ["", f"Imports of another module's private names: {len(private) or 'none'}"]
    lines += [f"  {p.importer} (line {p.line}) imports {p.name} from {p.module}" for p in private]
    largest = sorted(modules.values(), key=lambda m: (-m.lines, m.name))[:5]
    lines += ["", "Largest modules: " + ", ".join(f"{relative_path(m, root)} {m.lines}" for m in largest)]
    return "\n".join(lines)


def dot_graph(modules: Mapping[str, Module]) -> str:
    """Graphviz source: one node per module, dashed edges for function-local imports, and the
    modules of any cycle drawn in red."""
    in_cycle = {name for component in cycles(modules) for name in component}
    lines = ["digraph imports {", "  rankdir=LR;", '  node [shape=box, fontname="Helvetica", fontsize=10];']
    for name in sorted(modules):
        colour = ', color="red"' if name in in_cycle else ""
        lines.append(f'  "{name}" [label="{name}\\n{modules[name].lines} lines"{colour}];')
    for name in sorted(modules):
        for target, local in sorted(modules[name].imports.items()):
            lines.append(f'  "{name}" -> "{target}"{" [style=dashed]" if local else ""};')
    lines.append("}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("root", nargs="?", type=Path, default=ROOT, help="the checkout to read (default: this one)")
    parser.add_argument("--package", default=PACKAGE, help=f"the package to graph (default: {PACKAGE})")
    parser.add_argument("--max-lines", type=int, default=MAX_LINES, help="flag modules longer than this")
    parser.add_argument("--dot", action="store_true", help="print the graph as Graphviz source instead")
    args = parser.parse_args(argv)
    root = args.root.resolve()
    if not (root / args.package).is_dir():
        sys.exit(f"No package {args.package}/ in {root}.")
    modules = scan(root, args.package)
    print(dot_graph(modules) if args.dot else text_report(modules, root, args.max_lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
