"""Results API and ``query`` on a study whose boundary codes differ from the MRIO's.

Three provinces are renamed in the boundary file and mapped back by
``[regions] aliases``; a fourth (Tibet) is renamed without an alias, so
``default_region = "ROW"`` takes it. Every per-cell layer must add up to the
``attribution`` totals, which the run computed with the same mapping.
"""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from helpers.demo_inputs import build_coarse_demo, demo_config

from pipeline import open_results
from pipeline.cli.app import main
from pipeline.results.api import Results
from pipeline.results.summary import home_regions
from pipeline.workflow.run import run_study

RENAMED = {"CN-GD": "GUANGDONG", "CN-JS": "JIANGSU", "CN-SD": "SHANDONG"}
DEFAULTED = {"CN-XZ": "XIZANG"}
RTOL = 1e-9


@pytest.fixture(scope="module")
def out(tmp_path_factory):
    root = tmp_path_factory.mktemp("aliases")
    inputs = build_coarse_demo(root)
    path = inputs / "boundaries" / "china_provinces.geojson"
    collection = json.loads(path.read_text())
    for feature in collection["features"]:
        code = feature["properties"]["code"]
        feature["properties"]["code"] = {**RENAMED, **DEFAULTED}.get(code, code)
    path.write_text(json.dumps(collection))
    config = demo_config(
        inputs,
        output__maps=False,
        regions__aliases={new: old for old, new in RENAMED.items()},
        regions__default_region="ROW",
    )
    run_study(config, root / "out", echo=lambda *_: None)
    return root / "out"


@pytest.fixture(scope="module")
def res(out):
    return open_results(out)


@pytest.fixture(scope="module")
def attribution(out):
    return xr.open_zarr(out / "footprint.zarr")["attribution"].load()


def close(got: float, expected: float) -> None:
    assert abs(got - expected) <= RTOL * abs(expected), (got, expected)


def test_store_records_the_mapping(res):
    mapping = res.ds["region_index"].attrs["producer_of_code"]
    codes, producers = res.codes, res.producers
    for new in RENAMED.values():
        assert new in codes and new not in producers
    named = {c: producers[p] if p >= 0 else None for c, p in zip(codes, mapping, strict=True)}
    assert {new: named[new] for new in RENAMED.values()} == {v: k for k, v in RENAMED.items()}
    assert named["XIZANG"] == "ROW" and named["CN-BJ"] == "CN-BJ"


def test_every_layer_sums_to_the_attribution(res, attribution):
    a = attribution
    # foreign-driven layers cover the home regions (Xizang's cells went to ROW: abroad)
    foreign = a.isel(consumer=np.flatnonzero(res.foreign), region=home_regions(a))
    assert "ROW" in a["region"].values and "ROW" not in foreign["region"].values
    close(float(res.layer().sum()), float(foreign.sum()))
    for c in res.consumers:
        close(float(res.layer(consumer=c).sum()), float(a.sel(consumer=c).sum()))
    for s in res.sectors:
        close(float(res.layer(sector=s).sum()), float(foreign.sel(sector=s).sum()))
    for k in res.categories:
        close(float(res.layer(category=k).sum()), float(foreign.sel(category=k).sum()))
    for c in ("USA", "JPN", "CN-GD"):
        for k in res.categories:
            got = float(res.layer(consumer=c, category=k).sum())
            close(got, float(a.sel(consumer=c, category=k).sum()))
    for s in res.sectors:
        got = float(res.layer(consumer="USA", sector=s).sum())
        close(got, float(a.sel(consumer="USA", sector=s).sum()))


def test_land_and_drivers_use_the_mapping(res, attribution):
    emissions = np.asarray(res.ds["emissions"].values).sum(axis=0)
    # land is the study country's: the producer regions that are also domestic consumers
    domestic = attribution["consumer"].values[~attribution["foreign"].values]
    home = attribution.sel(region=[r for r in attribution["region"].values if r in domestic])
    assert home.sizes["region"] < attribution.sizes["region"]  # a region abroad is mapped
    close(float(emissions[res.land].sum()), float(home.sum()))
    x, y = res.grid.x, res.grid.y
    whole = res.drivers(bbox=(x.min(), y.min(), x.max(), y.max()), by="consumer")
    close(float(whole["t_co2"].sum()), float(attribution.sum()))
    usa = whole.set_index("consumer").loc["USA", "t_co2"]
    close(float(usa), float(attribution.sel(consumer="USA").sum()))


def test_name_matching_alone_would_lose_attribution(res, attribution):
    """Without the stored mapping the renamed provinces drop out (the bug this fixes)."""
    ds = res.ds.copy()
    ds["region_index"].attrs = {
        k: v for k, v in ds["region_index"].attrs.items() if k != "producer_of_code"
    }
    legacy = Results(ds, res.directory)
    expected = float(attribution.sel(consumer="USA", category="households").sum())
    lost = 1 - float(legacy.layer(consumer="USA", category="households").sum()) / expected
    assert lost > 0.2


def test_query_consumer_category_equals_attribution(capsys, out, attribution):
    argv = ["query", str(out), "--consumer", "USA", "--category", "households"]
    assert main([*argv, "--by", "province", "--top", "100", "--format", "csv"]) == 0
    frame = pd.read_csv(io.StringIO(capsys.readouterr().out))
    expected = float(attribution.sel(consumer="USA", category="households").sum())
    close(float(frame["t_co2"].sum()), expected)
    assert set(RENAMED.values()) <= set(frame.loc[frame["t_co2"] > 0, "province"])
    assert main(argv) == 0
    header = capsys.readouterr().out.splitlines()[0]
    on_land = float(header.split(": ")[1].split(" t on land")[0])
    assert on_land == pytest.approx(expected, rel=1e-3)  # printed to 4 significant digits
