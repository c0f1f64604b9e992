"""Maps of a results store besides the cell layer: provinces, cities, hotspots, one place.

- :func:`draw_choropleth`: each region's total, one colour per region (the
  region raster at display resolution: each pixel takes the region of its
  middle cell), log scale; cells outside the producer regions in the no-data class;
- :func:`draw_cities`: the ranked cities as discs at their points, coloured
  and sized by their total, the largest labelled by name;
- :func:`draw_hotspots`: a hotspot mask in two classes (hotspot cells, the
  other land cells) plus the no-data class, with a legend instead of a colour bar;
  :func:`draw_mask_classes` draws nested masks so (the robust hotspot cells
  within the hotspot cells);
- :func:`region_frame` and :func:`city_frame`: the frame of one region or one
  city's disc, for maps of a layer framed on a place, and :func:`place_layer`,
  the layer cropped to a place (NaN outside it) for GeoTIFFs.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr
from matplotlib.colors import LogNorm

from pipeline.errors import ConfigError
from pipeline.grid import blocks
from pipeline.results.analytics import city_discs, find_city
from pipeline.results.change_maps import change_norm, draw_change_image, scale_name
from pipeline.results.map_furniture import NODATA_COLOUR, class_legend
from pipeline.results.maps import (
    COLOUR_MAP,
    MapImage,
    crop,
    display_factor,
    draw_classes,
    draw_image,
    finish_map,
    image_extent,
    log_limits,
    map_figure,
    map_image,
    mask_extent,
)

#: Colours of the hotspot classes (and of hotspot cells that are not robust).
HOTSPOT_COLOUR, LAND_COLOUR, WEAK_HOTSPOT_COLOUR = "#b2182b", "#fbe3d6", "#4393c3"
#: Margin around a place's frame, as a share of its width and height.
PLACE_MARGIN = 0.08


def land_array(results) -> xr.DataArray:
    """The lazy ``(y, x)`` land mask (producer-region cells) as a DataArray with coords."""
    template = results.ds["foreign_footprint"]
    return xr.DataArray(results.lazy_land, dims=template.dims, coords=template.coords)


def region_cells(results, region: str) -> xr.DataArray:
    """Lazy ``(y, x)`` bool: the cells of producer region ``region`` (all its raster codes)."""
    region = results.check_code("region", region)
    codes = np.flatnonzero(results.producer_of_code == results.producers.index(region))
    template = results.ds["foreign_footprint"]
    cells = blocks.cells_in(results.lazy_region_index, codes)
    return xr.DataArray(cells, dims=template.dims, coords=template.coords)


def padded(frame, margin: float = PLACE_MARGIN) -> tuple[float, float, float, float]:
    """``frame`` widened by ``margin`` of its size on each side."""
    xmin, xmax, ymin, ymax = frame
    dx, dy = (xmax - xmin) * margin, (ymax - ymin) * margin
    return xmin - dx, xmax + dx, ymin - dy, ymax + dy


def region_frame(results, region: str) -> tuple[tuple[float, float, float, float], list[str]]:
    """The frame around ``region``'s cells (with a margin) and its raster codes."""
    frame = mask_extent(region_cells(results, region))
    if frame is None:
        raise ConfigError(f"--region {region}: the region has no cell on the grid; pick another")
    index = results.producers.index(region)
    codes = [c for c, p in zip(results.codes, results.producer_of_code, strict=True) if p == index]
    return padded(frame), codes


def city_disc(results, city: str, radius_km: float):
    """``(row, lon, lat, rows, cols, mask)`` of one city of the study's list and its disc."""
    cities = results.cities
    n = find_city(cities, city)
    found = list(city_discs(results.grid, cities.iloc[[n]], radius_km))
    if not found:
        raise ConfigError(
            f"--city {city}: its {radius_km:g} km disc holds no cell centre of the grid; "
            "raise --radius-km or pick another city"
        )
    _, rows, cols, mask = found[0]
    return cities.iloc[n], rows, cols, mask


