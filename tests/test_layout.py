"""The layout rules, asserted on the real tree with benchmarks/import_graph.py (run it to see the
whole graph): no import cycle, no module over 400 lines, no import of another module's private
name, every sub-package packaged, and no heavy library loaded by importing rag.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import ROOT, benchmark

# Importing rag must stay cheap: these load only inside the functions that need them.
HEAVY = ("torch", "transformers", "sentence_transformers", "faiss", "gradio", "matplotlib")


@pytest.fixture(scope="module")
def graph():
    return benchmark("import_graph")


@pytest.fixture(scope="module")
def modules(graph):
    return graph.scan(ROOT, "rag")


def test_no_import_cycle_even_through_function_local_imports(graph, modules):
    assert graph.cycles(modules) == []


def test_the_stages_import_each_other_in_one_direction(graph, modules):
    """No two stages lean on each other (language -> answer -> language, say): each package
    can be read knowing only those it imports."""
    stages = graph.stage_graph(modules)
    assert [(a, b) for a in stages for b in stages[a] if a in stages.get(b, set())] == []
    assert stages["rag.language"] == set(), "English knowledge depends on no other stage"


def test_no_module_is_over_the_line_limit(graph, modules):
    too_long = graph.oversized(modules) | graph.oversized(graph.scan(ROOT, "ui"))
    assert too_long == {}, f"split these modules (over {graph.MAX_LINES} lines): {too_long}"


def test_no_module_imports_another_modules_private_name(graph, modules):
    assert graph.private_imports(modules) == [], "import a public name instead"


def test_every_sub_package_is_packaged():
    tomllib = pytest.importorskip("tomllib", reason="Python 3.10 has no TOML reader in its standard library")
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    listed = set(config["tool"]["setuptools"]["packages"])
    found = {".".join(init.parent.relative_to(ROOT).parts) for init in (ROOT / "rag").rglob("__init__.py")}
    assert found - listed == set(), "add these to [tool.setuptools] packages in pyproject.toml"


def test_importing_every_rag_module_loads_no_heavy_library(graph, modules):
    # A fresh interpreter: this process has loaded them all already for other tests.
    code = (
        f"import importlib, sys\nfor name in {sorted(modules)!r}:\n    importlib.import_module(name)\n"
        f"print(sorted(set({HEAVY!r}) & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_the_graph_finds_cycles_through_local_imports_and_private_names(graph, tmp_path):
    # The guard must see what it guards against, or the tests above would pass on anything.
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "sub" / "__init__.py").write_text("")
    (package / "a.py").write_text("from pkg.sub import b\n\n\ndef f():\n    from pkg import c\n")
    (package / "sub" / "b.py").write_text("from ..d import _secret, __doc__\n")
    (package / "c.py").write_text('"""c."""\nimport pkg.a\n')
    (package / "d.py").write_text("_secret = 1\n")
    modules = graph.scan(tmp_path, "pkg")
    assert modules["pkg.a"].imports == {"pkg.sub.b": False, "pkg.c": True}  # True: only inside a function
    assert graph.cycles(modules) == [["pkg.a", "pkg.c"]]
    assert [(p.importer, p.module, p.name) for p in graph.private_imports(modules)] == [
        ("pkg.sub.b", "pkg.d", "_secret")
    ]
    assert graph.edge_count(modules) == 4
    assert graph.oversized(modules, limit=2) == {"pkg.a": 5}


def test_test_modules_have_names_of_their_own():
    # pytest imports test modules by base name (rootdir-relative, no packages): two modules
    # of one name in different folders stop it collecting the whole tree.
    names = [path.name for path in (ROOT / "tests").rglob("test_*.py")]
    assert sorted({name for name in names if names.count(name) > 1}) == []
