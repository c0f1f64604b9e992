"""End-to-end study 3: boundary codes unlike the MRIO's, mapped by aliases.

Unlike the demo: Europe on the LAEA grid (EPSG:3035, 25 km), boundaries in a
GeoPackage whose ``NUTS_ID`` field holds two-letter codes (``DE``, ``PL``, ...),
mapped to the MRIO's three-letter regions by ``[regions] aliases``, with every
other country taken by ``default_region = "RoW"`` (EXIOBASE's spelling).
EXIOBASE-style long sector and category names, one multi-band GeoTIFF in kt per
cell with a nodata value, a concordance with fixed split weights, and Poland as
the study country of a plain (unnested) table.
"""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest
import rasterio
import shapely
from helpers.stores import open_store
from helpers.study_tables import oracle_footprint, random_plain_table
from pyogrio.raw import write as write_vector
from pyproj import CRS, Transformer
from rasterio.transform import from_origin
from shapely.geometry import shape

from pipeline import open_results
from pipeline.cli.app import main
from pipeline.resources import data_file

ISO2 = {"DEU": "DE", "FRA": "FR", "POL": "PL", "ESP": "ES", "ITA": "IT", "CZE": "CZ",
        "AUT": "AT", "CHE": "CH", "BEL": "BE", "NLD": "NL", "DNK": "DK", "SVK": "SK",
        "HUN": "HU", "PRT": "PT", "LUX": "LU"}  # fmt: skip
REGIONS = ["DEU", "FRA", "POL", "ESP", "ITA", "RoW"]
SECTORS = [
    "Production of electricity by coal",
    "Manufacture of basic iron and steel",
    "Transport via railways",
    "Other services",
]
CATEGORIES = [
    "Final consumption expenditure by households",
    "Final consumption expenditure by government",
    "Gross fixed capital formation",
]
BANDS = ["energy", "industry", "mobility"]
CONCORDANCE = f"""inventory_sector,mrio_sector,weight
energy,{SECTORS[0]},1.0
industry,{SECTORS[1]},0.6
industry,{SECTORS[3]},0.4
mobility,{SECTORS[2]},1.0
"""
ALIASES = {ISO2[r]: r for r in REGIONS if r in ISO2}
STUDY = f"""
[study]
name = "Europe LAEA, aliased NUTS codes (synthetic)"
country = "POL"
[mrio]
global = "exio"
stressor = "CO2"
[inventory]
files = "inventory.tif"
units = "kt CO2/cell/yr"
bands = {json.dumps(BANDS)}
chunks = 32
[regions]
boundaries = "nuts0.gpkg"
code_field = "NUTS_ID"
default_region = "RoW"
[regions.aliases]
{chr(10).join(f'{k} = "{v}"' for k, v in ALIASES.items())}
[concordance]
file = "concordance.csv"
[output]
maps = false
"""
RES = 25_000.0
ORIGIN = (2_500_000.0, 5_500_000.0)
SHAPE = (160, 150)
NODATA = -9999.0


def projected_countries() -> list[tuple[str, shapely.Geometry]]:
    """The ISO2 countries of the shipped world file, in EPSG:3035."""
    to_laea = Transformer.from_crs(4326, 3035, always_xy=True)
    features = json.loads(data_file("world_countries.geojson").read_text())["features"]
    out = []
    for feature in features:
        code = ISO2.get(feature["properties"]["iso3"])
        if code:
            lonlat = shape(feature["geometry"])
            geom = shapely.transform(lonlat, to_laea.transform, interleaved=False)
            out.append((code, shapely.make_valid(geom)))
    return out


def cell_centres() -> tuple[np.ndarray, np.ndarray]:
    x = ORIGIN[0] + (np.arange(SHAPE[1]) + 0.5) * RES
    y = ORIGIN[1] - (np.arange(SHAPE[0]) + 0.5) * RES
    return np.meshgrid(x, y)


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    root = tmp_path_factory.mktemp("europe")
    table = random_plain_table(REGIONS, SECTORS, CATEGORIES, seed=11)
    table.write(root / "exio")
    countries = projected_countries()
    write_vector(
        root / "nuts0.gpkg",
        geometry=shapely.to_wkb([g for _, g in countries]),
        field_data=[np.array([c for c, _ in countries], dtype=object)],
        fields=["NUTS_ID"],
        geometry_type="MultiPolygon",
        crs="EPSG:3035",
        driver="GPKG",
        promote_to_multi=True,
    )
    xx, yy = cell_centres()
    code_of_cell = np.full(SHAPE, "", dtype=object)
    for code, geom in countries:
        code_of_cell[shapely.contains_xy(geom, xx, yy)] = code
    rng = np.random.default_rng(5)
    kt = rng.gamma(0.5, 2.0, (len(BANDS), *SHAPE)) * (code_of_cell != "")
    stored = kt.astype(np.float32)
    stored[:, 0, :5] = NODATA  # declared nodata reads as 0
    with rasterio.open(
        root / "inventory.tif", "w", driver="GTiff", width=SHAPE[1], height=SHAPE[0],
        count=len(BANDS), dtype="float32", crs=CRS.from_epsg(3035),
        transform=from_origin(*ORIGIN, RES, RES), nodata=NODATA, tiled=True,
        blockxsize=64, blockysize=64, compress="deflate",
    ) as dst:  # fmt: skip
        dst.write(stored)
    (root / "concordance.csv").write_text(CONCORDANCE)
    (root / "study.toml").write_text(STUDY)
    code = main(["run", str(root / "study.toml"), "--out", str(root / "out")])
    assert code == 0
    tonnes = np.where(stored == NODATA, 0.0, stored.astype(np.float64)) * 1000.0
    return {"out": root / "out", "table": table, "tonnes": tonnes, "code_of_cell": code_of_cell}


