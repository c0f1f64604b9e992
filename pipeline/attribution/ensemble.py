"""Monte Carlo realizations of a study's region tables, and their store variables.

One realization (:func:`realize`) perturbs the attribution-ready MRIO
(:mod:`pipeline.mrio.perturb`: ``Z``, ``Y``, ``F``, ``x`` recomputed; redrawn
until valid), factorizes it, solves the kept producer rows' shares, forms the
concordance weights from the perturbed ``F`` and ``x`` and the region tables
``M[r, s, c, k]`` (:func:`pipeline.attribution.region_tables.region_shares`),
and scales each region x inventory sector by one lognormal inventory factor.
Its numbers depend on ``(seed, index)`` only (:mod:`pipeline.kernels.sampling`).

:func:`ensemble_variables` turns the realizations into the store's quantile
variables: the per-cell ones are lazy (one grid pass,
:mod:`pipeline.grid.ensemble_blocks`), the attribution ones small arrays.
:func:`ensemble_hotspots` gives each realization's land shares (one exact
threshold per realization, out of core) and the lazy per-cell count
``hotspot_frequency``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import dask
import dask.array as da
import numpy as np
import xarray as xr

from pipeline.attribution import region_tables
from pipeline.attribution.concordance import (
    SectorConcordance,
    by_region_sector,
    table_weights,
)
from pipeline.attribution.cube import UNITS, CubeInputs, describe_cells
from pipeline.grid import blocks
from pipeline.grid.ensemble_blocks import (
    ensemble_layers,
    hotspot_frequency,
    realization_holdings,
)
from pipeline.kernels import tables as kernel_tables
from pipeline.kernels.sampling import (
    INVENTORY_STREAM,
    MRIO_STREAM,
    lognormal_factors,
    realization_rng,
)
from pipeline.mrio.engine import attribution_shares
from pipeline.mrio.model import MRIO
from pipeline.mrio.perturb import perturbed_table

#: Dims of a region table, and of the attribution.
TABLE_DIMS = ("region", "sector", "consumer", "category")
#: The per-cell quantile variables' consumer dimension (foreign consumers only).
FOREIGN_DIM = "foreign_consumer"
#: The hotspot share of ``hotspot_frequency`` (Yang et al.'s 75 %).
HOTSPOT_SHARE = 0.75
#: The store variable counting, per cell, the realizations it is a hotspot cell in.
FREQUENCY = "hotspot_frequency"


@dataclass(frozen=True)
class EnsembleSpec:
    """How realizations are drawn.

    Attributes
    ----------
    seed : int
    mrio_cv : float or mapping
        Coefficient of variation of every entry of ``Z``, ``Y`` and ``F`` (or one
        per matrix, :func:`pipeline.mrio.perturb.matrix_cvs`).
    inventory_cv : numpy.ndarray
        ``(n_inventory_sectors,)`` coefficient of variation of each sector's factor.
    method : str
        The Leontief method (``[mrio] method``).
    balance_rtol : float
        The balance tolerance a realization is validated with.
    producers : tuple of str
        The kept producer regions, in the order of the region tables.
    """

    seed: int
    mrio_cv: float | Mapping[str, float]
    inventory_cv: np.ndarray
    method: str
    balance_rtol: float
    producers: tuple[str, ...]


@dataclass(frozen=True)
class Realization:
    """One realization's region tables, inventory factors applied.

    Attributes
    ----------
    index : int
    tables : numpy.ndarray
        ``(region, sector, consumer, category)``: tonnes driven per inventory tonne.
    redraws : int
        Tables drawn and refused before a valid one.
    row_error : float
        The every-row MRIO conservation error of its solve.
    mrio_footprint : numpy.ndarray
        ``(n_consumers,)``: the kept producer rows' MRIO emissions ``F`` (perturbed)
        driven by each consumer, ``sum F[row] S[row, (c, k)]`` over rows and categories.
    """

    index: int
    tables: np.ndarray
    redraws: int
    row_error: float
    mrio_footprint: np.ndarray


def shipped_inputs(inputs: CubeInputs) -> CubeInputs:
    """``inputs`` without the lazy grid (what a realization needs, cheap to ship)."""
    sectors = inputs.emissions["sector"].values
    labels = xr.DataArray(np.zeros(len(sectors)), dims="sector", coords={"sector": sectors})
    return dataclasses.replace(inputs, emissions=labels, region_index=xr.DataArray(0))


def realize(
    index: int,
    *,
    table: MRIO,
    concordance: SectorConcordance,
    spec: EnsembleSpec,
    inputs: CubeInputs,
) -> Realization:
    """Realization ``index``: perturbed table, shares, weights, tables, inventory factors.

    ``inputs`` are the deterministic run's (:func:`shipped_inputs`); their shares
    and weights are replaced by the realization's.
    """
    rng = realization_rng(spec.seed, index, MRIO_STREAM)
    drawn, redraws = perturbed_table(table, rng, spec.mrio_cv, balance_rtol=spec.balance_rtol)
    producers = list(spec.producers)
    shares = attribution_shares(drawn, regions=producers, method=spec.method)
    row_error = float(shares.attrs["row_conservation_max_rel_error"])
    footprint = _mrio_footprint(drawn, shares)
    shares = shares.rename(sector="mrio_sector").sel(
        region=producers, mrio_sector=list(concordance.mrio_sectors)
    )
    weights = table_weights(concordance, drawn, producers)
    m = region_tables.region_shares(dataclasses.replace(inputs, shares=shares, weights=weights))
    factors = inventory_factors(spec, index, m.shape[:2])
    return Realization(index, m * factors[:, :, None, None], redraws, row_error, footprint)


def _mrio_footprint(table: MRIO, shares: xr.DataArray) -> np.ndarray:
    """``sum F[row] S[row, (c, k)]`` over the kept rows and categories, per consumer."""
    regions, sectors = (list(shares[d].values) for d in ("region", "sector"))
    F = by_region_sector(table.F, table.rows, regions, sectors)
    S = shares.transpose("region", "sector", "consumer", "category").values
    return np.einsum("ri,rick->c", F, S)


def inventory_factors(spec: EnsembleSpec, index: int, shape: tuple[int, int]) -> np.ndarray:
    """``(n_producers, n_sectors)`` lognormal factors of realization ``index``'s inventory."""
    rng = realization_rng(spec.seed, index, INVENTORY_STREAM)
    return lognormal_factors(rng, shape, np.asarray(spec.inventory_cv)[None, :])


