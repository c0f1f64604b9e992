"""Test helper: build the demo inputs once per session at a coarse resolution."""

from __future__ import annotations

import shutil
from pathlib import Path

from pipeline.demo.build import build_demo_inputs
from pipeline.resources import config_file
from pipeline.workflow.config import load_config

COARSE_M = 50_000.0


def build_coarse_demo(root: Path) -> Path:
    """Demo inputs at 50 km (86 x 97 cells), silent."""
    return build_demo_inputs(root / "inputs", resolution_m=COARSE_M, echo=lambda *_: None)


def copy_inputs(inputs: Path, dest: Path) -> Path:
    """A private copy of the demo inputs that a test may corrupt."""
    return Path(shutil.copytree(inputs, dest / "inputs"))


def demo_config(inputs: Path, **overrides):
    """``config/demo.toml`` on ``inputs``, with ``section__key=value`` overrides (checked)."""
    config = load_config(config_file("demo.toml"), inputs=inputs)
    sections: dict[str, dict] = {}
    for dotted, value in overrides.items():
        section, key = dotted.split("__")
        sections.setdefault(section, {})[key] = value
    return config.with_overrides(**sections)
