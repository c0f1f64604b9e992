"""Drivers of a place: a region, cell, bbox or city by consumer × category × sector.

A mixin of :class:`pipeline.results.api.Results` (kept apart so each module stays
short); it uses the store, grid, land and city list of the results object.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.errors import ConfigError
from pipeline.grid import blocks
from pipeline.results import analytics
from pipeline.results.analytics import CITY_RADIUS_KM


class PlaceDrivers:
    """``Results.drivers`` and the windows of the places it accepts."""

    def drivers(
        self,
        *,
        region: str | None = None,
        cell: tuple[float, float] | None = None,
        bbox: tuple[float, float, float, float] | None = None,
        city: str | int | None = None,
        crs=None,
        radius_km: float = CITY_RADIUS_KM,
        by: str | list[str] | None = None,
        delta: bool = False,
    ) -> pd.DataFrame:
        """Decompose the emissions of a place by consumer × category × sector.

        Give exactly one place: ``region`` (a producer region code; exact, from
        ``attribution``), ``cell=(x, y)`` (the cell containing the point),
        ``bbox=(xmin, ymin, xmax, ymax)`` (cells whose centre is inside) or
        ``city`` (name, ``"Name, CN-XX"`` or geonameid; the disc of
        ``radius_km``). Points are in the store CRS unless ``crs`` is given
        (``crs="EPSG:4326"`` for lon/lat). Each cell's sector emissions are split
        by the attribution shares of its region: ``e[s] * M[r, s, c, k]``; cells
        outside producer regions (e.g. Hong Kong, Macau, Taiwan) have no drivers.

        ``delta=True`` (a scenario's results) decomposes the change, scenario
        minus baseline: ``e[s] * (T'[r, s, c, k] - M[r, s, c, k])`` with the
        baseline's emissions ``e``, ordered by the size of the change.

        Returns
        -------
        pandas.DataFrame
            ``consumer, foreign, category, sector, t_co2, share`` (share of the
            place's total), largest first; summed over the dimensions not in
            ``by`` when ``by`` is given.
        """
        given = [v is not None for v in (region, cell, bbox, city)]
        if sum(given) != 1:
            raise ConfigError("drivers needs exactly one of region=, cell=, bbox= or city=")
        if region is not None:
            totals = self._region_totals(region)
        elif cell is not None:
            totals = self._cell_totals(cell, crs)
        else:
            window = self._bbox_window(bbox, crs) if bbox is not None else None
            window = window or self._city_window(city, radius_km)
            totals = self._window_totals(*window)
        labels = {
            "consumer": self.consumers,
            "foreign": self.foreign,
            "category": self.categories,
            "sector": self.sectors,
        }
        shares = self.delta_shares if delta else self.shares
        frame = analytics.drivers_frame(totals, shares, labels)
        frame = frame if by is None else analytics.group_drivers(frame, by)
        return analytics.by_size(frame) if delta else frame

    def _region_totals(self, region: str) -> np.ndarray:
        if region in self.codes and region not in self.producers:
            raise ConfigError(
                f"region {region!r} has no MRIO rows, so its emissions are not attributed; "
                f"producer regions: {', '.join(self.producers)}"
            )
        region = self.check_code("region", region)
        totals = np.zeros((len(self.producers), len(self.sectors)))
        n = self.producers.index(region)
        if self.scenario is not None:
            # a scenario's tables do not sum to 1 (its attribution is not its
            # emissions times 1): the region's inventory emissions, one pass
            emissions, index = self.ds["emissions"].data, self.ds["region_index"].data
            totals[n] = self._emission_totals(emissions, index)[n]
            return totals
        a = self.ds["attribution"].sel(region=region).transpose("sector", "consumer", "category")
        totals[n] = np.asarray(a.values).sum(axis=(1, 2))
        return totals

    def _cell_totals(self, cell, crs) -> np.ndarray:
        x, y = (float(v) for v in cell)
        if crs is not None:
            x, y = (float(v) for v in self.grid.from_crs(x, y, crs))
        row, col = self.grid.cell_of(x, y)
        mask = np.ones((1, 1), dtype=bool)
        return self._window_totals(np.array([row]), np.array([col]), mask)

    def _bbox_window(self, bbox, crs):
        xmin, ymin, xmax, ymax = (float(v) for v in bbox)
        if crs is not None:
            xs, ys = self.grid.from_crs([xmin, xmax, xmin, xmax], [ymin, ymin, ymax, ymax], crs)
            xmin, xmax, ymin, ymax = min(xs), max(xs), min(ys), max(ys)
        cols = np.flatnonzero((self.grid.x >= xmin) & (self.grid.x <= xmax))
        rows = np.flatnonzero((self.grid.y >= ymin) & (self.grid.y <= ymax))
        if cols.size == 0 or rows.size == 0:
            raise ConfigError(f"bbox {tuple(bbox)} holds no cell centre of the grid")
        return rows, cols, np.ones((rows.size, cols.size), dtype=bool)

    def _city_window(self, city, radius_km):
        cities = self.cities
        position = analytics.find_city(cities, city)
        for _, rows, cols, mask in analytics.city_discs(
            self.grid, cities.iloc[[position]], radius_km
        ):
            if self._disc_on_land(rows, cols, mask):
                return rows, cols, mask
        raise ConfigError(
            f"city {city!r} of {Path(cities.attrs['source']).name}: no land cell centre within "
            f"{radius_km:g} km; choose a city of the study area or a larger --radius-km"
        )

    def _window_totals(self, rows: np.ndarray, cols: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """``(n_producers, n_sectors)`` emissions of the masked window cells, lazily.

        ``rows`` and ``cols`` are sorted index arrays (a city disc may wrap
        across the antimeridian, so its columns need not be contiguous).
        """
        import dask.array as da

        emissions = self.ds["emissions"].isel(y=rows, x=cols).data
        index = self.ds["region_index"].isel(y=rows, x=cols).data
        index = da.where(da.from_array(mask, chunks=index.chunks), index, -1).astype(np.int16)
        return self._emission_totals(emissions, index)

    def _emission_totals(self, emissions, index) -> np.ndarray:
        """``(n_producers, n_sectors)`` sums of ``emissions`` by the producer of ``index``."""
        per_code = np.asarray(
            blocks.region_sector_totals(emissions, index, len(self.codes)).compute()
        )[:-1]
        totals = np.zeros((len(self.producers), len(self.sectors)))
        has = self.producer_of_code >= 0
        np.add.at(totals, self.producer_of_code[has], per_code[has])
        return totals
