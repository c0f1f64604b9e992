"""``footprint-map query``: its parser and handler (combination rules in :mod:`.query_plan`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pipeline.cli.commands import common_flags, compute_context
from pipeline.cli.query_plan import (
    FORMATS,
    MAP_FORMATS,
    QueryPlan,
    parse_quantile,
    parse_radius,
    parse_share,
    parse_top,
    plan_query,
)
from pipeline.errors import ConfigError
from pipeline.results.analytics import CITY_RADIUS_KM

EPILOG_QUERY = """examples:
  footprint-map query demo-out                                  # top 10 cells, foreign total
  footprint-map query demo-out --consumer USA --by city --top 20
  footprint-map query demo-out --sector power --by province --format csv --output power.csv
  footprint-map query demo-out --by province --format png --output provinces.png  # choropleth
  footprint-map query demo-out --consumer USA --category households --format geotiff \\
      --output usa_households.tif
  footprint-map query demo-out --hotspots --top all --format csv  # every hotspot cell
  footprint-map query demo-out --consumer USA --hotspots --share 0.9 --format geotiff \\
      --output usa_hotspots90.tif                               # 1 = hotspot cell
  footprint-map query demo-out --region CN-GD --group consumer   # who drives Guangdong's CO2
  footprint-map query demo-out --region CN-GD --format png --output gd.png  # map of Guangdong
  footprint-map query demo-out --city Shanghai --consumer USA --format json
  footprint-map query demo-out --consumer BRI --by province     # a [groups] entry
  footprint-map query demo-out --scenario us_tariff_25 --delta --by province  # the change
  footprint-map query demo-out --scenario us_tariff_25 --delta --format png --output d.png
  footprint-map query demo-out --quantile 0.95 --consumer USA   # a run with --realizations N
  footprint-map query demo-out --quantile 0.05 --hotspots --format png --output p05.png

