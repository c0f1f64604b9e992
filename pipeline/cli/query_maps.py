"""``footprint-map query --format png|geotiff``: the map or raster each plan asks for."""

from __future__ import annotations

import numpy as np

from pipeline.cli.query_plan import QueryPlan
from pipeline.errors import ConfigError


def selection_of(args) -> dict:
    """The layer options of a query."""
    return {"consumer": args.consumer, "sector": args.sector, "category": args.category}


def title_of(results, names, selection: dict) -> str:
    """``"CO2 driven by United States of America, households"`` (names instead of codes)."""
    from pipeline.results.names import label_text

    consumer = selection.get("consumer")
    parts = [names(consumer) if consumer else "all foreign consumers"]
    parts += [label_text(selection[k]) for k in ("sector", "category") if selection.get(k)]
    return "CO2 driven by " + ", ".join(parts)


def write_map(results, args, plan: QueryPlan) -> None:
    """Write the query's GeoTIFF or PNG to ``args.output``."""
    if args.format == "geotiff":
        _write_geotiff(results, args, plan)
    else:
        from pipeline.results.maps import save_figure

        save_figure(query_figure(results, args, plan), args.output)


def _write_geotiff(results, args, plan: QueryPlan) -> None:
    from pipeline.results.exports import write_geotiff
    from pipeline.results.map_kinds import place_layer

    selection = selection_of(args)
    if plan.mode == "hotspots":
        hot = results.hotspots(**selection, share=plan.share)
        layer = hot.mask.astype(np.uint8)
        layer.attrs["long_name"] = hot.mask.attrs["long_name"]
    else:
        layer = results.layer(**selection, delta=plan.delta)
    if plan.mode == "drivers":
        layer = place_layer(
            results, layer, region=args.region, city=args.city, radius_km=plan.radius_km
        )
    write_geotiff(layer, args.output)


def query_figure(results, args, plan: QueryPlan):
    """The matplotlib figure of a ``--format png`` query."""
    from pipeline.results import map_kinds
    from pipeline.results.borders import display_borders
    from pipeline.results.maps import mask_extent
    from pipeline.results.names import study_names

    names = study_names(results.ds.attrs)
    selection = selection_of(args)
    title = title_of(results, names, selection)
    if plan.delta:
        title = f"Change of {title} in scenario {results.scenario}"
    if plan.quantile is not None:
        title = f"{title}: quantile {plan.quantile:g} of the realizations"
    land = map_kinds.land_array(results)
    common = {"borders": display_borders(results), "note": results.note}
    if plan.mode == "drivers":
        return _place_figure(results, args, plan, title, names, land, common)
    frame = mask_extent(land)
    if plan.mode == "hotspots":
        hot = results.hotspots(**selection, share=plan.share)
        title = f"Hotspots holding {plan.share:.0%} of {title}"
        return map_kinds.draw_hotspots(results, hot, title=title, frame=frame, **common)
    if plan.by == "province":
        table = results.rank("province", None, **selection, delta=plan.delta)
        title = f"{title}, by region"
        return map_kinds.draw_choropleth(
            results, table, title=title, frame=frame, change=plan.delta, **common
        )
    if plan.by == "city":
        table = results.rank("city", plan.top, **selection, radius_km=plan.radius_km)
        if not {"lon", "lat"} <= set(table.columns):
            raise ConfigError(
                "--by city --format png draws city points, but the study's cities are "
                "polygons ([regions] city_polygons); use --format csv, or map them with GIS"
            )
        title = f"{title}: top {len(table)} cities"
        return map_kinds.draw_cities(
            results, table, title=title, frame=frame, radius_km=plan.radius_km, **common
        )
    layer = results.layer(**selection, delta=plan.delta)
    return _draw(layer, plan, title=title, frame=frame, crs=results.ds.rio.crs, land=land, **common)


def _draw(layer, plan: QueryPlan, **options):
    """The layer's map: log colours, or for ``--delta`` diverging ones centred on 0."""
    if plan.delta:
        from pipeline.results.change_maps import draw_change

        return draw_change(layer, **options)[0]
    from pipeline.results.maps import draw_layer

    return draw_layer(layer, **options)


def _place_figure(results, args, plan, title, names, land, common):
    """The layer framed on ``--region`` (outlined) or ``--city`` (its disc drawn)."""
    from pipeline.results import map_kinds

    layer = results.layer(**selection_of(args), delta=plan.delta)
    crs = results.ds.rio.crs
    if args.region:
        frame, codes = map_kinds.region_frame(results, args.region)
        title = f"{title}, in {names(args.region)}"
        return _draw(
            layer, plan, title=title, frame=frame, crs=crs, land=land, outline=codes, **common
        )
    frame, (x, y) = map_kinds.city_frame(results, args.city, plan.radius_km)
    title = f"{title}, within {plan.radius_km:g} km of {args.city}"
    fig = _draw(layer, plan, title=title, frame=frame, crs=crs, land=land, **common)
    fig.axes[0].plot(x, y, color="black", linewidth=1.2, zorder=4)
    return fig
