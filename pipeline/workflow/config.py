"""Study configuration: a TOML file, checked key by key into typed settings.

Every ``[section]`` of the file becomes one frozen dataclass (:class:`StudySettings`,
:class:`MrioSettings`, ...), built and checked once when the config loads:
unknown keys (with the closest known key suggested), types, choices, ranges (NaN
never passes) and the checks that involve several keys. The stages each receive
their own section; the TOML keys are named in error messages by this module and
by the rest of :mod:`pipeline.workflow` only.

Relative input paths resolve against ``[study] inputs``, which itself resolves
against the directory of the config file; ``--inputs`` on the command line
overrides it (:class:`InputPaths`). Command-line overrides make a new checked
config (:meth:`StudyConfig.with_overrides`); a config is never changed in place.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.errors import ConfigError, InputFileError
from pipeline.storage.locations import DEFAULT_MAX_TRIES, StorageOptions, storage_options
from pipeline.textfiles import check_file, read_text
from pipeline.workflow import scenarios as scenario_tables
from pipeline.workflow.config_checks import (
    MAX_CV,
    check_cities,
    check_city_polygons,
    check_range,
    check_storage,
    check_uncertainty,
    reject_unknown,
)

_REQUIRED = ...


def _key(
    types: tuple[type, ...],
    default: Any = _REQUIRED,
    *,
    choices: tuple[str, ...] = (),
    bounds: tuple[float, float, bool, bool] | None = None,
    toml: str | None = None,
) -> Any:
    """A settings field: its accepted TOML types and default (``...`` for required).

    ``choices`` lists the accepted values; ``bounds`` is ``(low, high, low
    inclusive, high inclusive)``; ``toml`` is the TOML key when it is no Python name.
    """
    meta = {"types": types, "default": default, "choices": choices, "bounds": bounds}
    meta["toml"] = toml
    if default is _REQUIRED:
        return field(metadata=meta)
    return field(default=default, metadata=meta)


@dataclass(frozen=True, kw_only=True)
class StudySettings:
    """``[study]``: the study's name, its country and where its inputs are."""

    name: str = _key((str,), "study")
    country: str = _key((str,))
    inputs: str = _key((str,), ".")
    domestic_regions: list | None = _key((list,), None)


@dataclass(frozen=True, kw_only=True)
class MrioSettings:
    """``[mrio]``: the global (and subnational) tables and the Leontief solve."""

    format: str | None = _key((str,), None, choices=("nested", "plain"))
    global_: str = _key((str,), toml="global")
    global_format: str = _key(
        (str,), "plain", choices=("plain", "exiobase3", "eora26", "oecd", "gloria")
    )
    subnational: str | None = _key((str,), None)
    sector_concordance: str | None = _key((str,), None)
    stressor: str = _key((str,), "CO2")
    extension: str | None = _key((str,), None)
    year: int | None = _key((int,), None, bounds=(1900, 2200, True, True))
    version: int | None = _key((int,), None, bounds=(1, 10_000, True, True))
    method: str = _key((str,), "auto", choices=("auto", "lu", "iterative", "mixed"))
    balance_rtol: float = _key((float, int), 1e-6, bounds=(0.0, 1.0, False, False))
    total_rtol: float = _key((float, int), 0.1, bounds=(0.0, 1.0, False, True))

    @property
    def layout(self) -> str:
        """``format`` as given, else ``nested`` iff a subnational table is given."""
        return self.format or ("nested" if self.subnational else "plain")


@dataclass(frozen=True, kw_only=True)
class InventorySettings:
    """``[inventory]``: the gridded emission files and how to read them."""

    files: dict | str | list = _key((dict, str, list))
    units: str | None = _key((str,), None)
    variables: dict | None = _key((dict,), None)
    bands: dict | list | None = _key((dict, list), None)
    crs: str | None = _key((str,), None)
    chunks: int | None = _key((int,), None, bounds=(16, 1_000_000, True, True))


@dataclass(frozen=True, kw_only=True)
class RegionSettings:
    """``[regions]``: the region polygons or raster and how codes map to MRIO regions."""

    boundaries: str | list | None = _key((str, list), None)
    code_field: str | list = _key((str, list), "code")
    raster: str | None = _key((str,), None)
    raster_codes: str | None = _key((str,), None)
    raster_resampling: str = _key((str,), "nearest", choices=("nearest", "mode"))
    outside: str = _key((str,), "error")
    aliases: dict | None = _key((dict,), None)
    default_region: str | None = _key((str,), None)
    cities: str | None = _key((str,), None)
    city_polygons: str | dict | None = _key((str, dict), None)

    @property
    def city_polygon_source(self) -> tuple[str, str | None] | None:
        """``city_polygons`` as ``(path, name field or None)``, or None."""
        value = self.city_polygons
        if value is None:
            return None
        if isinstance(value, str):
            return value, None
        return value["path"], value.get("field")


