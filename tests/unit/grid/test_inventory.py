"""Inventory ingestion: formats, CRS, nodata, units and cell areas, on small files."""

import math

import numpy as np
import pytest
import rasterio
import xarray as xr
from pyproj import CRS, Geod
from rasterio.transform import from_origin

from pipeline.errors import GridError, InputFileError
from pipeline.grid.inventory import open_inventory, open_inventory_file
from pipeline.grid.units import SECONDS_PER_YEAR, cell_area, parse_unit, tonnes_factor

ALBERS = "+proj=aea +lat_1=25 +lat_2=47 +lat_0=0 +lon_0=105 +datum=WGS84 +units=m"
TRANSFORM = from_origin(1_000_000, 4_000_000, 10_000, 10_000)
DATA = np.arange(2 * 3 * 4, dtype="float32").reshape(2, 3, 4) + 1


def write_tif(path, data, *, crs=ALBERS, transform=TRANSFORM, nodata=None, names=None, units="t"):
    data = np.atleast_3d(data) if data.ndim == 3 else data[None]
    with rasterio.open(
        path, "w", driver="GTiff", width=data.shape[2], height=data.shape[1], count=data.shape[0],
        dtype=data.dtype, crs=crs, transform=transform, nodata=nodata,
    ) as dst:  # fmt: skip
        dst.write(data)
        for i, name in enumerate(names or []):
            dst.set_band_description(i + 1, name)
        if units:
            dst.units = (units,) * data.shape[0]
    return path


def projected_dataset(data=DATA, names=("power", "road")):
    x = TRANSFORM.c + (np.arange(data.shape[2]) + 0.5) * TRANSFORM.a
    y = TRANSFORM.f + (np.arange(data.shape[1]) + 0.5) * TRANSFORM.e
    crs = CRS.from_proj4(ALBERS)
    ds = xr.Dataset(
        {
            n: (("y", "x"), data[i], {"units": "t", "grid_mapping": "crs"})
            for i, n in enumerate(names)
        },
        coords={"y": y, "x": x, "crs": ((), 0, crs.to_cf())},
    )
    return ds


def test_multiband_geotiff_names_sectors(tmp_path):
    path = write_tif(tmp_path / "inv.tif", DATA, names=["power", "road"], units="kt")
    em = open_inventory(path, chunks=2)
    assert list(em["sector"].values) == ["power", "road"]
    assert em.dims == ("sector", "y", "x") and em.data.chunksize == (1, 2, 2)
    np.testing.assert_array_equal(em.values, DATA * 1000.0)
    assert em.attrs["sources"] == {"power": str(path), "road": str(path)}
    renamed = open_inventory(path, bands=["a", "b"])
    assert list(renamed["sector"].values) == ["a", "b"]
    picked = open_inventory({"traffic": path}, bands={"traffic": "road"})
    np.testing.assert_array_equal(picked.sel(sector="traffic").values, DATA[1] * 1000.0)
    by_number = open_inventory({"traffic": path}, bands={"traffic": 2})
    np.testing.assert_array_equal(by_number.values, picked.values)


def test_unnamed_bands_need_names(tmp_path):
    path = write_tif(tmp_path / "inv.tif", DATA)
    with pytest.raises(GridError, match=r"inv\.tif: band 1 has no description.*bands"):
        open_inventory(path)
    with pytest.raises(GridError, match=r"inv\.tif: holds 2 layers"):
        open_inventory({"power": path})


def test_netcdf_variables_and_sector_dim_match_geotiff(tmp_path):
    tif = open_inventory(write_tif(tmp_path / "inv.tif", DATA, names=["power", "road"]))
    ds = projected_dataset()
    ds.to_netcdf(tmp_path / "vars.nc")
    stacked = ds[["power", "road"]].to_dataarray("sector").rename("emissions")
    stacked.attrs = {"units": "t", "grid_mapping": "crs"}
    stacked.to_dataset().assign_coords(crs=ds["crs"]).to_netcdf(tmp_path / "dim.nc")
    for name in ("vars.nc", "dim.nc"):
        nc = open_inventory(tmp_path / name, chunks=2)
        assert list(nc["sector"].values) == ["power", "road"]
        np.testing.assert_array_equal(nc.values, tif.values)
        assert nc.rio.crs == tif.rio.crs
        np.testing.assert_allclose(nc.rio.transform(), tif.rio.transform(), atol=1e-6)


