"""PNG maps of footprint cubes: log colour scale, region borders, units.

Axes follow the CRS: ``longitude (°)`` / ``latitude (°)`` on a geographic grid,
``x (m)`` / ``y (m)`` (the CRS's unit) on a projected one. A map is framed on
the data, not on the border file: on the cells given as ``frame`` (the land
cells, for the run's and the report's maps), else on the cells with positive
values, else on the whole grid.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import dask  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import shapely.geometry  # noqa: E402
import xarray as xr  # noqa: E402
from matplotlib.colors import LogNorm  # noqa: E402
from pyproj import CRS  # noqa: E402

from pipeline.grid.regions import Regions  # noqa: E402
from pipeline.grid.spec import centre_spacing  # noqa: E402

MAX_PIXELS = 1200
#: Short names of CRS axis units in axis labels.
UNIT_SYMBOLS = {"metre": "m", "kilometre": "km", "foot": "ft", "US survey foot": "ftUS"}


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


def coarsen_for_display(layer: xr.DataArray) -> tuple[xr.DataArray, int]:
    """Sum-coarsen ``layer`` so its longest side has at most :data:`MAX_PIXELS` cells."""
    factor = max(1, int(np.ceil(max(layer.sizes["y"], layer.sizes["x"]) / MAX_PIXELS)))
    if factor == 1:
        return layer, 1
    return layer.coarsen(y=factor, x=factor, boundary="pad").sum(), factor


def axis_labels(crs) -> tuple[str, str]:
    """Labels of the x and y axes from the CRS's axis info.

    ``("longitude (°)", "latitude (°)")`` on a geographic CRS, e.g.
    ``("x (m)", "y (m)")`` on a projected one; ``("x", "y")`` without a CRS.
    """
    if crs is None:
        return "x", "y"
    crs = CRS.from_user_input(crs)
    labels = {}
    for axis in crs.axis_info:
        which = "x" if axis.direction.lower() in ("east", "west") else "y"
        if crs.is_geographic:
            name = "longitude" if which == "x" else "latitude"
            labels[which] = f"{name} (°)"
        else:
            unit = UNIT_SYMBOLS.get(axis.unit_name, axis.unit_name)
            labels[which] = f"{which} ({unit})"
    return labels.get("x", "x"), labels.get("y", "y")


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


def plot_layer(layer: xr.DataArray, path: Path, **options) -> Path:
    """Write one ``(y, x)`` layer as a PNG map (see :func:`draw_layer` for ``options``)."""
    fig = draw_layer(layer, **options)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, bbox_inches="tight")
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
        Small print under the map.
    frame : tuple, optional
        ``(xmin, xmax, ymin, ymax)`` shown; default the cells with positive
        values (:func:`mask_extent`), else the whole grid.
    crs : optional
        The layer's CRS (axis labels, aspect); default ``layer.rio.crs``.
    """
    crs = layer.rio.crs if crs is None else crs
    frame = frame or mask_extent(layer > 0) or _extent(layer["x"].values, layer["y"].values)
    shown, factor = coarsen_for_display(layer)  # lazy: only the coarse image is computed
    values = np.asarray(shown.values, dtype=float)
    positive = values[values > 0]
    fig, ax = plt.subplots(figsize=(9, 7), dpi=110)
    if positive.size:
        vmax = float(positive.max())
        vmin = max(float(np.percentile(positive, 1)), vmax * 1e-6)
        image = ax.imshow(
            np.ma.masked_less_equal(values, 0),
            extent=_extent(shown["x"].values, shown["y"].values),
            norm=LogNorm(vmin, vmax),
            cmap="inferno_r",
            interpolation="nearest",
        )
        unit = layer.attrs.get("units", "t")
        unit = "t CO2" if unit == "t" else unit  # the store's UDUNITS "t" counts CO2
        cell = "per cell" if factor == 1 else f"per {factor}x{factor} cells"
        fig.colorbar(image, ax=ax, shrink=0.8, label=f"{unit} {cell} (log scale)")
    if borders is not None:
        _draw_borders(ax, borders)
    _frame_axes(ax, frame, crs)
    ax.set_title(title)
    if note:
        fig.text(0.01, 0.01, note, fontsize=7, color="0.35")
    return fig


def _frame_axes(ax, frame: tuple[float, float, float, float], crs) -> None:
    """Limits, CRS axis labels and, on lat/lon, an aspect true at the frame's middle."""
    xmin, xmax, ymin, ymax = frame
    ax.set_xlim(xmin, xmax)
    ax.set_ylim(ymin, ymax)
    xlabel, ylabel = axis_labels(crs)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if crs is not None and CRS.from_user_input(crs).is_geographic:
        middle = np.clip((ymin + ymax) / 2, -80.0, 80.0)
        ax.set_aspect(1.0 / np.cos(np.radians(middle)))


def _extent(xs, ys, spacing=None) -> tuple[float, float, float, float]:
    """Cell-edge extent of cell centres ``xs``, ``ys`` (spacing from them unless given)."""
    xs, ys = np.asarray(xs, dtype=float), np.asarray(ys, dtype=float)
    dx, dy = spacing or centre_spacing(xs, ys)
    return (xs.min() - dx / 2, xs.max() + dx / 2, ys.min() - dy / 2, ys.max() + dy / 2)


def _draw_borders(ax, borders: Regions) -> None:
    for geometry in borders.geometries:
        shape = shapely.geometry.shape(geometry)
        polygons = getattr(shape, "geoms", [shape])
        for polygon in polygons:
            x, y = polygon.exterior.xy
            ax.plot(x, y, color="0.45", linewidth=0.4)


def standard_maps(
    cube: xr.Dataset, summary: dict, out_dir: Path, *, borders: Regions | None, note: str
) -> list[Path]:
    """Maps of the foreign total, the top three consumers and the top two sectors.

    Every map is framed on the land cells (the raster codes mapped to a
    producer region), not on the border file.
    """
    crs = cube.rio.crs
    borders = borders.to_crs(crs) if borders is not None and crs is not None else borders
    frame = mask_extent(land_mask(cube))
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
        )
        for layer, name, what in layers
    ]


def land_mask(cube: xr.Dataset) -> xr.DataArray:
    """``(y, x)`` bool: cells whose raster code maps to a producer region of the store."""
    from pipeline.grid.mapping import store_mapping

    index = cube["region_index"]
    codes = index.attrs["flag_meanings"].split()
    mapping = store_mapping(index.attrs, codes, [str(r) for r in cube["region"].values])
    return index.isin(np.flatnonzero(mapping >= 0).tolist())
