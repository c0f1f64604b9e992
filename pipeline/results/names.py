"""Names of region and consumer codes for maps and tables: ``CN-GD`` -> ``Guangdong``.

A code's name comes from, in order:

1. the study's own boundary files (``[regions] boundaries``, as recorded by the
   run): the first of the feature properties :data:`NAME_FIELDS` that is set;
2. the shipped reference data: ``data/china_provinces.geojson`` (``code`` ->
   ``name``) and ``data/world_countries.geojson`` (``iso3`` -> ``name``);
3. :data:`EXTRA_NAMES` (``ROW``: rest of the world);
4. the code itself.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from pipeline.errors import FootprintError
from pipeline.resources import data_file

#: Feature properties that may hold a region's name, most specific first.
NAME_FIELDS = ("name", "name_en", "NAME", "NAME_EN", "Name", "NAME_1", "admin", "ADMIN")
#: Names of codes that no boundary file holds.
EXTRA_NAMES = {"ROW": "rest of the world", "RoW": "rest of the world", "WLD": "world"}


@lru_cache(maxsize=1)
def shipped_names() -> dict[str, str]:
    """Names of the shipped provinces and countries, by code (ISO 3166-2 and ISO3)."""
    names: dict[str, str] = {}
    for file, field in (("world_countries.geojson", "iso3"), ("china_provinces.geojson", "code")):
        doc = json.loads(data_file(file).read_text(encoding="utf-8"))
        for feature in doc["features"]:
            props = feature.get("properties") or {}
            code, name = props.get(field), props.get("name")
            if code and name and str(code) != "-99":
                names[str(code)] = str(name)
    return names


def boundary_names(paths: list[str] | None, code_field) -> dict[str, str]:
    """Names by code found in boundary files (files that cannot be read are skipped)."""
    from pipeline.grid.boundaries import read_geojson, read_ogr

    names: dict[str, str] = {}
    fields = code_field if isinstance(code_field, list) else [code_field] * len(paths or [])
    for path, field in zip(paths or [], fields, strict=False):
        path = Path(path)
        try:
            reader = read_geojson if path.suffix.lower() in (".geojson", ".json") else None
            props = reader(path)[0] if reader else read_ogr(path, None)[0]
        except (OSError, FootprintError):
            continue
        for feature in props:
            code = feature.get(field)
            name = next((feature[f] for f in NAME_FIELDS if feature.get(f)), None)
            if code is not None and name is not None:
                names[str(code)] = str(name)
    return names


class Names:
    """Look up display names of codes (see the module's order of sources).

    Parameters
    ----------
    study : dict
        Names from the study's boundary files (:func:`boundary_names`).
    """

    def __init__(self, study: dict[str, str] | None = None):
        self.table = {**EXTRA_NAMES, **shipped_names(), **(study or {})}

    def __call__(self, code: object) -> str:
        """The name of ``code``, or the code itself."""
        return self.table.get(str(code), str(code))

    def labelled(self, code: object) -> str:
        """``"Guangdong (CN-GD)"``, or the code alone if it has no name."""
        name = self(code)
        return name if name == str(code) else f"{name} ({code})"


def study_names(attrs: dict) -> Names:
    """The :class:`Names` of a store: its study's boundary files, then the shipped data."""
    from pipeline.results.places import stored_places

    places = stored_places(attrs)
    return Names(boundary_names(places["boundaries"], places["code_field"]))


def label_text(code: object) -> str:
    """A sector or category code as words: ``iron_steel`` -> ``iron steel``."""
    return str(code).replace("_", " ")
