"""Whole-store exports (NetCDF, COG, zarr-gdal) of a small store, read back with GDAL.

GDAL is the one bundled with rasterio (3.10 here). The end-to-end runs of
``footprint-map export`` on whole studies are in tests/integration/test_export.py.
"""

from __future__ import annotations

import json
import os

import cf_xarray  # noqa: F401  (registers the .cf accessor)
import dask.array as da
import numpy as np
import pytest
import rasterio
import xarray as xr
import zarr
from affine import Affine
from helpers.gdal_exports import check_export, store_transform
from helpers.small_store import CRSES, write_small_store

from pipeline import open_results
from pipeline.errors import ConfigError, OutputError
from pipeline.results import cog
from pipeline.results.export_formats import (
    EXPORT_ATTR,
    check_output,
    export_dataset,
    export_store,
)

NAMES = {"netcdf": "f.nc", "cog": "cogs", "zarr-gdal": "f-gdal.zarr"}


@pytest.fixture(scope="module", params=sorted(CRSES))
def exported(request, tmp_path_factory):
    """A small complete store on each CRS, as ``open_results`` presents it (footprint
    computed), exported in every format; returns the dataset, the folder and what was written.
    """
    root = tmp_path_factory.mktemp(request.param)
    write_small_store(root / "footprint.zarr", *CRSES[request.param])
    ds = open_results(root / "footprint.zarr").ds
    written = {f: export_store(ds, f, root / n, echo=lambda *_: None) for f, n in NAMES.items()}
    return ds, root, written


@pytest.fixture
def store(exported):
    return exported[0]


@pytest.mark.parametrize("fmt", sorted(NAMES))
def test_gdal_reads_every_cube_of_every_format(exported, fmt):
    ds, root, written = exported
    counts = check_export(fmt, root / NAMES[fmt], ds)
    assert counts == {"foreign_footprint": 1, "footprint": 3, "footprint_by_sector": 2,
                      "footprint_by_category": 2, "emissions": 2}  # fmt: skip
    assert len(written[fmt]) == (5 if fmt == "cog" else 1)
    assert not [p for p in root.iterdir() if ".partial~" in p.name]  # no temporaries left
    assert not [p for p in (root / NAMES["cog"]).iterdir() if p.name.startswith(".")]


def test_the_netcdf_export_is_cf_and_whole(exported):
    store, root, _ = exported
    back = xr.open_dataset(root / "f.nc", engine="h5netcdf")
    assert back.attrs["Conventions"] == "CF-1.10" and back.attrs[EXPORT_ATTR] == "netcdf"
    assert "footprint_map_complete" not in back.attrs
    assert back.cf.axes == {"X": ["x"], "Y": ["y"]}
    assert "_FillValue" not in back["x"].encoding or np.isnan(back["x"].encoding["_FillValue"])
    flags = back["region_index"].attrs["flag_values"]  # CF: the flag variable's type
    assert flags.dtype == store["region_index"].dtype and list(flags) == [0, 1]
    for name in ("attribution", "region_shares", "sector_weights", "region_index"):
        np.testing.assert_array_equal(back[name].values, store[name].values)
    assert back["footprint"].encoding["zlib"] and back["footprint"].encoding["chunksizes"][0] == 1


def test_the_gdal_zarr_has_no_strings_no_sharding_and_zlib(exported):
    path = exported[1] / NAMES["zarr-gdal"]
    group = zarr.open_group(path, mode="r")
    assert group.metadata.zarr_format == 2
    for name, array in group.arrays():
        meta = json.loads((path / name / ".zarray").read_text())
        assert meta["compressor"]["id"] == "zlib" and meta["filters"] is None, name
        assert np.dtype(meta["dtype"]).kind in "iuf", (name, meta["dtype"])
        assert array.shards is None
    attrs = group["footprint"].attrs
    assert attrs["consumer_labels"] == ["A", "B", "USA"] and attrs["foreign_labels"] == [0, 0, 1]
    assert "_CRS" in attrs and attrs["units"] == "t"
    assert group["attribution"].attrs["region_labels"] == ["A", "B"]