@pytest.fixture(scope="module")
def ds(study):
    return open_store(study["out"] / "footprint.zarr").load()


@pytest.fixture(scope="module")
def oracle(study, ds):
    codes = ds["region_index"].attrs["flag_meanings"].split()
    mapped = np.array([REGIONS.index(ALIASES.get(c, "RoW")) for c in codes])
    idx = ds["region_index"].values
    cell_region = np.where(idx >= 0, mapped[np.clip(idx, 0, None)], -1)
    values = oracle_footprint(study["table"], CONCORDANCE, BANDS, study["tonnes"], cell_region)
    return values, cell_region


def test_raster_codes_are_the_boundary_codes(study, ds):
    codes = ds["region_index"].attrs["flag_meanings"].split()
    assert set(codes) == set(ISO2.values())
    idx = ds["region_index"].values
    stored = np.where(idx >= 0, np.array(codes, dtype=object)[np.clip(idx, 0, None)], "")
    emitting = study["tonnes"].sum(axis=0) > 0
    assert (stored[emitting] == study["code_of_cell"][emitting]).mean() > 0.995


def test_every_cell_matches_the_oracle(ds, oracle):
    values, _ = oracle
    stored = ds["footprint"].sel(consumer=REGIONS).transpose("consumer", "y", "x").values
    expected = values.sum(axis=1)
    np.testing.assert_allclose(stored, expected, rtol=1e-7, atol=1e-9 * expected.max())


def test_every_results_layer_sums_to_the_attribution(study, ds):
    """The Done-when of issue 10: every layer computed per cell, to 1e-9."""
    res = open_results(study["out"])
    a = ds["attribution"]
    home = a.sel(region="POL")  # foreign-driven layers: Poland's cells only (others abroad)
    foreign = [c for c in REGIONS if c != "POL"]
    cases = {("consumer", c): a.sel(consumer=c).sum() for c in REGIONS}
    for c in ("DEU", "RoW"):
        for k in CATEGORIES:
            cases[("consumer+category", c, k)] = a.sel(consumer=c, category=k).sum()
    for s in BANDS:
        cases[("sector", s)] = home.sel(sector=s, consumer=foreign).sum()
        cases[("sector+consumer", s, "ITA")] = a.sel(sector=s, consumer="ITA").sum()
    for k in CATEGORIES:
        cases[("category", k)] = home.sel(category=k, consumer=foreign).sum()
        cases[("sector+category", BANDS[0], k)] = home.sel(sector=BANDS[0], category=k,
                                                          consumer=foreign).sum()  # fmt: skip
    cases[("foreign",)] = home.sel(consumer=foreign).sum()
    for key, total in cases.items():
        kind, *args = key
        kwargs = dict(zip(kind.split("+"), args, strict=True)) if args else {}
        layer = float(res.layer(**kwargs).sum())
        assert layer == pytest.approx(float(total), rel=1e-9), key
    assert float(home.sel(consumer="POL").sum()) > 0


def test_province_ranking_and_drivers_use_the_aliases(study, ds, oracle, capsys):
    values, cell_region = oracle
    code = main(["query", str(study["out"]), "--consumer", "DEU", "--by", "province",
                 "--format", "csv", "--top", "20"])  # fmt: skip
    assert code == 0
    frame = pd.read_csv(io.StringIO(capsys.readouterr().out)).set_index("province")
    deu = values[REGIONS.index("DEU")].sum(axis=0)
    codes = ds["region_index"].attrs["flag_meanings"].split()
    idx = ds["region_index"].values
    for n, c in enumerate(codes):
        expected = deu[idx == n].sum()
        if expected > 0:
            assert frame.loc[c, "t_co2"] == pytest.approx(expected, rel=1e-9), c
    drivers = open_results(study["out"]).drivers(region="POL", by="consumer")
    total = drivers.set_index("consumer")["t_co2"]
    poland = cell_region == REGIONS.index("POL")
    for c, name in enumerate(REGIONS):
        assert total.get(name, 0.0) == pytest.approx(values[c][:, poland].sum(), rel=1e-9)


def test_summary_covers_poland_only(study, oracle):
    values, cell_region = oracle
    summary = json.loads((study["out"] / "summary.json").read_text())
    poland = cell_region == REGIONS.index("POL")
    home = REGIONS.index("POL")
    foreign = sum(values[c][:, poland].sum() for c in range(len(REGIONS)) if c != home)
    assert summary["foreign_total_t"] == pytest.approx(foreign, rel=1e-9)
    assert summary["land_cells"] == int(poland.sum())
    assert summary["conservation_max_rel_error"] < 1e-9


def test_geotiff_export_and_report(study, oracle, tmp_path):
    values, _ = oracle
    target = tmp_path / "ita_households.tif"
    code = main(["query", str(study["out"]), "--consumer", "ITA", "--category", CATEGORIES[0],
                 "--format", "geotiff", "--output", str(target)])  # fmt: skip
    assert code == 0
    with rasterio.open(target) as src:
        assert src.crs.to_epsg() == 3035
        assert (src.transform.c, src.transform.f, src.transform.a) == (*ORIGIN, RES)
        data = src.read(1)
    expected = values[REGIONS.index("ITA"), 0]
    np.testing.assert_allclose(data, expected, rtol=1e-6, atol=1e-9 * expected.max())
    assert main(["report", str(study["out"]), "--output", str(tmp_path / "report")]) == 0
    assert "POL" in (tmp_path / "report" / "index.html").read_text()
