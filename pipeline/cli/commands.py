"""``footprint-map query`` and ``footprint-map report``: parsers and handlers."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pipeline.errors import ConfigError
from pipeline.results.analytics import CITY_RADIUS_KM

FORMATS = ("table", "csv", "json", "parquet", "geotiff", "png")
FILE_FORMATS = ("parquet", "geotiff", "png")

EPILOG_QUERY = """examples:
  footprint-map query demo-out                                  # top 10 cells, foreign total
  footprint-map query demo-out --consumer USA --by city --top 20
  footprint-map query demo-out --sector power --by province --format csv --output power.csv
  footprint-map query demo-out --consumer USA --category households --format geotiff \\
      --output usa_households.tif
  footprint-map query demo-out --consumer USA --hotspots --share 0.9 --format geotiff \\
      --output usa_hotspots90.tif                               # 1 = hotspot cell
  footprint-map query demo-out --region CN-GD --group consumer   # who drives Guangdong's CO2
  footprint-map query demo-out --city Shanghai --consumer USA --format json

Without --consumer the layer is the total over foreign consumers; --sector and
--category narrow it. --by city sums cells within --radius-km (geodesic) of each
of the study's cities ([regions] cities, else data/china_cities.csv) whose disc
reaches its land; discs may overlap. --region/--city/--cell switch to a
drivers table: the emissions there by consumer x category x sector.
"""
EPILOG_REPORT = """example:
  footprint-map report demo-out                      # writes demo-out/report/index.html
  footprint-map report results/ --output /tmp/report-2012

