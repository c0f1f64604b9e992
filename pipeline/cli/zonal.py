"""``footprint-map zonal``: coverage-weighted totals of result layers over any polygons."""

from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path

from pipeline.errors import ConfigError
from pipeline.grid.zones import ZONE_FORMATS

FORMATS = ("table", "csv", "json", "parquet")

EPILOG = """examples:
  footprint-map zonal demo-out --zones cities.gpkg --field name
  footprint-map zonal demo-out --zones basins.shp --consumer USA --format csv --output usa.csv
  footprint-map zonal demo-out --zones zones.geojson --consumer USA,JPN --category households
      # two layers: columns t_co2_USA_households, share_USA_households, t_co2_JPN_...
  footprint-map zonal demo-out --zones zones.gpkg --sector power --format parquet \\
      --output power_by_zone.parquet

Each zone's total is the sum over the grid cells it touches, each cell weighted
by the exact share of its area inside the polygon (exactextract). Zones may be
in any CRS; they are reprojected to the store's. Without --consumer the layer
is the total over foreign consumers; --sector and --category narrow it. A
comma-separated list (--consumer USA,JPN) gives one layer per code, and several
lists one layer per combination. share is of the layer's total over all cells.
Zones may overlap: each is counted on its own. A zone outside the grid gets 0 t
and a warning line.
"""


def add_zonal_parser(subparsers) -> argparse.ArgumentParser:
    """Register ``footprint-map zonal``."""
    zonal = subparsers.add_parser(
        "zonal",
        usage="footprint-map zonal DIR --zones FILE [--field NAME] [--consumer C] [--sector S] "
        "[--category K] [--scenario NAME] [--format table|csv|json|parquet] [--output PATH] "
        "[--scheduler ADDRESS]",
        help="totals of a layer over your own polygons (exact cell coverage)",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Sum one or several layers of a results directory over each polygon "
        f"of a {ZONE_FORMATS} file, weighting every cell by the share of its area inside.",
    )
    zonal.add_argument("dir", type=Path, metavar="DIR", help="results directory (--out of run)")
    zonal.add_argument(
        "--zones", type=Path, metavar="FILE", help=f"{ZONE_FORMATS} of polygons, any CRS"
    )
    zonal.add_argument(
        "--field",
        metavar="NAME",
        help="property naming the zones (default: the first text property, else the "
        "feature's position)",
    )
    select = zonal.add_argument_group("layer (comma-separated lists give several layers)")
    select.add_argument("--consumer", metavar="C", help="consumer code(s), e.g. USA or USA,JPN")
    select.add_argument("--sector", metavar="S", help="inventory sector(s), e.g. power")
    select.add_argument("--category", metavar="K", help="final-demand category(ies)")
    zonal.add_argument(
        "--scenario",
        metavar="NAME",
        help="read the scenario NAME of DIR (DIR/scenarios/NAME) instead of the baseline",
    )
    zonal.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="compute on a running Dask scheduler, e.g. tcp://127.0.0.1:8786; "
        "default: local threads",
    )
    out = zonal.add_argument_group("output")
    out.add_argument(
        "--format",
        choices=FORMATS,
        help="default: table on stdout; with --output, from its suffix (.csv, .json, "
        ".parquet, else table)",
    )
    out.add_argument("--output", type=Path, metavar="PATH", help="file (default: stdout)")
    return zonal


def _codes(text: str | None, option: str) -> list[str | None]:
    """The codes of a comma-separated option (``[None]`` when not given)."""
    if text is None:
        return [None]
    codes = [part.strip() for part in text.split(",") if part.strip()]
    if not codes:
        raise ConfigError(
            f"{option} {text!r} names no code; give e.g. {option} USA,JPN or leave it out"
        )
    return codes


def selections(args) -> list[dict]:
    """One layer selection per combination of the listed codes."""
    kinds = ("consumer", "sector", "category")
    lists = [_codes(getattr(args, kind), f"--{kind}") for kind in kinds]
    return [dict(zip(kinds, combo, strict=True)) for combo in itertools.product(*lists)]


def cmd_zonal(args) -> int:
    """``footprint-map zonal``."""
    from cluster import compute_context
    from pipeline.grid.zones import read_zones
    from pipeline.results.api import open_results
    from pipeline.results.exports import format_table, write_table

    if args.zones is None:
        raise ConfigError(f"--zones FILE is required: a {ZONE_FORMATS} file of polygons")
    if args.format == "parquet" and args.output is None:
        raise ConfigError("--format parquet writes a file; add --output PATH")
    results = open_results(args.dir, scenario=args.scenario)
    zones = read_zones(args.zones, args.field, option="--zones", field_option="--field")
    chosen = selections(args)
    with compute_context(args.scheduler, echo=lambda text: print(text, file=sys.stderr)):
        if len(chosen) == 1:
            table = results.zonal(zones, **chosen[0])
        else:
            table = results.zonal(zones, layers=chosen)
    for warning in table.attrs["warnings"]:
        print(f"warning: {warning}", file=sys.stderr)
    if args.output is not None:
        write_table(table, args.output, args.format)
        print(f"wrote {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(format_table(table, args.format or "table"))
    return 0
