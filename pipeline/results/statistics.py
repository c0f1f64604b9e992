"""Hotspots, concentration and rankings of result layers, on Dask with bounded driver memory.

A mixin of :class:`pipeline.results.api.Results` (kept apart so each module stays
short); it uses the store, grid, land and city list of the results object.

Every statistic is a few passes over the lazy layer's spatial chunks, each
returning small per-chunk results (histograms, per-row counts, each chunk's
largest cells, per-region or per-disc sums); no pass brings a ``(y, x)`` layer,
the region raster or the land mask into the driver. A layer that is not stored
is recomputed on each pass, so the passes are few:

- concentration (land share, spatial extent): the exact threshold of
  :func:`pipeline.grid.threshold_blocks.cells_holding`, an exponent-histogram
  pass, a refinement pass only when the crossing bin holds more than
  ``max_gather`` cells, and a last pass that gathers that bin and counts the
  taken cells per row (areas are per-row counts times :attr:`row_area_km2`);
- hotspots: the same, then one pass gathering the ``k`` hotspot cells from the
  lazy mask (the driver holds those ``k`` cells, as the table does);
- ``rank(by="cell")``: one pass keeping each chunk's ``top`` largest cells;
  ``by="province"``: one per-region sum pass; ``by="city"``: one pass over the
  chunks, each summing the pieces of the city discs that overlap it (the
  driver holds the discs' masks, a few thousand cells per city);
- the concentration curve: two histogram passes give exact points of it
  (``points=``), or, by default, the whole curve, which holds one row per land cell.

The results equal the in-memory rule of :mod:`pipeline.kernels.concentration`
(same cells, same counts, ties in row-major order); sums over many cells may
differ from a numpy sum in the last bits (summation order).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import dask
import dask.array as da
import numpy as np
import pandas as pd
import xarray as xr

from pipeline.errors import ConfigError
from pipeline.grid import blocks
from pipeline.grid.threshold_blocks import (
    MAX_GATHER,
    Holding,
    cells_holding,
    concentration_points,
    hotspot_mask,
    ranked_cells,
)
from pipeline.grid.window_blocks import window_sums
from pipeline.kernels.concentration import concentration_curve
from pipeline.results import analytics, places
from pipeline.results.analytics import CITY_RADIUS_KM, check_share, unknown_code

RANK_BY = ("cell", "city", "province")


@dataclass(frozen=True)
class Hotspots:
    """The smallest set of land cells holding ``share`` of a layer's land total.

    Attributes
    ----------
    mask : xarray.DataArray
        ``(y, x)`` bool, True on hotspot cells (lazy).
    table : pandas.DataFrame
        One row per hotspot cell, densest first, ties in row-major order (see
        :func:`pipeline.results.analytics.cell_table`).
    share : float
        The requested share of emissions.
    land_share : float
        Hotspot cells / land cells.
    area_km2 : float
        Hotspot area: the sum of the cells' ground areas
        (:attr:`LayerStatistics.row_area_km2`).
    """

    mask: xr.DataArray
    table: pd.DataFrame
    share: float
    land_share: float
    area_km2: float


def as_dask(layer: xr.DataArray) -> da.Array:
    """The dask array of a ``(y, x)`` layer (an in-memory one is wrapped)."""
    data = layer.data
    return data if isinstance(data, da.Array) else da.from_array(np.asarray(data))


class LayerStatistics:
    """``Results``' hotspots, concentration, rankings and city ranges."""

    #: ``dask.compute``-like function of every statistics pass.
    _compute = staticmethod(dask.compute)
    #: Largest number of values a threshold pass gathers into the driver.
    _max_gather = MAX_GATHER

    @cached_property
    def lazy_region_index(self) -> da.Array:
        """The ``(y, x)`` region raster, lazy."""
        return as_dask(self.ds["region_index"])

    @cached_property
    def lazy_land(self) -> da.Array:
        """Lazy ``(y, x)`` bool: the land of the statistics (:attr:`land_codes`' cells)."""
        return blocks.cells_in(self.lazy_region_index, self.land_codes)

    def _lazy_layer(self, consumer=None, sector=None, category=None, delta=False) -> da.Array:
        return as_dask(self.layer(consumer, sector, category, delta=delta))

    def _holdings(self, values: da.Array, shares) -> list[Holding]:
        for share in shares:
            check_share(share)
        return cells_holding(
            values, self.lazy_land, shares, compute=self._compute, max_gather=self._max_gather
        )

    def _area(self, rows: np.ndarray) -> float:
        """Area in km² of cells counted per row."""
        return float(np.asarray(rows, dtype=np.float64) @ self.row_area_km2)

    def hotspots(
        self,
        consumer: str | None = None,
        sector: str | None = None,
        category: str | None = None,
        share: float = 0.75,
    ) -> Hotspots:
        """The fewest land cells that hold ``share`` of a layer's emissions on land.

        Cells are taken densest first (ties in row-major order) until their sum
        reaches ``share`` of the layer's total over land cells (producer regions).
        The mask stays lazy; the table holds the hotspot cells only.
        """
        values = self._lazy_layer(consumer, sector, category)
        (held,) = self._holdings(values, [share])
        mask = hotspot_mask(values, self.lazy_land, held, compute=self._compute)
        cells = ranked_cells(
            values, held.k, land=mask, labels=self.lazy_region_index, compute=self._compute
        )
        codes = analytics.region_names(cells.labels, self.codes)
        table = analytics.cell_table(cells.flat, cells.values, cells.total, self.grid, codes)
        template = self.ds["foreign_footprint"]
        mask_da = xr.DataArray(mask, dims=template.dims, coords=template.coords)
        mask_da.attrs["long_name"] = (
            f"hotspot cells holding {share:.0%} of CO2 driven by "
            f"{self.describe(consumer, sector, category)}"
        )
        return Hotspots(mask_da, table, share, held.land_share, self._area(held.rows))

    def concentration_curve(
        self,
        consumer: str | None = None,
        sector: str | None = None,
        category: str | None = None,
        *,
        points: int | None = None,
    ) -> pd.DataFrame:
        """Share of land against share of emissions, densest land cells first.

        Parameters
        ----------
        consumer, sector, category : str, optional
            The layer (:meth:`layer`).
        points : int, optional
            Return a sample of the curve for plotting, in bounded memory: about
            ``2 * points`` exact points of it (two histogram passes, see
            :func:`pipeline.grid.threshold_blocks.concentration_points`), the
            straight lines between them within ``1 / (2 * points)`` of the
            curve. Default: the whole curve, one row per land cell (it gathers
            the layer's land values into memory, 8 bytes per land cell, and sorts them).

        Returns
        -------
        pandas.DataFrame
            ``land_share, emission_share`` from (0, 0): ``n_land + 1`` rows, or
            the sampled points.
        """
        values = self._lazy_layer(consumer, sector, category)
        if points is None:
            (on_land,) = self._compute(values[self.lazy_land.rechunk(values.chunks)])
            land, emitted = concentration_curve(on_land)
        else:
            land, emitted = concentration_points(
                values, self.lazy_land, points, compute=self._compute
            )
        return pd.DataFrame({"land_share": land, "emission_share": emitted})

    def concentration(
        self,
        consumer: str | None = None,
        sector: str | None = None,
        category: str | None = None,
        share: float = 0.75,
    ) -> dict:
        """How concentrated a layer is on land.

        Returns
        -------
        dict
            ``share``; ``land_share``: the smallest share of land cells holding
            ``share`` of the layer's land total (Yang et al. 2020 use 75%);
            ``area_km2``: their ground area, the "spatial extent" of Kanemoto
            et al. (2016) when ``share`` is 0.9; ``cells``, ``land_cells``,
            ``land_area_km2`` and ``total_t`` (the layer's land total). Areas
            sum each cell's own area (:attr:`row_area_km2`).
        """
        (held,) = self._holdings(self._lazy_layer(consumer, sector, category), [share])
        return {
            "share": share,
            "land_share": held.land_share,
            "area_km2": self._area(held.rows),
            "cells": held.k,
            "land_cells": held.n_land,
            "land_area_km2": self._area(held.land_rows),
            "total_t": held.total,
        }

    def concentration_table(
        self, shares: tuple[float, ...] = (0.75, 0.9), *, consumers: list[str] | None = None
    ) -> pd.DataFrame:
        """Concentration of the foreign total, each foreign consumer and each sector.

        Parameters
        ----------
        shares : tuple of float
            Shares of emissions; for each, columns ``land_share_<X>pct`` (share
            of land cells) and ``area_km2_<X>pct`` (the spatial extent).
        consumers : list of str, optional
            Consumers to include; default every foreign consumer.

        Returns
        -------
        pandas.DataFrame
            One row per layer: ``kind`` (total, consumer, sector), ``code``,
            ``total_t`` (its land total) and the columns above. Each layer takes
            the passes of :meth:`concentration`, for all shares at once.
        """
        consumers = self.foreign_consumers if consumers is None else consumers
        layers = [("total", None, {})]
        layers += [("consumer", c, {"consumer": c}) for c in consumers]
        layers += [("sector", s, {"sector": s}) for s in self.sectors]
        rows = []
        for kind, code, selection in layers:
            held = self._holdings(self._lazy_layer(**selection), shares)
            row = {"kind": kind, "code": code or "foreign", "total_t": held[0].total}
            for share, found in zip(shares, held, strict=True):
                pct = round(share * 100)
                row[f"land_share_{pct}pct"] = found.land_share
                row[f"area_km2_{pct}pct"] = self._area(found.rows)
            rows.append(row)
        return pd.DataFrame(rows)

    def rank(
        self,
        by: str = "cell",
        top: int | None = 10,
        *,
        consumer: str | None = None,
        sector: str | None = None,
        category: str | None = None,
        radius_km: float = CITY_RADIUS_KM,
        delta: bool = False,
    ) -> pd.DataFrame:
        """The ``top`` cells, cities or provinces of a layer, largest first.

        ``delta=True`` (a scenario's results) ranks the change, scenario minus
        baseline, by its size: increases and decreases together by
        ``|t_co2|``, with ``t_co2`` and ``share`` (of the layer's total
        change) signed.

        ``by="city"`` sums the cells whose centre lies within ``radius_km``
        (geodesic) of each of the study's cities in range of its land
        (:meth:`cities_in_range`; discs may overlap, see
        :mod:`pipeline.results.analytics`); the table's ``attrs["note"]`` says how many
        are ranked, or that none is. With the study's ``[regions] city_polygons``
        it ranks every polygon instead, each cell weighted by the share of its
        area inside (:meth:`zonal`; ``radius_km`` is then unused).
        ``by="province"`` sums each region of the raster. ``top=None`` returns
        every row (for cells, one row per cell of the grid). Shares are of the
        layer's total.
        """
        if by not in RANK_BY:
            raise unknown_code("ranking", str(by), RANK_BY)
        if top is not None and top < 1:
            raise ConfigError(f"top {top!r} must be a positive number of rows, e.g. 10")
        values = self._lazy_layer(consumer, sector, category, delta)
        if by == "province":
            table = self._province_table(values)
        elif by == "city":
            table = self._city_table(values, radius_km)
        else:
            table = self._cell_ranking(values, values.size if top is None else top, delta)
        if delta:
            table = analytics.by_size(table)
        if top is None:
            return table
        head = table.head(top).reset_index(drop=True)
        head.attrs = dict(table.attrs)
        return head

    def _cell_ranking(self, values: da.Array, n: int, delta: bool) -> pd.DataFrame:
        """The ``n`` largest cells; of a change, the ``n`` largest by size, signed."""
        ranked_on = abs(values) if delta else values
        cells = ranked_cells(ranked_on, n, labels=self.lazy_region_index, compute=self._compute)
        t_co2, total = cells.values, cells.total
        if delta:  # the signed changes of those cells, and the signed total
            rows, cols = np.divmod(cells.flat, values.shape[1])
            t_co2, total = self._compute(values.vindex[rows, cols], values.sum())
            total = float(total)
        codes = analytics.region_names(cells.labels, self.codes)
        return analytics.cell_table(cells.flat, t_co2, total, self.grid, codes)

    def _province_table(self, values: da.Array) -> pd.DataFrame:
        """Sum, cells and area of each raster region, in one pass."""
        areas = da.from_array(self.row_area_km2[:, None], chunks=(values.chunks[0], 1))
        weights = da.stack(
            [
                values.astype(np.float64),
                da.ones(values.shape, dtype=np.float64, chunks=values.chunks),
                da.broadcast_to(areas, values.shape, chunks=values.chunks),
            ]
        )
        index = self.lazy_region_index.rechunk(values.chunks)
        (totals,) = self._compute(blocks.region_sector_totals(weights, index, len(self.codes)))
        sums, counts, cell_areas = np.asarray(totals)[:-1].T
        total = float(np.asarray(totals)[:, 0].sum())
        return analytics.province_table(sums, counts, cell_areas, self.codes, total)

    def _city_table(self, values: da.Array, radius_km: float) -> pd.DataFrame:
        """Sum of the layer over each city's disc (or polygon), in one pass."""
        if self.city_polygons is not None:
            return self._city_polygon_table(values)
        cities, discs = self.cities_in_range(radius_km)
        windows = [(rows, cols, mask) for _, rows, cols, mask in discs]
        (sums,) = self._compute(window_sums(values, windows, total=True))
        per_city, counts = np.zeros(len(cities)), np.zeros(len(cities), dtype=np.int64)
        for (n, _, _, mask), found in zip(discs, sums[:-1], strict=True):
            per_city[n], counts[n] = found, int(mask.sum())
        table = analytics.city_table(per_city, counts, float(sums[-1]), cities)
        table.attrs.update(note=cities.attrs["note"], source=cities.attrs["source"])
        return table

    def cities_in_range(self, radius_km: float = CITY_RADIUS_KM):
        """The cities whose disc holds a land cell, and their discs (cached per radius).

        See :func:`pipeline.results.places.cities_on_land` (one pass over the
        chunks the cities' points and discs touch); the table's ``attrs["note"]``
        says how many of the list are ranked, or that none is in range.
        """
        cache = self._city_cache
        if radius_km not in cache:
            kept, discs = places.cities_on_land(
                self.grid, self.cities, self.lazy_land, radius_km, compute=self._compute
            )
            kept.attrs["note"] = places.no_cities_note(kept, radius_km)
            cache[radius_km] = (kept, discs)
        return cache[radius_km]

    @cached_property
    def _city_cache(self) -> dict:
        return {}

    def _disc_on_land(self, rows: np.ndarray, cols: np.ndarray, mask: np.ndarray) -> bool:
        """Whether a window's masked cells hold a land cell (reads only its chunks)."""
        (found,) = self._compute(window_sums(self.lazy_land, [(rows, cols, mask)]))
        return bool(found[0] > 0)
