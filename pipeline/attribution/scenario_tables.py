"""A scenario's region tables and its factorized store, built on a baseline store.

A baseline cell ``g`` of region ``r`` gets ``sum_s e[s, g] M[r, s, c, k]`` with
``M = sum_i w[r, s, i] X[(r, i), (c, k)] / x[(r, i)]``: region ``r``'s tonnes of
inventory sector ``s`` are split over MRIO sectors ``i`` by ``w``, and each
part follows its row's output ``X / x`` to the final-demand columns.

**Final-demand scenarios.** With intensities fixed, the tonnes of row
``(r, i)`` that column ``(c, k)`` drives become ``e w X'[(r, i), (c, k)] / x`` for
the scenario's output ``X' = X + dX`` (:mod:`pipeline.mrio.scenarios`), divided by
the *baseline* ``x``: the same cells emit more or less in proportion. So

    T'[r, s, c, k] = M[r, s, c, k] + sum_i w[r, s, i] dX[(r, i), (c, k)] / x[(r, i)]

and a scenario cell's layers are ``sum_s e[s, g] T'[r, s, q]`` with the baseline
emissions ``e``. The rows of ``T'`` no longer sum to one: ``sum_{c,k} T'[r, s]``
is what one baseline tonne of ``(r, s)`` becomes, so the scenario's inventory of
a cell is ``sum_s e[s, g] sum_{c,k} T'[r, s, c, k]``. Direct final-demand sectors
(household fuel) are no product of any origin and keep ``M``.

**Emission shocks.** Scaling region ``r``'s inventory sector ``s`` by ``phi``
scales its cells' emissions, and every consumer's part of them, by ``phi``:
``T'[r, s] *= phi``. In the MRIO this scales, by ``phi``, the part ``e w[r, s, i]``
of the stressor rows ``F[(r, i)]`` of the sectors ``i`` that ``s`` maps to; ``w[r, s]``
is normalised over those sectors, so it does not change, and the other
inventory sectors' weights stay those of the baseline.

The delta tables ``T' - M`` are stored too: ``delta_footprint`` is computed on
read from them and the baseline emissions (:mod:`pipeline.attribution.factorized`),
and the foreign-driven ``delta_foreign_footprint`` is written in the same pass
as the scenario's cubes.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import numpy as np
import xarray as xr

from pipeline.attribution.cube import (
    UNITS,
    CubeInputs,
    ResultCube,
    build_cube,
)
from pipeline.attribution.factorized import DELTA_TABLES
from pipeline.attribution.region_tables import home_producers
from pipeline.grid.mapping import store_mapping
from pipeline.kernels import tables as kernel_tables

#: The dims of a region table.
TABLE_DIMS = ("region", "sector", "consumer", "category")


def scenario_tables(
    baseline: np.ndarray,
    weights: np.ndarray,
    delta_shares: np.ndarray,
    direct: np.ndarray,
    factors: np.ndarray,
) -> np.ndarray:
    """``T' = phi (M + sum_i w dX / x)`` (module docstring), direct sectors without the sum.

    Parameters
    ----------
    baseline : numpy.ndarray
        ``M[region, sector, consumer, category]`` of the baseline store.
    weights : numpy.ndarray
        ``w[region, sector, mrio_sector]``.
    delta_shares : numpy.ndarray
        ``dX / x`` as ``(region, mrio_sector, consumer, category)``.
    direct : numpy.ndarray
        ``(n_sectors,)`` category of a direct final-demand sector, -1 for industries.
    factors : numpy.ndarray
        ``phi[region, sector]`` of the emission shocks (1 elsewhere).
    """
    change = kernel_tables.inventory_sector_shares(weights, delta_shares)
    change[:, np.asarray(direct) >= 0] = 0.0
    return (baseline + change) * factors[:, :, None, None]


def _labels_only(ds: xr.Dataset) -> xr.DataArray:
    """A zero-memory ``(region, mrio_sector, consumer, category)`` array of ``ds``'s labels.

    :func:`~pipeline.attribution.cube.build_cube` reads only its coordinates
    when it is given the tables.
    """
    dims = ("region", "mrio_sector", "consumer", "category")
    shape = tuple(ds.sizes[d] for d in dims)
    return xr.DataArray(
        np.broadcast_to(np.float64(0.0), shape), dims=dims, coords={d: ds[d].values for d in dims}
    )


#: Store attribute: the ``(n_codes, n_sectors)`` inventory tonnes per raster code and
#: inventory sector of the run that wrote it (JSON), so a scenario run on the store
#: needs no pass over its emissions.
TOTALS_ATTR = "inventory_totals_by_code"


def totals_attr(region_totals: np.ndarray) -> dict[str, str]:
    """The store attribute holding ``region_totals`` (see :data:`TOTALS_ATTR`)."""
    return {TOTALS_ATTR: json.dumps(np.asarray(region_totals, dtype=np.float64).tolist())}


def stored_totals(ds: xr.Dataset) -> np.ndarray | None:
    """The totals a store was written with, or None for a store without them."""
    text = ds.attrs.get(TOTALS_ATTR)
    if not text:
        return None
    totals = np.asarray(json.loads(text), dtype=np.float64)
    n_codes = len(ds["region_index"].attrs["flag_meanings"].split())
    return totals if totals.shape == (n_codes, ds.sizes["sector"]) else None


def inputs_from_store(ds: xr.Dataset, region_totals: np.ndarray) -> CubeInputs:
    """The cube inputs of a baseline store: its emissions, raster, mapping, weights.

    Parameters
    ----------
    ds : xarray.Dataset
        The baseline store, opened lazily.
    region_totals : numpy.ndarray
        ``(n_codes, n_sectors)`` inventory totals per raster code.
    """
    index = ds["region_index"]
    codes = tuple(index.attrs["flag_meanings"].split())
    producers = [str(r) for r in ds["region"].values]
    categories = [str(k) for k in ds["category"].values]
    direct = [str(k) for k in ds["final_demand_category"].values]
    return CubeInputs(
        emissions=ds["emissions"],
        region_index=index,
        region_codes=codes,
        producer_of_code=store_mapping(index.attrs, codes, producers),
        shares=_labels_only(ds),
        weights=np.asarray(ds["sector_weights"].values, dtype=np.float64),
        region_totals=np.asarray(region_totals, dtype=np.float64),
        foreign=np.asarray(ds["foreign"].values, dtype=bool),
        dtype=ds["foreign_footprint"].dtype,
        final_demand=np.array([categories.index(k) if k else -1 for k in direct], dtype=np.int64),
    )


def scenario_cube(
    inputs: CubeInputs,
    tables: np.ndarray,
    baseline: np.ndarray,
    *,
    materialize: Sequence[str] = (),
) -> ResultCube:
    """The scenario's lazy store: the baseline's contract, plus its change cubes.

    Adds ``delta_region_shares`` (``T' - M``) and ``delta_foreign_footprint``
    (the change of ``foreign_footprint``), written in the scenario's one grid
    pass with ``foreign_footprint``. The by-sector and by-category cubes, like
    every consumer's layer, are computed on read from the tables
    (:func:`pipeline.attribution.factorized.with_footprint`).
    """
    delta = tables - baseline
    home = home_producers(inputs.shares, inputs.foreign)
    foreign = kernel_tables.split_outputs(delta, inputs.foreign, home)["foreign"]
    cube = build_cube(
        inputs,
        materialize=materialize,
        tables=tables,
        by_cells=False,
        extra={"delta_foreign_footprint": foreign},
    )
    ds = cube.ds.assign({DELTA_TABLES: (TABLE_DIMS, delta)})
    ds["region_shares"].attrs["long_name"] = (
        "the scenario's tonnes per baseline tonne of each producer region and inventory "
        "sector, driven by each consumer's final-demand category (the scenario tables)"
    )
    ds[DELTA_TABLES].attrs.update(
        units="1", long_name="scenario minus baseline region tables (region_shares)"
    )
    ds["delta_foreign_footprint"].attrs.update(
        units=UNITS,
        long_name="change of the emissions per cell driven by all foreign consumers "
        "(scenario - baseline)",
    )
    return ResultCube(ds, cube.terms)