def grid_tables(stack: np.ndarray, inputs: CubeInputs) -> np.ndarray:
    """Per-code tables of the grid pass: the foreign total, then each foreign consumer.

    Parameters
    ----------
    stack : numpy.ndarray
        ``(n_realizations, region, sector, consumer, category)``.

    Returns
    -------
    numpy.ndarray
        ``(n_realizations, n_codes, n_sectors, 1 + n_foreign)``; the foreign total
        covers the home producers only, as ``foreign_footprint`` does.
    """
    foreign = np.asarray(inputs.foreign, dtype=bool)
    home = region_tables.home_producers(inputs.shares, foreign)
    out = []
    for m in stack:
        split = kernel_tables.split_outputs(m, foreign, home)
        per_region = np.concatenate(
            [split["foreign"][:, :, None], split["by_consumer"][:, :, foreign]], axis=2
        )
        out.append(kernel_tables.rows_for_codes(per_region, inputs.producer_of_code))
    return np.stack(out)


def attribution_stack(stack: np.ndarray, inputs: CubeInputs) -> np.ndarray:
    """Each realization's attribution: inventory totals times its tables."""
    return region_tables.producer_totals(inputs)[None, :, :, None, None] * stack


def ensemble_variables(
    stack: np.ndarray, inputs: CubeInputs, levels: Sequence[float]
) -> dict[str, xr.DataArray]:
    """The store's quantile and mean variables of the realizations' tables ``stack``."""
    levels = np.asarray(levels, dtype=np.float64)
    foreign = np.asarray(inputs.foreign, dtype=bool)
    cells = ensemble_layers(
        inputs.emissions.data,
        inputs.region_index.data,
        grid_tables(stack, inputs),
        levels,
        dtype=inputs.dtype,
    )
    n = len(levels)
    attribution = attribution_stack(stack, inputs)
    variables = {
        "foreign_footprint_quantiles": (("quantile", "y", "x"), cells[:n, 0]),
        "foreign_footprint_mean": (("y", "x"), cells[n, 0]),
        "footprint_quantiles": (("quantile", FOREIGN_DIM, "y", "x"), cells[:n, 1:]),
        "footprint_mean": ((FOREIGN_DIM, "y", "x"), cells[n, 1:]),
        "attribution_quantiles": (
            ("quantile", *TABLE_DIMS),
            np.quantile(attribution, levels, axis=0),
        ),
        "attribution_mean": (TABLE_DIMS, attribution.mean(axis=0)),
    }
    consumers = np.asarray([str(c) for c in inputs.shares["consumer"].values], dtype=object)
    coords = {"quantile": levels, FOREIGN_DIM: consumers[foreign]}
    out = {name: xr.DataArray(data, dims=dims) for name, (dims, data) in variables.items()}
    for name, var in out.items():
        var.attrs.update(units=UNITS, long_name=_long_name(name))
        if {"y", "x"} <= set(var.dims):
            describe_cells(var)
            _shard(var)
    return {"coords": coords, **out}


