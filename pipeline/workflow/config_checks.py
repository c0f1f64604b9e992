"""Checks of the study config beyond a key's type: ranges, unknown keys, quantiles, CVs, city files.

Used by :mod:`pipeline.workflow.config` while it builds the typed settings;
every refusal is one :class:`~pipeline.errors.ConfigError` naming the file, the
key and the fix.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.errors import ConfigError
from pipeline.storage.locations import REGION_RE, check_endpoint

if TYPE_CHECKING:
    from pipeline.workflow.config import StorageSettings, UncertaintySettings

#: The largest coefficient of variation ``[uncertainty]`` accepts.
MAX_CV = 10.0


def check_uncertainty(settings: UncertaintySettings, source: str) -> None:
    """The ``[uncertainty]`` checks beyond types: quantiles and per-sector CVs."""
    levels = settings.quantiles
    if levels is not None:
        numbers = [q for q in levels if isinstance(q, int | float) and not isinstance(q, bool)]
        if not levels or len(numbers) < len(levels) or not all(0 <= q <= 1 for q in numbers):
            raise ConfigError(
                f"{source}: [uncertainty] quantiles = {levels!r}; give a non-empty list of "
                "numbers in [0, 1], e.g. [0.05, 0.5, 0.95]"
            )
        if any(b <= a for a, b in zip(numbers, numbers[1:], strict=False)):
            raise ConfigError(
                f"{source}: [uncertainty] quantiles = {levels!r} must increase strictly; "
                "sort them and drop repeats"
            )
    cvs = settings.inventory_cv
    table = cvs if isinstance(cvs, dict) else {"": cvs}
    for sector, cv in table.items():
        name = f"inventory_cv.{sector}" if sector else "inventory_cv"
        if isinstance(cv, bool) or not isinstance(cv, int | float):
            raise ConfigError(
                f"{source}: [uncertainty] {name} = {cv!r} should be a number; give one "
                "coefficient of variation, or a table such as { power = 0.05, cement = 0.1 }"
            )
        check_range("uncertainty", name, cv, (0.0, MAX_CV, True, True), source)


def check_storage(settings: StorageSettings, source: str) -> None:
    """The ``[storage]`` checks beyond types: the endpoint URL and the region's form."""
    if settings.endpoint_url is not None:
        check_endpoint(
            settings.endpoint_url,
            source=f"{source}: [storage] endpoint_url",
            allow_http=settings.allow_http,
        )
    if settings.region is not None and not REGION_RE.match(settings.region):
        raise ConfigError(
            f"{source}: [storage] region = {settings.region!r} is not a region name; "
            "use e.g. 'us-east-1', or remove the key to use AWS_REGION"
        )


def check_cities(cities: str | None, base: Path, source: str) -> None:
    """Refuse a ``[regions] cities`` value that is not an existing CSV file."""
    if cities is None:
        return
    resolved = (base / Path(cities).expanduser()).resolve()
    if not cities.lower().endswith(".csv") or not resolved.is_file():
        raise ConfigError(
            f"{source}: [regions] cities = {cities!r}: no CSV file at {resolved}; give a CSV "
            "with the columns of data/china_cities.csv (geonameid,name,lat,lon,population,"
            "province), relative to [study] inputs, or remove the key to use the shipped list"
        )


#: The keys of a ``[regions] city_polygons`` table.
CITY_POLYGON_KEYS = ("path", "field")


def check_city_polygons(value: str | dict | None, base: Path, source: str) -> None:
    """Refuse a ``[regions] city_polygons`` that names no file (its content is read by the run)."""
    if value is None:
        return
    key = "[regions] city_polygons"
    example = '{ path = "cities.gpkg", field = "name" }'
    if isinstance(value, dict):
        known = dict.fromkeys(CITY_POLYGON_KEYS)
        reject_unknown(value, known, source=source, where=f"key in {key}")
        for name in CITY_POLYGON_KEYS:
            if name in value and not isinstance(value[name], str):
                raise ConfigError(
                    f"{source}: {key} {name} = {value[name]!r} should be a string, e.g. {example}"
                )
        if "path" not in value:
            raise ConfigError(f"{source}: {key} needs a path, e.g. {example}")
    path = value if isinstance(value, str) else value["path"]
    resolved = (base / Path(path).expanduser()).resolve()
    if not resolved.exists():
        raise ConfigError(
            f"{source}: {key}: no file at {resolved}; give a GeoJSON, Shapefile or "
            f"GeoPackage of city polygons relative to [study] inputs, e.g. {example}, or "
            "remove the key to rank discs around the city points"
        )


def check_range(section: str, key: str, value: Any, bounds: tuple | None, source: str) -> None:
    """Refuse a numeric value outside ``bounds`` (low, high, inclusive flags); NaN fails."""
    if bounds is None or value is None:
        return
    low, high, low_in, high_in = bounds
    above = value >= low if low_in else value > low
    below = value <= high if high_in else value < high
    if not (above and below):
        interval = f"{'[' if low_in else '('}{low:g}, {high:g}{']' if high_in else ')'}"
        raise ConfigError(
            f"{source}: [{section}] {key} = {value!r} is out of range; use a value in {interval}"
        )


def reject_unknown(given: Mapping, known: Mapping, *, source: str, where: str) -> None:
    """Refuse a key of ``given`` not in ``known``, suggesting the closest known one."""
    for key in given:
        if key not in known:
            close = difflib.get_close_matches(key, list(known), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f"; known: {sorted(known)}"
            raise ConfigError(f"{source}: unknown {where} {key!r}{hint}")