Without --consumer the layer is the total over foreign consumers; --sector and
--category narrow it. --by city sums cells within --radius-km (geodesic) of each
of the study's cities ([regions] cities, else data/china_cities.csv) whose disc
reaches its land; discs may overlap. --region/--city/--cell switch to a
drivers table: the emissions there by consumer x category x sector; with
--format png or geotiff, to the layer framed on (cropped to) that place.
Options that do not fit together are refused with the reason; a table cut by
--top says "showing N of M". --scenario NAME reads DIR/scenarios/NAME (every
option works); --delta then gives its change, scenario - baseline: rankings by
the size of the change (signed t_co2), diverging maps centred on 0.
--quantile Q (results of a run with [uncertainty]) reads the stored quantile Q
over the Monte Carlo realizations per cell instead of the deterministic layer:
cell rankings, hotspots and maps of it (all foreign consumers, or --consumer).
"""


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
    common_flags(query)
    select = query.add_argument_group("layer")
    select.add_argument(
        "--consumer", metavar="ISO3", help="consumer code or [groups] name, e.g. USA"
    )
    select.add_argument("--sector", metavar="S", help="inventory sector, e.g. power")
    select.add_argument("--category", metavar="K", help="final-demand category, e.g. households")
    select.add_argument(
        "--scenario", metavar="NAME", help="read the scenario DIR/scenarios/NAME, not the baseline"
    )
    select.add_argument(
        "--quantile",
        type=parse_quantile,
        metavar="Q",
        help="the stored Monte Carlo quantile per cell (e.g. 0.95) instead of the "
        "deterministic layer (a run with --realizations N)",
    )
    select.add_argument(
        "--delta",
        action="store_true",
        help="with --scenario: its change (scenario - baseline) instead of its emissions",
    )
    rank = query.add_argument_group("ranking")
    rank.add_argument("--by", choices=("cell", "city", "province"), help="default cell")
    rank.add_argument(
        "--top", type=parse_top, metavar="N|all", help="rows (default 10); all: every row"
    )
    rank.add_argument(
        "--radius-km",
        type=parse_radius,
        metavar="KM",
        help=f"city disc radius for --by city and --city (default {CITY_RADIUS_KM:g})",
    )
    rank.add_argument(
        "--share",
        type=parse_share,
        help="share of the layer's land emissions for --hotspots and the concentration "
        "line of --format table (default 0.75)",
    )
    rank.add_argument(
        "--hotspots",
        action="store_true",
        help="list (or with --format geotiff/png, map) the fewest land cells holding --share",
    )
    _place_flags(query)
    out = query.add_argument_group("output")
    out.add_argument("--format", choices=FORMATS, default="table")
    out.add_argument("--output", type=Path, metavar="PATH", help="file (default: stdout)")
    return query


def _place_flags(query: argparse.ArgumentParser) -> None:
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


def cmd_query(args) -> int:
    """``footprint-map query``."""
    from pipeline.results.api import open_results

    plan = plan_query(args)
    results = open_results(args.dir, scenario=args.scenario)
    if plan.quantile is not None:
        results = _at_quantile(results, plan.quantile, args.dir, args.consumer)
    with compute_context(args):
        for kind in ("consumer", "sector", "category", "region"):
            results.check_code(kind, getattr(args, kind, None))
        if args.format in MAP_FORMATS:
            from pipeline.cli.query_maps import write_map

            write_map(results, args, plan)
            print(f"wrote {args.output}", file=sys.stderr)
            return 0
        frame, total, what = _table(results, args, plan)
        header = _header_line(results, args, plan) if plan.mode != "drivers" else ""
    _emit(frame, args, header, _showing(len(frame), total, what))
    return 0


def _at_quantile(results, quantile: float, directory, consumer: str | None):
    """``results`` whose layers are the stored ``quantile`` (one ``error:`` line if absent)."""
    from pipeline.results.uncertainty_view import at_quantile, stored_quantiles

    levels = stored_quantiles(results)
    if not levels:
        raise ConfigError(
            f"{directory}: these results have no Monte Carlo quantiles; rerun the study with "
            "--realizations N (or [uncertainty] realizations) to query --quantile"
        )
    if not any(abs(q - quantile) <= 1e-9 for q in levels):
        stored = ", ".join(f"{q:g}" for q in levels)
        raise ConfigError(
            f"--quantile {quantile:g} was not stored in {directory} (stored: {stored}); use "
            f"one of them, or add {quantile:g} to [uncertainty] quantiles and rerun"
        )
    foreign = [str(c) for c in results.ds["foreign_consumer"].values]
    if consumer is not None and results.check_code("consumer", consumer) not in foreign:
        raise ConfigError(
            f"--quantile: quantiles are stored per foreign consumer, and {consumer!r} is "
            f"{'a group' if consumer in results.groups else 'domestic'}; use one of "
            f"{', '.join(foreign[:12])}{' ...' if len(foreign) > 12 else ''} or drop --consumer"
        )
    return at_quantile(results, quantile)


def _table(results, args, plan: QueryPlan):
    """The query's table, the rows it has before the cut and what they are."""
    selection = {"consumer": args.consumer, "sector": args.sector, "category": args.category}
    if plan.mode == "drivers":
        frame = _drivers(results, args, plan)
        return _head(frame, plan.top), len(frame), "rows"
    if plan.mode == "hotspots":
        table = results.hotspots(**selection, share=plan.share).table
        return _head(table, plan.top), len(table), "hotspot cells"
    if plan.by == "cell":
        frame = results.rank("cell", plan.top, **selection, delta=plan.delta)
        return frame, results.ds.sizes["y"] * results.ds.sizes["x"], "cells of the grid"
    full = results.rank(plan.by, None, **selection, radius_km=plan.radius_km, delta=plan.delta)
    if plan.by == "city":
        print(f"# {full.attrs['note']}", file=sys.stderr)
    what = "ranked cities" if plan.by == "city" else "regions of the raster"
    return _head(full, plan.top), len(full), what


