"""``footprint-map export`` end to end on whole studies, every format opened with GDAL.

Two studies: the session's coarse demo (Albers, an unnamed CRS, 43 consumers)
and the Japan/Korea study on an EPSG:4326 grid (0.25 degree, NetCDF flux
inventory). GDAL is the one bundled with rasterio; each cube's CRS, transform,
band labels and values must equal the store as ``open_results`` presents it
(``footprint`` computed on read).
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import rasterio
import xarray as xr
from affine import Affine
from helpers.gdal_exports import check_export
from helpers.geographic_study import NORTH, RESOLUTION, WEST, build_study

from pipeline import open_results
from pipeline.cli.app import main

DEFAULTS = {"netcdf": "footprint.nc", "cog": "footprint-cog", "zarr-gdal": "footprint-gdal.zarr"}


@pytest.fixture(scope="module")
def demo_dir(shared_results, tmp_path_factory):
    """A private copy of the session's demo results (its version links stay relative)."""
    copy = tmp_path_factory.mktemp("export-demo") / "out"
    shutil.copytree(shared_results, copy, symlinks=True)
    return copy


@pytest.fixture(scope="module")
def geographic_dir(tmp_path_factory):
    return build_study(tmp_path_factory.mktemp("export-geographic"))[0]


@pytest.mark.parametrize("fmt", sorted(DEFAULTS))
def test_demo_exports_open_in_gdal_with_the_stores_values(demo_dir, fmt, capsys):
    assert main(["export", str(demo_dir), "--format", fmt]) == 0
    assert f"wrote {demo_dir / DEFAULTS[fmt]}" in capsys.readouterr().out
    res = open_results(demo_dir)
    counts = check_export(fmt, demo_dir / DEFAULTS[fmt], res.ds)
    assert counts["footprint"] == len(res.consumers) == 43
    assert counts["footprint_by_sector"] == len(res.sectors)


def test_demo_cog_is_a_cog_with_overviews_and_the_named_crs(demo_dir):
    with rasterio.open(demo_dir / "footprint-cog" / "footprint.tif") as src:
        assert src.tags(ns="IMAGE_STRUCTURE")["LAYOUT"] == "COG"
        assert src.overviews(1) == [2]  # 86 x 97 cells
        assert src.crs.to_wkt().startswith('PROJCS["Albers Equal Area (lon_0=105 lat_1=25')
        assert src.tags()["units"] == "t" and src.tags(32)["consumer"] == src.descriptions[31]


def test_demo_netcdf_is_the_whole_store(demo_dir):
    res = open_results(demo_dir)
    back = xr.open_dataset(demo_dir / "footprint.nc", engine="h5netcdf")
    assert set(back.data_vars) == set(res.ds.data_vars)
    usa = back["footprint"].sel(consumer="USA").values
    np.testing.assert_array_equal(usa, res.layer(consumer="USA").values)
    assert float(back["foreign_footprint"].sum()) == pytest.approx(
        res.summary()["foreign_total_t"], rel=1e-12
    )


@pytest.mark.parametrize("fmt", sorted(DEFAULTS))
def test_geographic_study_exports_with_output_paths(geographic_dir, tmp_path, fmt):
    output = tmp_path / f"jk-{DEFAULTS[fmt]}"
    assert main(["export", str(geographic_dir), "--format", fmt, "--output", str(output)]) == 0
    res = open_results(geographic_dir)
    check_export(fmt, output, res.ds)
    name = {"netcdf": 'NETCDF:"{}":footprint', "cog": "{}/footprint.tif",
            "zarr-gdal": 'ZARR:"{}":/footprint'}[fmt].format(output)  # fmt: skip
    with rasterio.open(name) as src:
        assert src.crs.to_epsg() == 4326
        assert src.transform == Affine(RESOLUTION, 0.0, WEST, 0.0, -RESOLUTION, NORTH)
        assert src.count == len(res.consumers)
