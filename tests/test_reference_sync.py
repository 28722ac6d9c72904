"""Each piece is written once: a definition in a solution notebook that tinyformer also defines must be
the same code (same syntax tree: comments and the nbgrader markers aside). Edit both together."""

import ast
import importlib
import inspect
import pkgutil

import nbformat
import pytest

import tinyformer
from grader.course import graded_chapter_ids, source_notebook


def tinyformer_definitions() -> dict[str, tuple[str, str]]:
    """name -> (module, source) of every top-level function and class in tinyformer."""
    found = {}
    for info in pkgutil.iter_modules(tinyformer.__path__):
        module = importlib.import_module(f"tinyformer.{info.name}")
        for name, obj in vars(module).items():
            if (inspect.isfunction(obj) or inspect.isclass(obj)) and obj.__module__ == module.__name__:
                found[name] = (module.__name__, inspect.getsource(obj))
    return found


def notebook_definitions(chapter: str) -> dict[str, str]:
    found = {}
    for cell in nbformat.read(source_notebook(chapter), as_version=4).cells:
        if cell.cell_type != "code":
            continue
        for node in ast.parse(cell.source).body:
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                first = node.decorator_list[0].lineno if node.decorator_list else node.lineno  # @dataclass, @torch.no_grad()
                found[node.name] = "\n".join(cell.source.splitlines()[first - 1 : node.end_lineno])
    return found


def tree(source: str) -> str:
    return ast.dump(ast.parse(inspect.cleandoc(source) if source.startswith(" ") else source))


@pytest.mark.parametrize("chapter", graded_chapter_ids())
def test_solution_definitions_equal_their_tinyformer_reference(chapter):
    reference = tinyformer_definitions()
    shared = {name: code for name, code in notebook_definitions(chapter).items() if name in reference}
    assert shared, f"{chapter} defines none of tinyformer's pieces: is its reference missing from tinyformer?"
    for name, code in shared.items():
        module, reference_code = reference[name]
        assert tree(code) == tree(reference_code), (
            f"{name} in solutions/{chapter} differs from {module}.{name}: the piece is written twice, keep both equal"
        )


def test_the_check_sees_a_difference():
    a = "def f(x):\n    return x + 1\n"
    b = "def f(x):\n    # a comment does not count\n    return x + 1\n"
    c = "def f(x):\n    return x - 1\n"
    assert tree(a) == tree(b) and tree(a) != tree(c)