def test_latlon_netcdf_ascending_and_crs(tmp_path):
    lat = np.arange(-89.5, 90, 1.0)  # ascending, south first
    lon = np.arange(-179.5, 180, 1.0)
    data = np.zeros((lat.size, lon.size))
    data[lat.size - 1, 0] = 7.0  # the northernmost row
    xr.Dataset(
        {"co2": (("lat", "lon"), data, {"units": "kt"})}, coords={"lat": lat, "lon": lon}
    ).to_netcdf(tmp_path / "world.nc")
    em = open_inventory({"all": tmp_path / "world.nc"})
    assert em.rio.crs == CRS.from_epsg(4326)
    assert tuple(em.rio.transform())[:6] == (1.0, 0.0, -180.0, 0.0, -1.0, 90.0)
    assert em.values[0, 0, 0] == 7000.0 and float(em["y"][0]) == 89.5


def write_world(path, lon, data):
    lat = np.array([0.5, -0.5])
    xr.Dataset(
        {"co2": (("lat", "lon"), data, {"units": "t"})}, coords={"lat": lat, "lon": lon}
    ).to_netcdf(path)
    return path


def test_longitudes_0_to_360_are_rolled_to_minus_180(tmp_path):
    lon = np.arange(0.5, 360, 1.0)
    data = np.zeros((2, 360))
    data[0, 0], data[0, 359], data[1, 180] = 1.0, 2.0, 3.0  # at 0.5, 359.5 and 180.5 E
    em = open_inventory({"all": write_world(tmp_path / "east.nc", lon, data)}, chunks=100)
    assert tuple(em.rio.transform())[:6] == (1.0, 0.0, -180.0, 0.0, -1.0, 1.0)
    x = em["x"].values
    np.testing.assert_array_equal(x, np.arange(-179.5, 180, 1.0))
    got = em.isel(sector=0).values
    assert got[0, x == 0.5] == 1.0 and got[0, x == -0.5] == 2.0 and got[1, x == -179.5] == 3.0
    assert got.sum() == 6.0


def test_longitudes_0_to_360_descending_and_repeated_column(tmp_path):
    lon = np.arange(359.5, 0, -1.0)  # east to west
    data = np.zeros((2, 360))
    data[0, 0] = 5.0  # at 359.5 E = -0.5
    em = open_inventory({"all": write_world(tmp_path / "west.nc", lon, data)})
    np.testing.assert_array_equal(em["x"].values, np.arange(-179.5, 180, 1.0))
    assert em.isel(sector=0).values[0, 179] == 5.0 and float(em.sum()) == 5.0
    repeated = write_world(tmp_path / "r.nc", np.arange(0.0, 360.5, 1.0), np.ones((2, 361)))
    with pytest.raises(GridError, match=r"r\.nc: the last longitude column \(360\) repeats"):
        open_inventory({"all": repeated})


def test_longitudes_east_of_180_shift_and_straddling_regional_grid_fails(tmp_path):
    em = open_inventory(
        {"all": write_world(tmp_path / "e.nc", np.array([200.5, 201.5]), np.ones((2, 2)))}
    )
    np.testing.assert_array_equal(em["x"].values, [-159.5, -158.5])
    path = write_world(tmp_path / "pacific.nc", np.array([179.5, 180.5]), np.ones((2, 2)))
    with pytest.raises(
        GridError, match=r"pacific\.nc: longitudes run from 179\.5 to 180\.5.*sellonlatbox"
    ):
        open_inventory({"all": path})