def _head(frame, top: int | None):
    if top is None or len(frame) <= top:
        return frame
    head = frame.head(top).reset_index(drop=True)
    head.attrs = dict(frame.attrs)
    return head


def _showing(shown: int, total: int, what: str) -> str:
    """``"# showing 10 of 905 hotspot cells; --top all lists every one"`` if cut, else ``""``."""
    if shown >= total:
        return ""
    return f"# showing {shown} of {total:,} {what}; --top all lists every one\n"


def _drivers(results, args, plan: QueryPlan):
    place: dict = {}
    if args.region:
        place["region"] = args.region
    elif args.city:
        place = {"city": args.city, "radius_km": plan.radius_km}
    else:
        place = {"cell": lonlat(args.cell), "crs": "EPSG:4326"}
    frame = results.drivers(**place, delta=plan.delta)
    for kind in ("consumer", "sector", "category"):
        value = results.check_code(kind, getattr(args, kind))
        if value is not None:
            members = results.groups.get(value, [value]) if kind == "consumer" else [value]
            frame = frame[frame[kind].isin(members)]
    if args.group:
        from pipeline.results.analytics import group_drivers

        frame = group_drivers(frame, [g.strip() for g in args.group.split(",") if g.strip()])
        if plan.delta:  # changes rank by their size, as the ungrouped table
            from pipeline.results.analytics import by_size

            frame = by_size(frame)
    return frame.reset_index(drop=True)


def lonlat(text: str) -> tuple[float, float]:
    """``--cell LON,LAT`` as two floats (one ``error:`` line if malformed)."""
    try:
        lon, lat = (float(v) for v in text.split(","))
    except ValueError as exc:
        raise ConfigError(f"--cell {text!r} must be LON,LAT in degrees, e.g. 121.47,31.23") from exc
    return lon, lat


def _header_line(results, args, plan: QueryPlan) -> str:
    """The first line of ``--format table``: the layer's concentration, or its total change."""
    if args.format != "table":
        return ""
    selection = {"consumer": args.consumer, "sector": args.sector, "category": args.category}
    if plan.delta:
        change = float(results.layer(**selection, delta=True).sum())
        return (
            f"# change of CO2 driven by {results.describe(**selection)} in scenario "
            f"{results.scenario} (scenario - baseline): {change:+.4g} t; rows by the size "
            "of their change\n"
        )
    stats = results.concentration(**selection, share=plan.share)
    extent = results.concentration(**selection, share=0.9)
    return (
        f"# CO2 driven by {results.describe(**selection)}: {stats['total_t']:.4g} t on land; "
        f"{plan.share:.0%} on {stats['land_share']:.2%} of land ({stats['cells']} cells, "
        f"{stats['area_km2']:.4g} km²); 90% on {extent['area_km2']:.4g} km²\n"
    )


def _emit(frame, args, header: str, showing: str) -> None:
    """The table to stdout or ``--output``; a cut says so (on stderr unless in the text)."""
    from pipeline.results.exports import format_table, write_table

    text_table = args.format == "table"
    if showing and not (text_table and args.output is None):
        print(showing.rstrip("\n"), file=sys.stderr)
    if args.output is None:
        cut = showing if text_table else ""
        sys.stdout.write(header + cut + format_table(frame, args.format))
        return
    if text_table:
        write_text(args.output, header + showing + format_table(frame, "table"))
    else:
        write_table(frame, args.output, args.format)
    print(f"wrote {args.output}", file=sys.stderr)


def write_text(path, text: str) -> None:
    """Write a text table (one ``error:`` line if the file cannot be written)."""
    from pipeline.errors import OutputError

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    except OSError as exc:
        raise OutputError(
            f"{path}: cannot write the table ({exc.strerror}); choose another --output"
        ) from exc
