"""TOML keys in messages: the library names its arguments, the workflow names keys.

The library layers (``grid/``, ``mrio/``, ``attribution/``, ``results/``) know
nothing of the study file. A message that says which argument to fix names it in
backquotes, e.g. ``set `units```. The workflow, which passes the settings, shows
the TOML key instead (``set [inventory] units``): :func:`naming_keys` re-raises a
library error with the keys, and :func:`with_keys` rewrites a warning's text.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from pipeline.errors import FootprintError

#: Backquoted name in a library message -> (section, TOML key) of the config schema.
_NAMES = {
    "files": ("inventory", "files"),
    "units": ("inventory", "units"),
    "variables": ("inventory", "variables"),
    "bands": ("inventory", "bands"),
    "crs": ("inventory", "crs"),
    "sector_concordance": ("mrio", "sector_concordance"),
    "total_rtol": ("mrio", "total_rtol"),
    "aliases": ("regions", "aliases"),
    "default_region": ("regions", "default_region"),
    "cities": ("regions", "cities"),
    "concordance": ("concordance", "file"),
    "country": ("study", "country"),
    "domestic_regions": ("study", "domestic_regions"),
}
#: Backquoted name -> how the study file spells it, e.g. ``[inventory] units``.
KEYS = {name: f"[{section}] {key}" for name, (section, key) in _NAMES.items()}


def with_keys(text: str) -> str:
    """``text`` with every backquoted library name of :data:`KEYS` as its TOML key."""
    for name, key in KEYS.items():
        text = text.replace(f"`{name}`", key)
    return text


@contextlib.contextmanager
def naming_keys() -> Iterator[None]:
    """Re-raise a :class:`FootprintError` whose message names library arguments with keys."""
    try:
        yield
    except FootprintError as exc:
        text = with_keys(str(exc))
        if text == str(exc):
            raise
        raise type(exc)(text) from exc
