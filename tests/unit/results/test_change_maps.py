"""Change maps: a zero-centred diverging scale, symmetric-log or linear, on hand-made layers."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from matplotlib.colors import Normalize, SymLogNorm

from pipeline.results.change_maps import (
    LINEAR_SPAN,
    change_norm,
    change_ticks,
    draw_change,
)
from pipeline.results.maps import MapImage


def image(values) -> MapImage:
    return MapImage(np.asarray(values, dtype=float), (0, 1, 0, 1), 1)


def test_wide_changes_get_a_symmetric_log_scale_centred_on_zero():
    values = np.r_[-np.logspace(0, 6, 200), np.logspace(0, 3, 200), np.zeros(50)]
    norm = change_norm([image(values)])
    assert isinstance(norm, SymLogNorm)
    assert norm.vmin == -1e6 and norm.vmax == 1e6  # the largest |change|, both sides
    assert float(norm(0.0)) == pytest.approx(0.5, abs=1e-12)
    assert float(norm(1e3)) == pytest.approx(1 - float(norm(-1e3)), abs=1e-12)
    small = np.percentile(np.abs(values[values != 0]), 1)
    assert norm.linthresh == pytest.approx(small)
    ticks = change_ticks(norm)
    assert ticks[len(ticks) // 2] == 0.0 and ticks == [-t for t in ticks[::-1]]
    assert len(ticks) <= 9 and ticks[-1] == 1e6


def test_a_small_range_is_linear_and_shared_panels_take_the_largest():
    small = image([-3.0, -1.0, 0.0, 2.0])
    large = image([0.5, 40.0])
    norm = change_norm([small, large])
    assert type(norm) is Normalize  # 40 / 0.5 = 80 <= LINEAR_SPAN
    assert (norm.vmin, norm.vmax) == (-40.0, 40.0)
    assert float(norm(0.0)) == 0.5
    assert 40.0 / 0.5 <= LINEAR_SPAN
    assert change_norm([image([0.0, 0.0])]) is None
    assert change_ticks(norm) is None


def test_draw_change_returns_the_norm_it_drew_with():
    y, x = np.arange(6.0, 0, -1), np.arange(8.0)
    values = np.zeros((6, 8))
    values[1, 2], values[4, 6], values[3, 3] = -5000.0, 20.0, 0.01
    layer = xr.DataArray(values, dims=("y", "x"), coords={"y": y, "x": x}, attrs={"units": "t"})
    fig, norm = draw_change(layer, title="change", crs=None)
    assert isinstance(norm, SymLogNorm) and norm.vmax == 5000.0 and norm.vmin == -5000.0
    drawn = [im.norm for im in fig.axes[0].images if im.norm is norm]
    assert drawn, "the data image is drawn with the returned norm"
    assert "symmetric log scale" in fig.axes[1].get_ylabel()