def test_flux_per_second_over_one_degree_cell_at_equator(tmp_path):
    flux = 1e-9  # kg m-2 s-1
    lat, lon = np.array([-0.5, 0.5]), np.array([0.5, 1.5])
    xr.Dataset(
        {"co2": (("lat", "lon"), np.full((2, 2), flux), {"units": "kg m-2 s-1"})},
        coords={"lat": lat, "lon": lon},
    ).to_netcdf(tmp_path / "flux.nc")
    em = open_inventory({"all": tmp_path / "flux.nc"}).sel(sector="all")
    tonnes = float(em.values[0, 0])  # the cell from 0 to 1 N
    # independent: sphere of the authalic radius, A = R^2 * dlon * (sin 1 - sin 0)
    r = 6_371_007.2
    sphere = r**2 * math.radians(1.0) * math.sin(math.radians(1.0))
    expected_sphere = flux * sphere * SECONDS_PER_YEAR / 1000.0
    assert tonnes == pytest.approx(expected_sphere, rel=5e-3)
    # exact: the ellipsoidal cell (edges along the parallels, densified) from pyproj
    ring_lon = np.concatenate([np.linspace(0, 1, 2001), np.linspace(1, 0, 2001)])
    ring_lat = np.concatenate([np.zeros(2001), np.ones(2001)])
    area, _ = Geod(ellps="WGS84").polygon_area_perimeter(ring_lon, ring_lat)
    assert tonnes == pytest.approx(flux * abs(area) * SECONDS_PER_YEAR / 1000.0, rel=1e-9)
    assert float(em.values[1, 0]) == pytest.approx(tonnes, rel=1e-12)  # symmetric row


def test_cell_area_projected_and_polar_rows():
    projected = cell_area(CRS.from_proj4(ALBERS), TRANSFORM, np.array([1.0, 2.0]))
    assert projected.values.tolist() == [1e8, 1e8]
    rows = cell_area(
        CRS.from_epsg(4326), from_origin(-180, 90, 0.5, 0.5), np.arange(89.75, -90, -0.5)
    )
    total = rows.values.sum() * 720
    assert total == pytest.approx(5.10065621724e14, rel=1e-9)  # WGS84 ellipsoid surface


def test_ascii_grid_with_prj_and_nodata(tmp_path):
    data = np.array([[1.0, -9999.0], [2.5, 4.0]])
    path = tmp_path / "road.asc"
    with rasterio.open(
        path, "w", driver="AAIGrid", width=2, height=2, count=1, dtype="float64",
        crs="EPSG:3035", transform=from_origin(4_000_000, 3_000_000, 1000, 1000), nodata=-9999,
    ) as dst:  # fmt: skip
        dst.write(data[None])
    assert (tmp_path / "road.prj").is_file()
    em = open_inventory({"road": path}, units="kg/cell")
    np.testing.assert_allclose(em.values[0], [[1e-3, 0.0], [2.5e-3, 4e-3]])
    assert CRS(em.rio.crs).name == "ETRS89-extended / LAEA Europe"  # read from road.prj
    np.testing.assert_allclose(tuple(em.rio.transform())[:6], (1000, 0, 4e6, 0, -1000, 3e6))
    (tmp_path / "road.prj").unlink()
    with pytest.raises(GridError, match=r"road\.asc: raster has no CRS; set `crs`"):
        open_inventory({"road": path}, units="t")
    assigned = open_inventory({"road": path}, units="t", crs="EPSG:3035")
    assert assigned.rio.crs == CRS.from_epsg(3035)


