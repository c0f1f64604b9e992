"""PNG maps of footprint cubes: log colour scale, region borders, units, no-data class.

A map is framed on the data, not on the border file: on the cells given as
``frame`` (the land cells, for the run's and the report's maps), else on the
cells with positive values, else on the whole grid. The layer is cropped to the
frame, then sum-coarsened to at most :data:`MAX_PIXELS` pixels a side. Cells
outside the producer regions (given as ``land``) are drawn in the no-data
class; land cells below the colour scale (0 t) in white. Several maps share a
colour scale by drawing with the same ``limits`` (:func:`log_limits`). Axes,
graticule, scale bar and the CRS note are :mod:`pipeline.results.map_furniture`'s.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import dask  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import shapely.geometry  # noqa: E402
import xarray as xr  # noqa: E402
from matplotlib.colors import ListedColormap, LogNorm  # noqa: E402
from pyproj import CRS  # noqa: E402

from pipeline.grid import blocks  # noqa: E402
from pipeline.grid.regions import Regions  # noqa: E402
from pipeline.grid.spec import centre_spacing  # noqa: E402
from pipeline.results.map_furniture import (  # noqa: E402
    NODATA_COLOUR,
    axis_labels,
    class_legend,
    crs_note,
    furnish,
)
from pipeline.results.summary import home_codes  # noqa: E402

__all__ = ["axis_labels", "draw_layer", "plot_layer", "standard_maps"]

MAX_PIXELS = 1200
#: Colour map of emission maps (light: low, dark: high).
COLOUR_MAP = "inferno_r"


def safe_slug(label: object, *, max_len: int = 80) -> str:
    """A file-name part made from ``label``: only ``[A-Za-z0-9._-]``, never ``.``/``..``.

    A label that had to be changed gets a short hash of the original, so two
    labels never share a file (``a/b`` and ``a_b`` differ).
    """
    text = str(label)
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._") or "label"
    slug = slug[:max_len]
    if slug != text:
        slug += "-" + hashlib.sha256(text.encode()).hexdigest()[:8]
    return slug


def display_factor(ny: int, nx: int) -> int:
    """Cells per pixel side so the longest side has at most :data:`MAX_PIXELS` pixels."""
    return max(1, int(np.ceil(max(ny, nx) / MAX_PIXELS)))


def coarsen_for_display(layer: xr.DataArray) -> tuple[xr.DataArray, int]:
    """Sum-coarsen ``layer`` so its longest side has at most :data:`MAX_PIXELS` cells."""
    factor = display_factor(layer.sizes["y"], layer.sizes["x"])
    if factor == 1:
        return layer, 1
    return layer.coarsen(y=factor, x=factor, boundary="pad").sum(), factor


def mask_extent(mask: xr.DataArray) -> tuple[float, float, float, float] | None:
    """``(xmin, xmax, ymin, ymax)`` cell edges around the True cells of a ``(y, x)`` mask.

    Only the mask's row and column projections are computed (a lazy mask stays lazy).
    """
    in_col, in_row = dask.compute(mask.any("y").data, mask.any("x").data)
    cols, rows = np.flatnonzero(in_col), np.flatnonzero(in_row)
    if not cols.size:
        return None
    xs, ys = np.asarray(mask["x"].values), np.asarray(mask["y"].values)
    return _extent(xs[cols[[0, -1]]], ys[rows[[0, -1]]], spacing=centre_spacing(xs, ys))


@dataclass(frozen=True)
class MapImage:
    """A ``(y, x)`` layer ready to draw.

    Attributes
    ----------
    values : numpy.ndarray
        Display pixels: sums over ``factor x factor`` cells (:func:`coarsen_for_display`).
    extent : tuple
        ``(xmin, xmax, ymin, ymax)`` cell edges of the pixels.
    factor : int
        Cells per pixel side.
    modelled : numpy.ndarray or None
        Bool per pixel: it holds a cell of a producer region (the land); pixels
        that do not are drawn in the no-data colour. None: every pixel is.
    """

    values: np.ndarray
    extent: tuple[float, float, float, float]
    factor: int
    modelled: np.ndarray | None = None


def crop(layer: xr.DataArray, frame: tuple[float, float, float, float]) -> xr.DataArray:
    """The cells of ``layer`` that overlap ``frame`` (lazy stays lazy)."""
    xmin, xmax, ymin, ymax = frame
    xs, ys = np.asarray(layer["x"].values), np.asarray(layer["y"].values)
    dx, dy = centre_spacing(xs, ys) if xs.size > 1 and ys.size > 1 else (0.0, 0.0)
    cols = np.flatnonzero((xs + dx / 2 > xmin) & (xs - dx / 2 < xmax))
    rows = np.flatnonzero((ys + dy / 2 > ymin) & (ys - dy / 2 < ymax))
    if not cols.size or not rows.size:
        return layer
    return layer.isel(x=slice(cols[0], cols[-1] + 1), y=slice(rows[0], rows[-1] + 1))


def map_image(
    layer: xr.DataArray,
    frame: tuple[float, float, float, float] | None = None,
    land: xr.DataArray | None = None,
) -> MapImage:
    """Crop ``layer`` (and the ``land`` mask) to ``frame``, coarsen and compute them."""
    if frame is not None:
        layer = crop(layer, frame)
        land = None if land is None else crop(land, frame)
    shown, factor = coarsen_for_display(layer)
    if land is None:
        return MapImage(np.asarray(shown.values, dtype=float), image_extent(shown), factor)
    land = land.astype(np.uint8)
    if factor > 1:
        land = land.coarsen(y=factor, x=factor, boundary="pad").max()
    shown, land = dask.compute(shown, land)
    values = np.asarray(shown.values, dtype=float)
    return MapImage(values, image_extent(shown), factor, np.asarray(land.values) > 0)


def image_extent(shown: xr.DataArray) -> tuple[float, float, float, float]:
    """Cell-edge extent of an image's pixels (from their centre coordinates)."""
    return _extent(shown["x"].values, shown["y"].values)


