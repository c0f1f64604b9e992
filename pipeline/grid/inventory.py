"""Gridded emission inventories: open GeoTIFF/NetCDF layers lazily with rioxarray.

An inventory is one raster per sector (GeoTIFF, or NetCDF with one variable per
sector). All layers must share one grid (CRS, transform, shape). Values are
converted to tonnes CO2 per cell; the declared nodata value reads as 0.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import rioxarray
import xarray as xr

from pipeline.errors import GridError, InputFileError

TONNES_PER_UNIT = {
    "t": 1.0,
    "tonne": 1.0,
    "tonnes": 1.0,
    "mg": 1.0,  # megagram, as in 'Mg'; checked before lower-casing below
    "kg": 1e-3,
    "g": 1e-6,
    "kt": 1e3,
    "gg": 1e3,
    "mt": 1e6,
    "tg": 1e6,
    "gt": 1e9,
}
_UNIT_NOISE = re.compile(r"(co2|/\s*cell|per\s*cell|/\s*yr|/\s*year|/\s*a\b|\s*a-1|\s*yr-1|\s)")


def tonnes_factor(unit: str, *, source: str) -> float:
    """Factor converting ``unit`` (mass per cell, e.g. ``"kt CO2/cell/yr"``) to tonnes.

    Raises
    ------
    GridError
        Naming ``source`` and the known units, if ``unit`` is not a mass per cell.
    """
    if unit.strip() == "Mg":
        return 1.0
    key = _UNIT_NOISE.sub("", unit.strip().lower())
    if key not in TONNES_PER_UNIT:
        known = sorted({k for k in TONNES_PER_UNIT if k != "mg"} | {"Mg"})
        raise GridError(
            f"{source}: unknown emission unit {unit!r}; use a mass per cell "
            f"({', '.join(known)}) or set [inventory] units"
        )
    return TONNES_PER_UNIT[key]


def open_layer(path: Path, *, chunks: int | dict, variable: str | None = None) -> xr.DataArray:
    """Open one single-band GeoTIFF, or one NetCDF variable, lazily.

    Raises
    ------
    InputFileError
        If the file is missing or unreadable.
    GridError
        If it has no CRS or more than one band.
    """
    if not path.is_file():
        raise InputFileError(f"{path}: inventory file not found; check [inventory] files")
    try:
        opened = rioxarray.open_rasterio(path, chunks=chunks, mask_and_scale=False)
    except Exception as exc:  # rasterio raises several unrelated types
        raise InputFileError(f"{path}: cannot read as a raster ({exc})") from exc
    if isinstance(opened, xr.Dataset):
        opened = _pick_variable(opened, variable, path)
    elif isinstance(opened, list):
        raise GridError(f"{path}: holds several subdatasets; name one with [inventory] variables")
    if "band" in opened.dims:
        if opened.sizes["band"] != 1:
            raise GridError(f"{path}: has {opened.sizes['band']} bands; give one file per sector")
        opened = opened.squeeze("band", drop=True)
    if opened.rio.crs is None:
        raise GridError(
            f"{path}: raster has no CRS; write one into the file "
            "(e.g. gdal_edit.py -a_srs EPSG:XXXX) before ingesting"
        )
    return opened


def _pick_variable(ds: xr.Dataset, variable: str | None, path: Path) -> xr.DataArray:
    names = list(ds.data_vars)
    if variable is None and len(names) == 1:
        variable = names[0]
    if variable not in names:
        raise GridError(f"{path}: variable {variable!r} not found; it holds {names}")
    return ds[variable]


def open_inventory(
    files: Mapping[str, str | Path],
    *,
    chunks: int = 512,
    units: str | None = None,
    variables: Mapping[str, str] | None = None,
) -> xr.DataArray:
    """Open per-sector inventory layers as one lazy ``emissions(sector, y, x)`` in t/cell.

    Parameters
    ----------
    files : mapping of str to path
        Inventory sector name to raster file.
    chunks : int, keyword-only
        Spatial chunk edge in cells.
    units : str, optional
        Unit of all layers, overriding the files' own ``units`` metadata.
    variables : mapping, optional
        NetCDF variable name per sector, when a file holds several.

    Returns
    -------
    xarray.DataArray
        Float64, with the CRS of the files, nodata read as zero.
    """
    if not files:
        raise GridError("no inventory layers configured; list them under [inventory] files")
    variables = variables or {}
    layers, first = [], None
    for sector, path in files.items():
        path = Path(path)
        layer = open_layer(path, chunks={"x": chunks, "y": chunks}, variable=variables.get(sector))
        if first is None:
            first = (path, layer)
        else:
            _check_same_grid(first, (path, layer))
        unit = units or layer.attrs.get("units")
        if unit is None:
            raise GridError(f"{path}: layer has no 'units' metadata; set [inventory] units")
        layers.append(_to_tonnes(layer, tonnes_factor(str(unit), source=str(path))))
    crs = first[1].rio.crs
    emissions = xr.concat(layers, dim="sector", join="override", combine_attrs="drop")
    emissions = emissions.assign_coords(sector=np.array(list(files), dtype=object))
    emissions.attrs = {"units": "t", "long_name": "CO2 emissions per cell"}
    return emissions.rio.write_crs(crs)


def _to_tonnes(layer: xr.DataArray, factor: float) -> xr.DataArray:
    nodata = layer.rio.nodata
    values = layer.astype(np.float64)
    if nodata is not None and not np.isnan(nodata):
        values = values.where(layer != nodata, 0.0)
    elif nodata is not None:
        values = values.fillna(0.0)
    return (values * factor).drop_vars("spatial_ref", errors="ignore")


def _check_same_grid(first: tuple[Path, xr.DataArray], other: tuple[Path, xr.DataArray]) -> None:
    (path_a, a), (path_b, b) = first, other
    problems = []
    if a.rio.crs != b.rio.crs:
        problems.append(f"CRS {a.rio.crs} vs {b.rio.crs}")
    if a.shape != b.shape:
        problems.append(f"shape {a.shape} vs {b.shape}")
    if not np.allclose(a.rio.transform(), b.rio.transform(), rtol=0, atol=1e-6):
        problems.append(
            f"transform {tuple(a.rio.transform())[:6]} vs {tuple(b.rio.transform())[:6]}"
        )
    if problems:
        raise GridError(
            f"{path_b} is not on the grid of {path_a} ({'; '.join(problems)}); "
            "regrid all sector layers onto one grid (e.g. gdalwarp -tr/-te) first"
        )


def count_invalid(emissions: xr.DataArray) -> tuple[xr.DataArray, xr.DataArray]:
    """Lazy per-sector counts of NaN and of negative cells."""
    dims = ("y", "x")
    return emissions.isnull().sum(dims), (emissions < 0).sum(dims)