def test_nodata_nan_and_undeclared_nan(tmp_path):
    data = np.array([[1.0, np.nan], [3.0, 4.0]], dtype="float32")
    declared = write_tif(tmp_path / "a.tif", data, nodata=np.nan)
    undeclared = write_tif(tmp_path / "b.tif", data)
    em = open_inventory({"a": declared, "b": undeclared})
    assert em.sel(sector="a").values.tolist() == [[1.0, 0.0], [3.0, 4.0]]
    with pytest.raises(GridError, match=r"b\.tif: 1 cells of sector 'b' .* are NaN .*row 0, col"):
        _ = em.sel(sector="b").values
    coords = {"y": [1.5, 0.5], "x": [0.5, 1.5]}
    plain = xr.Dataset({"c": (("y", "x"), data, {"units": "t"})}, coords=coords)
    plain.to_netcdf(tmp_path / "c.nc", encoding={"c": {"_FillValue": None}})
    nc = open_inventory({"c": tmp_path / "c.nc"}, crs="EPSG:3857")
    with pytest.raises(GridError, match=r"c\.nc: 1 cells of sector 'c' .* are NaN"):
        _ = nc.values
    filled = tmp_path / "d.nc"
    values = np.where(np.isnan(data), -1.0, data)
    declared_nc = xr.Dataset({"d": (("y", "x"), values, {"units": "t"})}, coords=coords)
    declared_nc.to_netcdf(filled, encoding={"d": {"_FillValue": -1.0}})
    nc = open_inventory({"d": filled}, crs="EPSG:3857")
    assert nc.values[0].tolist() == [[1.0, 0.0], [3.0, 4.0]]


def test_layers_on_different_grids_name_both_files(tmp_path):
    a = write_tif(tmp_path / "power.tif", DATA[0])
    b = write_tif(tmp_path / "road.tif", DATA[0], transform=from_origin(0, 0, 10_000, 10_000))
    with pytest.raises(GridError, match=r"road\.tif is not on the grid of .*power\.tif"):
        open_inventory({"power": a, "road": b})


def test_unknown_units_name_file_and_accepted_units(tmp_path):
    path = write_tif(tmp_path / "power.tif", DATA[0], units="furlongs")
    with pytest.raises(
        GridError, match=r"power\.tif: unknown emission unit 'furlongs'.*kg m-2 s-1"
    ):
        open_inventory({"power": path})


@pytest.mark.parametrize(
    ("unit", "tonnes", "per_m2"),
    [
        ("kt CO2/cell/yr", 1e3, None),
        ("Mg", 1.0, None),
        ("Tonnes", 1.0, None),
        ("kg m-2 s-1", 1e-3 * 365 * 86400, 1.0),
        ("kg/m2/s", 1e-3 * 365 * 86400, 1.0),
        ("kg m**-2 s**-1", 1e-3 * 365 * 86400, 1.0),
        ("t km-2 yr-1", 1.0, 1e6),
        ("g m-2 yr-1", 1e-6, 1.0),
        ("Mg ha-1 yr-1", 1.0, 1e4),
    ],
)
def test_parse_units(unit, tonnes, per_m2):
    parsed = parse_unit(unit, source="f")
    assert parsed.tonnes == pytest.approx(tonnes) and parsed.per_m2 == per_m2


#: Every accepted mass with its exact factor to tonnes, written out independently.
MASSES = {
    "mg": 1e-9, "g": 1e-6, "kg": 1e-3, "t": 1.0, "tonne": 1.0, "tonnes": 1.0, "Tonne": 1.0,
    "Tonnes": 1.0, "Mg": 1.0, "kt": 1e3, "Gg": 1e3, "Mt": 1e6, "Tg": 1e6, "Gt": 1e9, "Pg": 1e9,
}  # fmt: skip


@pytest.mark.parametrize("mass", list(MASSES))
def test_every_accepted_mass_has_its_exact_factor(mass):
    assert tonnes_factor(f"{mass} CO2/cell/yr", source="f") == MASSES[mass]
    assert tonnes_factor(f"{mass}CO2", source="f") == MASSES[mass]
    flux = parse_unit(f"{mass} m-2 s-1", source="f")
    assert flux.tonnes == pytest.approx(MASSES[mass] * 365 * 86400, rel=1e-15)
    assert flux.per_m2 == 1.0


