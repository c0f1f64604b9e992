"""Python API over a finished results directory: layers, hotspots, rankings, drivers.

>>> res = open_results("demo-out")                  # doctest: +SKIP
>>> res.hotspots(consumer="USA").table.head()       # doctest: +SKIP
>>> res.rank(by="city", top=10)                     # doctest: +SKIP
>>> res.drivers(region="CN-GD", by="consumer")      # doctest: +SKIP
>>> res.zonal("cities.gpkg", field="name")          # doctest: +SKIP

Memory: the dataset stays lazy. Hotspots, concentration, rankings and zonal
statistics run on Dask with bounded driver memory
(:mod:`pipeline.results.statistics`, :mod:`pipeline.results.zonal`): no
``(y, x)`` layer, region raster or land mask is loaded whole. Only
:attr:`Results.region_index` and :attr:`Results.land`, used by the maps, hold
a whole raster. Layers that are not stored (e.g. one consumer's households) are
computed chunk by chunk from ``emissions`` and the attribution shares.
"""

from __future__ import annotations

import json
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd
import rioxarray  # noqa: F401  (registers the .rio accessor)
import xarray as xr

from pipeline.attribution.cube import UNITS, describe_store
from pipeline.attribution.factorized import with_footprint
from pipeline.errors import ConfigError, InputFileError
from pipeline.grid import blocks
from pipeline.grid.mapping import store_mapping
from pipeline.grid.spec import GridSpec
from pipeline.kernels.tables import rows_for_codes
from pipeline.results import places
from pipeline.results.analytics import unknown_code
from pipeline.results.drivers import PlaceDrivers
from pipeline.results.statistics import RANK_BY, Hotspots, LayerStatistics
from pipeline.results.summary import consumer_groups, home_codes, home_regions
from pipeline.results.zonal import ZonalStatistics
from pipeline.storage import repository
from pipeline.storage.locations import parse_location
from pipeline.storage.versions import (
    SCENARIOS,
    STORE_NAME,
    checkout_snapshot,
    is_complete,
    open_version,
)

__all__ = ["RANK_BY", "Hotspots", "Results", "open_results"]


def open_results(
    path: str | Path,
    *,
    scenario: str | None = None,
    snapshot: str | None = None,
    tag: str | None = None,
) -> Results:
    """Open a results directory (or its ``footprint.zarr``) lazily.

    ``scenario`` opens ``DIR/scenarios/NAME`` instead: a store of the same
    contract, plus the change cubes (``layer(..., delta=True)``). ``snapshot``
    (an id from ``footprint-map history``) or ``tag`` reads an earlier result
    from the result repository ``DIR/footprint``; an object-storage URL
    (``s3://bucket/prefix``) reads its repository's latest result.

    Raises
    ------
    InputFileError
        If there is no store (or no such scenario, snapshot or tag), or a run did
        not finish writing it.
    """
    if snapshot is None and tag is None and "://" not in str(path):
        snapshot = _newer_snapshot(Path(path))
    if snapshot is not None or tag is not None or "://" in str(path):
        return _open_snapshot(str(path), scenario=scenario, snapshot=snapshot, tag=tag)
    path = Path(path) if scenario is None else _scenario_dir(Path(path), scenario)
    store = path if path.name.endswith(".zarr") else path / STORE_NAME
    if not store.exists():
        raise InputFileError(
            f"{path}: no {STORE_NAME} found; run `footprint-map run` "
            "(or `footprint-map demo`) first, or point to its --out directory"
        )
    if not is_complete(store):
        raise InputFileError(
            f"{store}: store is incomplete (a run did not finish); run `footprint-map run` again"
        )
    # The version is resolved once, so a rerun swapping the link never mixes
    # versions, and reading it once a later run deleted it raises.
    # Stores written before the CF attributes are presented with them.
    return Results(with_footprint(describe_store(open_version(store))), store.parent)


def _open_snapshot(
    path: str, *, scenario: str | None, snapshot: str | None, tag: str | None
) -> Results:
    """:func:`open_results` of a snapshot of ``path``'s result repository (the tip of main)."""
    location = parse_location(path, what="DIR")
    repo = repository.open_repository(location.child(repository.REPOSITORY))
    session = repository.checkout(repo, snapshot=snapshot, tag=tag)
    if scenario is not None and scenario not in (found := repository.scenario_names(session)):
        raise InputFileError(
            f"{path}: no scenario {scenario!r} in this snapshot; found {found or 'none'}"
        )
    group = "" if scenario is None else f"{SCENARIOS}/{scenario}"
    ds, summary = repository.open_group(session, group)
    # object storage has no local directory: ``directory`` then only names the URL
    directory = location.local_path if location.is_local else Path(location.url)
    return Results(with_footprint(describe_store(ds)), directory, summary=summary)


