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

#: Section -> the keys a library message may name by the argument of the same name.
_SAME_NAME = {
    "inventory": ("files", "units", "variables", "bands", "crs"),
    "mrio": ("sector_concordance", "total_rtol"),
    "regions": (
        "aliases",
        "default_region",
        "cities",
        "city_polygons",
        "boundaries",
        "code_field",
        "raster",
        "raster_codes",
    ),
    "study": ("country", "domestic_regions"),
    "output": ("materialize",),
}
#: Backquoted name -> how the study file spells it, e.g. ``[inventory] units``.
KEYS = {name: f"[{section}] {name}" for section, names in _SAME_NAME.items() for name in names}
KEYS["concordance"] = "[concordance] file"


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
