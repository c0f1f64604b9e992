"""PNG maps of footprint cubes: log colour scale, region borders, units."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import shapely.geometry  # noqa: E402
import xarray as xr  # noqa: E402
from matplotlib.colors import LogNorm  # noqa: E402

from pipeline.grid.regions import Regions  # noqa: E402

MAX_PIXELS = 1200


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


def plot_layer(
    layer: xr.DataArray,
    path: Path,
    *,
    title: str,
    borders: Regions | None = None,
    note: str = "",
) -> Path:
    """Write one ``(y, x)`` layer as a PNG map with a log colour scale."""
    shown, factor = coarsen_for_display(layer)
    values = np.asarray(shown.values, dtype=float)
    positive = values[values > 0]
    fig, ax = plt.subplots(figsize=(9, 7), dpi=110)
    if positive.size:
        vmax = float(positive.max())
        vmin = max(float(np.percentile(positive, 1)), vmax * 1e-6)
        masked = np.ma.masked_less_equal(values, 0)
        xs, ys = shown["x"].values, shown["y"].values
        extent = _extent(xs, ys)
        image = ax.imshow(
            masked,
            extent=extent,
            norm=LogNorm(vmin, vmax),
            cmap="inferno_r",
            interpolation="nearest",
        )
        unit = layer.attrs.get("units", "t CO2")
        cell = "per cell" if factor == 1 else f"per {factor}x{factor} cells"
        fig.colorbar(image, ax=ax, shrink=0.8, label=f"{unit} {cell} (log scale)")
    if borders is not None:
        _draw_borders(ax, borders)
    ax.set_title(title)
    ax.set_xlabel("x (m)")
    ax.set_ylabel("y (m)")
    if note:
        fig.text(0.01, 0.01, note, fontsize=7, color="0.35")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, bbox_inches="tight")
    plt.close(fig)
    return path


def _extent(xs: np.ndarray, ys: np.ndarray) -> tuple[float, float, float, float]:
    dx = abs(xs[1] - xs[0]) if xs.size > 1 else 1.0
    dy = abs(ys[1] - ys[0]) if ys.size > 1 else 1.0
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
    """Maps of the foreign total, the top three consumers and the top two sectors."""
    crs = cube.rio.crs
    borders = borders.to_crs(crs) if borders is not None and crs is not None else borders
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
        )
        for layer, name, what in layers
    ]