@dataclass(frozen=True, kw_only=True)
class ConcordanceSettings:
    """``[concordance]``: the inventory-to-MRIO sector concordance."""

    file: str = _key((str,))


@dataclass(frozen=True, kw_only=True)
class OutputSettings:
    """``[output]``: the result cubes' dtype, maps, hotspot share and chunk budget."""

    dtype: str = _key((str,), "float64", choices=("float64", "float32"))
    maps: bool = _key((bool,), True)
    hotspot_share: float = _key((float, int), 0.75, bounds=(0.0, 1.0, False, False))
    chunk_memory_mb: float = _key((int, float), 128, bounds=(1.0, 1_000_000.0, True, True))
    materialize: list | None = _key((list,), None)


@dataclass(frozen=True, kw_only=True)
class ClusterSettings:
    """``[cluster]``: where the Dask computations run (see :mod:`cluster`)."""

    kind: str = _key((str,), "local", choices=("local", "address", "jobqueue"))
    address: str | None = _key((str,), None)
    n_workers: int = _key((int,), 2, bounds=(1, 10_000, True, True))
    threads_per_worker: int = _key((int,), 1, bounds=(1, 1_024, True, True))
    memory_limit: str = _key((str,), "3GiB")
    jobqueue: dict | None = _key((dict,), None)


@dataclass(frozen=True, kw_only=True)
class StorageSettings:
    """``[storage]``: how to reach object storage (:mod:`pipeline.storage.locations`).

    A key left unset falls back to the standard environment variable
    (``AWS_ENDPOINT_URL``, ``AWS_REGION``, ``AWS_ALLOW_HTTP``). Credentials are
    never keys: they come from the environment only.
    """

    endpoint_url: str | None = _key((str,), None)
    region: str | None = _key((str,), None)
    anonymous: bool = _key((bool,), False)
    allow_http: bool | None = _key((bool,), None)
    max_tries: int = _key((int,), DEFAULT_MAX_TRIES, bounds=(1, 100, True, True))


#: The quantiles reported when ``[uncertainty] quantiles`` is not given.
DEFAULT_QUANTILES = (0.05, 0.5, 0.95)


@dataclass(frozen=True, kw_only=True)
class UncertaintySettings:
    """``[uncertainty]``: the Monte Carlo ensemble (``realizations = 0``: deterministic).

    ``inventory_cv`` is one number or a table ``inventory sector = cv`` (sectors
    not named get 0); the checks beyond types are in :func:`_check_uncertainty`.
    """

    realizations: int = _key((int,), 0, bounds=(0, 100_000, True, True))
    seed: int = _key((int,), 0, bounds=(0, 2**63 - 1, True, True))
    quantiles: list | None = _key((list,), None)
    mrio_cv: float = _key((float, int), 0.0, bounds=(0.0, MAX_CV, True, True))
    inventory_cv: float | dict = _key((float, int, dict), 0.0)

    @property
    def enabled(self) -> bool:
        """True when the run draws realizations."""
        return self.realizations > 0

    @property
    def levels(self) -> tuple[float, ...]:
        """The quantiles to report, increasing."""
        return tuple(float(q) for q in self.quantiles) if self.quantiles else DEFAULT_QUANTILES

    def inventory_cv_of(self, sector: str) -> float:
        """The coefficient of variation of inventory sector ``sector``."""
        if isinstance(self.inventory_cv, dict):
            return float(self.inventory_cv.get(sector, 0.0))
        return float(self.inventory_cv)


Section = (
    StudySettings
    | MrioSettings
    | InventorySettings
    | RegionSettings
    | ConcordanceSettings
    | OutputSettings
    | ClusterSettings
    | UncertaintySettings
    | StorageSettings
)
#: TOML section name -> its settings class, in file order.
SECTIONS: dict[str, type] = {
    "study": StudySettings,
    "mrio": MrioSettings,
    "inventory": InventorySettings,
    "regions": RegionSettings,
    "concordance": ConcordanceSettings,
    "output": OutputSettings,
    "cluster": ClusterSettings,
    "uncertainty": UncertaintySettings,
    "storage": StorageSettings,
}


