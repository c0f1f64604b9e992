"""The one GeoTIFF writer: query exports (NaN nodata) and the demo's inventory layers."""

import numpy as np
import rasterio
import xarray as xr
from affine import Affine

from pipeline.demo.inventory import write_sector_layer
from pipeline.grid.spec import GridSpec
from pipeline.results.exports import write_geotiff

GRID = GridSpec.from_centres(np.arange(3) + 0.5, np.arange(2, 0, -1) - 0.5, "EPSG:3035")


def test_export_defaults_keep_values_with_nan_nodata(tmp_path):
    values = np.arange(6.0).reshape(2, 3) / 7
    layer = xr.DataArray(values, dims=("y", "x"), attrs={"units": "t CO2"})
    path = write_geotiff(layer, tmp_path / "a.tif", crs=GRID.crs, transform=GRID.transform)
    with rasterio.open(path) as src:
        np.testing.assert_array_equal(src.read(1), values)
        assert np.isnan(src.nodata) and src.tags()["units"] == "t CO2"
        assert src.transform == Affine(1.0, 0.0, 0.0, 0.0, -1.0, 2.0)


def test_demo_layer_has_units_tags_predictor_and_no_nodata(tmp_path):
    values = np.array([[1.5, 0.0, 2.25], [1e-9, 3.0, 7.0]])
    path = write_sector_layer(tmp_path / "power.tif", values, GRID, units="t CO2/cell/yr")
    with rasterio.open(path) as src:
        np.testing.assert_array_equal(src.read(1), values)
        assert src.nodata is None and src.profile["blockxsize"] == 256
        assert src.tags(ns="IMAGE_STRUCTURE")["PREDICTOR"] == "3"
        assert src.tags(1)["units"] == src.tags()["units"] == "t CO2/cell/yr"
        assert "SYNTHETIC" in src.tags()["note"]
        assert src.crs.to_epsg() == 3035 and src.transform == GRID.transform
