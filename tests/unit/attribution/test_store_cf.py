"""The result store's CF-1.10 metadata: Conventions, x/y axes, UDUNITS units, a named CRS,
flat attributes, and a whole-store round trip through netCDF (plain and as open_results
presents it)."""

from __future__ import annotations

import json
import numbers

import cf_units
import cf_xarray  # noqa: F401  (registers the .cf accessor)
import numpy as np
import pytest
import xarray as xr
import zarr
from helpers.small_store import CRSES, SOURCES, write_small_store

from pipeline.attribution.cube import describe_store, flat_attrs
from pipeline.attribution.factorized import with_footprint
from pipeline.storage.versions import COMPLETE_ATTR, is_complete


@pytest.fixture(scope="module", params=sorted(CRSES))
def store(request, tmp_path_factory):
    """A store written as a run writes it; returns (path, the cube's inputs, its CRS)."""
    path = tmp_path_factory.mktemp(request.param) / "footprint.zarr"
    return path, write_small_store(path, *CRSES[request.param]), CRSES[request.param][0]


def every_attr(ds: xr.Dataset):
    yield "", ds.attrs
    for name, var in ds.variables.items():
        yield name, var.attrs


def plain(attrs) -> dict:
    """Attributes with numeric arrays as lists (netCDF reads lists back as arrays)."""
    return {k: np.asarray(v).tolist() if isinstance(v, list | tuple | np.ndarray) else v
            for k, v in attrs.items()}  # fmt: skip


def test_the_store_follows_cf_1_10(store):
    path, inputs, crs = store
    ds = xr.open_zarr(path)
    assert ds.attrs["Conventions"] == "CF-1.10"
    assert ds.cf.axes == {"X": ["x"], "Y": ["y"]}
    geographic = crs == "EPSG:4326"
    names = ("longitude", "latitude") if geographic else ("projection_x_coordinate",
                                                          "projection_y_coordinate")  # fmt: skip
    assert (ds["x"].attrs["standard_name"], ds["y"].attrs["standard_name"]) == names
    assert ds["x"].attrs["units"] == ("degrees_east" if geographic else "m")
    ref = ds["spatial_ref"].attrs
    assert ref["grid_mapping_name"] == ("latitude_longitude" if geographic
                                        else "lambert_azimuthal_equal_area")  # fmt: skip
    assert ref["crs_name"] == ("WGS 84" if geographic else "ETRS89-extended / LAEA Europe")
    assert ds.rio.crs == inputs.emissions.rio.crs


def test_every_unit_is_udunits_and_tonnes_of_co2(store):
    ds = xr.open_zarr(store[0])
    masses = ["attribution", "emissions", "foreign_footprint", "footprint_by_sector",
              "footprint_by_category"]  # fmt: skip
    for name in masses:
        assert ds[name].attrs["units"] == "t"
        assert cf_units.Unit(ds[name].attrs["units"]).convert(1.0, "kg") == 1000.0
        assert ds[name].attrs["long_name"].startswith("CO2 emissions")
    for name in ("region_shares", "sector_weights"):
        assert cf_units.Unit(ds[name].attrs["units"]).is_dimensionless()
    for var in ds.variables.values():
        if "units" in var.attrs:
            cf_units.Unit(var.attrs["units"])  # raises on anything UDUNITS cannot parse


def test_every_attribute_is_a_string_or_a_number(store):
    ds = xr.open_zarr(store[0])
    for name, attrs in every_attr(ds):
        for key, value in attrs.items():
            values = value if isinstance(value, list | tuple) else [value]
            assert all(
                isinstance(v, str | numbers.Number) and not isinstance(v, bool) for v in values
            ), (name, key, value)
    assert json.loads(ds["emissions"].attrs["sources"]) == SOURCES
    assert zarr.open_group(store[0]).attrs[COMPLETE_ATTR] == 1 and is_complete(store[0])


def test_the_inputs_attributes_are_not_changed(store):
    _, inputs, _ = store
    assert inputs.emissions.attrs["sources"] == SOURCES


def test_plain_open_zarr_round_trips_through_netcdf(store, tmp_path):
    ds = xr.open_zarr(store[0])
    ds.to_netcdf(tmp_path / "plain.nc")
    back = xr.open_dataset(tmp_path / "plain.nc")
    assert back.cf.axes == {"X": ["x"], "Y": ["y"]}
    for name in ds.data_vars:
        np.testing.assert_array_equal(back[name].values, ds[name].values)
        assert plain(back[name].attrs) == plain(ds[name].attrs)
    assert plain(back["spatial_ref"].attrs) == plain(ds["spatial_ref"].attrs)
    assert list(back["region_index"].attrs["flag_values"]) == [0, 1]
    assert list(back["consumer"].values) == ["A", "B", "USA"]
    assert plain(back.attrs) == plain(ds.attrs)


def test_the_presented_store_with_its_computed_footprint_round_trips(store, tmp_path):
    path, inputs, _ = store
    ds = with_footprint(describe_store(xr.open_zarr(path)))
    ds.to_netcdf(tmp_path / "whole.nc")
    back = xr.open_dataset(tmp_path / "whole.nc")
    e = inputs.emissions.values
    m = inputs.shares.sum("category").values[:, 0, :]  # (region, consumer), one MRIO sector
    expected = np.einsum("syx,yxc->cyx", e, m[inputs.region_index.values])
    np.testing.assert_allclose(back["footprint"].values, expected, rtol=1e-12)
    assert back["footprint"].attrs["units"] == "t"
    assert back["footprint"].attrs["grid_mapping"] == "spatial_ref"
    assert back.cf.axes == {"X": ["x"], "Y": ["y"]}


def test_stores_written_before_the_cf_attributes_are_presented_with_them(store):
    ds = xr.open_zarr(store[0])
    ds.attrs = {k: v for k, v in ds.attrs.items() if k != "Conventions"}
    ds.attrs[COMPLETE_ATTR] = True
    ds["foreign_footprint"].attrs["units"] = "t CO2"
    ds["emissions"].attrs["sources"] = dict(SOURCES)
    for name in ("x", "y"):
        ds[name].attrs = {}
    presented = describe_store(ds)
    assert presented.attrs["Conventions"] == "CF-1.10" and presented.attrs[COMPLETE_ATTR] == 1
    assert presented["foreign_footprint"].attrs["units"] == "t"
    assert json.loads(presented["emissions"].attrs["sources"]) == SOURCES
    assert presented.cf.axes == {"X": ["x"], "Y": ["y"]}


@pytest.mark.parametrize(
    ("mark", "complete"), [(True, True), (1, True), (0, False), (False, False), ("1", False)]
)
def test_is_complete_reads_the_old_and_the_new_mark(tmp_path, mark, complete):
    group = zarr.open_group(tmp_path / "s.zarr", mode="w")
    group.attrs[COMPLETE_ATTR] = mark
    assert is_complete(tmp_path / "s.zarr") is complete
    assert not is_complete(tmp_path / "missing.zarr")


def test_flat_attrs():
    flat = flat_attrs(
        {"d": {"b": 1, "a": [1, 2]}, "ok": True, "none": None, "labels": ["a", "b"],
         "numbers": [1, 2.5], "array": np.array([1, 2], dtype=np.int16), "s": "x", "n": 3}
    )  # fmt: skip
    assert flat["d"] == '{"a": [1, 2], "b": 1}' and flat["ok"] == 1 and flat["none"] == ""
    assert flat["labels"] == '["a", "b"]' and flat["numbers"] == [1, 2.5]
    assert list(flat["array"]) == [1, 2] and (flat["s"], flat["n"]) == ("x", 3)