def _fields(cls: type) -> dict[str, dataclasses.Field]:
    """TOML key -> dataclass field of a settings class."""
    return {f.metadata["toml"] or f.name: f for f in dataclasses.fields(cls)}


#: section -> key -> (accepted types, default); ``...`` marks a required key.
SCHEMA: dict[str, dict[str, tuple[tuple[type, ...], Any]]] = {
    name: {key: (f.metadata["types"], f.metadata["default"]) for key, f in _fields(cls).items()}
    for name, cls in SECTIONS.items()
}


def toml_items(section: Section) -> dict[str, Any]:
    """A section's settings by TOML key (``None`` for a key left unset)."""
    return {key: getattr(section, f.name) for key, f in _fields(type(section)).items()}


def _given(section: Section) -> dict[str, Any]:
    """A section as a TOML table: unset keys and untouched defaults left out.

    Checking it again gives the same settings (an ``int`` default of a float key
    such as ``chunk_memory_mb = 128`` stays an ``int``, as when the key is unset).
    """
    given = {}
    for key, f in _fields(type(section)).items():
        value, default = getattr(section, f.name), f.metadata["default"]
        if value is not None and not (type(value) is type(default) and value == default):
            given[key] = value
    return given


@dataclass(frozen=True)
class InputPaths:
    """Where a study's relative input paths resolve.

    Attributes
    ----------
    base : Path
        ``--inputs``, else ``[study] inputs`` relative to the config file.
    config : Path
        The config file, named in error messages.
    """

    base: Path
    config: Path

    def resolve(self, value: str | Path) -> Path:
        """``value`` resolved against :attr:`base`.

        A symbolic link loop is left unresolved, for its reader to report.
        """
        path = self.base / Path(value).expanduser()
        try:
            return path.resolve()
        except (RuntimeError, OSError):  # a link loop (RuntimeError before Python 3.13)
            return Path(os.path.abspath(path))


@dataclass(frozen=True)
class StudyConfig:
    """A checked study configuration: one typed, frozen section per TOML table.

    Attributes
    ----------
    study, mrio, inventory, regions, concordance, output, cluster, uncertainty, storage
        The sections (see :data:`SECTIONS`), defaults filled in.
    path : Path
        The config file.
    inputs : Path
        Directory that relative input paths resolve against.
    raw_text : str
        The file's text, kept for provenance.
    groups : dict
        ``[groups]``: group name -> consumer codes (checked against the MRIO later).
    scenarios : tuple of Scenario
        The ``[[scenario]]`` tables (see :mod:`pipeline.workflow.scenarios`).
    """

    study: StudySettings
    mrio: MrioSettings
    inventory: InventorySettings
    regions: RegionSettings
    concordance: ConcordanceSettings
    output: OutputSettings
    cluster: ClusterSettings
    uncertainty: UncertaintySettings
    storage: StorageSettings
    path: Path
    inputs: Path
    raw_text: str = field(repr=False)
    groups: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    scenarios: tuple[scenario_tables.Scenario, ...] = ()

    @property
    def paths(self) -> InputPaths:
        """Where relative input paths resolve (what the stages get, not the config)."""
        return InputPaths(self.inputs, self.path)

    def storage_options(self, env: Mapping[str, str] | None = None) -> StorageOptions:
        """``[storage]`` over the environment's ``AWS_*`` variables (``os.environ`` by default)."""
        return storage_options(toml_items(self.storage), env=os.environ if env is None else env)

    def input_path(self, value: str | Path) -> Path:
        """Resolve an input path against :attr:`inputs` (see :meth:`InputPaths.resolve`)."""
        return self.paths.resolve(value)

    def with_overrides(
        self, *, source: str | None = None, **sections: Mapping[str, Any]
    ) -> StudyConfig:
        """A new config with some keys replaced, checked like the file's own keys.

        Parameters
        ----------
        source : str, optional
            Where the overrides come from, for error messages (default the file).
        **sections : mapping
            Section name -> ``{key: value}`` by TOML key; ``None`` unsets a key
            (its default applies). The inputs directory stays :attr:`inputs`.

        Raises
        ------
        ConfigError
            As :func:`load_config` does, for the merged settings.
        """
        raw = {}
        for name in SECTIONS:
            merged = {**_given(getattr(self, name)), **sections.get(name, {})}
            raw[name] = {k: v for k, v in merged.items() if v is not None}
        where = source or str(self.path)
        raw.update((k, v) for k, v in sections.items() if k not in SECTIONS)  # refused below
        checked = _typed_sections(raw, source=where)
        return dataclasses.replace(
            self, **_with_paths_checked(checked, base=self.inputs, source=where)
        )


