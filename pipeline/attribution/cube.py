"""xarray layer: assemble the hotspot cubes with labels, CRS, units and provenance.

The cubes follow the output contract in README.md: ``emissions``,
``region_index``, ``attribution``, ``footprint``, ``footprint_by_sector``,
``footprint_by_category`` and ``foreign_footprint``.
"""

from __future__ import annotations

from dataclasses import dataclass

import dask.array as da
import numpy as np
import xarray as xr

from pipeline.errors import ConcordanceError, ConservationError
from pipeline.grid import blocks
from pipeline.grid.mapping import mapping_attrs
from pipeline.kernels import tables

UNITS = "t CO2"
CONSERVATION_RTOL = 1e-6
#: Stacked per-cell cubes stored as one zarr chunk per layer inside one shard per task.
SHARDED = ("footprint", "footprint_by_sector", "footprint_by_category")


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


def build_cube(inputs: CubeInputs) -> xr.Dataset:
    """Return the lazy hotspot dataset (see module docstring)."""
    share_values = inputs.shares.transpose("region", "mrio_sector", "consumer", "category").values
    m = tables.inventory_sector_shares(inputs.weights, share_values)
    _check_weights_reach_output(inputs, m)
    m = _route_final_demand(inputs, m)
    split = tables.split_outputs(m, inputs.foreign, home_producers(inputs.shares, inputs.foreign))
    n_consumers, n_categories = m.shape[2], m.shape[3]
    # the stacked per-cell layers; footprint_by_sector adds the sectors (cell_layers)
    stacked = np.concatenate(
        [split["by_consumer"], split["by_category"], split["foreign"][:, :, None]], axis=2
    )
    per_code = tables.rows_for_codes(stacked, inputs.producer_of_code)
    foreign_per_code = tables.rows_for_codes(split["foreign"], inputs.producer_of_code)
    e = inputs.emissions.data
    idx = inputs.region_index.data
    cells = blocks.apply_region_tables(e, idx, per_code, dtype=inputs.dtype)
    by_sector = blocks.scale_by_region(e, idx, foreign_per_code, dtype=inputs.dtype)

    spatial = {"y": inputs.emissions["y"], "x": inputs.emissions["x"]}
    labels = _labels(inputs)
    cube = xr.Dataset(
        {
            "emissions": inputs.emissions.drop_vars("spatial_ref", errors="ignore"),
            "region_index": inputs.region_index.drop_vars("spatial_ref", errors="ignore"),
            "attribution": _attribution(inputs, m, labels),
            "footprint": (("consumer", "y", "x"), cells[:n_consumers]),
            "footprint_by_category": (
                ("category", "y", "x"),
                cells[n_consumers : n_consumers + n_categories],
            ),
            "foreign_footprint": (("y", "x"), cells[n_consumers + n_categories]),
            "footprint_by_sector": (("sector", "y", "x"), by_sector),
            "sector_weights": (("region", "sector", "mrio_sector"), inputs.weights),
        },
        coords={**spatial, **labels},
    )
    _describe(cube, inputs)
    return cube.rio.write_crs(inputs.emissions.rio.crs)


def cell_layers(*, n_consumers: int, n_categories: int, n_sectors: int) -> int:
    """How many per-cell layers :func:`build_cube` computes in one spatial task.

    ``footprint`` (one per consumer), ``footprint_by_category`` (one per
    category), ``foreign_footprint`` (one) and ``footprint_by_sector`` (one per
    inventory sector); the spatial chunk budget is sized on this count
    (:func:`pipeline.grid.chunks.chunk_side`).
    """
    return n_consumers + n_categories + 1 + n_sectors


def home_producers(shares: xr.DataArray, foreign: np.ndarray) -> np.ndarray:
    """Bool per producer region: the study country's own (a domestic consumer too)."""
    consumers = np.asarray([str(c) for c in shares["consumer"].values])
    domestic = set(consumers[~np.asarray(foreign, dtype=bool)])
    return np.array([str(r) in domestic for r in shares["region"].values], dtype=bool)


