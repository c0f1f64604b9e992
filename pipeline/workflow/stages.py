"""Pipeline stages: each takes checked inputs and returns plain results.

The stages are wired together by :mod:`pipeline.workflow.run`. They raise
:class:`pipeline.errors.FootprintError` subclasses with one-line messages.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import dask
import numpy as np
import pandas as pd
import xarray as xr
from affine import Affine

from pipeline import mrio as mrio_api
from pipeline import textfiles
from pipeline.attribution import conservation
from pipeline.attribution.cube import cell_layers, materialized_consumers
from pipeline.errors import ConcordanceError, ConfigError, GridError, InputFileError, MRIOError
from pipeline.grid import blocks, region_blocks, region_raster, regions
from pipeline.grid import inventory as grid_inventory
from pipeline.grid.chunks import chunk_side
from pipeline.grid.mapping import region_mapping
from pipeline.grid.spec import GridSpec
from pipeline.results import places
from pipeline.storage.versions import write_zarr_atomic
from pipeline.workflow.config import (
    InputPaths,
    InventorySettings,
    MrioSettings,
    OutputSettings,
    RegionSettings,
    StudySettings,
)

DEFAULT_CHUNK = 512


@dataclass(frozen=True)
class LoadedMRIO:
    """The attribution-ready MRIO and which of its regions are domestic."""

    table: mrio_api.MRIO
    domestic: tuple[str, ...]
    report: object | None
    sources: dict[str, Path]


def load_mrio(mrio: MrioSettings, study: StudySettings, paths: InputPaths) -> LoadedMRIO:
    """Read the configured MRIO; nest the subnational table if configured.

    Parameters
    ----------
    mrio : MrioSettings
        ``[mrio]``.
    study : StudySettings
        ``[study]``: the nested country, or the domestic regions of a plain table.
    paths : InputPaths
        Where the MRIO paths resolve.
    """
    global_path = paths.resolve(mrio.global_)
    sources = {"mrio_global": global_path}
    table = _read_global(global_path, mrio)
    if mrio.layout == "plain":
        return LoadedMRIO(table, _domestic_regions(study, table, paths.config), None, sources)
    sub_path = paths.resolve(mrio.subnational)
    sources["mrio_subnational"] = sub_path
    sub = mrio_api.read_subnational(sub_path, stressor=mrio.stressor)
    concordance = None
    if mrio.sector_concordance:
        conc_path = paths.resolve(mrio.sector_concordance)
        sources["mrio_sector_concordance"] = conc_path
        concordance = _read_csv(conc_path)
    try:
        nested, report = mrio_api.nest(
            table,
            sub,
            country=study.country,
            sector_concordance=concordance,
            total_rtol=mrio.total_rtol,
        )
    except ConcordanceError as exc:
        where = sources.get("mrio_sector_concordance", sub_path)
        raise ConcordanceError(f"{where}: {exc}") from exc
    except MRIOError as exc:
        raise MRIOError(f"{sub_path} nested into {global_path}: {exc}") from exc
    domestic = tuple(dict.fromkeys(sub.rows.get_level_values("region")))
    return LoadedMRIO(nested, domestic, report, sources)


def _domestic_regions(study: StudySettings, table: mrio_api.MRIO, source: Path) -> tuple[str, ...]:
    """``[study] domestic_regions``, by default ``[study] country``; each an MRIO region."""
    key = "domestic_regions" if study.domestic_regions else "country"
    domestic = tuple(str(r) for r in (study.domestic_regions or [study.country]))
    regions = list(table.regions)
    unknown = [r for r in domestic if r not in regions]
    if unknown:
        raise ConfigError(
            f"{source}: [study] {key} names {unknown}, which the MRIO does not have; "
            f"use some of {regions[:20]}" + (" ..." if len(regions) > 20 else "")
        )
    return domestic


def _read_global(path: Path, mrio: MrioSettings) -> mrio_api.MRIO:
    return mrio_api.load_global(
        path,
        format=mrio.global_format,
        stressor=mrio.stressor,
        year=mrio.year,
        version=mrio.version,
        extension=mrio.extension,
        balance_rtol=mrio.balance_rtol,
    )


def _read_csv(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise InputFileError(f"{path}: file not found; check the path in the config")
    return textfiles.read_csv(path, expect="header sub_sector,global_sector,weight")


@dataclass(frozen=True)
class Layers:
    """The inventory opened lazily from its files, and where its regions come from."""

    emissions: xr.DataArray
    regions: regions.Regions | None
    region_raster: tuple[Path, Path, str] | None
    sources: dict[str, Path]


def budget_side(table: mrio_api.MRIO, output: OutputSettings, n_sectors: int) -> int:
    """Spatial chunk edge whose task fits ``[output] chunk_memory_mb``.

    The per-cell layers are those :func:`pipeline.attribution.cube.build_cube`
    writes for ``table``'s categories, the materialized consumers and ``n_sectors``
    sectors.
    """
    consumers = [str(c) for c in table.consumers]
    layers = cell_layers(
        n_categories=len(table.categories),
        n_materialized=len(materialized_consumers(output.materialize or (), consumers)),
        n_sectors=n_sectors,
    )
    return chunk_side(
        n_layers_out=layers,
        n_sectors=n_sectors,
        itemsize=np.dtype(output.dtype).itemsize,
        budget_mb=output.chunk_memory_mb,
    )


def open_study_inventory(
    inventory: InventorySettings,
    region_settings: RegionSettings,
    paths: InputPaths,
    *,
    side: Callable[[int], int] | None = None,
) -> Layers:
    """Open the inventory files and the region source once, checking both (cheap).

    Parameters
    ----------
    inventory, region_settings : InventorySettings, RegionSettings
        ``[inventory]`` and ``[regions]``.
    paths : InputPaths
        Where their paths resolve.
    side : callable, optional
        Spatial chunk edge for a number of sectors (e.g. :func:`budget_side`),
        used unless ``[inventory] chunks`` is set; the layers opened in
        :data:`DEFAULT_CHUNK` chunks are then rechunked lazily.
    """
    files = inventory.files
    if isinstance(files, dict):
        files = {s: paths.resolve(p) for s, p in files.items()}
    elif isinstance(files, str):
        files = paths.resolve(files)
    else:
        files = [paths.resolve(p) for p in files]
    emissions = grid_inventory.open_inventory(
        files,
        chunks=inventory.chunks or DEFAULT_CHUNK,
        units=inventory.units,
        variables=inventory.variables,
        crs=inventory.crs,
        bands=inventory.bands,
    )
    if side is not None and not inventory.chunks:
        edge = side(emissions.sizes["sector"])
        if edge != DEFAULT_CHUNK:
            emissions = emissions.chunk({"y": edge, "x": edge})
    sources = {f"inventory_{s}": Path(p) for s, p in emissions.attrs["sources"].items()}
    return _with_regions(emissions, sources, region_settings, paths)


def _with_regions(
    emissions: xr.DataArray,
    sources: dict[str, Path],
    settings: RegionSettings,
    paths: InputPaths,
) -> Layers:
    """:class:`Layers` of ``emissions`` with the configured region raster or polygons."""
    if settings.raster:
        raster = paths.resolve(settings.raster)
        codes = paths.resolve(settings.raster_codes)
        sources.update(region_raster=raster, region_codes=codes)
        return Layers(emissions, None, (raster, codes, settings.raster_resampling), sources)
    given = settings.boundaries
    files = [paths.resolve(p) for p in given] if isinstance(given, list) else paths.resolve(given)
    shapes = regions.read_regions(files, code_field=settings.code_field)
    for n, path in enumerate(files if isinstance(files, list) else [files]):
        sources["boundaries" if n == 0 else f"boundaries_{n}"] = path
    return Layers(emissions, shapes, None, sources)


@dataclass(frozen=True)
class GridInputs:
    """The ingested inventory and region raster, opened lazily from zarr."""

    emissions: xr.DataArray
    region_index: xr.DataArray
    region_codes: tuple[str, ...]
    store: Path
    sources: dict[str, Path]
    borders: regions.Regions | None = None

    @property
    def region_source(self) -> Path:
        """The boundary file or region raster the index came from."""
        return self.sources.get("boundaries") or self.sources["region_raster"]


def ingest_grid(
    layers: Layers, work: Path, *, compute=dask.compute, key: str | None = None
) -> GridInputs:
    """Rasterize regions onto the inventory grid and write ``work/inventory.zarr``.

    NaN or negative emissions abort the stage, naming the file and sector.
    """
    emissions = layers.emissions
    grid = GridSpec(emissions.rio.crs, Affine(*emissions.rio.transform()[:6]), emissions.shape[1:])
    if layers.region_raster is not None:
        raster, codes_csv, resampling = layers.region_raster
        index, codes = region_raster.region_index_from_raster(
            raster, grid, codes_csv=codes_csv, resampling=resampling
        )
    else:
        codes = layers.regions.codes
        index = region_blocks.rasterize_regions_lazy(
            layers.regions, grid, chunks=emissions.data.chunks[1:], compute=compute
        )
    index_da = xr.DataArray(index, dims=("y", "x"))
    if isinstance(index, np.ndarray):
        # written by the driver at once, not shipped in the graph
        index_da.encoding["chunks"] = emissions.data.chunksize[1:]
    # one zarr chunk per spatial block, all sectors: every reader of the ingested
    # emissions (the write pass, a scenario's pass, layers computed on read) takes
    # all sectors of a block at once, in one task instead of one per sector
    emissions = emissions.drop_vars("spatial_ref", errors="ignore").chunk({"sector": -1})
    totals = {}
    if not isinstance(index, np.ndarray):  # the region totals come from the writing tasks
        passed, totals["lazy"] = blocks.with_region_sector_totals(emissions.data, index, len(codes))
        emissions = emissions.copy(data=passed)
    ds = xr.Dataset({"emissions": emissions, "region_index": index_da})
    # NaN and negative cells are refused by the task that reads their block, so the
    # ingest reads each block of the inventory files once (a second reduction in the
    # same compute would read them again: dask optimizes the store's graph apart).
    write_zarr_atomic(
        ds,
        work / "inventory.zarr",
        also_compute=totals,
        check=lambda found: totals.update(found),
        compute=compute,
        key=key,
        attrs=lambda: {"region_codes": list(codes), **_totals_attr(totals)},
    )
    return open_ingested(layers, work)


#: ``work/inventory.zarr`` attribute: :func:`region_totals`, computed by the ingest.
TOTALS_ATTR = "region_sector_totals"


def _totals_attr(found: dict) -> dict:
    if "lazy" not in found:
        return {}
    return {TOTALS_ATTR: np.asarray(found["lazy"], dtype=np.float64).tolist()}


def write_checked(
    ds: xr.Dataset,
    terms,
    store: Path,
    *,
    key: str,
    compute=dask.compute,
    linked: dict[str, Path] | None = None,
) -> float:
    """Write a result store and check conservation in the same pass; return the error.

    ``terms`` are the write pass's conservation terms (lazy); the store is
    stamped complete, with ``conservation_max_rel_error``, only if every check
    passes (:func:`pipeline.attribution.conservation.check_conservation`).
    ``linked`` arrays are hard-linked from a complete store instead of written.
    """
    errors: dict[str, float] = {}

    def check(results):
        found = conservation.terms_as_results(results["terms"])
        errors["max"] = conservation.check_conservation(found, ds["attribution"])

    write_zarr_atomic(
        ds,
        store,
        also_compute={"terms": terms},
        check=check,
        compute=compute,
        key=key,
        attrs=lambda: {"conservation_max_rel_error": errors["max"]},
        linked=linked,
    )
    return errors["max"]


def open_ingested(layers: Layers, work: Path) -> GridInputs:
    """Open ``work/inventory.zarr`` written by :func:`ingest_grid`."""
    store = work / "inventory.zarr"
    opened = xr.open_zarr(store, chunks={})
    codes = opened.attrs["region_codes"]
    emissions = layers.emissions
    return GridInputs(
        opened["emissions"].rio.write_crs(emissions.rio.crs),
        opened["region_index"],
        tuple(codes),
        store,
        layers.sources,
        layers.regions,
    )


def region_totals(grid: GridInputs, *, compute=dask.compute) -> np.ndarray:
    """``(n_codes + 1, n_sectors)`` inventory totals; the last row is outside every region.

    Read from the ingested store when its writing pass computed them: call it
    on the grid as ingested (after :func:`assign_outside`, use
    :func:`computed_region_totals`).
    """
    stored = xr.open_zarr(grid.store).attrs.get(TOTALS_ATTR) if grid.store.exists() else None
    if stored is not None:
        return np.asarray(stored, dtype=np.float64)
    return computed_region_totals(grid, compute=compute)


def computed_region_totals(grid: GridInputs, *, compute=dask.compute) -> np.ndarray:
    """:func:`region_totals` computed from ``grid``'s emissions and region index."""
    lazy = blocks.region_sector_totals(
        grid.emissions.data, grid.region_index.data, len(grid.region_codes)
    )
    (totals,) = compute(lazy)
    return np.asarray(totals)