The report folder is self-contained (relative PNG links, no network): open
index.html in any browser or zip the folder.
"""


def _common_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dir", type=Path, metavar="DIR", help="results directory (--out of run)")
    parser.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="compute on a running Dask scheduler, e.g. tcp://127.0.0.1:8786 "
        "(prints its dashboard link); default: local threads",
    )


def add_query_parser(subparsers) -> argparse.ArgumentParser:
    """Register ``footprint-map query``."""
    query = subparsers.add_parser(
        "query",
        help="hotspots, rankings and drivers of a results directory",
        epilog=EPILOG_QUERY,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Rank the cells, cities or provinces of one layer of a results "
        "directory, or decompose the emissions of a place by consumer, category and sector.",
    )
    _common_flags(query)
    select = query.add_argument_group("layer")
    select.add_argument("--consumer", metavar="ISO3", help="consumer code, e.g. USA")
    select.add_argument("--sector", metavar="S", help="inventory sector, e.g. power")
    select.add_argument("--category", metavar="K", help="final-demand category, e.g. households")
    rank = query.add_argument_group("ranking")
    rank.add_argument("--by", choices=("cell", "city", "province"), default="cell")
    rank.add_argument("--top", type=int, default=10, metavar="N", help="rows (default 10)")
    rank.add_argument(
        "--radius-km",
        type=float,
        default=CITY_RADIUS_KM,
        metavar="KM",
        help=f"city disc radius for --by city (default {CITY_RADIUS_KM:g})",
    )
    rank.add_argument(
        "--share",
        type=float,
        default=0.75,
        help="share of the layer's land emissions for --hotspots and the concentration "
        "line of --format table (default 0.75)",
    )
    rank.add_argument(
        "--hotspots",
        action="store_true",
        help="list (or with --format geotiff/png, map) the fewest land cells holding --share",
    )
    place = query.add_argument_group("drivers (instead of a ranking)")
    where = place.add_mutually_exclusive_group()
    where.add_argument("--region", metavar="CODE", help="producer province, e.g. CN-GD")
    where.add_argument("--city", metavar="NAME", help='city, e.g. Shanghai or "Suzhou, CN-JS"')
    where.add_argument("--cell", metavar="LON,LAT", help="the cell containing a point")
    place.add_argument(
        "--group",
        metavar="DIMS",
        help="sum drivers over all but these, e.g. consumer or consumer,category",
    )
    out = query.add_argument_group("output")
    out.add_argument("--format", choices=FORMATS, default="table")
    out.add_argument("--output", type=Path, metavar="PATH", help="file (default: stdout)")
    return query


def add_report_parser(subparsers) -> argparse.ArgumentParser:
    """Register ``footprint-map report``."""
    report = subparsers.add_parser(
        "report",
        help="write an offline HTML report of a results directory",
        epilog=EPILOG_REPORT,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Write maps (foreign total, top consumers, top sectors, households vs "
        "capital formation), the concentration curve, the headline tables and the "
        "provenance to one folder with index.html.",
    )
    _common_flags(report)
    report.add_argument(
        "--output", type=Path, metavar="DIR", help="report folder (default: DIR/report)"
    )
    return report


def _compute_context(args):
    """Where the command computes: ``--scheduler`` (via :func:`cluster.connect`) or threads."""
    from cluster import compute_context

    return compute_context(args.scheduler, echo=lambda text: print(text, file=sys.stderr))


def cmd_query(args) -> int:
    """``footprint-map query``."""
    from pipeline.results.api import open_results

    if args.format in FILE_FORMATS and args.output is None:
        raise ConfigError(f"--format {args.format} writes a file; add --output PATH")
    results = open_results(args.dir)
    with _compute_context(args):
        if args.format in ("geotiff", "png"):
            return _write_layer(results, args)
        if args.region or args.city or args.cell:
            frame, header = _drivers(results, args), ""
        elif args.hotspots:
            frame = _selected(results, args, "hotspots").table.head(args.top)
            header = _concentration_line(results, args) if args.format == "table" else ""
        else:
            frame = results.rank(
                args.by,
                args.top,
                consumer=args.consumer,
                sector=args.sector,
                category=args.category,
                radius_km=args.radius_km,
            )
            header = _concentration_line(results, args) if args.format == "table" else ""
            if args.by == "city":
                print(f"# {frame.attrs['note']}", file=sys.stderr)
    _emit(frame, args, header)
    return 0


def _drivers(results, args):
    place: dict = {}
    if args.region:
        place["region"] = args.region
    elif args.city:
        place = {"city": args.city, "radius_km": args.radius_km}
    else:
        place = {"cell": _lonlat(args.cell), "crs": "EPSG:4326"}
    frame = results.drivers(**place)
    for kind in ("consumer", "sector", "category"):
        value = results.check_code(kind, getattr(args, kind))
        if value is not None:
            frame = frame[frame[kind] == value]
    if args.group:
        from pipeline.results.analytics import group_drivers

        frame = group_drivers(frame, [g.strip() for g in args.group.split(",") if g.strip()])
    return frame.head(args.top).reset_index(drop=True) if args.top else frame


def _lonlat(text: str) -> tuple[float, float]:
    try:
        lon, lat = (float(v) for v in text.split(","))
    except ValueError as exc:
        raise ConfigError(f"--cell {text!r} must be LON,LAT in degrees, e.g. 121.47,31.23") from exc
    return lon, lat


def _concentration_line(results, args) -> str:
    selection = {"consumer": args.consumer, "sector": args.sector, "category": args.category}
    stats = results.concentration(**selection, share=args.share)
    extent = results.concentration(**selection, share=0.9)
    return (
        f"# CO2 driven by {results.describe(**selection)}: {stats['total_t']:.4g} t on land; "
        f"{args.share:.0%} on {stats['land_share']:.2%} of land ({stats['cells']} cells, "
        f"{stats['area_km2']:.4g} km²); 90% on {extent['area_km2']:.4g} km²\n"
    )


def _selected(results, args, method: str):
    selection = {"consumer": args.consumer, "sector": args.sector, "category": args.category}
    if method == "hotspots":
        return results.hotspots(**selection, share=args.share)
    return results.layer(**selection)


def _write_layer(results, args) -> int:
    layer = _selected(results, args, "layer")
    if args.hotspots:
        label = layer.attrs["long_name"]
        layer = _selected(results, args, "hotspots").mask.astype("uint8")
        layer.attrs["long_name"] = f"hotspot cells holding {args.share:.0%} of {label}"
    if args.format == "geotiff":
        from pipeline.results.exports import write_geotiff

        write_geotiff(layer, args.output)
    else:
        from pipeline.results.maps import plot_layer
        from pipeline.results.report import display_borders

        borders = display_borders(results)
        plot_layer(
            layer, args.output, title=layer.attrs["long_name"], borders=borders, note=results.note
        )
    print(f"wrote {args.output}", file=sys.stderr)
    return 0


def _emit(frame, args, header: str) -> None:
    from pipeline.results.exports import format_table, write_table

    if args.output is not None:
        write_table(frame, args.output, args.format)
        print(f"wrote {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(header + format_table(frame, args.format))


def cmd_report(args) -> int:
    """``footprint-map report``."""
    from pipeline.results.api import open_results
    from pipeline.results.report import build_report

    results = open_results(args.dir)
    out = args.output or results.directory / "report"
    with _compute_context(args):
        index = build_report(results, out, echo=lambda text: print(text, file=sys.stderr))
    print(f"report: {index}")
    return 0