def test_an_earlier_zarr_gdal_export_is_replaced_but_nothing_else(exported, tmp_path):
    ds, root, _ = exported
    export_store(ds, "zarr-gdal", root / NAMES["zarr-gdal"], echo=lambda *_: None)  # replaced
    assert zarr.open_group(root / NAMES["zarr-gdal"], mode="r").attrs[EXPORT_ATTR] == "zarr-gdal"
    (tmp_path / "mine").mkdir()
    with pytest.raises(OutputError, match="not a zarr-gdal export"):
        export_store(ds, "zarr-gdal", tmp_path / "mine", echo=lambda *_: None)
    assert (tmp_path / "mine").is_dir() and not list((tmp_path / "mine").iterdir())


def test_an_earlier_netcdf_export_is_replaced_but_no_other_file(exported, tmp_path):
    ds, root, _ = exported
    path = root / NAMES["netcdf"]
    export_store(ds, "netcdf", path, echo=lambda *_: None)  # replaced
    assert xr.open_dataset(path, engine="h5netcdf").attrs[EXPORT_ATTR] == "netcdf"
    (tmp_path / "mine.nc").write_text("not ours")
    with pytest.raises(OutputError, match="not a NetCDF export of footprint-map"):
        export_store(ds, "netcdf", tmp_path / "mine.nc", echo=lambda *_: None)
    assert (tmp_path / "mine.nc").read_text() == "not ours"


def test_exports_leave_out_the_stored_copies_of_listed_consumers(store):
    stored = store["footprint"].isel(consumer=[2]).rename(consumer="materialized_consumer")
    data = export_dataset(store.assign(materialized_footprint=stored), "netcdf")
    assert "materialized_footprint" not in data and "materialized_consumer" not in data.dims
    assert "footprint" in data and data.attrs[EXPORT_ATTR] == "netcdf"


def test_outputs_inside_a_results_directory_are_refused(tmp_path):
    version = tmp_path / ".versions" / "v1"
    (version / "footprint.zarr").mkdir(parents=True)
    os.symlink(".versions/v1", tmp_path / ".current")
    os.symlink(".current/footprint.zarr", tmp_path / "footprint.zarr")
    for fmt in ("netcdf", "cog", "zarr-gdal"):
        with pytest.raises(OutputError, match="part of a results directory"):
            check_output(tmp_path / "footprint.zarr", fmt)
        with pytest.raises(OutputError, match="part of a results directory"):
            check_output(tmp_path / "footprint.zarr" / "x.nc", fmt)
    (tmp_path / "file.tif").write_text("")
    with pytest.raises(OutputError, match="is a directory"):
        check_output(tmp_path, "netcdf")
    with pytest.raises(OutputError, match="is a file"):
        check_output(tmp_path / "file.tif", "cog")
    assert check_output(tmp_path / "new.nc", "netcdf") == tmp_path / "new.nc"


def test_an_unknown_format_is_refused(store, tmp_path):
    with pytest.raises(ConfigError, match="netcdf, cog, zarr-gdal"):
        export_store(store, "gpkg", tmp_path / "x", echo=lambda *_: None)


@pytest.mark.parametrize("chunks", [(1, 75, 90), (3, 128, 192)])
def test_a_cog_of_many_chunks_is_written_window_by_window(tmp_path, chunks):
    """300 x 350 cells in 75 x 90 chunks (no tile divides them: rechunked to 256-cell tiles)
    or 128 x 192 chunks (64-cell staging tiles, three bands per chunk)."""
    values = np.random.default_rng(1).random((3, 300, 350))
    y, x = 3e6 - 1000 * (np.arange(300) + 0.5), 1e5 + 1000 * (np.arange(350) + 0.5)
    var = xr.DataArray(
        da.from_array(values, chunks=chunks),
        dims=("sector", "y", "x"),
        coords={"sector": ["a", "b", "c"], "y": y, "x": x},
        name="emissions",
        attrs={"units": "t", "long_name": "CO2"},
    )
    cog.write_cog(var, tmp_path / "e.tif", crs="EPSG:3035")
    with rasterio.open(tmp_path / "e.tif") as src:
        np.testing.assert_array_equal(src.read(), values)
        assert (
            src.transform
            == store_transform(var.to_dataset())
            == Affine(1000.0, 0.0, 1e5, 0.0, -1000.0, 3e6)
        )
        assert src.descriptions == ("a", "b", "c") and src.tags(2)["sector"] == "b"
        assert src.tags(ns="IMAGE_STRUCTURE")["LAYOUT"] == "COG"
        assert src.overviews(1) == [2, 4] and src.block_shapes[0] == (512, 512)
        half = src.read(1, out_shape=(150, 175))  # the first overview: 2 x 2 means
    np.testing.assert_allclose(half, values[0].reshape(150, 2, 175, 2).mean(axis=(1, 3)))