def check_region_coverage(
    totals: np.ndarray,
    codes: tuple[str, ...],
    code_rows: np.ndarray,
    *,
    outside: str,
    source: Path,
) -> str | None:
    """Raise if emitting regions lack MRIO rows; apply the outside-emissions policy.

    Returns
    -------
    str or None
        ``outside`` if emissions lie outside every region and must be
        assigned (see :func:`outside_position`), else None.
    """
    emitting = totals[:-1].sum(axis=1) > 0
    orphans = [codes[n] for n in np.flatnonzero(emitting & (code_rows < 0))]
    if orphans:
        raise MRIOError(
            f"raster region(s) {orphans} of {source} have emissions but the MRIO has no rows "
            "for them; map them to an MRIO region in [regions] aliases or remove their emissions"
        )
    outside_total = float(totals[-1].sum())
    if outside_total <= 0:
        return None
    if outside == "error":
        raise GridError(
            f"{outside_total:.6g} t of emissions lie outside every region of {source}; "
            "set [regions] outside = '<region code>' to attribute them to a region, "
            "or fix the boundaries"
        )
    return outside


def outside_position(outside: str, codes: tuple[str, ...], mrio_regions: list[str]) -> int:
    """Code position for ``[regions] outside``: a raster code, else a new code.

    ``outside`` may name a raster region (e.g. ``"CN-GD"``) or an MRIO region
    (e.g. ``"ROW"``); an MRIO region that is no raster code is appended to the
    codes (so :func:`assign_outside` adds it to the raster) and maps to itself.
    """
    if outside in codes:
        return codes.index(outside)
    if outside in mrio_regions:
        return len(codes)
    close = difflib.get_close_matches(outside, [*codes, *mrio_regions], n=3, cutoff=0.5)
    hint = f" (did you mean {', '.join(map(repr, close))}?)" if close else ""
    raise ConfigError(
        f"[regions] outside = {outside!r} is neither a region code of the boundaries nor "
        f"an MRIO region{hint}; name the region that should take emissions outside "
        "every polygon, or 'error'"
    )