def city_circle(results, lon: float, lat: float, radius_km: float):
    """The disc's outline (geodesic circle) in the grid CRS: ``(x, y)`` arrays."""
    azimuths = np.linspace(0.0, 360.0, 145)
    geod = results.grid.geod
    lons, lats, _ = geod.fwd(
        np.full(azimuths.shape, lon),
        np.full(azimuths.shape, lat),
        azimuths,
        np.full(azimuths.shape, radius_km * 1000.0),
    )
    return results.grid.from_crs(lons, lats, "EPSG:4326")


def city_frame(results, city: str, radius_km: float):
    """The frame around a city's disc (with a margin) and the disc's outline."""
    row, *_ = city_disc(results, city, radius_km)
    x, y = city_circle(results, float(row["lon"]), float(row["lat"]), radius_km)
    frame = (float(np.min(x)), float(np.max(x)), float(np.min(y)), float(np.max(y)))
    return padded(frame, 0.25), (x, y)


def place_layer(results, layer: xr.DataArray, *, region=None, city=None, radius_km=25.0):
    """``layer`` cropped to a region or a city's disc, NaN on the cells outside it."""
    if region is not None:
        cells = region_cells(results, region)
        frame = mask_extent(cells)
        if frame is None:
            raise ConfigError(f"--region {region}: the region has no cell on the grid")
        inside = crop(layer.where(cells), frame)
    else:
        _, rows, cols, mask = city_disc(results, city, radius_km)
        if np.any(np.diff(rows) != 1) or np.any(np.diff(cols) != 1):
            raise ConfigError(f"--city {city}: its disc wraps around ±180°; use --format csv")
        window = layer.isel(y=rows, x=cols)
        inside = window.where(xr.DataArray(mask, dims=("y", "x"), coords=window.coords))
    inside.attrs = dict(layer.attrs)
    return inside