def _route_final_demand(inputs: CubeInputs, m: np.ndarray) -> np.ndarray:
    """Direct final-demand sectors: all of a region's emissions to its own consumer."""
    direct = _direct_categories(inputs)
    if not (direct >= 0).any():
        return m
    consumers = [str(c) for c in inputs.shares["consumer"].values]
    regions = [str(r) for r in inputs.shares["region"].values]
    own = np.array([consumers.index(r) if r in consumers else -1 for r in regions])
    emitting = _producer_totals(inputs) > 0
    for s in np.flatnonzero(direct >= 0):
        lacking = np.flatnonzero(emitting[:, s] & (own < 0))
        if lacking.size:
            sector = str(inputs.emissions["sector"].values[s])
            raise ConcordanceError(
                f"inventory sector {sector!r} is direct final demand, but producer region "
                f"{regions[lacking[0]]!r} has no final-demand column in the MRIO; map that "
                "sector to MRIO sectors in the concordance or its region to a consumer"
            )
    return tables.direct_final_demand(m, direct, own)


def _direct_categories(inputs: CubeInputs) -> np.ndarray:
    n_sectors = inputs.weights.shape[1]
    if inputs.final_demand is None:
        return np.full(n_sectors, -1, dtype=np.int64)
    return np.asarray(inputs.final_demand, dtype=np.int64)


def _check_weights_reach_output(inputs: CubeInputs, m: np.ndarray) -> None:
    """Refuse an emitting region × inventory sector whose MRIO sectors have no output.

    Its emissions would be attributed to nobody (the shares of a zero-output
    row are zero), which conservation would only report as a bare gap.
    """
    covered = m.sum(axis=(2, 3))
    emitting = _producer_totals(inputs) > 0
    direct = _direct_categories(inputs) >= 0
    lost = emitting & ~direct[None, :] & ~(covered >= 1 - CONSERVATION_RTOL)
    if not lost.any():
        return
    r, s = (int(v[0]) for v in np.nonzero(lost))
    region = str(inputs.shares["region"].values[r])
    sector = str(inputs.emissions["sector"].values[s])
    mrio = [str(v) for v in inputs.shares["mrio_sector"].values]
    row_share = inputs.shares.sel(region=region).sum(("consumer", "category")).values
    dead = (inputs.weights[r, s] > 0) & ~(row_share >= 1 - CONSERVATION_RTOL)
    names = ", ".join(mrio[i] for i in np.flatnonzero(dead)) or "none"
    raise ConcordanceError(
        f"inventory sector {sector!r} emits in region {region!r}, but MRIO sector(s) it is "
        f"mapped to there ({names}) have no output in that region, so "
        f"{1 - covered[r, s]:.0%} of its CO2 would be attributed to nobody; map it to a "
        "sector with output in the concordance, or remove those emissions"
    )


def _producer_totals(inputs: CubeInputs) -> np.ndarray:
    """``(n_producers, n_inventory_sectors)`` inventory totals (several codes may share a row)."""
    has = inputs.producer_of_code >= 0
    totals = np.zeros(inputs.weights.shape[:2])
    np.add.at(totals, inputs.producer_of_code[has], inputs.region_totals[has])
    return totals


def _labels(inputs: CubeInputs) -> dict[str, object]:
    shares = inputs.shares
    direct = _direct_categories(inputs)
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


def _attribution(inputs: CubeInputs, m: np.ndarray, labels: dict) -> xr.DataArray:
    values = _producer_totals(inputs)[:, :, None, None] * m
    return xr.DataArray(values, dims=("region", "sector", "consumer", "category"))