@pytest.mark.parametrize(
    ("chunks", "expected", "tile"),
    [
        (((1,), (512, 512, 100), (256, 44)), ((1,), (512, 512, 100), (256, 44)), 256),
        (((2,), (896, 896, 50), (896, 10)), ((1, 1), (896, 896, 50), (896, 10)), 128),
        (((1,), (320, 100), (700,)), ((1,), (320, 100), (700,)), 64),
        (((1,), (300, 300, 100), (700,)), ((1,), (512, 188), (700,)), 256),
        (((2,), (87,), (98,)), ((1, 1), (87,), (98,)), 256),
    ],
)
def test_chunks_are_whole_staging_tiles(chunks, expected, tile):
    data = da.zeros(tuple(sum(c) for c in chunks), chunks=chunks)
    staged, edge = cog.staged(data)
    assert staged.chunks == expected and edge == tile


def test_the_cog_tile_shrinks_with_the_band_count_and_every_grid_has_overviews():
    assert cog.cog_blocksize(43, 8) == 512 and cog.cog_blocksize(190, 8) == 256
    assert cog.cog_blocksize(64, 4) == 512 and cog.cog_blocksize(2000, 8) == 128
    assert cog.overview_count(87, 98) == 1 and cog.overview_count(600, 700) == 3
    assert cog.overview_count(4294, 4837) == 6  # the 1 km demo: down to 76 cells


@pytest.mark.filterwarnings("ignore:Consolidated metadata:UserWarning")
def test_a_store_written_before_the_cf_attributes_exports_too(tmp_path):
    """The old marks on disk: ``true``, "t CO2", ``sources`` as a mapping, bare x/y."""
    path = tmp_path / "footprint.zarr"
    write_small_store(path, *CRSES["projected"])
    group = zarr.open_group(path, mode="r+")
    group.attrs.update({"footprint_map_complete": True, "Conventions": None})
    group["foreign_footprint"].attrs["units"] = "t CO2"
    group["emissions"].attrs["sources"] = {"power": "/in/power.tif"}
    for name in ("x", "y"):
        group[name].attrs.clear()
    zarr.consolidate_metadata(path)
    ds = open_results(path).ds
    assert ds["foreign_footprint"].attrs["units"] == "t" and ds.attrs["Conventions"] == "CF-1.10"
    export_store(ds, "netcdf", tmp_path / "old.nc", echo=lambda *_: None)
    check_export("netcdf", tmp_path / "old.nc", ds)
    assert xr.open_dataset(tmp_path / "old.nc").cf.axes == {"X": ["x"], "Y": ["y"]}


def test_the_plain_zarr_export_holds_every_variable_footprint_included(store, tmp_path):
    path = tmp_path / "plain.zarr"
    assert export_store(store, "zarr", path, echo=lambda *_: None) == [path]
    back = xr.open_zarr(path, consolidated=False)
    assert zarr.open_group(path, mode="r").metadata.zarr_format == 3
    assert back.attrs[EXPORT_ATTR] == "zarr" and "footprint_map_complete" not in back.attrs
    for name in ("footprint", "foreign_footprint", "attribution", "emissions", "region_index"):
        np.testing.assert_array_equal(back[name].values, store[name].values, err_msg=name)
        assert back[name].chunks == store[name].chunks, name
    assert list(back["consumer"].values) == ["A", "B", "USA"]
    export_store(store, "zarr", path, echo=lambda *_: None)  # an earlier export is replaced
    export_store(store, "zarr-gdal", tmp_path / "gdal.zarr", echo=lambda *_: None)
    with pytest.raises(OutputError, match="not a zarr export"):  # another format's is kept
        export_store(store, "zarr", tmp_path / "gdal.zarr", echo=lambda *_: None)
