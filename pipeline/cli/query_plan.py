"""Which combinations of ``footprint-map query`` options mean something, and what.

:func:`plan_query` turns the parsed options into a :class:`QueryPlan` or refuses
them with one line saying why (a :class:`~pipeline.errors.ConfigError`, exit 2).
Nothing is silently ignored. The rules, in the order they are checked:

===========================================  ============================================
options                                      result
===========================================  ============================================
``--format parquet|geotiff|png``             needs ``--output``
``--delta`` without ``--scenario``           refused: only a scenario has a change
``--delta`` with ``--hotspots`` or           refused: a change has signs; hotspots and
``--share``                                  concentration need emissions
``--delta --by city --format png``           refused: city discs are sized by emissions
``--delta`` otherwise                        the change (scenario - baseline): rankings
                                             by its size, signed; diverging maps
``--region|--city|--cell`` with ``--by``,    refused: a place gives a drivers table, not
``--hotspots`` or ``--share``                a ranking of the land
``--cell`` with ``--format png|geotiff``     refused: one cell is no map
place + ``png``                              the layer, framed on the region or the disc
place + ``geotiff``                          the layer cropped to the place, NaN outside
place + ``png|geotiff`` with ``--top`` or    refused: a map has no rows / no groups
``--group``
place + a table format                       drivers table, ``--top`` rows (default 10)
``--group`` without a place                  refused
``--radius-km`` without ``--by city`` or     refused
``--city``
``--hotspots`` with ``--by province|city``   refused: hotspots are cells
``--hotspots`` + ``png``                     hotspot mask, two classes and a legend
``--hotspots`` + ``geotiff``                 hotspot mask, uint8 (1 = hotspot)
``--hotspots`` + a table format              the hotspot cells, ``--top`` (default 10)
``--share`` without ``--hotspots``           only with ``--format table`` (its header)
``--by cell`` + ``png|geotiff``              the layer
``--by province`` + ``png``                  choropleth of the province totals
``--by city`` + ``png``                      the top ``--top`` cities (default 10) as discs
``--by province|city`` + ``geotiff``         refused: no raster of a ranking
``--top`` with ``png|geotiff`` (not city)    refused: a map has no rows
``--quantile`` with ``--scenario``,          refused: quantiles are stored per cell for
``--sector`` or ``--category``               the baseline's foreign consumers only
``--quantile`` with ``--by province|city``   refused: a region's quantile is not the sum
                                             of its cells' quantiles
``--quantile`` with a place + a table        refused: drivers are the deterministic
                                             attribution's
``--quantile Q`` otherwise                   the same, on the stored quantile Q per cell
===========================================  ============================================

Tables cut by ``--top`` say so ("showing 10 of 905 hotspot cells").
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from pipeline.errors import ConfigError
from pipeline.results.analytics import CITY_RADIUS_KM

FORMATS = ("table", "csv", "json", "parquet", "geotiff", "png")
FILE_FORMATS = ("parquet", "geotiff", "png")
#: The file name endings each file format's ``--output`` may have (or none at all).
SUFFIXES = {"parquet": (".parquet", ".pq"), "geotiff": (".tif", ".tiff"), "png": (".png",)}
MAP_FORMATS = ("geotiff", "png")
DEFAULT_TOP = 10


@dataclass(frozen=True)
class QueryPlan:
    """What a query does.

    Attributes
    ----------
    mode : str
        ``"drivers"`` (of a place), ``"hotspots"`` or ``"rank"``.
    by : str
        ``cell``, ``city`` or ``province`` (``rank``).
    top : int or None
        Rows (cities on a city map); None: all.
    share : float
        Share of ``--hotspots`` and of the table header's concentration line.
    radius_km : float
        City disc radius.
    delta : bool
        The scenario's change (``--delta``) instead of its emissions.
    quantile : float or None
        The stored Monte Carlo quantile per cell (``--quantile``) instead of the
        deterministic layer.
    """

    mode: str
    by: str
    top: int | None
    share: float
    radius_km: float
    delta: bool = False
    quantile: float | None = None


def parse_top(text: str) -> int | str:
    """``--top``: a whole number >= 1 or ``all``."""
    if text.strip().lower() == "all":
        return "all"
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a number of rows; give a whole number >= 1 (e.g. 10) or 'all'"
        )
    return value


def _number(text: str, fits, message: str) -> float:
    """``text`` as a float that ``fits``, else an argparse error ``'<text>' <message>``."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not fits(value):
        raise argparse.ArgumentTypeError(f"{text!r} {message}")
    return value


def parse_share(text: str) -> float:
    """``--share``: a fraction in (0, 1]."""
    return _number(text, lambda v: 0 < v <= 1, "must be a fraction in (0, 1], e.g. 0.75")


def parse_quantile(text: str) -> float:
    """``--quantile``: a level in [0, 1]."""
    return _number(text, lambda v: 0 <= v <= 1, "must be a quantile in [0, 1], e.g. 0.95")


def parse_radius(text: str) -> float:
    """``--radius-km``: a positive distance in km."""
    return _number(
        text, lambda v: 0 < v < float("inf"), "must be a positive distance in km, e.g. 25"
    )


def place_flag(args) -> str | None:
    """The place option given (``--region``, ``--city`` or ``--cell``), if any."""
    for flag in ("region", "city", "cell"):
        if getattr(args, flag, None):
            return f"--{flag}"
    return None