def _describe(cube: xr.Dataset, inputs: CubeInputs) -> None:
    text = {
        "emissions": "inventory CO2 emissions per cell",
        "attribution": "emissions of producer region and inventory sector driven by "
        "each consumer's final-demand category",
        "footprint": "emissions per cell driven by each consumer (all categories, sectors)",
        "footprint_by_sector": "emissions per cell driven by foreign consumers, by sector",
        "footprint_by_category": "emissions per cell driven by foreign consumers, by category",
        "foreign_footprint": "emissions per cell driven by all foreign consumers",
    }
    for name, long_name in text.items():
        cube[name].attrs.update(units=UNITS, long_name=long_name)
    cube["sector_weights"].attrs.update(units="1", long_name="MRIO sector weights per region")
    cube["region_index"].attrs.update(
        long_name="region of each cell (position in flag_meanings; -1 outside)",
        flag_values=list(range(len(inputs.region_codes))),
        flag_meanings=" ".join(inputs.region_codes),
        **mapping_attrs(inputs.producer_of_code),
    )
    for name, var in cube.data_vars.items():
        if {"y", "x"} <= set(var.dims):
            var.encoding["coordinates"] = "spatial_ref"
            var.attrs["grid_mapping"] = "spatial_ref"
        if name in SHARDED:
            # One map per zarr chunk, so reading one consumer's map reads only it;
            # all maps of a spatial chunk in one shard file (one file per task).
            var.encoding["chunks"] = (1, *var.data.chunksize[1:])
            var.encoding["shards"] = var.data.chunksize


def conservation_terms(cube: xr.Dataset, producer_codes: np.ndarray) -> dict[str, da.Array]:
    """Lazy sums whose agreement proves conservation (see :func:`check_conservation`)."""
    in_producer = da.isin(cube["region_index"].data, producer_codes)
    cell_inventory = da.where(in_producer, cube["emissions"].data.sum(axis=0), 0.0)
    cell_footprint = cube["footprint"].data.sum(axis=0)
    cell_error = abs(cell_footprint - cell_inventory)
    foreign = cube["foreign_footprint"].data
    return {
        "cell_max_abs_error": cell_error.max(),
        "cell_max_rel_error": (cell_error / da.maximum(cell_inventory, 1e-300)).max(),
        "inventory_total": cell_inventory.sum(),
        "consumer_cell_totals": cube["footprint"].data.sum(axis=(1, 2)),
        "foreign_by_sector_error": abs(
            cube["footprint_by_sector"].data.sum(axis=0) - foreign
        ).max(),
        "foreign_by_category_error": abs(
            cube["footprint_by_category"].data.sum(axis=0) - foreign
        ).max(),
    }


def check_conservation(
    results: dict, attribution: xr.DataArray, *, rtol: float = CONSERVATION_RTOL
) -> float:
    """Return the largest relative conservation error; raise above ``rtol``.

    Checks that per cell the consumers add up to the mapped inventory, that cell
    sums equal the ``attribution`` totals per consumer, and that the sector and
    category cubes add up to the foreign total.
    """
    inventory = float(results["inventory_total"])
    total = max(inventory, 1e-300)  # an all-zero inventory conserves trivially
    per_consumer = attribution.sum(("region", "sector", "category"), skipna=False).values
    errors = {
        "per-cell consumers vs inventory": float(results["cell_max_rel_error"]),
        "cell sums vs attribution": float(
            np.abs(results["consumer_cell_totals"] - per_consumer).max() / total
        ),
        "attribution vs inventory": abs(float(per_consumer.sum()) - inventory) / total,
        "sector cube vs foreign total": float(results["foreign_by_sector_error"]) / total,
        "category cube vs foreign total": float(results["foreign_by_category_error"]) / total,
    }
    bad = [k for k, v in errors.items() if not v <= rtol]  # NaN never passes
    worst = bad[0] if bad else max(errors, key=errors.get)
    if bad:
        raise ConservationError(
            f"conservation failed: {worst} differs by {errors[worst]:.3g} (relative) > {rtol:g}; "
            "check that the MRIO is balanced and every emitting region has MRIO rows"
        )
    return max(errors.values())


def check_row_conservation(attrs: dict, *, rtol: float = CONSERVATION_RTOL) -> float:
    """Return the every-row MRIO conservation error of attribution shares; raise above ``rtol``.

    ``attrs`` are those of :func:`pipeline.mrio.attribution_shares`: each row's
    emissions summed over every final-demand column must equal its ``F``, for the
    foreign rows of a nested table as well as the mapped ones. NaN never passes.
    """
    error = float(attrs["row_conservation_max_rel_error"])
    if not error <= rtol:
        raise ConservationError(
            f"conservation failed: MRIO row {attrs['row_conservation_worst_row']} is attributed "
            f"{error:.3g} (relative) more or less than its F; its inputs or output are lost "
            "(e.g. a zero-output sector that receives inputs): fix the table or its nesting"
        )
    return error