def assign_outside(grid: GridInputs, code: int, name: str) -> GridInputs:
    """The grid with emitting cells outside every region assigned to code ``code``.

    ``code == len(grid.region_codes)`` adds ``name`` as a new code.
    """
    emitting = grid.emissions.sum("sector") > 0
    index = xr.where((grid.region_index < 0) & emitting, code, grid.region_index)
    codes = grid.region_codes if code < len(grid.region_codes) else (*grid.region_codes, name)
    return replace(grid, region_index=index.astype(grid.region_index.dtype), region_codes=codes)


def map_producers(
    settings: RegionSettings,
    mrio_regions: list[str],
    grid: GridInputs,
    totals: np.ndarray,
    *,
    compute=dask.compute,
) -> tuple[GridInputs, np.ndarray, np.ndarray, list[str]]:
    """Map raster regions to MRIO producer regions; apply the outside policy.

    Returns
    -------
    grid, totals
        With emissions outside every region assigned (``[regions] outside``).
    producer_of_code : numpy.ndarray
        Position of each raster code among the producers, -1 for none.
    producers : list of str
        The MRIO regions with cells, in MRIO order.
    """

    def code_rows_of(codes):
        return region_mapping(codes, mrio_regions, settings.aliases, settings.default_region)

    code_rows = code_rows_of(grid.region_codes)
    outside = check_region_coverage(
        totals, grid.region_codes, code_rows, outside=settings.outside, source=grid.region_source
    )
    if outside is not None:
        position = outside_position(outside, grid.region_codes, mrio_regions)
        grid = assign_outside(grid, position, outside)
        totals = computed_region_totals(grid, compute=compute)  # not the ingest's: new codes
        code_rows = code_rows_of(grid.region_codes)
    producer_rows = sorted({int(r) for r in code_rows if r >= 0})
    remap = {r: n for n, r in enumerate(producer_rows)}
    producer_of_code = np.array([remap.get(int(r), -1) for r in code_rows])
    return grid, totals, producer_of_code, [mrio_regions[r] for r in producer_rows]


def study_places(settings: RegionSettings, paths: InputPaths) -> dict[str, str]:
    """The store attribute recording the study's boundary files and city list.

    The ``[regions] cities`` and ``city_polygons`` files are read here, so a bad
    city list or polygon file stops the run.
    """
    boundaries = settings.boundaries
    if boundaries is not None:
        listed = boundaries if isinstance(boundaries, list) else [boundaries]
        boundaries = [paths.resolve(p) for p in listed]
    cities = paths.resolve(settings.cities) if settings.cities is not None else None
    polygons = settings.city_polygon_source
    if polygons is not None:
        polygons = (paths.resolve(polygons[0]), polygons[1])
    return places.place_attrs(
        boundaries=boundaries,
        code_field=settings.code_field,
        cities=cities,
        city_polygons=polygons,
    )
