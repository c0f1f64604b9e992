"""Exports for the tools analysts use: GeoTIFF layers, CSV / Parquet / JSON tables."""

from __future__ import annotations

import io
import json
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
import rioxarray  # noqa: F401  (registers the .rio accessor)
import xarray as xr

from pipeline.errors import ConfigError, OutputError

TABLE_FORMATS = ("table", "csv", "json", "parquet")


def write_geotiff(
    layer: xr.DataArray,
    path: Path,
    *,
    crs=None,
    transform=None,
    band_tags: Mapping[str, str] | None = None,
    nodata: float | None = np.nan,
    predictor: int | None = None,
) -> Path:
    """Write one ``(y, x)`` layer as a tiled, DEFLATE-compressed GeoTIFF.

    The one GeoTIFF writer: query exports and the demo's inventory layers.

    Parameters
    ----------
    layer : xarray.DataArray
        ``(y, x)`` layer (lazy is fine; it is computed). Its attributes become
        the file's tags.
    path : Path
        Output ``.tif``.
    crs, transform : optional
        Override the CRS and affine transform; by default those of ``layer``.
    band_tags : mapping, optional
        Tags of band 1 (e.g. ``units``).
    nodata : float or None
        Nodata tag of a float layer; NaN by default, which never occurs in a
        store; None writes none.
    predictor : int, optional
        DEFLATE predictor (3, the floating-point one, for float layers).

    Notes
    -----
    Float layers are written as float64, unchanged (t CO2 per cell; 0 where
    nothing is emitted). Integer layers (e.g. a hotspot mask as uint8) keep
    their dtype, no nodata. GDAL, rasterio and QGIS read the CRS (WKT) and the
    transform from the file.
    """
    path = Path(path)
    floating = np.issubdtype(layer.dtype, np.floating)
    data = layer.astype(np.float64, copy=False) if floating else layer
    crs = crs if crs is not None else layer.rio.crs
    transform = transform if transform is not None else layer.rio.transform()
    data = data.rio.write_crs(crs).rio.write_transform(transform)
    data = data.rio.write_nodata(nodata) if floating and nodata is not None else data
    data.attrs = {k: str(v) for k, v in layer.attrs.items()}
    if band_tags:
        data.attrs["band_tags"] = [{k: str(v) for k, v in band_tags.items()}]
    options = {} if predictor is None else {"predictor": predictor}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        data.rio.to_raster(path, driver="GTiff", compress="DEFLATE", tiled=True, **options)
    except OSError as exc:
        raise OutputError(
            f"{path}: cannot write the GeoTIFF ({_first_line(exc)}); choose another --output"
        ) from exc
    return path


def format_table(frame: pd.DataFrame, fmt: str) -> str:
    """A table as text: aligned ``table``, ``csv`` or ``json`` (records)."""
    if fmt == "csv":
        buffer = io.StringIO()
        frame.to_csv(buffer, index=False)
        return buffer.getvalue()
    if fmt == "json":
        return json.dumps(frame.to_dict(orient="records"), indent=2, default=_json_default) + "\n"
    if fmt == "table":
        return frame.to_string(index=False, float_format=_short) + "\n"
    raise ConfigError(f"table format {fmt!r} is not text; use one of table, csv, json")


def write_table(frame: pd.DataFrame, path: Path, fmt: str | None = None) -> Path:
    """Write a table as CSV, Parquet, JSON or an aligned text table.

    ``fmt`` defaults to the file's suffix (``.csv``, ``.parquet``, ``.json``,
    anything else: aligned text).
    """
    path = Path(path)
    fmt = fmt or {".csv": "csv", ".parquet": "parquet", ".json": "json"}.get(
        path.suffix.lower(), "table"
    )
    if fmt not in TABLE_FORMATS:
        raise ConfigError(f"table format {fmt!r} unknown; use one of {', '.join(TABLE_FORMATS)}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if fmt == "parquet":
            frame.to_parquet(path, index=False)
        else:
            path.write_text(format_table(frame, fmt))
    except OSError as exc:
        raise OutputError(
            f"{path}: cannot write the table ({_first_line(exc)}); choose another --output"
        ) from exc
    return path


def _first_line(exc: Exception) -> str:
    text = getattr(exc, "strerror", None) or str(exc)
    return text.splitlines()[0] if text else type(exc).__name__


def _short(value: float) -> str:
    return f"{value:.6g}"


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    return str(value)
