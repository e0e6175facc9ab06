"""The emulator's layout stays as the house style wants it: no module of the `awsshim` package imports
another in a cycle (imports inside functions included), and no Python file of the emulator (package,
launcher and tests) reaches 800 lines, no function 100."""

from __future__ import annotations

import ast
from pathlib import Path

EMULATOR = Path(__file__).resolve().parents[1]
PACKAGE = EMULATOR / "awsshim"
MAX_FILE_LINES = 800
MAX_FUNCTION_LINES = 100


def module_name(path: Path) -> str:
    """`awsshim.iam.operations` for awsshim/iam/operations/__init__.py, `awsshim.iam.policy` for policy.py."""
    parts = path.relative_to(EMULATOR).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path, modules: set[str]) -> set[str]:
    """The package's modules `path` imports: `import a.b`, `from a import b` (b a module or a name in a),
    relative forms resolved against the importing module's package."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            found.add(source)
            found.update(f"{source}.{alias.name}" for alias in node.names)
    return {module for module in found if module in modules and module != name}


def import_graph() -> dict[str, set[str]]:
    paths = sorted(PACKAGE.rglob("*.py"))
    modules = {module_name(path) for path in paths}
    return {module_name(path): imported_modules(path, modules) for path in paths}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle (its modules, the first repeated at the end), or None."""
    done: set[str] = set()

    def visit(module: str, trail: list[str]) -> list[str] | None:
        if module in trail:
            return trail[trail.index(module) :] + [module]
        if module in done:
            return None
        for target in sorted(graph[module]):
            cycle = visit(target, trail + [module])
            if cycle:
                return cycle
        done.add(module)
        return None

    for module in sorted(graph):
        cycle = visit(module, [])
        if cycle:
            return cycle
    return None


def test_the_package_imports_without_a_cycle() -> None:
    graph = import_graph()
    assert len(graph) > 20, f"the awsshim package was not found whole under {PACKAGE}: {sorted(graph)}"
    assert find_cycle(graph) is None, f"import cycle: {' -> '.join(find_cycle(graph) or [])}"


def test_the_cycle_check_sees_cycles_and_package_relative_imports() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None
    graph = import_graph()
    assert "awsshim.core" in graph["awsshim.front"]  # `from .core import ...`
    assert "awsshim.iam.policy" in graph["awsshim.iam.operations.s3"]  # `from ..policy import ...`
    assert "awsshim.iam.operations.s3" in graph["awsshim.iam.operations"]  # `from . import s3`


def emulator_python_files() -> list[Path]:
    return sorted(path for path in EMULATOR.rglob("*.py") if "__pycache__" not in path.parts)


def test_no_emulator_file_reaches_800_lines() -> None:
    files = emulator_python_files()
    assert PACKAGE / "front.py" in files and EMULATOR / "tests" / "test_layout.py" in files
    too_long = {str(path.relative_to(EMULATOR)): n for path in files if (n := len(path.read_text().splitlines())) >= MAX_FILE_LINES}
    assert not too_long, f"files of {MAX_FILE_LINES} lines or more (split them by concern): {too_long}"


def test_no_emulator_function_reaches_100_lines() -> None:
    too_long = {}
    for path in emulator_python_files():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length >= MAX_FUNCTION_LINES:
                    too_long[f"{path.relative_to(EMULATOR)}:{node.lineno} {node.name}"] = length
    assert not too_long, f"functions of {MAX_FUNCTION_LINES} lines or more: {too_long}"
