"""The package's layering (README, architecture): a layer imports only layers below it."""

from __future__ import annotations

import ast
from pathlib import Path

import pipeline

#: Bottom to top. ``mrio`` and ``grid`` are siblings: neither imports the other.
LAYERS = [
    {"errors", "resources", "textfiles", "__init__", "__version__"},
    {"kernels"},
    {"mrio", "grid"},
    {"attribution"},
    {"storage"},
    {"results"},
    {"demo"},
    {"workflow"},
    {"cli"},
]
ROOT = Path(pipeline.__file__).parent


def level(name: str) -> int:
    return next(n for n, group in enumerate(LAYERS) if name in group)


def imported_layers(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("pipeline"):
            seg = node.module.split(".")
            found |= {seg[1]} if len(seg) > 1 else {a.name for a in node.names}
        elif isinstance(node, ast.Import):
            found |= {a.name.split(".")[1] for a in node.names if a.name.startswith("pipeline.")}
    return found


def test_every_module_imports_only_lower_layers_or_its_own():
    wrong = []
    for path in sorted(ROOT.rglob("*.py")):
        parts = path.relative_to(ROOT).parts
        own = parts[0] if len(parts) > 1 else path.stem
        for target in imported_layers(path) - {own}:
            if own == "__init__":
                continue  # the package's lazy open_results re-export
            siblings = level(target) == level(own) == level("mrio")
            if level(target) > level(own) or siblings:
                wrong.append(f"{path.relative_to(ROOT)} imports pipeline.{target}")
    assert not wrong, wrong


def test_every_folder_is_a_known_layer():
    folders = {p.name for p in ROOT.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert folders <= set().union(*LAYERS)
