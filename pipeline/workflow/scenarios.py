"""Consumer groups and scenarios of a study config: ``[groups]`` and ``[[scenario]]``.

They are checked in two steps, each failing with one line that names the file,
the scenario (or group) and the key:

1. :func:`parse`, when the config loads: keys (with the closest known key
   suggested), types, factors (finite, in ``[0, MAX_FACTOR]``; NaN and Inf never
   pass), scenario names (unique, usable as a directory name).
2. :func:`resolve_groups` and :func:`resolve_scenario`, once the MRIO and the
   inventory are open: every code is a consumer, region, category or inventory
   sector of the study (the error lists the valid ones), and every final-demand
   shock matches some final demand (:mod:`pipeline.mrio.scenarios`).
   :func:`check_emission_shocks` refuses an emission shock on a region and
   sector without emissions, once the inventory's totals are known.

A group may be used wherever a consumer code is: in a scenario's ``consumer``,
in the results API (``layer(consumer=GROUP)``) and in the summary's
``group_shares``. The nested country's code (``[study] country``) stands for
all its provinces, as a consumer, an origin (``products_of``, ``divert_to``) or
an emission shock's ``region``.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from pipeline.errors import ConfigError, FootprintError

if TYPE_CHECKING:  # the MRIO layer is imported when scenarios are resolved, not on config load
    from pipeline.mrio.scenarios import DemandChange, DemandShock

#: Largest accepted factor of a shock (0 removes, 1 keeps, 2 doubles).
MAX_FACTOR = 1000.0
_REQUIRED = ...
#: Keys that hold a code or a list of codes.
_CODE_LISTS = {"consumer", "products_of", "divert_to", "region"}
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
#: The config's tables besides its sections (:data:`pipeline.workflow.config.SECTIONS`).
TABLES = {"groups": dict, "scenario": list}
#: Table -> key -> (accepted TOML types, default); ``...`` marks a required key.
SCHEMA: dict[str, dict[str, tuple[tuple[type, ...], Any]]] = {
    "scenario": {
        "name": ((str,), _REQUIRED),
        "final_demand": ((list,), []),
        "emissions": ((list,), []),
    },
    "scenario.final_demand": {
        "consumer": ((str, list), _REQUIRED),
        "products_of": ((str, list), _REQUIRED),
        "category": ((str,), "all"),
        "factor": ((float, int), _REQUIRED),
        "divert_to": ((str, list), []),
    },
    "scenario.emissions": {
        "region": ((str, list), _REQUIRED),
        "sector": ((str,), _REQUIRED),
        "factor": ((float, int), _REQUIRED),
    },
}


@dataclass(frozen=True)
class DemandDeclaration:
    """One ``[[scenario.final_demand]]`` table as declared (codes not yet checked)."""

    consumer: tuple[str, ...]
    products_of: tuple[str, ...]
    category: str
    factor: float
    divert_to: tuple[str, ...] = ()


@dataclass(frozen=True)
class EmissionDeclaration:
    """One ``[[scenario.emissions]]`` table as declared (codes not yet checked)."""

    region: tuple[str, ...]
    sector: str
    factor: float


@dataclass(frozen=True)
class Scenario:
    """One ``[[scenario]]``: a name, final-demand shocks and emission shocks."""

    name: str
    final_demand: tuple[DemandDeclaration, ...] = ()
    emissions: tuple[EmissionDeclaration, ...] = ()

    def declaration(self) -> dict[str, Any]:
        """The scenario as plain data (its ``--resume`` key and store attribute)."""
        return dataclasses.asdict(self)

    def text(self) -> str:
        """The declaration as one JSON line."""
        return json.dumps(self.declaration(), sort_keys=True)


@dataclass(frozen=True)
class EmissionShock:
    """An emission shock with its codes checked: producer regions, a sector, a factor."""

    regions: tuple[str, ...]
    sector: str
    factor: float


@dataclass(frozen=True)
class ResolvedScenario:
    """A scenario whose codes are checked and expanded (groups, the nested country)."""

    scenario: Scenario
    demand: tuple[DemandShock, ...]
    emissions: tuple[EmissionShock, ...]

    @property
    def name(self) -> str:
        """The scenario's name."""
        return self.scenario.name