def _newer_snapshot(path: Path) -> str | None:
    """The tip of ``path``'s result repository if its checkout holds an older snapshot.

    A run killed between its commit and the checkout's link swap leaves the
    checkout behind; the repository is the record, so it is read instead.
    """
    if path.name.endswith(".zarr") or not (path / repository.REPOSITORY).is_dir():
        return None
    latest = repository.tip(parse_location(path / repository.REPOSITORY))
    recorded = checkout_snapshot(path)
    return latest if latest is not None and recorded is not None and latest != recorded else None


def _scenario_dir(path: Path, name: str) -> Path:
    """``DIR/scenarios/NAME``; an error listing the scenarios if there is none."""
    folder = path / SCENARIOS / name
    if not (folder / STORE_NAME).exists():
        found = sorted(p.name for p in (path / SCENARIOS).glob("*") if (p / STORE_NAME).exists())
        raise InputFileError(
            f"{path}: no scenario {name!r}; found {found or 'none'} (declare it in the study's "
            "[[scenario]] tables and run `footprint-map run`)"
        )
    return folder


class Results(PlaceDrivers, LayerStatistics, ZonalStatistics):
    """A footprint store with analysis helpers.

    Parameters
    ----------
    ds : xarray.Dataset
        The lazy store (see README.md, output contract).
    directory : Path
        The results directory (holds ``summary.json``).
    summary : dict, optional
        The summary, when it was read with ``ds`` from the result repository.
    """

    def __init__(self, ds: xr.Dataset, directory: Path, *, summary: dict | None = None):
        self.ds = ds
        self.directory = Path(directory)
        self._summary = summary

    def __repr__(self) -> str:
        kind = f"scenario {self.scenario!r} " if self.scenario else ""
        return (
            f"<Results {kind}{self.directory}: {len(self.consumers)} consumers, "
            f"{len(self.sectors)} sectors, grid {self.ds.sizes['y']}x{self.ds.sizes['x']}>"
        )

    # ------------------------------------------------------------------ labels
    @cached_property
    def consumers(self) -> list[str]:
        """Consumer codes."""
        return [str(c) for c in self.ds["consumer"].values]

    @property
    def scenario(self) -> str | None:
        """The scenario's name if this is a scenario's store, else None (the baseline)."""
        return self.ds.attrs.get("scenario")

    @cached_property
    def groups(self) -> dict[str, list[str]]:
        """The study's consumer groups (``[groups]``): name -> member consumer codes."""
        return consumer_groups(self.ds.attrs)

    @cached_property
    def foreign(self) -> np.ndarray:
        """Bool per consumer, True outside the nested country."""
        return np.asarray(self.ds["foreign"].values, dtype=bool)

    @property
    def foreign_consumers(self) -> list[str]:
        """Codes of the foreign consumers."""
        return [c for c, f in zip(self.consumers, self.foreign, strict=True) if f]

    @cached_property
    def sectors(self) -> list[str]:
        """Inventory sector codes."""
        return [str(s) for s in self.ds["sector"].values]

    @cached_property
    def categories(self) -> list[str]:
        """Final-demand category codes."""
        return [str(k) for k in self.ds["category"].values]

    @cached_property
    def producers(self) -> list[str]:
        """Producer regions: the raster regions with MRIO rows (the land)."""
        return [str(r) for r in self.ds["region"].values]

    @cached_property
    def codes(self) -> list[str]:
        """Codes of the region raster (``flag_meanings`` of ``region_index``)."""
        return self.ds["region_index"].attrs["flag_meanings"].split()

    @cached_property
    def producer_of_code(self) -> np.ndarray:
        """Position in :attr:`producers` of each raster code, or -1.

        The mapping the run used (``[regions] aliases`` and ``default_region``
        included), read from the store; see :mod:`pipeline.grid.mapping`.
        """
        return store_mapping(self.ds["region_index"].attrs, self.codes, self.producers)

    @cached_property
    def grid(self) -> GridSpec:
        """The store's grid: its cell centres and CRS."""
        return GridSpec.from_centres(self.ds["x"].values, self.ds["y"].values, self.ds.rio.crs)

    @cached_property
    def row_area_km2(self) -> np.ndarray:
        """``(ny,)`` ground area in km² of one cell of each row.

        Per row on the ellipsoid on a lat/lon grid, constant on a projected one:
        the rule of the inventory's unit conversion
        (:meth:`~pipeline.grid.spec.GridSpec.row_areas_km2`).
        """
        return self.grid.row_areas_km2()

    @cached_property
    def cities(self) -> pd.DataFrame:
        """The study's full city list: its ``[regions] cities`` file, else the shipped one."""
        return places.read_cities(places.stored_places(self.ds.attrs)["cities"])

    @cached_property
    def borders(self):
        """The study's boundary polygons (``[regions] boundaries``), or None if unavailable."""
        return places.study_borders(self.ds.attrs)

    @property
    def note(self) -> str:
        """The store's ``note`` attribute (e.g. that the data are synthetic)."""
        return str(self.ds.attrs.get("note", ""))

    def summary(self) -> dict:
        """The run's ``summary.json`` (empty dict if missing)."""
        if self._summary is not None:  # read from the result repository
            return self._summary
        path = self.directory / "summary.json"
        return json.loads(path.read_text()) if path.is_file() else {}

    # ------------------------------------------------------------ selections
    def check_code(self, kind: str, value: str | None) -> str | None:
        """Return ``value`` if it is a valid ``kind`` code; raise a one-line ConfigError."""
        if value is None:
            return None
        valid = {
            "consumer": self.consumers,
            "sector": self.sectors,
            "category": self.categories,
            "region": self.producers,
        }[kind]
        if kind == "consumer":
            valid = [*valid, *self.groups]
        if str(value) not in valid:
            raise unknown_code(kind, str(value), valid)
        return str(value)

    @cached_property
    def shares(self) -> np.ndarray:
        """The stored region tables ``M[region, sector, consumer, category]`` (sum 1 over c, k)."""
        m = self.ds["region_shares"].transpose("region", "sector", "consumer", "category")
        return np.asarray(m.values, dtype=np.float64)

    def describe(self, consumer=None, sector=None, category=None) -> str:
        """Human label of a selection, e.g. ``"USA, households"``."""
        parts = [consumer or "all foreign consumers", sector, category]
        return ", ".join(p for p in parts if p)

    @cached_property
    def delta_shares(self) -> np.ndarray:
        """A scenario's delta tables ``T' - M`` (same layout as :attr:`shares`)."""
        self._require_scenario()
        m = self.ds["delta_region_shares"].transpose("region", "sector", "consumer", "category")
        return np.asarray(m.values, dtype=np.float64)

    def _require_scenario(self) -> None:
        if "delta_region_shares" not in self.ds:
            raise ConfigError(
                f"{self.directory}: these are baseline results, which have no change cubes; "
                "open a scenario's: open_results(DIR, scenario=NAME)"
            )

    def layer(
        self,
        consumer: str | None = None,
        sector: str | None = None,
        category: str | None = None,
        *,
        delta: bool = False,
        quantile: float | None = None,
    ) -> xr.DataArray:
        """The lazy ``(y, x)`` layer of a selection, in t CO2 per cell.

        No selection gives ``foreign_footprint``. ``consumer`` alone is
        ``footprint``; ``sector`` or ``category`` alone are the stored
        foreign-consumer cubes. Any other combination (e.g. one consumer's
        households, or one sector of one consumer) is computed lazily per cell as
        ``sum_s emissions[s] * M[r(cell), s, c, k]`` over the selected sectors
        ``s``, consumers ``c`` (the given one, else every foreign consumer) and
        categories ``k``, with ``M`` the attribution shares of the cell's region.
        ``consumer`` may name a group (``[groups]``): its members are summed.
        ``delta=True`` (a scenario's results) gives the change, scenario minus
        baseline, by the same rules with the delta tables ``T' - M``.
        ``quantile`` (a run with ``[uncertainty]``) gives that quantile over the
        Monte Carlo realizations instead (:meth:`quantile_layer`).
        """
        consumer = self.check_code("consumer", consumer)
        sector = self.check_code("sector", sector)
        category = self.check_code("category", category)
        if quantile is not None:
            return self.quantile_layer(quantile, consumer, sector, category)
        if delta:
            self._require_scenario()
        chosen = [v is not None for v in (consumer, sector, category)]
        prefix = "delta_" if delta else ""
        if sum(chosen) > 1 or consumer in self.groups or (delta and (sector or category)):
            data = self._computed(consumer, sector, category, delta=delta)
        elif consumer is not None:
            data = self.ds[prefix + "footprint"].sel(consumer=consumer)
        elif sector is not None:
            data = self.ds["footprint_by_sector"].sel(sector=sector)
        elif category is not None:
            data = self.ds["footprint_by_category"].sel(category=category)
        else:
            data = self.ds[prefix + "foreign_footprint"]
        drop = ["consumer", "sector", "category", "foreign"]
        data = data.drop_vars(drop, errors="ignore").copy(deep=False)
        what = f"CO2 driven by {self.describe(consumer, sector, category)}"
        data.attrs = {
            "units": UNITS,
            "long_name": f"change of {what} (scenario - baseline)" if delta else what,
        }
        data.name = "delta_footprint" if delta else "footprint"
        return data

    def quantile_layer(
        self, quantile: float, consumer: str | None = None, sector=None, category=None
    ) -> xr.DataArray:
        """The stored per-cell quantile over the realizations: all foreign consumers, or one.

        Raises
        ------
        ConfigError
            If the store has no quantiles, ``quantile`` was not computed, or the
            selection is not stored (a sector, a category, a group or a domestic consumer).
        """
        if "foreign_footprint_quantiles" not in self.ds:
            raise ConfigError(
                f"{self.directory}: no Monte Carlo quantiles in these results; run with "
                "[uncertainty] realizations > 0 (or --realizations N)"
            )
        levels = [float(q) for q in self.ds["quantile"].values]
        found = [i for i, q in enumerate(levels) if abs(q - float(quantile)) <= 1e-9]
        foreign = [str(c) for c in self.ds["foreign_consumer"].values]
        if sector or category or (consumer is not None and consumer not in foreign):
            raise ConfigError(
                "quantiles are stored per cell for all foreign consumers and for each foreign "
                f"consumer ({', '.join(foreign[:12])}...); drop the sector, category or "
                "domestic consumer"
            )
        if not found:
            raise ConfigError(f"quantile={quantile!r} was not computed; stored: {levels}")
        if consumer is None:
            data = self.ds["foreign_footprint_quantiles"].isel(quantile=found[0])
        else:
            data = self.ds["footprint_quantiles"].sel(foreign_consumer=consumer)
            data = data.isel(quantile=found[0])
        data = data.drop_vars(["quantile", "foreign_consumer"], errors="ignore").copy(deep=False)
        what = self.describe(consumer)
        data.attrs = {
            "units": UNITS,
            "long_name": f"CO2 driven by {what}: quantile {levels[found[0]]:g} of the realizations",
        }
        data.name = "footprint"
        return data

    def _computed(self, consumer, sector, category, *, delta: bool = False) -> xr.DataArray:
        if consumer in self.groups:
            ci = [self.consumers.index(c) for c in self.groups[consumer]]
        else:
            ci = [self.consumers.index(consumer)] if consumer else np.flatnonzero(self.foreign)
        ki = [self.categories.index(category)] if category else slice(None)
        shares = self.delta_shares if delta else self.shares
        per_producer = shares[:, :, ci, :][:, :, :, ki].sum(axis=(2, 3))
        if sector is not None:
            keep = np.array([s == sector for s in self.sectors])
            per_producer = per_producer * keep[None, :]
        if not consumer:  # foreign-driven: the study country's cells only, as the cubes
            per_producer = per_producer * home_regions(self.ds["attribution"])[:, None]
        tables = rows_for_codes(per_producer[:, :, None], self.producer_of_code)
        data = blocks.apply_region_tables(
            self.ds["emissions"].data,
            self.ds["region_index"].data,
            tables,
            dtype=self.ds["foreign_footprint"].dtype,
        )[0]
        template = self.ds["foreign_footprint"]
        return xr.DataArray(data, dims=template.dims, coords=template.coords)

    @cached_property
    def region_index(self) -> np.ndarray:
        """The ``(y, x)`` region raster, in memory (2 bytes per cell; for maps).

        The statistics use :attr:`lazy_region_index` and never load it whole.
        """
        return np.asarray(self.ds["region_index"].values)

    @cached_property
    def land_codes(self) -> list[int]:
        """Raster codes of the land: the study country's producer regions.

        The one land of ``summary.json``, the statistics, maps and report
        (:func:`pipeline.results.summary.home_codes`): on a grid that reaches
        beyond the country, producer regions abroad are not land.
        """
        return home_codes(self.ds)

    @cached_property
    def land(self) -> np.ndarray:
        """``(y, x)`` bool in memory: cells of :attr:`land_codes` (for maps).

        The statistics use :attr:`lazy_land` and never load it whole.
        """
        return np.isin(self.region_index, self.land_codes)