def log_limits(images: list[MapImage]) -> tuple[float, float] | None:
    """One log colour range for several images (a figure's panels), or None if all are empty.

    ``vmax`` is the largest pixel of any image; ``vmin`` the smallest of the
    images' 1st percentiles of their positive pixels, but at least ``vmax * 1e-6``.
    """
    positive = [m.values[m.values > 0] for m in images]
    positive = [p for p in positive if p.size]
    if not positive:
        return None
    vmax = max(float(p.max()) for p in positive)
    vmin = max(min(float(np.percentile(p, 1)) for p in positive), vmax * 1e-6)
    return (vmin, vmax) if vmin < vmax else (vmax / 10, vmax)


def colour_bar_label(layer: xr.DataArray, factor: int, scale: str = "log scale") -> str:
    """E.g. ``"t CO2 per cell (log scale)"`` (CO2 added to a bare ``t``)."""
    unit = str(layer.attrs.get("units", "t CO2"))
    unit = unit if "CO2" in unit else f"{unit} CO2"
    cell = "per cell" if factor == 1 else f"per {factor}x{factor} cells"
    return f"{unit} {cell} ({scale})"


def plot_layer(layer: xr.DataArray, path: Path, **options) -> Path:
    """Write one ``(y, x)`` layer as a PNG map (see :func:`draw_layer` for ``options``)."""
    return save_figure(draw_layer(layer, **options), path)


