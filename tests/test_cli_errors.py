"""Bad input through the real CLI: exit 2, one clear line, no footprint.zarr."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from demo_inputs import build_coarse_demo, copy_inputs

from pipeline.cli import main
from pipeline.resources import config_file


@pytest.fixture(scope="module")
def pristine_inputs(tmp_path_factory):
    return build_coarse_demo(tmp_path_factory.mktemp("demo"))


def run_cli(inputs, out, capsys, *extra):
    code = main(
        [
            "run",
            str(config_file("demo.toml")),
            "--inputs",
            str(inputs),
            "--out",
            str(out),
            "--workers",
            "1",
            "--no-maps",
            *extra,
        ]
    )
    err = capsys.readouterr().err.strip().splitlines()
    return code, err


def assert_clean_failure(code, err, out, *needles):
    assert code == 2
    assert len(err) == 1 and err[0].startswith("error: ")
    for needle in needles:
        assert needle in err[0]
    assert not (out / "footprint.zarr").exists()


def test_missing_inventory_file(pristine_inputs, tmp_path, capsys):
    inputs = copy_inputs(pristine_inputs, tmp_path)
    (inputs / "inventory" / "cement.tif").unlink()
    code, err = run_cli(inputs, tmp_path / "out", capsys)
    assert_clean_failure(code, err, tmp_path / "out", "cement.tif", "not found")


def test_unbalanced_mrio_names_the_row(pristine_inputs, tmp_path, capsys):
    inputs = copy_inputs(pristine_inputs, tmp_path)
    path = inputs / "mrio" / "provincial" / "x.csv"
    x = pd.read_csv(path, index_col=[0, 1])
    x.loc[("CN-SD", "metal_smelting"), "x"] *= 1.5
    x.to_csv(path)
    code, err = run_cli(inputs, tmp_path / "out", capsys)
    assert_clean_failure(code, err, tmp_path / "out", "CN-SD", "metal_smelting")


def test_inventory_sector_missing_from_concordance(pristine_inputs, tmp_path, capsys):
    inputs = copy_inputs(pristine_inputs, tmp_path)
    path = inputs / "inventory_concordance.csv"
    table = pd.read_csv(path)
    table[table["inventory_sector"] != "transport"].to_csv(path, index=False)
    code, err = run_cli(inputs, tmp_path / "out", capsys)
    assert_clean_failure(code, err, tmp_path / "out", "inventory_concordance.csv", "'transport'")


def test_raster_region_without_mrio_rows(pristine_inputs, tmp_path, capsys):
    inputs = copy_inputs(pristine_inputs, tmp_path)
    path = inputs / "boundaries" / "china_provinces.geojson"
    doc = json.loads(path.read_text())
    for feature in doc["features"]:
        if feature["properties"]["code"] == "CN-SD":
            feature["properties"]["code"] = "CN-XX"
    path.write_text(json.dumps(doc))
    code, err = run_cli(inputs, tmp_path / "out", capsys)
    assert_clean_failure(code, err, tmp_path / "out", "CN-XX", "no rows", "aliases")


def test_config_typo_suggests_the_key(tmp_path, capsys):
    text = config_file("demo.toml").read_text().replace("hotspot_share", "hotspot_shares")
    (tmp_path / "typo.toml").write_text(text)
    code = main(["run", str(tmp_path / "typo.toml"), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip().splitlines()
    assert_clean_failure(
        code, err, tmp_path / "out", "hotspot_shares", "did you mean 'hotspot_share'"
    )


def test_help_has_examples(capsys):
    for command in ("run", "demo"):
        with pytest.raises(SystemExit) as exit_info:
            main([command, "--help"])
        assert exit_info.value.code == 0
        assert "example:" in capsys.readouterr().out
