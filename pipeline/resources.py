"""Locate the project's reference data and configs, in a checkout or an installed wheel."""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def resource_dir(name: str) -> Path:
    """Directory ``data`` or ``config`` of the checkout, or its copy inside the wheel."""
    for candidate in (_PACKAGE.parent / name, _PACKAGE / "_resources" / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"footprint-map resource directory {name!r} not found")


def data_file(name: str) -> Path:
    """A file of the reference data (see ``data/README.md``)."""
    return resource_dir("data") / name


def config_file(name: str) -> Path:
    """A shipped study config, e.g. ``demo.toml``."""
    return resource_dir("config") / name