@dataclass(frozen=True)
class StudyCodes:
    """The codes a scenario may name, from the opened MRIO and inventory.

    Attributes
    ----------
    consumers, regions, categories : tuple of str
        The MRIO's final-demand regions, regions (origins) and categories.
    sectors : tuple of str
        The inventory sectors.
    country : str
        ``[study] country``; with ``provinces`` non-empty it stands for them.
    provinces : tuple of str
        The nested country's regions (empty for a plain table).
    """

    consumers: tuple[str, ...]
    regions: tuple[str, ...]
    categories: tuple[str, ...]
    sectors: tuple[str, ...]
    country: str
    provinces: tuple[str, ...] = ()


# ------------------------------------------------------------------ step 1: parse
def parse(raw: Mapping[str, Any], *, source: str) -> dict[str, Any]:
    """``groups`` and ``scenarios`` of a config file's TOML tables, checked (step 1).

    Returns
    -------
    dict
        ``{"groups": {name: members}, "scenarios": (Scenario, ...)}``.
    """
    for table, kind in TABLES.items():
        if table in raw and not isinstance(raw[table], kind):
            shape = "[groups] table" if kind is dict else "list of [[scenario]] tables"
            raise ConfigError(f"{source}: {table} must be a {shape}; see config/demo.toml")
    groups = {
        str(k): _codes(v, f"{source}: [groups] {k}", "members")
        for k, v in raw.get("groups", {}).items()
    }
    scenarios = tuple(
        _scenario(n, given, source) for n, given in enumerate(raw.get("scenario", []), 1)
    )
    seen: set[str] = set()
    for scenario in scenarios:
        if scenario.name in seen:
            raise ConfigError(
                f"{source}: [[scenario]] name = {scenario.name!r} is declared twice; "
                "give every scenario its own name"
            )
        seen.add(scenario.name)
    return {"groups": groups, "scenarios": scenarios}


def _scenario(number: int, given: Any, source: str) -> Scenario:
    """One ``[[scenario]]`` table, checked."""
    where = f"{source}: [[scenario]] {number}"
    given = _table(given, where, "scenario")
    name = _value(given, "name", "scenario", where)
    if not _NAME.match(name):
        raise ConfigError(
            f"{where}: name = {name!r} is not usable as a directory name; use 1 to 64 letters, "
            "digits, '.', '_' or '-', starting with a letter or digit"
        )
    where = f"{source}: scenario {name!r}"
    demand = tuple(
        DemandDeclaration(
            **_shock(t, "scenario.final_demand", f"{where}, [[scenario.final_demand]] {n}")
        )
        for n, t in enumerate(_value(given, "final_demand", "scenario", where), 1)
    )
    emissions = tuple(
        EmissionDeclaration(
            **_shock(t, "scenario.emissions", f"{where}, [[scenario.emissions]] {n}")
        )
        for n, t in enumerate(_value(given, "emissions", "scenario", where), 1)
    )
    if not demand and not emissions:
        raise ConfigError(
            f"{where}: declares no shock; add a [[scenario.final_demand]] or "
            "[[scenario.emissions]] table"
        )
    return Scenario(name, demand, emissions)


def _shock(given: Any, table: str, where: str) -> dict[str, Any]:
    """A shock table's checked values by field name (code lists as tuples)."""
    given = _table(given, where, table)
    values = {key: _value(given, key, table, where) for key in SCHEMA[table]}
    for key in _CODE_LISTS & set(values):
        if key == "divert_to" and values[key] == []:
            values[key] = ()
        else:
            values[key] = _codes(values[key], f"{where}: {key}", "codes")
    return values


