"""``footprint-map zonal`` without a finished run: --help, options refused before reading.

The command on real results is in ``tests/integration/test_zonal.py``.
"""

from __future__ import annotations

import argparse

import pytest

from pipeline.cli.app import main
from pipeline.cli.zonal import selections
from pipeline.errors import ConfigError


def run(capsys, *argv):
    code = main(["zonal", *map(str, argv)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_help_has_examples(capsys):
    with pytest.raises(SystemExit) as info:
        main(["zonal", "--help"])
    text = capsys.readouterr().out
    assert info.value.code == 0
    assert "examples" in text and "footprint-map zonal demo-out --zones" in text
    assert "footprint-map zonal DIR --zones FILE" in text


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["{dir}"], "error: --zones FILE is required: a GeoJSON, Shapefile or GeoPackage"),
        (
            ["{dir}", "--zones", "z.gpkg", "--scenario", "high"],
            "error: {dir}: no scenario 'high'; found none (declare it in the study's "
            "[[scenario]] tables",
        ),
        (["{dir}", "--zones", "z.gpkg", "--format", "parquet"], "add --output PATH"),
        (["{dir}", "--zones", "z.gpkg"], "{dir}: no footprint.zarr found"),
    ],
)
def test_refused_with_one_line(capsys, tmp_path, argv, message):
    code, out, err = run(capsys, *[a.format(dir=tmp_path) for a in argv])
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and message.format(dir=tmp_path) in err


def test_code_lists_give_one_layer_per_combination():
    args = argparse.Namespace(consumer="USA, JPN", sector=None, category="households,government")
    assert selections(args) == [
        {"consumer": c, "sector": None, "category": k}
        for c in ("USA", "JPN")
        for k in ("households", "government")
    ]
    none = argparse.Namespace(consumer=None, sector=None, category=None)
    assert selections(none) == [{"consumer": None, "sector": None, "category": None}]
    empty = argparse.Namespace(consumer=" , ", sector=None, category=None)
    with pytest.raises(ConfigError, match="--consumer ' , ' names no code"):
        selections(empty)