def region_image(results, by_code: np.ndarray, frame) -> MapImage:
    """Each pixel coloured by its region's value (``by_code`` per raster code)."""
    index = crop(results.ds["region_index"], frame)
    factor = display_factor(index.sizes["y"], index.sizes["x"])
    if factor > 1:
        middle = slice(factor // 2, None, factor)
        index = index.isel(y=middle, x=middle)
    codes = np.asarray(index.values, dtype=np.int64)
    safe = np.clip(codes, 0, None)
    modelled = (codes >= 0) & (results.producer_of_code[safe] >= 0)
    values = np.where(modelled, np.asarray(by_code, dtype=float)[safe], 0.0)
    return MapImage(values, image_extent(index), factor, modelled)


def draw_choropleth(
    results, table: pd.DataFrame, *, title: str, frame, borders, note: str, change: bool = False
):
    """A map of the province table's ``t_co2`` (one row per raster code, ``province``).

    ``change=True``: the table holds changes, drawn on a zero-centred diverging
    scale (:mod:`pipeline.results.change_maps`); the figure is returned alone.
    """
    by_code = table.set_index("province")["t_co2"].reindex(results.codes).fillna(0.0)
    image = region_image(results, by_code.to_numpy(), frame)
    crs = results.ds.rio.crs
    common = {"title": title, "borders": borders, "note": note, "frame": frame, "crs": crs}
    if change:
        norm = change_norm([image])
        label = "change in t CO2 per region" + (f" ({scale_name(norm)})" if norm else "")
        return draw_change_image(image, bar_label=label, norm=norm, **common)[0]
    return draw_image(image, bar_label="t CO2 per region (log scale)", **common)


def draw_hotspots(results, hot, *, title: str, frame, borders, note: str, outline=None):
    """A hotspot mask in two classes and the no-data class, with a legend."""
    hotspot = (
        f"hotspot: the {len(hot.table):,} densest land cells, holding {hot.share:.0%} "
        f"of the emissions on {hot.land_share:.2%} of the land"
    )
    return draw_mask_classes(
        results,
        [(hot.mask, HOTSPOT_COLOUR, hotspot)],
        title=title,
        frame=frame,
        borders=borders,
        note=note,
        outline=outline,
    )


def draw_mask_classes(
    results, classes: list, *, title: str, frame, borders, note: str, outline=None
):
    """Cells of nested masks as classes over the other land cells and no data, with a legend.

    Parameters
    ----------
    classes : list of (mask, colour, label)
        Lazy ``(y, x)`` bool masks, each within the one before it (drawn over it).
        A coarsened pixel takes the last class any of its cells is in; the first
        label then says so.
    """
    land = land_array(results)
    images = [map_image(mask.astype(np.uint8), frame, land) for mask, _, _ in classes]
    modelled = images[0].modelled
    pixels = np.where(modelled, 1, 0)
    for n, image in enumerate(images):
        pixels = np.where(modelled & (image.values > 0), n + 2, pixels)
    fig, ax = map_figure(frame, results.ds.rio.crs)
    colours = [NODATA_COLOUR, LAND_COLOUR, *(colour for _, colour, _ in classes)]
    draw_classes(ax, pixels, images[0].extent, colours)
    factor = images[0].factor
    coarse = f"; a pixel of {factor}x{factor} cells is marked if any is" * (factor > 1)
    labels = [label for _, _, label in classes]
    labels[0] += coarse
    shown = [(c, t) for (_, c, _), t in zip(classes, labels, strict=True)][::-1]
    shown.append((LAND_COLOUR, "other land cells"))
    if not modelled.all():
        shown.append((NODATA_COLOUR, "no data: outside the producer regions"))
    class_legend(ax, shown)
    crs = results.ds.rio.crs
    finish_map(
        fig, ax, title=title, borders=borders, note=note, frame=frame, crs=crs, outline=outline
    )
    return fig


def draw_cities(
    results,
    table: pd.DataFrame,
    *,
    title: str,
    frame,
    borders,
    note: str,
    radius_km: float,
    labels: int = 12,
):
    """The ranked cities as discs coloured and sized by ``t_co2``; the largest named."""
    land = map_image(land_array(results).astype(np.uint8), frame)
    fig, ax = map_figure(frame, results.ds.rio.crs)
    draw_classes(ax, np.where(land.values > 0, 1, 0), land.extent, [NODATA_COLOUR, "#f7f7f7"])
    shown = table[table["t_co2"] > 0]
    if len(shown):
        x, y = results.grid.from_crs(shown["lon"], shown["lat"], "EPSG:4326")
        values = shown["t_co2"].to_numpy(dtype=float)
        vmin, vmax = log_limits([MapImage(values, (0, 1, 0, 1), 1)])
        dots = ax.scatter(
            x,
            y,
            s=12 + 240 * np.sqrt(values / values.max()),
            c=values,
            norm=LogNorm(min(vmin, vmax / 10), vmax),
            cmap=COLOUR_MAP,
            edgecolors="black",
            linewidths=0.4,
            zorder=4,
        )
        label = f"t CO2 within {radius_km:g} km of the city (log scale)"
        fig.colorbar(dots, ax=ax, shrink=0.8, pad=0.09, label=label)
        _label_cities(ax, shown["city"], x, y, labels, spacing=0.03 * (frame[1] - frame[0]))
    class_legend(ax, [(NODATA_COLOUR, "no data: outside the producer regions")])
    finish_map(
        fig, ax, title=title, borders=borders, note=note, frame=frame, crs=results.ds.rio.crs
    )
    return fig


def _label_cities(ax, names, xs, ys, most: int, *, spacing: float) -> None:
    """Name up to ``most`` cities, largest first, skipping any too close to one named."""
    named: list[tuple[float, float]] = []
    for name, x, y in zip(names, xs, ys, strict=True):
        if len(named) >= most:
            return
        if any(np.hypot(x - px, y - py) < spacing for px, py in named):
            continue
        named.append((x, y))
        ax.annotate(
            str(name), (x, y), xytext=(5, 4), textcoords="offset points", fontsize=7, zorder=5
        )