def save_figure(fig: plt.Figure, path: Path) -> Path:
    """Save ``fig`` as a PNG (creating its folder) and close it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, bbox_inches="tight", format="png")
    plt.close(fig)
    return path


def draw_layer(
    layer: xr.DataArray,
    *,
    title: str,
    borders: Regions | None = None,
    note: str = "",
    frame: tuple[float, float, float, float] | None = None,
    crs=None,
    land: xr.DataArray | None = None,
    limits: tuple[float, float] | None = None,
    outline=None,
) -> plt.Figure:
    """A matplotlib figure of one ``(y, x)`` layer with a log colour scale.

    Parameters
    ----------
    layer : xarray.DataArray
        ``(y, x)`` values (``attrs["units"]`` labels the colour bar).
    title : str
        Map title.
    borders : Regions, optional
        Polygons drawn in grey, already in the layer's CRS.
    note : str
        Small print under the map (the CRS note follows it).
    frame : tuple, optional
        ``(xmin, xmax, ymin, ymax)`` shown; default the cells with positive
        values (:func:`mask_extent`), else the whole grid.
    crs : optional
        The layer's CRS (axes, graticule, scale bar); default ``layer.rio.crs``.
    land : xarray.DataArray, optional
        ``(y, x)`` bool, the producer regions' cells; the others are drawn in
        the no-data class.
    limits : tuple, optional
        ``(vmin, vmax)`` of the log colour scale (shared by a figure's panels,
        :func:`log_limits`); default this layer's own.
    outline : collection of str, optional
        Codes of ``borders`` drawn in bold (the place a map is framed on).
    """
    crs = layer.rio.crs if crs is None else crs
    frame = frame or mask_extent(layer > 0) or _extent(layer["x"].values, layer["y"].values)
    image = map_image(layer, frame, land)
    return draw_image(
        image,
        title=title,
        bar_label=colour_bar_label(layer, image.factor),
        borders=borders,
        note=note,
        frame=frame,
        crs=crs,
        limits=limits,
        outline=outline,
    )


def draw_image(
    image: MapImage,
    *,
    title: str,
    bar_label: str,
    borders,
    note: str,
    frame,
    crs,
    limits: tuple[float, float] | None = None,
    outline=None,
) -> plt.Figure:
    """The figure of a :class:`MapImage` (see :func:`draw_layer`); its norm is ``limits``."""
    limits = limits or log_limits([image])
    fig, ax = map_figure(frame, crs)
    if limits is not None:
        _draw_values(fig, ax, image, limits, bar_label)
    finish_map(
        fig, ax, title=title, borders=borders, note=note, frame=frame, crs=crs, outline=outline
    )
    return fig


def draw_classes(ax, classes: np.ndarray, extent, colours: list[str], **options) -> None:
    """Pixels of classes ``0 .. len(colours) - 1``, each in its colour."""
    ax.imshow(
        classes,
        extent=extent,
        interpolation="nearest",
        vmin=-0.5,
        vmax=len(colours) - 0.5,
        cmap=ListedColormap(colours),
        **options,
    )


def _draw_values(fig, ax, image: MapImage, limits, bar_label: str) -> None:
    """The log-scaled pixels, colour bar, and the no-data and 0 t classes of an image.

    Positive values below ``limits[0]`` take the scale's lowest colour (the
    colour bar's lower arrow); land pixels of 0 t are white, pixels outside
    the producer regions grey (:data:`NODATA_COLOUR`).
    """
    values = np.array(image.values, dtype=float)
    cmap = matplotlib.colormaps[COLOUR_MAP]
    cmap = cmap.with_extremes(under=cmap(0.0), bad=(0, 0, 0, 0))
    classes = land_classes(ax, image, values, blank=values <= 0, label="0 t")
    shown = ax.imshow(
        np.ma.masked_less_equal(values, 0),
        extent=image.extent,
        norm=LogNorm(*limits),
        cmap=cmap,
        interpolation="nearest",
        zorder=1,
    )
    extend = "min" if (0 < values).any() and values[values > 0].min() < limits[0] else "neither"
    fig.colorbar(shown, ax=ax, shrink=0.8, pad=0.09, extend=extend, label=bar_label)
    if classes:
        class_legend(ax, classes)


def land_classes(ax, image: MapImage, values: np.ndarray, *, blank, label: str) -> list:
    """Draw the no-data and white classes under an image's values; return their legend.

    Pixels outside the producer regions are grey (:data:`NODATA_COLOUR`) and
    their ``values`` are set to 0 in place; land pixels are white, and the
    legend names them ``label`` if any ``blank`` pixel of land is shown white.
    """
    classes: list[tuple[str, str]] = []
    if image.modelled is None:
        return classes
    colours = [NODATA_COLOUR, "white"]
    draw_classes(ax, np.where(image.modelled, 1, 0), image.extent, colours, zorder=0)
    values[~image.modelled] = 0.0
    if not image.modelled.all():
        classes.append((NODATA_COLOUR, "no data: outside the producer regions"))
    if (blank & image.modelled).any():
        classes.append(("white", label))
    return classes


def finish_map(fig, ax, *, title: str, borders, note: str, frame, crs, outline=None) -> None:
    """Borders (``outline`` codes drawn bold), axes, graticule, scale bar, title, small print."""
    if borders is not None:
        draw_borders(ax, borders, outline=outline)
    furnish(ax, frame, crs)
    ax.set_title(title)
    small = " ".join(part for part in (note, crs_note(crs)) if part)
    ax.annotate(
        small,
        xy=(0, 0),
        xycoords="axes fraction",
        xytext=(-40, -34),
        textcoords="offset points",
        va="top",
        fontsize=7,
        color="0.35",
    )


def map_figure(frame: tuple[float, float, float, float], crs) -> tuple[plt.Figure, plt.Axes]:
    """A figure sized to the frame's shape on the ground, so the map fills its axes."""
    xmin, xmax, ymin, ymax = frame
    ratio = (ymax - ymin) / max(xmax - xmin, 1e-300)
    if crs is not None and CRS.from_user_input(crs).is_geographic:
        ratio /= np.cos(np.radians(np.clip((ymin + ymax) / 2, -80.0, 80.0)))
    height = float(np.clip(6.2 * ratio + 1.3, 3.5, 11.0))
    return plt.subplots(figsize=(9, height), dpi=110)