def _check_suffix(args) -> None:
    """Refuse ``--output x.txt`` with ``--format png``: the file would open as neither."""
    allowed = SUFFIXES.get(args.format)
    suffix = args.output.suffix.lower() if args.output is not None else ""
    if allowed and suffix and suffix not in allowed:
        raise ConfigError(
            f"--output {args.output} ends in {suffix!r}, but --format {args.format} writes "
            f"a {allowed[0]} file; name it {args.output.with_suffix(allowed[0]).name} "
            "or choose the --format of that file"
        )


def plan_query(args) -> QueryPlan:
    """Check the combination of query options; return the plan or raise one line why not."""
    if args.format in FILE_FORMATS and args.output is None:
        raise ConfigError(f"--format {args.format} writes a file; add --output PATH")
    _check_suffix(args)
    delta = bool(getattr(args, "delta", False))
    if delta:
        _delta_rules(args)
    place = place_flag(args)
    if args.radius_km is not None and args.by != "city" and place != "--city":
        raise ConfigError(
            "--radius-km sets the city disc of --by city or --city; add one of them or drop it"
        )
    top = None if args.top == "all" else args.top
    quantile = getattr(args, "quantile", None)
    if quantile is not None:
        _quantile_rules(args, place)
    if place:
        mode = _place_rules(args, place)
    else:
        mode = _land_rules(args)
    return QueryPlan(
        mode=mode,
        by=args.by or "cell",
        top=DEFAULT_TOP if args.top is None else top,
        share=0.75 if args.share is None else args.share,
        radius_km=CITY_RADIUS_KM if args.radius_km is None else args.radius_km,
        delta=delta,
        quantile=quantile,
    )


def _quantile_rules(args, place: str | None) -> None:
    """``--quantile``: the stored per-cell quantiles of the baseline's foreign consumers."""
    if getattr(args, "scenario", None) is not None:
        raise ConfigError(
            "--quantile reads the baseline's Monte Carlo quantiles; a scenario stores none: "
            "drop --scenario or --quantile"
        )
    for flag in ("sector", "category"):
        if getattr(args, flag, None) is not None:
            raise ConfigError(
                f"--quantile reads the quantiles stored per cell for all foreign consumers and "
                f"each foreign consumer, not per {flag}; drop --{flag} or --quantile"
            )
    if args.by in ("province", "city"):
        raise ConfigError(
            f"--quantile with --by {args.by} would sum cells' quantiles, which is not the "
            f"{args.by}'s quantile; use --by cell (or --hotspots), or drop --quantile"
        )
    if place and args.format not in MAP_FORMATS:
        raise ConfigError(
            f"--quantile with {place} and a table: drivers are the deterministic attribution's "
            "(its quantiles are attribution_quantiles in footprint.zarr); drop --quantile, or "
            "map the quantile over the place with --format png|geotiff"
        )


def _delta_rules(args) -> None:
    """``--delta``: a scenario's change, which hotspots, shares and city discs cannot show."""
    if getattr(args, "scenario", None) is None:
        raise ConfigError(
            "--delta selects a scenario's change (scenario - baseline); add --scenario NAME "
            "or drop --delta"
        )
    for flag, given in (("--hotspots", args.hotspots), ("--share", args.share)):
        if given not in (None, False):
            raise ConfigError(
                f"{flag} needs emissions, but --delta gives changes of either sign; drop {flag} "
                "(--by cell ranks the largest changes) or drop --delta"
            )
    if args.by == "city" and args.format == "png":
        raise ConfigError(
            "--by city --format png sizes city discs by emissions, which a change (--delta) "
            "is not; use --format csv for the cities' changes, or --format png without --by"
        )


def _place_rules(args, place: str) -> str:
    for flag, given in (("--by", args.by), ("--hotspots", args.hotspots), ("--share", args.share)):
        if given not in (None, False):
            raise ConfigError(
                f"{flag} ranks the whole land but {place} asks for the drivers of one place; "
                f"drop {flag} or {place}"
            )
    if args.format in MAP_FORMATS:
        if place == "--cell":
            raise ConfigError(
                f"--cell with --format {args.format} would be one pixel; use --region or --city "
                "for a map framed on a place, or a table format for the cell's drivers"
            )
        for flag, given in (("--top", args.top), ("--group", args.group)):
            if given is not None:
                raise ConfigError(
                    f"{flag} shapes a drivers table; --format {args.format} writes the layer "
                    f"over {place[2:]} {getattr(args, place[2:])!r}: drop {flag}"
                )
    return "drivers"


def _land_rules(args) -> str:
    if args.group is not None:
        raise ConfigError(
            "--group sums the drivers table of --region, --city or --cell; add one or drop --group"
        )
    maps = args.format in MAP_FORMATS
    if args.hotspots:
        if args.by not in (None, "cell"):
            raise ConfigError(
                f"--hotspots lists cells; drop --by {args.by} (or drop --hotspots for the "
                f"{args.by} ranking)"
            )
        if maps and args.top is not None:
            raise ConfigError(f"--top counts table rows; --format {args.format} maps every hotspot")
        return "hotspots"
    if args.share is not None and args.format != "table":
        raise ConfigError(
            "--share is the share held by --hotspots (and by the header of --format table); "
            "add --hotspots or drop --share"
        )
    if args.format == "geotiff" and args.by in ("province", "city"):
        raise ConfigError(
            f"--by {args.by} ranks {args.by} totals, which have no raster; use --format png "
            "for a map or csv for the table (--format geotiff writes --by cell layers)"
        )
    if maps and args.top is not None and args.by != "city":
        raise ConfigError(
            f"--top counts table rows; --format {args.format} maps every "
            f"{args.by or 'cell'}: drop --top"
        )
    return "rank"
