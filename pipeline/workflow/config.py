"""Study configuration: a TOML file, checked key by key.

Relative input paths resolve against ``[study] inputs``, which itself resolves
against the directory of the config file; ``--inputs`` on the command line
overrides it. Unknown keys and wrong types are errors that name the key and
suggest the closest known one.
"""

from __future__ import annotations

import difflib
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.errors import ConfigError, InputFileError
from pipeline.textfiles import check_file, read_text

#: section -> key -> (accepted types, default). ``...`` marks a required key.
SCHEMA: dict[str, dict[str, tuple[tuple[type, ...], Any]]] = {
    "study": {
        "name": ((str,), "study"),
        "country": ((str,), ...),
        "inputs": ((str,), "."),
        "domestic_regions": ((list,), None),
    },
    "mrio": {
        "format": ((str,), None),
        "global": ((str,), ...),
        "global_format": ((str,), "plain"),
        "subnational": ((str,), None),
        "sector_concordance": ((str,), None),
        "stressor": ((str,), "CO2"),
        "extension": ((str,), None),
        "year": ((int,), None),
        "version": ((int,), None),
        "method": ((str,), "auto"),
        "balance_rtol": ((float, int), 1e-6),
        "total_rtol": ((float, int), 0.1),
    },
    "inventory": {
        "files": ((dict, str, list), ...),
        "units": ((str,), None),
        "variables": ((dict,), None),
        "bands": ((dict, list), None),
        "crs": ((str,), None),
        "chunks": ((int,), None),
    },
    "regions": {
        "boundaries": ((str, list), None),
        "code_field": ((str, list), "code"),
        "raster": ((str,), None),
        "raster_codes": ((str,), None),
        "raster_resampling": ((str,), "nearest"),
        "outside": ((str,), "error"),
        "aliases": ((dict,), None),
        "default_region": ((str,), None),
        "cities": ((str,), None),
    },
    "concordance": {"file": ((str,), ...)},
    "output": {
        "dtype": ((str,), "float64"),
        "maps": ((bool,), True),
        "hotspot_share": ((float, int), 0.75),
        "chunk_memory_mb": ((int, float), 128),
    },
    "cluster": {
        "kind": ((str,), "local"),
        "address": ((str,), None),
        "n_workers": ((int,), 2),
        "threads_per_worker": ((int,), 1),
        "memory_limit": ((str,), "3GiB"),
        "jobqueue": ((dict,), None),
    },
}

_CHOICES = {
    ("mrio", "format"): ("nested", "plain"),
    ("mrio", "global_format"): ("plain", "exiobase3", "eora26", "oecd", "gloria"),
    ("mrio", "method"): ("auto", "lu", "iterative", "mixed"),
    ("output", "dtype"): ("float64", "float32"),
    ("regions", "raster_resampling"): ("nearest", "mode"),
    ("cluster", "kind"): ("local", "address", "jobqueue"),
}

#: (section, key) -> (low, high, low inclusive, high inclusive); NaN never passes.
_RANGES: dict[tuple[str, str], tuple[float, float, bool, bool]] = {
    ("mrio", "balance_rtol"): (0.0, 1.0, False, False),
    ("mrio", "total_rtol"): (0.0, 1.0, False, True),
    ("mrio", "year"): (1900, 2200, True, True),
    ("mrio", "version"): (1, 10_000, True, True),
    ("inventory", "chunks"): (16, 1_000_000, True, True),
    ("output", "hotspot_share"): (0.0, 1.0, False, False),
    ("output", "chunk_memory_mb"): (1.0, 1_000_000.0, True, True),
    ("cluster", "n_workers"): (1, 10_000, True, True),
    ("cluster", "threads_per_worker"): (1, 1_024, True, True),
}


def _check_range(section: str, key: str, value: Any, source: str) -> None:
    """Refuse a numeric value outside its documented range (see :data:`_RANGES`)."""
    bounds = _RANGES.get((section, key))
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


@dataclass(frozen=True)
class StudyConfig:
    """A checked study configuration.

    Attributes
    ----------
    sections : dict
        Section name to its settings, defaults filled in.
    path : Path
        The config file.
    inputs : Path
        Directory that relative input paths resolve against.
    raw_text : str
        The file's text, kept for provenance.
    """

    sections: dict[str, dict[str, Any]]
    path: Path
    inputs: Path
    raw_text: str = field(repr=False)

    def __getitem__(self, section: str) -> dict[str, Any]:
        return self.sections[section]

    def input_path(self, value: str | Path) -> Path:
        """Resolve an input path against :attr:`inputs`.

        A symbolic link loop is left unresolved, for its reader to report.
        """
        path = self.inputs / Path(value).expanduser()
        try:
            return path.resolve()
        except (RuntimeError, OSError):  # a link loop (RuntimeError before Python 3.13)
            return Path(os.path.abspath(path))


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
    sections = check_sections(raw, source=str(path))
    regions = sections["regions"]
    if bool(regions["boundaries"]) == bool(regions["raster"]):
        raise ConfigError(
            f"{path}: [regions] needs exactly one of boundaries (polygon files) "
            "or raster (+ raster_codes)"
        )
    if regions["raster"] and not regions["raster_codes"]:
        raise ConfigError(f"{path}: [regions] raster needs raster_codes (a CSV with id,code)")
    base = Path(inputs) if inputs is not None else path.parent / sections["study"]["inputs"]
    try:
        base = base.resolve()
    except (RuntimeError, OSError) as exc:  # a link loop (RuntimeError before Python 3.13)
        raise ConfigError(
            f"{base}: the inputs directory (--inputs or [study] inputs) is a symbolic link "
            "loop; fix or remove the link"
        ) from exc
    _check_cities(regions["cities"], base, path)
    return StudyConfig(sections, path.resolve(), base, text)


def _check_cities(cities: str | None, base: Path, source: Path) -> None:
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


def check_sections(raw: dict[str, Any], *, source: str) -> dict[str, dict[str, Any]]:
    """Check ``raw`` against :data:`SCHEMA` and fill defaults."""
    _reject_unknown(raw, SCHEMA, source=source, where="section")
    sections: dict[str, dict[str, Any]] = {}
    for name, keys in SCHEMA.items():
        given = raw.get(name, {})
        if not isinstance(given, dict):
            raise ConfigError(f"{source}: [{name}] must be a table")
        _reject_unknown(given, keys, source=source, where=f"key in [{name}]")
        sections[name] = {k: _checked(name, k, given, spec, source) for k, spec in keys.items()}
    return sections


def _checked(section: str, key: str, given: dict, spec: tuple, source: str) -> Any:
    types, default = spec
    if key not in given:
        if default is ...:
            raise ConfigError(f"{source}: [{section}] {key} is required")
        return default
    value = given[key]
    if isinstance(value, bool) and bool not in types or not isinstance(value, types):
        wanted = " or ".join(t.__name__ for t in types)
        raise ConfigError(
            f"{source}: [{section}] {key} = {value!r} should be of type {wanted}, "
            f"not {type(value).__name__}; fix the value"
        )
    choices = _CHOICES.get((section, key))
    if choices and value not in choices:
        raise ConfigError(f"{source}: [{section}] {key} = {value!r}; choose one of {choices}")
    _check_range(section, key, value, source)
    return float(value) if float in types and isinstance(value, int) else value


def _reject_unknown(given: dict, known: dict, *, source: str, where: str) -> None:
    for key in given:
        if key not in known:
            close = difflib.get_close_matches(key, list(known), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f"; known: {sorted(known)}"
            raise ConfigError(f"{source}: unknown {where} {key!r}{hint}")