def _extent(xs, ys, spacing=None) -> tuple[float, float, float, float]:
    """Cell-edge extent of cell centres ``xs``, ``ys`` (spacing from them unless given)."""
    xs, ys = np.asarray(xs, dtype=float), np.asarray(ys, dtype=float)
    dx, dy = spacing or centre_spacing(xs, ys)
    return (xs.min() - dx / 2, xs.max() + dx / 2, ys.min() - dy / 2, ys.max() + dy / 2)


def draw_borders(ax, borders: Regions, *, outline=None) -> None:
    """The regions' outlines in grey; those whose code is in ``outline`` in black."""
    bold = set(outline or ())
    for code, geometry in zip(borders.codes, borders.geometries, strict=True):
        shape = shapely.geometry.shape(geometry)
        style = {"color": "black", "linewidth": 1.2} if code in bold else {}
        for polygon in getattr(shape, "geoms", [shape]):
            x, y = polygon.exterior.xy
            ax.plot(x, y, **({"color": "0.45", "linewidth": 0.4} | style), zorder=3)


def standard_maps(
    cube: xr.Dataset, summary: dict, out_dir: Path, *, borders: Regions | None, note: str
) -> list[Path]:
    """Maps of the foreign total, the top three consumers and the top two sectors.

    Every map is framed on the land cells (the raster codes mapped to a
    producer region), not on the border file.
    """
    crs = cube.rio.crs
    borders = borders.to_crs(crs) if borders is not None and crs is not None else borders
    land = land_mask(cube)
    frame = mask_extent(land)
    layers = [(cube["foreign_footprint"], "foreign_footprint", "all foreign consumers")]
    layers += [
        (cube["footprint"].sel(consumer=c), f"consumer_{safe_slug(c)}", f"final demand in {c}")
        for c in list(summary["consumer_shares"])[:3]
    ]
    layers += [
        (
            cube["footprint_by_sector"].sel(sector=s),
            f"sector_{safe_slug(s)}",
            f"foreign demand, sector {s}",
        )
        for s in list(summary["sector_shares"])[:2]
    ]
    return [
        plot_layer(
            layer,
            out_dir / f"{name}.png",
            title=f"CO2 driven by {what}",
            borders=borders,
            note=note,
            frame=frame,
            crs=crs,
            land=land,
        )
        for layer, name, what in layers
    ]


def land_mask(cube: xr.Dataset) -> xr.DataArray:
    """``(y, x)`` bool: the land (:func:`pipeline.results.summary.home_codes`' cells)."""
    index = cube["region_index"]
    return index.copy(data=blocks.cells_in(index.data, home_codes(cube)))
