"""End-to-end study 2: a nested provincial table checked against the true full table.

Unlike the demo: a fictional country ``XLN`` of 5 provinces between three foreign
regions (:mod:`helpers.nesting_truth`), nested into a global table where it is not the
first region; provincial sector names that differ from the global ones (mapped by
a sector concordance); province-sectors at 3 %, 0.3 % and 0 % of the national
sector; negative inventory change; ``F_Y``; a custom LAEA grid (10 km) with
boundaries in lon/lat; fluxes in t km-2 yr-1; a residential layer mapped to
households.

The oracle is the *true* fully disaggregated table, which nesting reproduces
exactly under import proportionality: every cell's footprint by consumer must
match ``sum_s e[g,s] sum_i w[r,s,i] S_true[(r,i),(c,k)]``.
"""

from __future__ import annotations

import dataclasses
import io
import json

import numpy as np
import pandas as pd
import pytest
import rasterio
import shapely
from helpers.nesting_truth import CATS, NESTED_ORDER, PROV, build_truth
from helpers.stores import open_store
from helpers.study_tables import PlainTable, oracle_footprint
from pyproj import CRS, Transformer
from rasterio.transform import from_origin
from shapely.geometry import box, mapping

from pipeline import open_results
from pipeline.cli.app import main
from pipeline.mrio import write_plain, write_subnational

SMALL = {("XL-W", "steel"): 0.03, ("XL-C", "grid"): 0.003, ("XL-N", "ore"): 0.0}
RENAMED = {"crops": "Agriculture", "ore": "Mining", "steel": "Iron & steel", "grid": "Electricity"}
LAYERS = ["power", "industry", "agri", "homes"]
CONCORDANCE = """inventory_sector,mrio_sector
power,grid
industry,ore
industry,steel
agri,crops
homes,final_demand:households
"""
LAEA = "+proj=laea +lat_0=45 +lon_0=15 +datum=WGS84 +units=m +no_defs"
RES = 10_000.0
ORIGIN = (-420_000.0, 580_000.0)
SHAPE = (116, 84)
PROVINCES = {  # lon/lat boxes of a 10 x 10 degree country, with vertices every 0.05 degree
    code: shapely.segmentize(geom, 0.05)
    for code, geom in {
        "XL-C": box(13.5, 43.5, 16.5, 46.5),
        "XL-N": box(10, 46.5, 20, 50),
        "XL-S": box(10, 40, 20, 43.5),
        "XL-W": box(10, 43.5, 13.5, 46.5),
        "XL-E": box(16.5, 43.5, 20, 46.5),
    }.items()
}
#: Emitting cells: centres at least 0.1 degree inside the country's outer edge.
EMITTING = box(10.1, 40.1, 19.9, 49.9)
STUDY = f"""
[study]
name = "XLN provinces nested in a 4-region world (synthetic)"
country = "XLN"
[mrio]
global = "mrio/global"
subnational = "mrio/provincial"
sector_concordance = "mrio/sector_concordance.csv"
[inventory]
units = "t km-2 yr-1"
chunks = 32
[inventory.files]
{chr(10).join(f'{s} = "inventory/{s}.tif"' for s in LAYERS)}
[regions]
boundaries = "provinces.geojson"
code_field = "code"
[concordance]
file = "concordance.csv"
[output]
maps = false
"""


def write_inputs(root, truth) -> np.ndarray:
    """Tables, boundaries and inventory of the study; return the flux (t km-2 yr-1)."""
    write_plain(truth.global_mrio, root / "mrio" / "global")
    rows = truth.sub.rows
    renamed = pd.MultiIndex.from_arrays(
        [rows.get_level_values(0), [RENAMED[s] for s in rows.get_level_values(1)]],
        names=rows.names,
    )
    write_subnational(dataclasses.replace(truth.sub, rows=renamed), root / "mrio" / "provincial")
    pd.DataFrame(
        {"sub_sector": list(RENAMED.values()), "global_sector": list(RENAMED), "weight": 1.0}
    ).to_csv(root / "mrio" / "sector_concordance.csv", index=False)
    features = [
        {"type": "Feature", "properties": {"code": c}, "geometry": mapping(g)}
        for c, g in PROVINCES.items()
    ]
    (root / "provinces.geojson").write_text(
        json.dumps({"type": "FeatureCollection", "features": features})
    )
    (root / "concordance.csv").write_text(CONCORDANCE)
    (root / "study.toml").write_text(STUDY)
    inside = province_of_cell(EMITTING) >= 0
    flux = np.random.default_rng(9).gamma(0.6, 50.0, (len(LAYERS), *SHAPE)) * inside
    (root / "inventory").mkdir()
    for s, name in enumerate(LAYERS):
        with rasterio.open(
            root / "inventory" / f"{name}.tif", "w", driver="GTiff", width=SHAPE[1],
            height=SHAPE[0], count=1, dtype="float64", crs=CRS.from_proj4(LAEA),
            transform=from_origin(*ORIGIN, RES, RES),
        ) as dst:  # fmt: skip
            dst.write(flux[s][None])
    return flux


