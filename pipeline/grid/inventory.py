"""Gridded emission inventories: open GeoTIFF, ESRI ASCII grid and NetCDF layers lazily.

Sources of sector layers (all opened lazily with dask; nothing reads the full grid):

* **GeoTIFF** (or any GDAL raster, e.g. ESRI ASCII grid ``.asc`` with its ``.prj``
  sidecar): one layer per band, named by the band description (``long_name`` in
  rioxarray), or by the ``sectors``/``bands`` option, or by the file stem for a
  single band.
* **NetCDF** (``.nc``, ``.nc4``, ``.cdf``): one layer per data variable on the
  ``y``/``x`` (or ``lat``/``lon``) grid, named by the variable, or one variable with
  a ``sector`` dimension, one layer per sector value. CRS from the CF
  ``grid_mapping``; plain ``lat``/``lon`` coordinates mean EPSG:4326. Rows are
  flipped to run north to south so the affine transform has ``e < 0``.

A file without a CRS takes the ``crs`` option (``[inventory] crs``); otherwise it is
an error. All layers must share one grid (CRS, transform, shape).

Values: the declared nodata (GeoTIFF nodata, NetCDF ``_FillValue`` or
``missing_value``) reads as 0, also when it is NaN. NaN in a layer without a
declared NaN nodata stays NaN and is refused when its block is read, like a
negative cell (:mod:`pipeline.grid.inventory_checks`). CF
``scale_factor``/``add_offset`` are applied. Units are converted to tonnes CO2 per
cell by :mod:`pipeline.grid.units` (fluxes times cell area and, per second, times
365 days).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

import dask.array as da
import numpy as np
import rioxarray  # noqa: F401  (registers the .rio accessor)
import xarray as xr
from pyproj import CRS

from pipeline.errors import ConfigError, GridError, InputFileError
from pipeline.grid.inventory_checks import checked_tonnes, guarded_array
from pipeline.grid.units import TONNES_PER_UNIT, cell_area, parse_unit, tonnes_factor
from pipeline.textfiles import check_file

__all__ = [
    "TONNES_PER_UNIT",
    "open_inventory",
    "open_inventory_file",
    "open_layers",
    "tonnes_factor",
]

log = logging.getLogger(__name__)

NETCDF_SUFFIXES = {".nc", ".nc4", ".cdf", ".netcdf"}
_LAT_NAMES = ("lat", "latitude")
_LON_NAMES = ("lon", "longitude")
LayerKey = str | int


def open_layers(
    path: str | Path, *, chunks: int = 512, crs: str | CRS | None = None
) -> list[tuple[str | None, xr.DataArray]]:
    """Open every sector layer of one file lazily, in native units.

    Parameters
    ----------
    path : str or Path
        GeoTIFF / GDAL raster (one layer per band) or NetCDF file.
    chunks : int, keyword-only
        Spatial chunk edge in cells.
    crs : str or pyproj.CRS, optional
        CRS to assign when the file has none.

    Returns
    -------
    list of (name, DataArray)
        ``name`` is the band description, variable or sector value (None if the
        band has no description); each array is ``(y, x)`` with its CRS written and
        its ``units`` and nodata attributes.

    Raises
    ------
    InputFileError
        If the file is missing or unreadable.
    GridError
        If it has no CRS (and ``crs`` is not given) or no layer on a regular grid.
    """
    path = check_file(path, what="inventory file", fix="check `files`")
    if path.suffix.lower() in NETCDF_SUFFIXES:
        return _netcdf_layers(path, chunks, crs)
    return _raster_layers(path, chunks, crs)


def _raster_layers(path: Path, chunks: int, crs) -> list[tuple[str | None, xr.DataArray]]:
    try:
        opened = rioxarray.open_rasterio(
            path, chunks={"band": 1, "y": chunks, "x": chunks}, mask_and_scale=False
        )
    except Exception as exc:  # rasterio raises several unrelated types
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputFileError(
            f"{path}: cannot read as a raster ({reason}); replace it with a valid GeoTIFF, "
            "NetCDF or ESRI ASCII grid, or fix `files`"
        ) from exc
    if isinstance(opened, xr.Dataset | list):
        raise GridError(f"{path}: holds several subdatasets; export one raster per file")
    opened = opened.copy(data=guarded_array(path, opened.shape, opened.dtype, chunks))
    opened = _with_crs(opened, path, crs)
    n = opened.sizes["band"]
    names = _per_band(opened.attrs.get("long_name"), n)
    units = _per_band(opened.attrs.get("units"), n)
    layers = []
    for i in range(n):
        layer = opened.isel(band=i, drop=True)
        layer.attrs = {k: v for k, v in opened.attrs.items() if k not in ("long_name", "units")}
        if units[i]:
            layer.attrs["units"] = units[i]
        layers.append((names[i] or None, layer))
    return layers


def _per_band(value, n: int) -> list:
    if value is None:
        return [None] * n
    if isinstance(value, str):
        return [value] * n if n > 1 and value else [value] + [None] * (n - 1)
    return list(value) + [None] * (n - len(value))


def _with_crs(data: xr.DataArray, path: Path, crs) -> xr.DataArray:
    if data.rio.crs is not None:
        own = CRS.from_user_input(data.rio.crs)
        if crs is not None and not own.equals(crs, ignore_axis_order=True):
            log.warning("%s: file CRS %s wins over [inventory] crs %s", path, data.rio.crs, crs)
        return data
    if crs is None:
        raise GridError(
            f"{path}: raster has no CRS; set `crs` = 'EPSG:XXXX' or write one into "
            "the file (e.g. gdal_edit.py -a_srs EPSG:XXXX, or a .prj beside an .asc grid)"
        )
    return data.rio.write_crs(CRS.from_user_input(crs))


def _netcdf_layers(path: Path, chunks: int, crs) -> list[tuple[str | None, xr.DataArray]]:
    try:
        ds = xr.open_dataset(path, mask_and_scale=False, decode_coords="all", decode_times=False)
    except Exception as exc:  # the netCDF backends raise several unrelated types
        raise InputFileError(f"{path}: cannot read as NetCDF ({exc})") from exc
    ds, geographic = _standard_dims(ds, path)
    ds = ds.chunk({"y": chunks, "x": chunks, **({"sector": 1} if "sector" in ds.dims else {})})
    _check_regular(ds, path)
    if ds["y"].size > 1 and ds["y"].values[1] > ds["y"].values[0]:
        ds = ds.isel(y=slice(None, None, -1))
    if geographic:
        ds = _wrap_longitudes(ds, path)
    layers = []
    for name, var in ds.data_vars.items():
        if "y" not in var.dims or "x" not in var.dims:
            continue
        var = _squeeze_extra_dims(var, path)
        var = _netcdf_crs(var, path, crs, geographic)
        var = var.rio.set_spatial_dims(x_dim="x", y_dim="y")
        if "sector" in var.dims:
            for value in var["sector"].values:
                layer = var.sel(sector=value, drop=True).chunk({"y": chunks, "x": chunks})
                layers.append((_sector_name(value), layer))
        else:
            layers.append((str(name), var.chunk({"y": chunks, "x": chunks})))
    if not layers:
        raise GridError(f"{path}: no variable on a y/x or lat/lon grid; it holds {list(ds)}")
    return layers


def _standard_dims(ds: xr.Dataset, path: Path) -> tuple[xr.Dataset, bool]:
    rename, geographic = {}, False
    for names, target in ((_LAT_NAMES, "y"), (_LON_NAMES, "x")):
        found = [n for n in ds.dims if str(n).lower() in names]
        if found and target not in ds.dims:
            rename[found[0]] = target
            geographic = True
    ds = ds.rename(rename)
    if "y" not in ds.dims or "x" not in ds.dims:
        raise GridError(
            f"{path}: no y/x or lat/lon dimensions (has {list(ds.dims)}); "
            "rename the grid dimensions to y/x or lat/lon"
        )
    return ds, geographic


def _wrap_longitudes(ds: xr.Dataset, path: Path) -> xr.Dataset:
    """Move a 0-360 degree longitude axis to -180..180 (lazily), west to east.

    A global grid is rolled so that it starts at -180; a grid wholly east of 180
    is shifted by -360. A regional grid that straddles 180 cannot be one
    -180..180 raster, so it is an error naming the fix.
    """
    lon = np.asarray(ds["x"].values, dtype=np.float64)
    if lon.size == 0 or lon.max() <= 180.0:
        return ds
    if lon.size > 1 and lon[1] < lon[0]:  # east to west: turn it round first
        ds, lon = ds.isel(x=slice(None, None, -1)), lon[::-1]
    if lon.min() > 180.0:
        return ds.assign_coords(x=lon - 360.0)
    step = abs(lon[1] - lon[0]) if lon.size > 1 else 360.0
    if lon.size > 1 and np.isclose(step * (lon.size - 1), 360.0, rtol=1e-6):
        raise GridError(
            f"{path}: the last longitude column ({lon[-1]:g}) repeats the first ({lon[0]:g}) "
            f"360 degrees on; drop it first (e.g. ncks -d lon,0,{lon.size - 2})"
        )
    if not np.isclose(step * lon.size, 360.0, rtol=1e-6):
        raise GridError(
            f"{path}: longitudes run from {lon.min():g} to {lon.max():g}, across 180 degrees, "
            "on a grid that is not global; shift them to -180..180 first "
            "(e.g. cdo sellonlatbox,-180,180,-90,90)"
        )
    wrapped = (lon + 180.0) % 360.0 - 180.0
    start = int(np.argmin(wrapped))
    return ds.roll(x=-start, roll_coords=True).assign_coords(x=np.roll(wrapped, -start))


def _check_regular(ds: xr.Dataset, path: Path) -> None:
    for dim in ("y", "x"):
        if dim not in ds.coords:
            raise GridError(f"{path}: dimension {dim!r} has no coordinate; add cell centres")
        step = np.diff(np.asarray(ds[dim].values, dtype=np.float64))
        if step.size and not np.allclose(step, step[0], rtol=1e-6, atol=0):
            raise GridError(f"{path}: {dim} coordinates are not evenly spaced; regrid it first")


def _squeeze_extra_dims(var: xr.DataArray, path: Path) -> xr.DataArray:
    for dim in var.dims:
        if dim in ("y", "x", "sector"):
            continue
        if var.sizes[dim] != 1:
            raise GridError(
                f"{path}: variable {var.name!r} has dimension {dim!r} of size "
                f"{var.sizes[dim]}; keep one {dim} (e.g. cdo selyear / ncks -d) first"
            )
        var = var.isel({dim: 0}, drop=True)
    return var


def _netcdf_crs(var: xr.DataArray, path: Path, crs, geographic: bool) -> xr.DataArray:
    if var.rio.crs is None and geographic:
        if crs is not None and not CRS.from_user_input(crs).is_geographic:
            log.warning("%s: lat/lon coordinates; ignoring [inventory] crs %s", path, crs)
        return var.rio.write_crs("EPSG:4326")
    return _with_crs(var, path, crs)


def _sector_name(value: object) -> str:
    """A NetCDF ``sector`` coordinate value as text (bytes decoded)."""
    return value.decode() if isinstance(value, bytes) else str(value)


def _select(layers: list, key: LayerKey | None, path: Path) -> xr.DataArray:
    names = [name for name, _ in layers]
    if key is None:
        if len(layers) == 1:
            return layers[0][1]
        raise GridError(
            f"{path}: holds {len(layers)} layers {names}; name one per sector with "
            "`bands` (band number or name) or `variables`"
        )
    if isinstance(key, int) and not isinstance(key, bool):
        if 1 <= key <= len(layers):
            return layers[key - 1][1]
        raise GridError(f"{path}: has no band {key}; it has bands 1..{len(layers)}")
    if str(key) not in names:
        raise GridError(f"{path}: layer {key!r} not found; it holds {names}")
    return layers[names.index(str(key))][1]


def open_inventory_file(
    path: str | Path,
    *,
    sectors: Sequence[str] | Mapping[str, LayerKey] | None = None,
    chunks: int = 512,
    units: str | None = None,
    crs: str | CRS | None = None,
) -> xr.DataArray:
    """Open all sectors of one multi-layer file as ``emissions(sector, y, x)`` in t/cell.

    Parameters
    ----------
    path : str or Path
        Multi-band GeoTIFF, ASCII grid or NetCDF.
    sectors : sequence or mapping, optional
        Sector names of the layers in order, or sector -> band number (from 1),
        band description, variable or sector value, to select and rename layers.
        By default the layers' own names.
    chunks, units, crs
        As in :func:`open_inventory`.

    Returns
    -------
    xarray.DataArray
    """
    path = Path(path)
    layers = open_layers(path, chunks=chunks, crs=crs)
    if isinstance(sectors, Mapping):
        chosen = [(s, _select(layers, k, path)) for s, k in sectors.items()]
    elif sectors is not None:
        if len(sectors) != len(layers):
            raise ConfigError(
                f"{path}: {len(sectors)} sector names for {len(layers)} layers; "
                "give one name per band in `bands`"
            )
        chosen = [(str(s), layer) for s, (_, layer) in zip(sectors, layers, strict=True)]
    else:
        chosen = [(_auto_name(n, i, len(layers), path), la) for i, (n, la) in enumerate(layers)]
    return _assemble([(s, path, layer) for s, layer in chosen], units)


def _auto_name(name: str | None, i: int, n: int, path: Path) -> str:
    if name:
        return name
    if n == 1:
        return path.stem
    raise GridError(f"{path}: band {i + 1} has no description; name the bands with `bands` = [...]")


def open_inventory(
    files: Mapping[str, str | Path] | str | Path | Sequence[str | Path],
    *,
    chunks: int = 512,
    units: str | None = None,
    variables: Mapping[str, str] | None = None,
    crs: str | CRS | None = None,
    bands: Mapping[str, LayerKey] | Sequence[str] | None = None,
) -> xr.DataArray:
    """Open inventory layers as one lazy ``emissions(sector, y, x)`` in tonnes per cell.

    Parameters
    ----------
    files : mapping of str to path, or path, or sequence of paths
        Sector name to file (one layer each); or one multi-layer file; or several
        files each contributing all of its named layers.
    chunks : int, keyword-only
        Spatial chunk edge in cells.
    units : str, optional
        Unit of all layers, overriding the files' own ``units`` metadata.
    variables : mapping, optional
        NetCDF variable (or sector value) per sector, when a file holds several.
    crs : str or pyproj.CRS, optional
        CRS for files that carry none (``[inventory] crs``).
    bands : mapping or sequence, optional
        With a mapping of files: sector -> band number (from 1) or band name in
        that sector's file. With one file: sector -> band, or the sector names of
        all bands in order.

    Returns
    -------
    xarray.DataArray
        Float64, with the CRS of the files, nodata read as zero; ``attrs["sources"]``
        maps each sector to its file.
    """
    if not files:
        raise GridError("no inventory layers configured; list them under `files`")
    if isinstance(files, str | Path):
        return open_inventory_file(files, sectors=bands, chunks=chunks, units=units, crs=crs)
    if not isinstance(files, Mapping):
        if bands is not None:
            raise ConfigError("`bands` needs a single file or a sector -> file table")
        parts = [open_inventory_file(p, chunks=chunks, units=units, crs=crs) for p in files]
        return _combine_files(parts)
    keys = {**(variables or {}), **(bands or {})}
    cache: dict[Path, list] = {}
    chosen = []
    for sector, path in files.items():
        path = Path(path)
        if path not in cache:
            cache[path] = open_layers(path, chunks=chunks, crs=crs)
        chosen.append((sector, path, _select(cache[path], keys.get(sector), path)))
    return _assemble(chosen, units)


def _combine_files(parts: list[xr.DataArray]) -> xr.DataArray:
    sectors = [str(s) for p in parts for s in p["sector"].values]
    dupes = sorted({s for s in sectors if sectors.count(s) > 1})
    if dupes:
        raise GridError(
            f"sectors {dupes} appear in several inventory files; rename them with "
            "a sector -> file table in `files`"
        )
    sources = {k: v for p in parts for k, v in p.attrs["sources"].items()}
    first = Path(parts[0].attrs["sources"][sectors[0]])
    for part in parts[1:]:
        other = Path(next(iter(part.attrs["sources"].values())))
        _check_same_grid((first, parts[0]), (other, part))
    combined = xr.concat(parts, dim="sector", join="override", combine_attrs="drop")
    combined.attrs = {"units": "t", "long_name": "CO2 emissions per cell", "sources": sources}
    return combined.rio.write_crs(parts[0].rio.crs)


def _assemble(chosen: list[tuple[str, Path, xr.DataArray]], units: str | None) -> xr.DataArray:
    first = chosen[0][1:]
    names = [s for s, _, _ in chosen]
    dupes = sorted({s for s in names if names.count(s) > 1})
    if dupes:
        raise GridError(f"{first[0]}: sector names {dupes} repeat; give each layer its own name")
    layers = []
    for sector, path, layer in chosen:
        _check_same_grid(first, (path, layer))
        unit = units or layer.attrs.get("units")
        if not unit:
            raise GridError(f"{path}: layer {sector!r} has no 'units' metadata; set `units`")
        layers.append(_to_tonnes(layer, str(unit), path, sector))
    crs = first[1].rio.crs
    emissions = xr.concat(layers, dim="sector", join="override", combine_attrs="drop")
    emissions = emissions.assign_coords(sector=np.array(names, dtype=object))
    emissions.attrs = {
        "units": "t",
        "long_name": "CO2 emissions per cell",
        "sources": {s: str(p) for s, p, _ in chosen},
    }
    return emissions.rio.write_crs(crs)


def _to_tonnes(layer: xr.DataArray, unit: str, path: Path, sector: str) -> xr.DataArray:
    """Layer in tonnes per cell: nodata to 0, CF scaling, unit factor, cell area.

    A cell that is infinite, or that overflows float64 once converted, is an error
    raised while the block is computed (:mod:`pipeline.grid.inventory_checks`).
    """
    parsed = parse_unit(unit, source=str(path))
    nodata = layer.attrs.get("_FillValue", layer.attrs.get("missing_value", layer.rio.nodata))
    scale, offset = layer.attrs.get("scale_factor", 1.0), layer.attrs.get("add_offset", 0.0)
    values = layer.astype(np.float64)
    if scale != 1.0 or offset != 0.0:
        values = values * scale + offset
    if nodata is not None and not np.isnan(nodata):
        values = values.where(layer != nodata, 0.0)
    elif nodata is not None:
        values = values.fillna(0.0)
    values, rows = values.transpose("y", "x"), None
    if parsed.is_flux:
        area = cell_area(layer.rio.crs, layer.rio.transform(), layer["y"].values)
        rows = area.values / parsed.per_m2
    data = values.data if isinstance(values.data, da.Array) else da.from_array(values.values)
    checked = checked_tonnes(
        data, tonnes=parsed.tonnes, rows=rows, path=path, sector=sector, unit=unit
    )
    values = values.copy(data=checked)
    return values.drop_vars("spatial_ref", errors="ignore")


def _check_same_grid(first: tuple[Path, xr.DataArray], other: tuple[Path, xr.DataArray]) -> None:
    (path_a, a), (path_b, b) = first, other
    problems = []
    if a.rio.crs != b.rio.crs:
        problems.append(f"CRS {a.rio.crs} vs {b.rio.crs}")
    if a.shape[-2:] != b.shape[-2:]:
        problems.append(f"shape {a.shape[-2:]} vs {b.shape[-2:]}")
    elif not np.allclose(a.rio.transform(), b.rio.transform(), rtol=0, atol=1e-6):
        problems.append(
            f"transform {tuple(a.rio.transform())[:6]} vs {tuple(b.rio.transform())[:6]}"
        )
    if problems:
        raise GridError(
            f"{path_b} is not on the grid of {path_a} ({'; '.join(problems)}); "
            "regrid all sector layers onto one grid (e.g. gdalwarp -tr/-te) first"
        )