def load_config(path: str | Path, *, inputs: str | Path | None = None) -> StudyConfig:
    """Read and check a study config.

    Parameters
    ----------
    path : str or Path
        TOML file.
    inputs : str or Path, optional
        Overrides ``[study] inputs``.

    Raises
    ------
    ConfigError
        Naming the file, the key and the fix.
    """
    path = Path(path)
    try:
        check_file(path, what="config file", fix="pass the path of a TOML study file")
        text = read_text(path)
    except InputFileError as exc:
        raise ConfigError(str(exc)) from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from exc
    sections = _typed_sections(raw, source=str(path))
    base = Path(inputs) if inputs is not None else path.parent / sections["study"].inputs
    try:
        base = base.resolve()
    except (RuntimeError, OSError) as exc:  # a link loop (RuntimeError before Python 3.13)
        raise ConfigError(
            f"{base}: the inputs directory (--inputs or [study] inputs) is a symbolic link "
            "loop; fix or remove the link"
        ) from exc
    sections = _with_paths_checked(sections, base=base, source=str(path))
    tables = scenario_tables.parse(raw, source=str(path))
    return StudyConfig(**sections, path=path.resolve(), inputs=base, raw_text=text, **tables)


def _typed_sections(raw: dict[str, Any], *, source: str) -> dict[str, Section]:
    """Every section of ``raw`` checked and typed, then the checks across keys."""
    reject_unknown(raw, {**SECTIONS, **scenario_tables.TABLES}, source=source, where="section")
    sections = {name: _section(name, raw.get(name, {}), source) for name in SECTIONS}
    regions = sections["regions"]
    if bool(regions.boundaries) == bool(regions.raster):
        raise ConfigError(
            f"{source}: [regions] needs exactly one of boundaries (polygon files) "
            "or raster (+ raster_codes)"
        )
    if regions.raster and not regions.raster_codes:
        raise ConfigError(f"{source}: [regions] raster needs raster_codes (a CSV with id,code)")
    if sections["mrio"].format == "nested" and not sections["mrio"].subnational:
        raise ConfigError(
            f"{source}: [mrio] format = 'nested' needs [mrio] subnational "
            "(the provincial table's directory)"
        )
    check_uncertainty(sections["uncertainty"], source)
    check_storage(sections["storage"], source)
    return sections


def _with_paths_checked(
    sections: dict[str, Section], *, base: Path, source: str
) -> dict[str, Section]:
    """The checks that need the inputs directory, and the cluster's (after the sections')."""
    check_cities(sections["regions"].cities, base, source)
    check_city_polygons(sections["regions"].city_polygons, base, source)
    return {**sections, "cluster": _checked_cluster(sections["cluster"])}


def _checked_cluster(settings: ClusterSettings) -> ClusterSettings:
    """``[cluster]`` after :func:`cluster.checked_settings` (worker sizes, address)."""
    from cluster.settings import checked_settings

    checked = checked_settings(toml_items(settings))
    return dataclasses.replace(settings, kind=checked["kind"])


def _section(name: str, given: Any, source: str) -> Section:
    """The settings of section ``name`` from its TOML table ``given``, checked."""
    if not isinstance(given, dict):
        raise ConfigError(f"{source}: [{name}] must be a table")
    keys = _fields(SECTIONS[name])
    reject_unknown(given, keys, source=source, where=f"key in [{name}]")
    values = {f.name: _checked(name, key, given, f.metadata, source) for key, f in keys.items()}
    return SECTIONS[name](**values)


def _checked(section: str, key: str, given: dict, meta: Mapping[str, Any], source: str) -> Any:
    """``given[key]`` (or its default) after the type, choice and range checks."""
    types, default = meta["types"], meta["default"]
    if key not in given:
        if default is _REQUIRED:
            raise ConfigError(f"{source}: [{section}] {key} is required")
        return default
    value = given[key]
    if isinstance(value, bool) and bool not in types or not isinstance(value, types):
        wanted = " or ".join(t.__name__ for t in types)
        raise ConfigError(
            f"{source}: [{section}] {key} = {value!r} should be of type {wanted}, "
            f"not {type(value).__name__}; fix the value"
        )
    choices = meta["choices"]
    if choices and value not in choices:
        raise ConfigError(f"{source}: [{section}] {key} = {value!r}; choose one of {choices}")
    check_range(section, key, value, meta["bounds"], source)
    return float(value) if float in types and isinstance(value, int) else value
