"""xarray layer: the factorized result store with labels, CRS, units and provenance.

The store follows the output contract in README.md. It always holds
``emissions``, ``region_index``, ``attribution``, ``region_shares`` (the region
tables ``M``), ``sector_weights`` and the small per-cell cubes
``foreign_footprint``, ``footprint_by_sector`` and ``footprint_by_category``.
``footprint`` (per consumer) is stored only when ``[output] materialize`` asks;
otherwise :mod:`pipeline.attribution.factorized` computes it on read.
"""

from __future__ import annotations

import difflib
import json
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import dask.array as da
import numpy as np
import xarray as xr

from pipeline.attribution import region_tables
from pipeline.errors import ConfigError
from pipeline.grid import write_blocks
from pipeline.grid.cf import CONVENTIONS, describe_grid
from pipeline.grid.mapping import mapping_attrs

#: UDUNITS spelling of the stores' mass unit (tonnes of CO2: ``long_name`` says CO2).
UNITS = "t"
#: Units of stores written before the CF attributes, read as :data:`UNITS`.
LEGACY_UNITS = {"t CO2": UNITS}
#: Version of the store's layout and metadata, part of the ``--resume`` key of the cubes.
STORE_LAYOUT = "factorized, CF-1.10"
#: Stacked per-cell cubes stored as one zarr chunk per layer inside one shard per task.
SHARDED = ("footprint", "footprint_by_sector", "footprint_by_category", "materialized_footprint")
#: The stored layers of the consumers named in ``[output] materialize``, and their dimension.
MATERIALIZED, MATERIALIZED_DIM = "materialized_footprint", "materialized_consumer"
#: ``long_name`` of every variable in :data:`UNITS`.
LONG_NAMES = {
    "emissions": "CO2 emissions per cell (the inventory)",
    "attribution": "CO2 emissions of each producer region and inventory sector driven by "
    "each consumer's final-demand category",
    "footprint": "CO2 emissions per cell driven by each consumer (all categories and sectors)",
    MATERIALIZED: "CO2 emissions per cell driven by each listed consumer (stored)",
    "footprint_by_sector": "CO2 emissions per cell driven by all foreign consumers, by "
    "inventory sector",
    "footprint_by_category": "CO2 emissions per cell driven by all foreign consumers, by "
    "final-demand category",
    "foreign_footprint": "CO2 emissions per cell driven by all foreign consumers",
}


@dataclass(frozen=True)
class CubeInputs:
    """Everything the cube needs, already checked.

    Attributes
    ----------
    emissions : xarray.DataArray
        Lazy ``(sector, y, x)`` in t CO2 per cell, with a CRS.
    region_index : xarray.DataArray
        Lazy ``(y, x)`` int: position in ``region_codes``, ``-1`` outside.
    region_codes : tuple of str
        Codes of the region raster.
    producer_of_code : numpy.ndarray
        ``(n_codes,)`` position of each raster region in ``shares.region``, or -1.
    shares : xarray.DataArray
        ``(region, mrio_sector, consumer, category)`` attribution shares.
    weights : numpy.ndarray
        ``(n_producers, n_inventory_sectors, n_mrio_sectors)`` concordance weights.
    region_totals : numpy.ndarray
        ``(n_codes, n_inventory_sectors)`` inventory totals per raster region.
    foreign : numpy.ndarray
        ``(n_consumers,)`` bool, True outside the nested country.
    dtype : numpy.dtype
        Dtype of the per-cell cubes.
    final_demand : numpy.ndarray or None
        ``(n_inventory_sectors,)`` position in ``shares.category`` of the category
        that a direct final-demand sector's emissions go to, -1 for industries
        (see :mod:`pipeline.attribution.concordance`); None means no direct sectors.
    """

    emissions: xr.DataArray
    region_index: xr.DataArray
    region_codes: tuple[str, ...]
    producer_of_code: np.ndarray
    shares: xr.DataArray
    weights: np.ndarray
    region_totals: np.ndarray
    foreign: np.ndarray
    dtype: np.dtype = np.dtype("float64")
    final_demand: np.ndarray | None = None


@dataclass(frozen=True)
class ResultCube:
    """The lazy result store and the conservation terms of the same pass.

    Attributes
    ----------
    ds : xarray.Dataset
        What the store holds (see the output contract in README.md).
    terms : dask.array.Array
        The write pass's conservation terms
        (:func:`pipeline.attribution.conservation.terms_as_results`).
    """

    ds: xr.Dataset
    terms: da.Array