def _table(given: Any, where: str, table: str) -> dict:
    """``given`` as a table whose keys are all known (the closest one suggested)."""
    if not isinstance(given, dict):
        raise ConfigError(f"{where}: must be a TOML table ([[{table}]])")
    for key in given:
        if key not in SCHEMA[table]:
            close = difflib.get_close_matches(key, list(SCHEMA[table]), n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"known keys: {list(SCHEMA[table])}"
            raise ConfigError(f"{where}: unknown key {key!r}; {hint}")
    return given


def _value(given: dict, key: str, table: str, where: str) -> Any:
    """``given[key]`` (or its default) after the type and range checks."""
    types, default = SCHEMA[table][key]
    if key not in given:
        if default is _REQUIRED:
            raise ConfigError(f"{where}: {key} is required; add it (see config/demo.toml)")
        return default
    value = given[key]
    if isinstance(value, bool) or not isinstance(value, types):
        wanted = " or ".join(t.__name__ for t in types)
        raise ConfigError(
            f"{where}: {key} = {value!r} should be of type {wanted}, not {type(value).__name__}"
        )
    if key == "factor" and not (math.isfinite(value) and 0.0 <= value <= MAX_FACTOR):
        what = "is negative" if value < 0 else "is out of range"
        raise ConfigError(
            f"{where}: factor = {value!r} {what}; use a number in [0, {MAX_FACTOR:g}] "
            "(0 removes, 1 keeps, 1.2 raises by 20 %)"
        )
    return float(value) if key == "factor" else value


def _codes(value: Any, where: str, what: str) -> tuple[str, ...]:
    """A code or a non-empty list of codes, as a tuple of unique strings."""
    listed = [value] if isinstance(value, str) else value
    if (
        not isinstance(listed, list)
        or not listed
        or not all(isinstance(v, str) and v for v in listed)
    ):
        raise ConfigError(f"{where} = {value!r}: give a code or a non-empty list of {what}")
    return tuple(dict.fromkeys(listed))


# ---------------------------------------------------------------- step 2: resolve
def _listing(codes: Sequence[str], most: int = 60) -> str:
    """Codes for a message: all of them, or the first ``most`` and how many in all."""
    codes = list(codes)
    shown = ", ".join(codes[:most])
    return shown + (f", ... ({len(codes)} in all)" if len(codes) > most else "")


def _expand(given: Sequence[str], valid: Mapping[str, tuple[str, ...]], key: str, where: str):
    """The codes ``given`` stands for (a group or the nested country: its members)."""
    out: list[str] = []
    for code in given:
        if code not in valid:
            close = difflib.get_close_matches(code, list(valid), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(
                f"{where}: {key} names {code!r}{hint}, which the study does not have; "
                f"use some of {_listing(valid)}"
            )
        out.extend(valid[code])
    return tuple(dict.fromkeys(out))


def _regions(codes: StudyCodes, names: Sequence[str]) -> dict[str, tuple[str, ...]]:
    """Code -> the codes it stands for: each of ``names``, and the nested country."""
    valid = {c: (c,) for c in names}
    if codes.provinces and codes.country not in valid:
        valid[codes.country] = tuple(p for p in codes.provinces if p in valid)
    return valid


#: Names a group may not take: they already mean a selection of consumers.
RESERVED_GROUP_NAMES = ("all", "foreign", "domestic")


def resolve_groups(
    groups: Mapping[str, Sequence[str]], codes: StudyCodes, *, source: str
) -> dict[str, tuple[str, ...]]:
    """``[groups]`` with every member checked and the nested country expanded.

    Raises
    ------
    ConfigError
        For a member that is no consumer (listing the valid codes), or a group
        named like a consumer.
    """
    valid = _regions(codes, codes.consumers)
    resolved = {}
    for name, members in groups.items():
        if name in valid:
            raise ConfigError(
                f"{source}: [groups] {name}: the name is already a consumer code; rename the group"
            )
        if name.lower() in RESERVED_GROUP_NAMES:
            raise ConfigError(
                f"{source}: [groups] {name}: the name is reserved (it names the "
                f"{name.lower()} selection in tables and queries); rename the group"
            )
        resolved[name] = _expand(members, valid, "a member", f"{source}: [groups] {name}")
    return resolved


def resolve_scenario(
    scenario: Scenario,
    groups: Mapping[str, tuple[str, ...]],
    codes: StudyCodes,
    mrio: Any,
    *,
    source: str,
) -> ResolvedScenario:
    """A scenario with its codes checked and expanded, and its shocks checked on ``mrio``.

    Raises
    ------
    ConfigError
        Naming the scenario, the shock and the key: an unknown code (listing
        the valid ones), ``divert_to`` overlapping ``products_of``, a shock that
        matches no final demand.
    """
    from pipeline.mrio.scenarios import DemandShock

    consumers = {**_regions(codes, codes.consumers), **groups}
    origins = _regions(codes, codes.regions)
    categories = {"all": codes.categories, **{k: (k,) for k in codes.categories}}
    demand = []
    for n, shock in enumerate(scenario.final_demand, 1):
        where = f"{source}: scenario {scenario.name!r}, [[scenario.final_demand]] {n}"
        resolved = DemandShock(
            consumers=_expand(shock.consumer, consumers, "consumer", where),
            origins=_expand(shock.products_of, origins, "products_of", where),
            categories=_expand([shock.category], categories, "category", where),
            factor=shock.factor,
            divert_to=_expand(shock.divert_to, origins, "divert_to", where),
        )
        both = sorted(set(resolved.origins) & set(resolved.divert_to))
        if both:
            raise ConfigError(
                f"{where}: divert_to and products_of both name {both}; keep them apart"
            )
        demand.append(resolved)
    sectors = {s: (s,) for s in codes.sectors}
    emissions = []
    for n, shock in enumerate(scenario.emissions, 1):
        where = _where(scenario, n, source)
        regions = _expand(shock.region, origins, "region", where)
        sector = _expand([shock.sector], sectors, "sector", where)[0]
        emissions.append(EmissionShock(regions, sector, shock.factor))
    return ResolvedScenario(scenario, tuple(demand), tuple(emissions))


def _where(scenario: Scenario, n: int, source: str) -> str:
    return f"{source}: scenario {scenario.name!r}, [[scenario.emissions]] {n}"


def demand_change(mrio: Any, resolved: ResolvedScenario, *, source: str) -> DemandChange:
    """The scenario's :class:`~pipeline.mrio.scenarios.DemandChange` on ``mrio``.

    Raises
    ------
    ConfigError
        Naming the scenario and the shock that matches nothing (or cannot divert).
    """
    from pipeline.mrio.scenarios import apply_shock, change_of

    shocked = np.array(mrio.Y, dtype=np.float64, copy=True)
    for n, shock in enumerate(resolved.demand, 1):
        try:
            apply_shock(mrio, shocked, shock)
        except FootprintError as exc:
            raise ConfigError(
                f"{source}: scenario {resolved.name!r}, [[scenario.final_demand]] {n}: {exc}"
            ) from exc
    return change_of(mrio, shocked)


def emission_factors(
    resolved: ResolvedScenario,
    producers: Sequence[str],
    sectors: Sequence[str],
    totals: np.ndarray,
    *,
    source: str,
) -> np.ndarray:
    """``(n_producers, n_sectors)`` factor of each producer region and inventory sector.

    ``totals`` are the producers' inventory totals (same shape); a shock none of
    whose regions emits in its sector matches nothing.

    Raises
    ------
    ConfigError
        Naming the scenario and the shock that matches nothing.
    """
    factors = np.ones((len(producers), len(sectors)))
    for n, shock in enumerate(resolved.emissions, 1):
        rows = [producers.index(r) for r in shock.regions if r in producers]
        column = list(sectors).index(shock.sector)
        if not rows or not np.any(totals[rows, column] > 0):
            raise ConfigError(
                f"{_where(resolved.scenario, n, source)}: region {list(shock.regions)[:8]} has no "
                f"{shock.sector!r} emissions on the grid, so the shock changes nothing; name a "
                "region and sector with emissions"
            )
        factors[rows, column] *= shock.factor
    return factors