def test_the_unit_table_is_the_documented_one():
    from pipeline.grid.units import TONNES_PER_UNIT

    assert TONNES_PER_UNIT == MASSES


@pytest.mark.parametrize("unit", ["ton", "mt", "MT", "KG", "Kt", "t m-2 m-2", "", "kg s-1 yr-1"])
def test_ambiguous_or_malformed_units_are_refused(unit):
    with pytest.raises(GridError, match="unknown emission unit.*case-sensitive"):
        parse_unit(unit, source="f")


def test_tonnes_factor_rejects_fluxes():
    assert tonnes_factor("kt", source="f") == 1e3
    with pytest.raises(GridError, match="is a flux"):
        tonnes_factor("kg m-2 s-1", source="f")


def test_open_inventory_file_selects_and_renames(tmp_path):
    path = write_tif(tmp_path / "inv.tif", DATA, names=["power", "road"])
    em = open_inventory_file(path, sectors={"traffic": "road"})
    assert list(em["sector"].values) == ["traffic"]
    np.testing.assert_array_equal(em.values[0], DATA[1])


def test_corrupt_tile_is_an_input_error_naming_the_block(tmp_path):
    """Issue #11: the header opens, but one deflated tile is garbage."""
    path = tmp_path / "tiled.tif"
    data = np.arange(64 * 64, dtype="float64").reshape(64, 64)
    with rasterio.open(
        path, "w", driver="GTiff", width=64, height=64, count=1, dtype="float64", crs=ALBERS,
        transform=TRANSFORM, tiled=True, blockxsize=16, blockysize=16, compress="deflate",
    ) as dst:  # fmt: skip
        dst.write(data, 1)
        dst.units = ("t",)
    with rasterio.open(path) as src:
        offset = int(src.get_tag_item("BLOCK_OFFSET_1_2", "TIFF", bidx=1))
        size = int(src.get_tag_item("BLOCK_SIZE_1_2", "TIFF", bidx=1))
    with open(path, "r+b") as fh:
        fh.seek(offset)
        fh.write(b"\xff" * size)
    em = open_inventory({"power": path}, chunks=16)
    assert em.isel(y=slice(0, 16)).values.sum() == data[:16].sum()  # other blocks read
    with pytest.raises(InputFileError, match=r"tiled\.tif: cannot read the block at rows 32\.\.47"):
        em.compute()


@pytest.mark.parametrize("value", [np.inf, -np.inf])
def test_infinite_cells_are_errors_naming_row_and_column(tmp_path, value):
    data = np.ones((3, 4))
    data[2, 1] = value
    em = open_inventory({"power": write_tif(tmp_path / "a.tif", data)})
    with pytest.raises(GridError, match=r"a\.tif: 1 cells of sector 'power' .*row 2, column 1"):
        em.compute()


def test_overflow_after_unit_conversion_and_in_sums_is_an_error(tmp_path):
    big = write_tif(tmp_path / "big.tif", np.full((2, 2), 1e305), units="Mt")
    with pytest.raises(GridError, match=r"big\.tif: .*overflows float64.*'Mt'"):
        open_inventory({"power": big}).compute()
    huge = write_tif(tmp_path / "huge.tif", np.full((2, 2), 1.5e308))  # each cell finite
    with pytest.raises(GridError, match="overflows float64"):
        open_inventory({"power": huge}).compute()
    fine = write_tif(tmp_path / "fine.tif", np.full((2, 2), 1e30))
    assert np.isfinite(open_inventory({"power": fine}).values).all()


def test_inventory_path_problems_say_what_is_wrong(tmp_path):
    loop = tmp_path / "loop.tif"
    loop.symlink_to("loop.tif")
    with pytest.raises(InputFileError, match=r"loop\.tif: inventory file is a symbolic link loop"):
        open_inventory({"power": loop})
    (tmp_path / "dir.tif").mkdir()
    with pytest.raises(InputFileError, match=r"dir\.tif: inventory file is a directory"):
        open_inventory({"power": tmp_path / "dir.tif"})