def build_cube(
    inputs: CubeInputs,
    *,
    materialize: Sequence[str] = (),
    tables: np.ndarray | None = None,
    by_cells: bool = True,
    extra: Mapping[str, np.ndarray] | None = None,
) -> ResultCube:
    """Return the lazy factorized store and its conservation terms.

    Parameters
    ----------
    inputs : CubeInputs
    materialize : sequence of str
        Extra per-cell cubes to store: ``"footprint"`` (every consumer), or
        consumer codes (stored as ``materialized_footprint``). Everything else
        per consumer is computed on read (:mod:`pipeline.attribution.factorized`).
    tables : numpy.ndarray, optional
        Region tables to use instead of those of ``inputs.shares``: a
        scenario's (:mod:`pipeline.attribution.scenario_tables`), whose rows
        need not sum to one.
    by_cells : bool
        Store ``footprint_by_sector`` and ``footprint_by_category``; without,
        readers compute them from the tables
        (:func:`pipeline.attribution.factorized.with_footprint`).
    extra : mapping, optional
        Name -> ``(region, sector)`` table of one more ``(y, x)`` layer written
        in the same pass (a scenario's ``delta_foreign_footprint``).
    """
    m = region_tables.region_shares(inputs) if tables is None else tables
    consumers = [str(c) for c in inputs.shares["consumer"].values]
    chosen = materialized_consumers(materialize, consumers)
    extra = dict(extra or {})
    write = region_tables.write_tables(
        m, inputs, chosen, scaled=tables is not None, by_cells=by_cells, extra=list(extra.values())
    )
    layers, terms = write_blocks.write_layers(
        inputs.emissions.data, inputs.region_index.data, write, dtype=inputs.dtype
    )
    labels = _labels(inputs)
    cells = _stored_cells(layers, write, chosen, materialize, list(extra))
    if MATERIALIZED in cells:
        labels[MATERIALIZED_DIM] = text_labels([consumers[c] for c in chosen])
    ds = xr.Dataset(
        {
            # shallow copies: describing the store must not change the inputs' attrs
            "emissions": _own_attrs(inputs.emissions),
            "region_index": _own_attrs(inputs.region_index),
            "attribution": _attribution(inputs, m),
            "region_shares": (("region", "sector", "consumer", "category"), m),
            "sector_weights": (("region", "sector", "mrio_sector"), inputs.weights),
            **cells,
        },
        coords={"y": inputs.emissions["y"], "x": inputs.emissions["x"], **labels},
    )
    _describe(ds, inputs)
    return ResultCube(describe_store(ds, inputs.emissions.rio.crs), terms)


def _stored_cells(layers, write, chosen, materialize, extra: list[str]) -> dict:
    """The per-cell variables of the write pass's ``layers`` (see :func:`write_tables`)."""
    n_categories, after_foreign = write.foreign_column, write.foreign_column + 1
    n_stored = write.stored.shape[2]
    consumers = slice(after_foreign, after_foreign + len(chosen))
    cells = {"foreign_footprint": (("y", "x"), layers[n_categories])}
    if write.by_sector:
        cells["footprint_by_category"] = (("category", "y", "x"), layers[:n_categories])
        cells["footprint_by_sector"] = (("sector", "y", "x"), layers[n_stored:])
    if "footprint" in materialize:
        cells["footprint"] = (("consumer", "y", "x"), layers[consumers])
    elif chosen:
        cells[MATERIALIZED] = ((MATERIALIZED_DIM, "y", "x"), layers[consumers])
    for n, name in enumerate(extra):
        cells[name] = (("y", "x"), layers[consumers.stop + n])
    return cells


def _own_attrs(layer: xr.DataArray) -> xr.DataArray:
    """``layer`` without its CRS coordinate, with its own copy of the attributes."""
    return layer.drop_vars("spatial_ref", errors="ignore").copy(deep=False)