def _long_name(name: str) -> str:
    what = {
        "foreign_footprint": "CO2 emissions per cell driven by all foreign consumers",
        "footprint": "CO2 emissions per cell driven by each foreign consumer",
        "attribution": "CO2 emissions of each producer region and inventory sector driven by "
        "each consumer's final-demand category",
    }[name.rsplit("_", 1)[0]]
    stat = "quantiles" if name.endswith("quantiles") else "mean"
    return f"{what}: {stat} over the Monte Carlo realizations"


def _shard(var: xr.DataArray) -> None:
    """One zarr chunk per map, one shard per spatial chunk (as the stacked cubes)."""
    spatial = var.data.chunksize[-2:]
    var.encoding["chunks"] = (*(1,) * (var.ndim - 2), *spatial)
    var.encoding["shards"] = var.data.chunksize


def home_land(inputs: CubeInputs) -> da.Array:
    """Lazy ``(y, x)`` bool: the cells of the study country's producer regions (the land)."""
    home = region_tables.home_producers(inputs.shares, np.asarray(inputs.foreign, dtype=bool))
    producer = np.asarray(inputs.producer_of_code)
    codes = [c for c, p in enumerate(producer) if p >= 0 and home[p]]
    return blocks.cells_in(inputs.region_index.data, codes)


def ensemble_hotspots(
    stack: np.ndarray,
    inputs: CubeInputs,
    shares: Sequence[float],
    *,
    compute: Callable[..., tuple] = dask.compute,
    done: Callable[[int], None] | None = None,
) -> tuple[dict[float, np.ndarray], xr.DataArray]:
    """Each realization's land shares of ``foreign_footprint``, and the lazy hotspot counts.

    Parameters
    ----------
    stack : numpy.ndarray
        ``(n_realizations, region, sector, consumer, category)`` region tables.
    inputs : CubeInputs
        The run's inputs (lazy grid).
    shares : sequence of float
        Emission shares whose land shares are wanted; the first defines the
        hotspot cells that ``hotspot_frequency`` counts (:data:`HOTSPOT_SHARE`).
    compute, done
        ``dask.compute``-like; progress callback (realizations done).

    Returns
    -------
    land_shares : dict
        Share -> ``(n_realizations,)`` land shares (the summary's rule).
    frequency : xarray.DataArray
        Lazy ``(y, x)`` unsigned counts: realizations in which the cell is one of
        the fewest land cells holding ``shares[0]`` of that realization's
        foreign-driven CO2.
    """
    tables = grid_tables(stack, inputs)[..., :1]
    land = home_land(inputs)
    emissions, index = inputs.emissions.data, inputs.region_index.data
    found = realization_holdings(emissions, index, land, tables, shares, compute=compute, done=done)
    land_shares = {
        float(s): np.array([h[i].land_share for h in found.holdings]) for i, s in enumerate(shares)
    }
    frequency = xr.DataArray(
        hotspot_frequency(emissions, index, land, tables, found), dims=("y", "x")
    )
    frequency.attrs.update(
        units="1",
        long_name=f"number of Monte Carlo realizations in which the cell is one of the "
        f"fewest land cells holding {shares[0]:.0%} of the foreign-driven CO2",
        hotspot_share=float(shares[0]),
        realizations=int(stack.shape[0]),
    )
    describe_cells(frequency)
    _shard(frequency)
    return land_shares, frequency
