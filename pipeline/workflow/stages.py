"""Pipeline stages: each takes checked inputs and returns plain results.

The stages are wired together by :mod:`pipeline.workflow.run`. They raise
:class:`pipeline.errors.FootprintError` subclasses with one-line messages.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, replace
from pathlib import Path

import dask
import numpy as np
import pandas as pd
import xarray as xr
from affine import Affine

from pipeline import mrio as mrio_api
from pipeline import textfiles
from pipeline.errors import ConcordanceError, ConfigError, GridError, InputFileError, MRIOError
from pipeline.grid import blocks, inventory, region_blocks, region_raster, regions
from pipeline.grid.chunks import chunk_side
from pipeline.grid.mapping import producer_codes  # noqa: F401  (re-export)
from pipeline.storage.versions import write_zarr_atomic
from pipeline.workflow.config import StudyConfig

DEFAULT_CHUNK = 512


@dataclass(frozen=True)
class LoadedMRIO:
    """The attribution-ready MRIO and which of its regions are domestic."""

    table: mrio_api.MRIO
    domestic: tuple[str, ...]
    report: object | None
    sources: dict[str, Path]


def mrio_layout(config: StudyConfig) -> str:
    """``[mrio] format``: as given, else ``nested`` iff a subnational table is given."""
    section = config["mrio"]
    return section["format"] or ("nested" if section["subnational"] else "plain")


def load_mrio(config: StudyConfig) -> LoadedMRIO:
    """Read the configured MRIO; nest the subnational table if configured."""
    section = config["mrio"]
    stressor = section["stressor"]
    global_path = config.input_path(section["global"])
    sources = {"mrio_global": global_path}
    table = _read_global(global_path, section)
    if mrio_layout(config) == "plain":
        return LoadedMRIO(table, _domestic_regions(config, table), None, sources)
    if not section["subnational"]:
        raise ConfigError(
            f"{config.path}: [mrio] format = 'nested' needs [mrio] subnational "
            "(the provincial table's directory)"
        )
    sub_path = config.input_path(section["subnational"])
    sources["mrio_subnational"] = sub_path
    sub = mrio_api.read_subnational(sub_path, stressor=stressor)
    concordance = None
    if section["sector_concordance"]:
        conc_path = config.input_path(section["sector_concordance"])
        sources["mrio_sector_concordance"] = conc_path
        concordance = _read_csv(conc_path)
    try:
        nested, report = mrio_api.nest(
            table,
            sub,
            country=config["study"]["country"],
            sector_concordance=concordance,
            total_rtol=section["total_rtol"],
        )
    except ConcordanceError as exc:
        where = sources.get("mrio_sector_concordance", sub_path)
        raise ConcordanceError(f"{where}: {exc}") from exc
    except MRIOError as exc:
        raise MRIOError(f"{sub_path} nested into {global_path}: {exc}") from exc
    domestic = tuple(dict.fromkeys(sub.rows.get_level_values("region")))
    return LoadedMRIO(nested, domestic, report, sources)


def _domestic_regions(config: StudyConfig, table: mrio_api.MRIO) -> tuple[str, ...]:
    """``[study] domestic_regions``, by default ``[study] country``; each an MRIO region."""
    study = config["study"]
    key = "domestic_regions" if study["domestic_regions"] else "country"
    domestic = tuple(str(r) for r in (study["domestic_regions"] or [study["country"]]))
    regions = list(table.regions)
    unknown = [r for r in domestic if r not in regions]
    if unknown:
        raise ConfigError(
            f"{config.path}: [study] {key} names {unknown}, which the MRIO does not have; "
            f"use some of {regions[:20]}" + (" ..." if len(regions) > 20 else "")
        )
    return domestic


def _read_global(path: Path, section: dict) -> mrio_api.MRIO:
    return mrio_api.load_global(
        path,
        format=section["global_format"],
        stressor=section["stressor"],
        year=section["year"],
        version=section["version"],
        extension=section["extension"],
        balance_rtol=section["balance_rtol"],
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


def open_layers(config: StudyConfig, *, chunks: int | None = None) -> Layers:
    """Open the inventory files and the region source, checking both (cheap).

    ``chunks`` (spatial chunk edge) overrides ``[inventory] chunks``.
    """
    inv = config["inventory"]
    raw = inv["files"]
    if isinstance(raw, dict):
        files = {s: config.input_path(p) for s, p in raw.items()}
    elif isinstance(raw, str):
        files = config.input_path(raw)
    else:
        files = [config.input_path(p) for p in raw]
    emissions = inventory.open_inventory(
        files,
        chunks=chunks or inv["chunks"] or DEFAULT_CHUNK,
        units=inv["units"],
        variables=inv["variables"],
        crs=inv["crs"],
        bands=inv["bands"],
    )
    sources = {f"inventory_{s}": Path(p) for s, p in emissions.attrs["sources"].items()}
    section = config["regions"]
    if section["raster"]:
        raster = config.input_path(section["raster"])
        codes = config.input_path(section["raster_codes"])
        sources.update(region_raster=raster, region_codes=codes)
        return Layers(emissions, None, (raster, codes, section["raster_resampling"]), sources)
    paths = section["boundaries"]
    paths = (
        [config.input_path(p) for p in paths]
        if isinstance(paths, list)
        else config.input_path(paths)
    )
    shapes = regions.read_regions(paths, code_field=section["code_field"])
    for n, path in enumerate(paths if isinstance(paths, list) else [paths]):
        sources["boundaries" if n == 0 else f"boundaries_{n}"] = path
    return Layers(emissions, shapes, None, sources)


def open_layers_within_budget(config: StudyConfig, *, n_outputs: int) -> Layers:
    """:func:`open_layers` with chunks sized by ``[output] chunk_memory_mb`` unless set."""
    layers = open_layers(config)
    if config["inventory"]["chunks"]:
        return layers
    side = chunk_side(
        n_layers_out=n_outputs + layers.emissions.sizes["sector"],
        n_sectors=layers.emissions.sizes["sector"],
        itemsize=np.dtype(config["output"]["dtype"]).itemsize,
        budget_mb=config["output"]["chunk_memory_mb"],
    )
    return layers if side == DEFAULT_CHUNK else open_layers(config, chunks=side)


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
    grid = regions.GridSpec(
        emissions.rio.crs, Affine(*emissions.rio.transform()[:6]), emissions.shape[1:]
    )
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
    ds = xr.Dataset(
        {"emissions": emissions.drop_vars("spatial_ref", errors="ignore"), "region_index": index_da}
    )
    nans, negatives = inventory.count_invalid(emissions)
    sectors = [str(s) for s in emissions["sector"].values]
    store = work / "inventory.zarr"
    write_zarr_atomic(
        ds,
        store,
        also_compute={"nan": nans.data, "negative": negatives.data},
        check=lambda r: _check_valid(r, sectors, layers.sources),
        compute=compute,
        key=key,
        attrs=lambda: {"region_codes": list(codes)},
    )
    return open_ingested(layers, work)


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


def _check_valid(results: dict, sectors: list[str], sources: dict[str, Path]) -> None:
    for kind in ("nan", "negative"):
        counts = np.asarray(results[kind])
        if counts.any():
            n = int(np.flatnonzero(counts)[0])
            path = sources["inventory_" + sectors[n]]
            raise GridError(
                f"{path}: {int(counts[n])} cells of sector {sectors[n]!r} are "
                f"{'NaN' if kind == 'nan' else 'negative'}; set them to the nodata value or "
                "fix the inventory"
            )


def region_totals(grid: GridInputs, *, compute=dask.compute) -> np.ndarray:
    """``(n_codes + 1, n_sectors)`` inventory totals; the last row is outside every region."""
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