def materialized_consumers(materialize: Sequence[str], consumers: Sequence[str]) -> list[int]:
    """Positions of the consumers whose layers are stored per cell.

    ``"footprint"`` stores every consumer; other entries are consumer codes.

    Raises
    ------
    ConfigError
        Naming the unknown entry and the valid ones.
    """
    if "footprint" in materialize:
        return list(range(len(consumers)))
    unknown = [c for c in materialize if c not in consumers]
    if unknown:
        close = difflib.get_close_matches(unknown[0], consumers, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ConfigError(
            f"`materialize` names {unknown[0]!r}{hint}, which is neither 'footprint' nor a "
            f"consumer; use 'footprint' or some of {list(consumers)[:20]}"
        )
    return [consumers.index(c) for c in dict.fromkeys(materialize)]


def cell_layers(*, n_categories: int, n_materialized: int, n_sectors: int) -> int:
    """How many per-cell output layers one spatial task of the write pass holds.

    The stored stack (one per category, the foreign total, one per materialized
    consumer) and the foreign layer of each inventory sector. The conservation
    check holds a few single layers of the chunk besides (not counted), whatever
    the number of consumers (:mod:`pipeline.kernels.write_pass`). The spatial chunk
    budget is sized on this count (:func:`pipeline.grid.chunks.chunk_side`).
    """
    return n_categories + 1 + n_materialized + n_sectors


def _labels(inputs: CubeInputs) -> dict[str, object]:
    shares = inputs.shares
    direct = region_tables.direct_categories(inputs)
    categories = [str(c) for c in shares["category"].values]
    return {
        "consumer": text_labels(shares["consumer"].values),
        "foreign": ("consumer", inputs.foreign),
        "category": text_labels(shares["category"].values),
        "sector": text_labels(inputs.emissions["sector"].values),
        "final_demand_category": (
            "sector",
            text_labels([categories[d] if d >= 0 else "" for d in direct]),
        ),
        "region": text_labels(shares["region"].values),
        "mrio_sector": text_labels(shares["mrio_sector"].values),
    }


def text_labels(values) -> np.ndarray:
    """Labels as variable-length strings, which zarr v3 stores portably."""
    return np.array([str(v) for v in values], dtype=object)


def _attribution(inputs: CubeInputs, m: np.ndarray) -> xr.DataArray:
    values = region_tables.producer_totals(inputs)[:, :, None, None] * m
    return xr.DataArray(values, dims=("region", "sector", "consumer", "category"))


def _describe(ds: xr.Dataset, inputs: CubeInputs) -> None:
    for name, long_name in LONG_NAMES.items():
        if name in ds:
            ds[name].attrs.update(units=UNITS, long_name=long_name)
    ds["region_shares"].attrs.update(
        units="1",
        long_name="share of one tonne of each producer region and inventory sector "
        "driven by each consumer's final-demand category (the region tables)",
    )
    ds["sector_weights"].attrs.update(units="1", long_name="MRIO sector weights per region")
    ds["region_index"].attrs.update(
        long_name="region of each cell (position in flag_meanings; -1 outside)",
        flag_values=list(range(len(inputs.region_codes))),
        flag_meanings=" ".join(inputs.region_codes),
        **mapping_attrs(inputs.producer_of_code),
    )
    for name, var in ds.data_vars.items():
        if {"y", "x"} <= set(var.dims):
            describe_cells(var)
        if name in SHARDED:
            # One map per zarr chunk, so reading one map reads only it; all maps of a
            # spatial chunk in one shard file (one file per task).
            var.encoding["chunks"] = (1, *var.data.chunksize[1:])
            var.encoding["shards"] = var.data.chunksize


def describe_store(ds: xr.Dataset, crs=None) -> xr.Dataset:
    """``ds`` with the CF-1.10 metadata of the output contract (README.md).

    ``Conventions``; CF ``x``/``y`` and a named CRS
    (:func:`pipeline.grid.cf.describe_grid`); every attribute a string or a
    number (:func:`flat_attrs`); the units of older stores (``"t CO2"``) in
    UDUNITS spelling. Idempotent, and nothing is computed, so readers apply it
    to stores written before these attributes. A dataset without ``x``/``y``
    coordinates or a CRS gets only the attributes.

    Parameters
    ----------
    ds : xarray.Dataset
        A result store (lazy).
    crs : optional
        The grid's CRS; by default the one ``ds`` carries.
    """
    gridded = {"x", "y"} <= set(ds.coords) and (crs is not None or ds.rio.crs is not None)
    out = describe_grid(ds, crs) if gridded else ds.copy()
    out.attrs = {**flat_attrs(out.attrs), "Conventions": CONVENTIONS}
    for var in out.variables.values():
        var.attrs = flat_attrs(var.attrs)
        if var.attrs.get("units") in LEGACY_UNITS:
            var.attrs["units"] = LEGACY_UNITS[var.attrs["units"]]
    return out


def flat_attrs(attrs: Mapping[str, Any]) -> dict[str, Any]:
    """Attributes that netCDF and GDAL can hold: strings, numbers, lists of numbers.

    Mappings and lists holding anything else become JSON text, booleans (a
    completeness mark) become 0 or 1, None becomes ``""``.
    """
    return {str(k): _flat(v) for k, v in attrs.items()}


def _flat(value: Any) -> Any:
    if isinstance(value, bool | np.bool_):
        return int(value)
    if value is None:
        return ""
    if isinstance(value, str | numbers.Number):
        return value
    if isinstance(value, Mapping):
        return json.dumps(value, sort_keys=True, default=str)
    items = list(value) if isinstance(value, list | tuple | np.ndarray) else None
    if items is not None and all(
        isinstance(v, numbers.Number) and not isinstance(v, bool | np.bool_) for v in items
    ):
        return value
    return json.dumps(items if items is not None else str(value), default=str)


def describe_cells(var: xr.DataArray) -> None:
    """Point a per-cell variable at its CRS (CF ``grid_mapping``)."""
    var.encoding["coordinates"] = "spatial_ref"
    var.attrs["grid_mapping"] = "spatial_ref"
