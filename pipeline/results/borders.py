"""The borders drawn on maps: the study's boundary files, else its region raster's outlines."""

from __future__ import annotations

import numpy as np
import shapely.geometry

from pipeline.grid.regions import Regions


def display_borders(results) -> Regions | None:
    """The study's own boundaries in the store CRS, simplified to a quarter cell.

    These are the ``[regions] boundaries`` files the run recorded
    (:attr:`Results.borders`). If the study used a region raster, or the files
    are no longer where the run read them, the outlines of the store's region
    raster (:func:`raster_outlines`); None on a store without a CRS.
    """
    borders = results.borders
    if results.ds.rio.crs is None:
        return borders
    if borders is None:
        return raster_outlines(results)
    borders = borders.to_crs(results.grid.crs)
    tolerance = min(results.grid.spacing) / 4
    simple = tuple(
        shapely.geometry.mapping(shapely.geometry.shape(g).simplify(tolerance))
        for g in borders.geometries
    )
    return Regions(borders.codes, simple, borders.crs, borders.source)


def raster_outlines(results) -> Regions:
    """The regions of the store's ``region_index`` as polygons along cell edges."""
    import rasterio.features

    index = np.asarray(results.region_index, dtype=np.int32)
    shapes = rasterio.features.shapes(
        index, mask=index >= 0, transform=results.grid.transform, connectivity=4
    )
    pieces = [(results.codes[int(value)], geometry) for geometry, value in shapes]
    return Regions(
        tuple(code for code, _ in pieces),
        tuple(geometry for _, geometry in pieces),
        results.grid.crs,
        "region_index of the store",
    )