def province_of_cell(within: shapely.Geometry | None = None) -> np.ndarray:
    """Position in ``NESTED_ORDER`` of the province holding each cell centre, or -1."""
    x = ORIGIN[0] + (np.arange(SHAPE[1]) + 0.5) * RES
    y = ORIGIN[1] - (np.arange(SHAPE[0]) + 0.5) * RES
    xx, yy = np.meshgrid(x, y)
    lon, lat = Transformer.from_crs(LAEA, 4326, always_xy=True).transform(xx, yy)
    found = np.full(SHAPE, -1)
    for code, geom in PROVINCES.items():
        found[shapely.contains_xy(geom, lon, lat)] = NESTED_ORDER.index(code)
    if within is not None:
        found[~shapely.contains_xy(within, lon, lat)] = -1
    return found


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    root = tmp_path_factory.mktemp("nested")
    truth = build_truth(5, small=SMALL)
    flux = write_inputs(root, truth)
    assert main(["run", str(root / "study.toml"), "--out", str(root / "out")]) == 0
    tonnes = flux * RES**2 / 1e6
    return {"out": root / "out", "truth": truth, "tonnes": tonnes}


@pytest.fixture(scope="module")
def ds(study):
    return open_store(study["out"] / "footprint.zarr").load()


@pytest.fixture(scope="module")
def oracle(study):
    """Per cell and final-demand column, from the true table (no nesting involved)."""
    true = study["truth"].true
    table = PlainTable(
        Z=pd.DataFrame(true.Z, index=true.rows, columns=true.rows),
        Y=pd.DataFrame(true.Y, index=true.rows, columns=true.fd_columns),
        F=pd.DataFrame(true.F[None, :], index=["CO2"], columns=true.rows),
        F_Y=pd.DataFrame(true.F_Y[None, :], index=["CO2"], columns=true.fd_columns),
    )
    cell_region = province_of_cell()
    direct = {LAYERS.index("homes"): CATS.index("households")}
    values = oracle_footprint(table, CONCORDANCE, LAYERS, study["tonnes"], cell_region, direct)
    return values, cell_region


def test_raster_is_the_provinces(ds, oracle):
    _, cell_region = oracle
    codes = ds["region_index"].attrs["flag_meanings"].split()
    idx = ds["region_index"].values
    stored = np.where(idx >= 0, np.array([NESTED_ORDER.index(c) for c in codes])[idx], -1)
    assert (stored == cell_region).mean() > 0.99
    emitting = ds["emissions"].sum("sector").values > 0
    assert emitting.sum() > 5000
    np.testing.assert_array_equal(stored[emitting], cell_region[emitting])


def test_every_cell_matches_the_true_table(ds, oracle):
    values, _ = oracle
    stored = ds["footprint"].sel(consumer=list(NESTED_ORDER)).transpose("consumer", "y", "x")
    expected = values.sum(axis=1)
    np.testing.assert_allclose(stored.values, expected, rtol=1e-6, atol=1e-9 * expected.max())


def test_consumer_and_province_totals_match_the_truth(study, ds, oracle):
    values, cell_region = oracle
    a = ds["attribution"]
    for p in PROV:
        here = cell_region == NESTED_ORDER.index(p)
        for c, consumer in enumerate(NESTED_ORDER):
            expected = values[c][:, here].sum()
            got = float(a.sel(region=p, consumer=consumer).sum())
            assert got == pytest.approx(expected, rel=1e-6, abs=1e-9 * values.sum()), (p, consumer)


def test_zero_output_sector_takes_no_emissions(ds):
    """XL-N has no ore sector: its industry layer is all steel (F-weighted split)."""
    weights = ds["sector_weights"].sel(region="XL-N", sector="industry")
    assert float(weights.sel(mrio_sector="ore")) == 0.0
    assert float(weights.sel(mrio_sector="steel")) == pytest.approx(1.0)


def test_summary_conserves_every_row_and_foreign_total(study, oracle):
    values, cell_region = oracle
    summary = json.loads((study["out"] / "summary.json").read_text())
    foreign = [c for c, r in enumerate(NESTED_ORDER) if r not in PROV]
    land = cell_region >= 0
    expected = sum(values[c][:, land].sum() for c in foreign)
    assert summary["foreign_total_t"] == pytest.approx(expected, rel=1e-6)
    assert summary["mrio_conservation_max_rel_error"] < 1e-9
    assert summary["conservation_max_rel_error"] < 1e-9
    assert summary["abroad_total_t"] == 0.0


def test_query_drivers_geotiff_and_report(study, oracle, capsys, tmp_path):
    values, cell_region = oracle
    out = str(study["out"])
    assert main(["query", out, "--region", "XL-C", "--group", "consumer", "--format", "csv",
                 "--top", "20"]) == 0  # fmt: skip
    frame = pd.read_csv(io.StringIO(capsys.readouterr().out)).set_index("consumer")
    here = cell_region == NESTED_ORDER.index("XL-C")
    for c, consumer in enumerate(NESTED_ORDER):
        assert frame.loc[consumer, "t_co2"] == pytest.approx(values[c][:, here].sum(), rel=1e-6)
    target = tmp_path / "gam.tif"
    assert main(["query", out, "--consumer", "GAM", "--format", "geotiff",
                 "--output", str(target)]) == 0  # fmt: skip
    with rasterio.open(target) as src:
        assert CRS.from_user_input(src.crs) == CRS.from_proj4(LAEA)
        data = src.read(1)
    expected = values[NESTED_ORDER.index("GAM")].sum(axis=0)
    np.testing.assert_allclose(data, expected, rtol=1e-6, atol=1e-9 * expected.max())
    layer = open_results(study["out"]).layer(consumer="ALF", category="capital")
    expected = values[NESTED_ORDER.index("ALF"), CATS.index("capital")]
    np.testing.assert_allclose(layer.values, expected, rtol=1e-6, atol=1e-9 * expected.max())
    assert main(["report", out, "--output", str(tmp_path / "report")]) == 0
