"""The one grid type: a regular north-up grid's CRS, affine transform and shape.

The run builds a :class:`GridSpec` from the inventory's transform; the results
API builds one from a store's cell centres (:meth:`GridSpec.from_centres`). Both
then share the same cell centres, cell lookup and cell area: the area of a cell
is :func:`pipeline.grid.units.cell_area`, the rule of the inventory's unit
conversion.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from affine import Affine
from pyproj import CRS, Geod, Transformer

from pipeline.errors import ConfigError
from pipeline.grid.units import cell_area


def centre_spacing(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Cell width and height from cell centres (1.0 along an axis of one cell).

    Parameters
    ----------
    x, y : numpy.ndarray
        Equally spaced cell-centre coordinates.

    Returns
    -------
    (float, float)
        ``(dx, dy)``, both positive.
    """
    dx = abs(float(x[1] - x[0])) if x.size > 1 else 1.0
    dy = abs(float(y[1] - y[0])) if y.size > 1 else 1.0
    return dx, dy


@dataclass(frozen=True)
class GridSpec:
    """A regular grid: CRS, affine transform of the upper-left corner and shape.

    Parameters
    ----------
    crs : pyproj.CRS
        Coordinate reference system of the grid.
    transform : affine.Affine
        Maps (col, row) to (x, y) of the upper-left cell corner, rows going south.
    shape : tuple of int
        ``(ny, nx)``.
    centres : (numpy.ndarray, numpy.ndarray), optional
        The cell-centre ``x`` and ``y`` as a store holds them
        (:meth:`from_centres`); otherwise they are computed from the transform.
    """

    crs: CRS
    transform: Affine
    shape: tuple[int, int]
    centres: tuple[np.ndarray, np.ndarray] | None = field(default=None, compare=False, repr=False)

    @classmethod
    def from_centres(cls, x: np.ndarray, y: np.ndarray, crs) -> GridSpec:
        """The grid of a store's cell centres (``y`` descending).

        Parameters
        ----------
        x, y : numpy.ndarray
            Cell-centre coordinates in the CRS's units: metres on a projected
            CRS, degrees of longitude and latitude on a geographic one.
        crs : pyproj.CRS or any CRS input
            The grid's CRS (e.g. a rasterio CRS read by rioxarray).

        Returns
        -------
        GridSpec
        """
        x, y = np.asarray(x), np.asarray(y)
        dx, dy = centre_spacing(x, y)
        transform = Affine(dx, 0.0, float(x[0]) - dx / 2, 0.0, -dy, float(y[0]) + dy / 2)
        return cls(CRS.from_user_input(crs), transform, (y.size, x.size), (x, y))

    @property
    def x(self) -> np.ndarray:
        """Cell-centre x coordinates."""
        return self._centres_along(1)

    @property
    def y(self) -> np.ndarray:
        """Cell-centre y coordinates."""
        return self._centres_along(0)

    def _centres_along(self, axis: int) -> np.ndarray:
        """The stored centres of ``axis`` (0: y, 1: x), else those of the transform."""
        if self.centres is not None:
            return self.centres[1 - axis]
        t = self.transform
        start, step = (t.f, t.e) if axis == 0 else (t.c, t.a)
        return start + (np.arange(self.shape[axis]) + 0.5) * step

    @property
    def geographic(self) -> bool:
        """Whether the grid is in longitude/latitude degrees."""
        return CRS.from_user_input(self.crs).is_geographic

    @property
    def spacing(self) -> tuple[float, float]:
        """Cell width and height in CRS units."""
        return abs(self.transform.a), abs(self.transform.e)

    @property
    def geod(self) -> Geod:
        """The geodesic calculator of the CRS's ellipsoid."""
        return CRS.from_user_input(self.crs).get_geod()

    def row_areas_km2(self) -> np.ndarray:
        """``(ny,)`` ground area in km² of one cell of each row.

        :func:`pipeline.grid.units.cell_area`: the exact ellipsoidal area of
        each row's cells on a geographic CRS, the constant ``dx * dy`` on a
        projected one.
        """
        return np.asarray(cell_area(self.crs, self.transform, self.y).values) / 1e6

    def to_lonlat(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Longitude and latitude (EPSG:4326) of points in the grid CRS."""
        transformer = Transformer.from_crs(self.crs, "EPSG:4326", always_xy=True)
        return transformer.transform(np.asarray(x), np.asarray(y))

    def from_crs(self, x, y, crs) -> tuple[np.ndarray, np.ndarray]:
        """Points in ``crs`` (e.g. ``"EPSG:4326"`` for lon/lat) in the grid CRS."""
        transformer = Transformer.from_crs(CRS.from_user_input(crs), self.crs, always_xy=True)
        return transformer.transform(np.asarray(x, dtype=float), np.asarray(y, dtype=float))

    def cells_of(self, x, y) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(rows, cols, inside)`` of the cells containing points in the grid CRS.

        ``rows`` and ``cols`` are 0 where ``inside`` is False (outside the grid).
        """
        x = np.atleast_1d(np.asarray(x, dtype=float))
        y = np.atleast_1d(np.asarray(y, dtype=float))
        t = self.transform
        with np.errstate(invalid="ignore"):
            cols = np.floor((x - t.c) / t.a)
            rows = np.floor((y - t.f) / t.e)
        ny, nx = self.shape
        inside = (cols >= 0) & (cols < nx) & (rows >= 0) & (rows < ny)
        return (
            np.where(inside, rows, 0).astype(np.int64),
            np.where(inside, cols, 0).astype(np.int64),
            inside,
        )

    def cell_of(self, x: float, y: float) -> tuple[int, int]:
        """``(row, col)`` of the cell containing the point; raise if outside."""
        rows, cols, inside = self.cells_of(x, y)
        if not inside[0]:
            unit = "degrees" if self.geographic else "CRS units (metres)"
            xs = f"{self.x.min():.6g}..{self.x.max():.6g}"
            ys = f"{self.y.min():.6g}..{self.y.max():.6g}"
            raise ConfigError(
                f"point ({x:.6g}, {y:.6g}) is outside the grid x {xs}, y {ys} "
                f"(store {unit}; pass crs='EPSG:4326' for lon/lat)"
            )
        return int(rows[0]), int(cols[0])
