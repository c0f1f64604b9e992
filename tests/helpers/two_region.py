"""A hand-solvable two-region, one-sector MRIO and the inputs of its region tables.

``Z = [[0, 25], [25, 0]]``, ``Y = diag(75, 75)``: ``x = (100, 100)``,
``A = [[0, 1/4], [1/4, 0]]``, ``L = 16/15 [[1, 1/4], [1/4, 1]]``, ``X = L Y =
[[80, 20], [20, 80]]`` and the shares ``S = X / x = [[0.8, 0.2], [0.2, 0.8]]``.
With ``F = (100, 50)`` consumer A's MRIO footprint is ``100 0.8 + 50 0.2 = 90`` t
and B's ``100 0.2 + 50 0.8 = 60`` t.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from pipeline.attribution.concordance import concordance_from_table
from pipeline.attribution.cube import CubeInputs
from pipeline.mrio.model import MRIO, as_multiindex

SHARES = np.array([[0.8, 0.2], [0.2, 0.8]])
F = np.array([100.0, 50.0])


def table(F_values=F) -> MRIO:
    """The validated two-region table."""
    rows = as_multiindex([("A", "s"), ("B", "s")], ("region", "sector"))
    cols = as_multiindex([("A", "hh"), ("B", "hh")], ("region", "category"))
    Z = np.array([[0.0, 25.0], [25.0, 0.0]])
    Y = np.diag([75.0, 75.0])
    return MRIO(Z, Y, Z.sum(1) + Y.sum(1), np.asarray(F_values, float), None, rows, cols).validate()


def concordance():
    """One inventory sector ``ind`` mapped to the MRIO sector ``s``."""
    frame = pd.DataFrame({"inventory_sector": ["ind"], "mrio_sector": ["s"]})
    return concordance_from_table(frame, inventory_sectors=["ind"], mrio_sectors=["s"])


def inputs(region_totals=(1000.0, 500.0), foreign=(False, True)) -> CubeInputs:
    """Cube inputs of both producer regions (one raster code each), without a grid."""
    dims = ("region", "mrio_sector", "consumer", "category")
    coords = {"region": ["A", "B"], "mrio_sector": ["s"], "consumer": ["A", "B"]}
    shares = xr.DataArray(np.zeros((2, 1, 2, 1)), dims=dims, coords={**coords, "category": ["hh"]})
    sectors = xr.DataArray(np.zeros(1), dims="sector", coords={"sector": ["ind"]})
    return CubeInputs(
        emissions=sectors,
        region_index=xr.DataArray(0),
        region_codes=("A", "B"),
        producer_of_code=np.array([0, 1]),
        shares=shares,
        weights=np.ones((2, 1, 1)),
        region_totals=np.asarray(region_totals, float)[:, None],
        foreign=np.asarray(foreign, bool),
        final_demand=np.array([-1]),
    )
