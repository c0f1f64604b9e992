"""``footprint-map query``: every combination of options is planned or refused with a reason.

The table below is the rule table of :mod:`pipeline.cli.query_plan`; these checks
need no results directory (the end-to-end runs of each planned combination are in
``tests/integration/test_query_combinations.py``).
"""

from __future__ import annotations

import pytest

from pipeline.cli.app import build_parser, main
from pipeline.cli.query_plan import plan_query
from pipeline.errors import ConfigError

OUT = ["--output", "x"]  # no suffix: any format may write it

#: options -> (mode, by, top) of the plan
PLANNED = [
    ([], ("rank", "cell", 10)),
    (["--top", "3"], ("rank", "cell", 3)),
    (["--top", "all"], ("rank", "cell", None)),
    (["--top", "ALL", "--format", "csv"], ("rank", "cell", None)),
    (["--by", "province", "--format", "json"], ("rank", "province", 10)),
    (["--by", "city", "--radius-km", "60"], ("rank", "city", 10)),
    (["--share", "0.9"], ("rank", "cell", 10)),  # the table's concentration line
    (["--hotspots"], ("hotspots", "cell", 10)),
    (["--hotspots", "--top", "all", "--format", "csv"], ("hotspots", "cell", None)),
    (["--hotspots", "--by", "cell", "--share", "0.5"], ("hotspots", "cell", 10)),
    (["--hotspots", "--format", "png", *OUT], ("hotspots", "cell", 10)),
    (["--hotspots", "--format", "geotiff", *OUT], ("hotspots", "cell", 10)),
    (["--format", "png", *OUT], ("rank", "cell", 10)),
    (["--by", "province", "--format", "png", *OUT], ("rank", "province", 10)),
    (["--by", "city", "--format", "png", "--top", "25", *OUT], ("rank", "city", 25)),
    (["--consumer", "USA", "--format", "geotiff", *OUT], ("rank", "cell", 10)),
    (["--region", "CN-GD"], ("drivers", "cell", 10)),
    (["--region", "CN-GD", "--group", "consumer", "--top", "all"], ("drivers", "cell", None)),
    (["--city", "Shanghai", "--radius-km", "40", "--format", "csv"], ("drivers", "cell", 10)),
    (["--cell", "121.4,31.2", "--format", "json"], ("drivers", "cell", 10)),
    (["--region", "CN-GD", "--format", "png", *OUT], ("drivers", "cell", 10)),
    (["--city", "Shanghai", "--format", "geotiff", *OUT], ("drivers", "cell", 10)),
    (["--region", "CN-GD", "--format", "parquet", *OUT], ("drivers", "cell", 10)),
    (["--quantile", "0.95"], ("rank", "cell", 10)),
    (["--quantile", "0", "--consumer", "USA", "--hotspots"], ("hotspots", "cell", 10)),
    (["--quantile", "1", "--by", "cell", "--format", "csv"], ("rank", "cell", 10)),
    (["--quantile", "0.5", "--region", "CN-GD", "--format", "png", *OUT], ("drivers", "cell", 10)),
]

#: options -> words the one-line refusal must contain
REFUSED = [
    (["--format", "png", "--output", "map.txt"], ["'.txt'", "map.png"]),
    (["--format", "geotiff", "--output", "layer.png"], ["'.png'", "layer.tif"]),
    (["--format", "png"], ["--format png", "--output"]),
    (["--format", "parquet"], ["--output"]),
    (["--region", "CN-GD", "--by", "province"], ["--by", "--region", "drop"]),
    (["--city", "Shanghai", "--hotspots"], ["--hotspots", "--city"]),
    (["--cell", "1,2", "--share", "0.9"], ["--share", "--cell"]),
    (["--cell", "1,2", "--format", "png", *OUT], ["--cell", "one pixel"]),
    (["--cell", "1,2", "--format", "geotiff", *OUT], ["--cell", "one pixel"]),
    (["--region", "CN-GD", "--format", "png", "--top", "5", *OUT], ["--top", "drop --top"]),
    (["--region", "CN-GD", "--format", "geotiff", "--group", "consumer", *OUT], ["--group"]),
    (["--group", "consumer"], ["--group", "--region"]),
    (["--radius-km", "10"], ["--radius-km", "--by city"]),
    (["--region", "CN-GD", "--radius-km", "10"], ["--radius-km"]),
    (["--hotspots", "--by", "province"], ["--hotspots", "drop --by province"]),
    (["--hotspots", "--by", "city"], ["drop --by city"]),
    (["--hotspots", "--format", "png", "--top", "3", *OUT], ["--top", "every hotspot"]),
    (["--share", "0.9", "--format", "csv"], ["--share", "--hotspots"]),
    (["--by", "province", "--format", "geotiff", *OUT], ["no raster", "--format png"]),
    (["--by", "city", "--format", "geotiff", *OUT], ["no raster"]),
    (["--format", "png", "--top", "5", *OUT], ["--top", "drop --top"]),
    (["--by", "province", "--format", "png", "--top", "5", *OUT], ["every province"]),
    (["--format", "geotiff", "--top", "all", *OUT], ["--top"]),
    (["--delta"], ["--delta", "add --scenario NAME"]),
    (["--delta", "--by", "province", "--format", "png", *OUT], ["--delta", "--scenario"]),
    (["--scenario", "s", "--delta", "--hotspots"], ["--hotspots", "drop --hotspots"]),
    (["--scenario", "s", "--delta", "--share", "0.9"], ["--share", "--delta"]),
    (["--scenario", "s", "--delta", "--by", "city", "--format", "png", *OUT], ["--format csv"]),
    (["--quantile", "0.95", "--scenario", "s"], ["--quantile", "drop --scenario"]),
    (["--quantile", "0.95", "--sector", "power"], ["--quantile", "drop --sector"]),
    (["--quantile", "0.95", "--category", "households"], ["--quantile", "drop --category"]),
    (["--quantile", "0.95", "--by", "province"], ["--quantile", "not the province's quantile"]),
    (["--quantile", "0.95", "--by", "city", "--format", "png", *OUT], ["--quantile", "--by cell"]),
    (["--quantile", "0.95", "--region", "CN-GD"], ["--quantile", "deterministic"]),
    (["--quantile", "0.95", "--cell", "1,2", "--format", "csv"], ["--quantile", "--cell"]),
]

S = ["--scenario", "us_tariff_25"]
#: --scenario (with or without --delta) -> (mode, by, top, delta) of the plan
PLANNED_SCENARIO = [
    (S, ("rank", "cell", 10, False)),
    ([*S, "--hotspots", "--share", "0.9"], ("hotspots", "cell", 10, False)),
    ([*S, "--delta"], ("rank", "cell", 10, True)),
    ([*S, "--delta", "--by", "city", "--top", "all"], ("rank", "city", None, True)),
    ([*S, "--delta", "--by", "province", "--format", "png", *OUT], ("rank", "province", 10, True)),
    ([*S, "--delta", "--region", "CN-GD", "--group", "consumer"], ("drivers", "cell", 10, True)),
    ([*S, "--delta", "--city", "Shanghai", "--format", "png", *OUT], ("drivers", "cell", 10, True)),
    ([*S, "--delta", "--consumer", "BRI", "--format", "geotiff", *OUT], ("rank", "cell", 10, True)),
]


def plan(options):
    return plan_query(build_parser().parse_args(["query", "results", *options]))


@pytest.mark.parametrize(("options", "expected"), PLANNED, ids=lambda v: " ".join(map(str, v)))
def test_planned_combinations(options, expected):
    found = plan(options)
    assert (found.mode, found.by, found.top) == expected


@pytest.mark.parametrize(
    ("options", "expected"), PLANNED_SCENARIO, ids=lambda v: " ".join(map(str, v))
)
def test_planned_scenario_combinations(options, expected):
    found = plan(options)
    assert (found.mode, found.by, found.top, found.delta) == expected


def test_plan_carries_share_and_radius():
    found = plan(["--by", "city", "--radius-km", "60"])
    assert (found.share, found.radius_km, found.quantile) == (0.75, 60.0, None)
    assert plan(["--quantile", "0.05"]).quantile == 0.05
    assert plan(["--hotspots", "--share", "0.9"]).share == 0.9


@pytest.mark.parametrize(("options", "needles"), REFUSED, ids=lambda v: " ".join(map(str, v)))
def test_refused_combinations_say_why(options, needles, capsys, tmp_path):
    with pytest.raises(ConfigError) as info:
        plan(options)
    assert all(n in str(info.value) for n in needles), str(info.value)
    # end to end: refused before the results directory is opened, one line, status 2
    assert main(["query", str(tmp_path / "missing"), *options]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and needles[0] in err, err


@pytest.mark.parametrize(
    ("argv", "needles"),
    [
        (["--consumr", "USA"], ["unknown option --consumr", "did you mean --consumer?"]),
        (["--hotpsots"], ["did you mean --hotspots?"]),
        (["--by", "provence"], ["invalid choice: 'provence'", "did you mean province?"]),
        (["--format", "tiff"], ["did you mean"]),
        (["--top", "0"], ["--top", ">= 1", "'all'"]),
        (["--top", "-3"], ["--top", ">= 1"]),
        (["--top", "ten"], ["--top", "'all'"]),
        (["--share", "1.5"], ["--share", "(0, 1]"]),
        (["--quantile", "1.5"], ["--quantile", "[0, 1]"]),
        (["--quantile", "nan"], ["--quantile", "[0, 1]"]),
        (["--radius-km", "0"], ["--radius-km", "positive"]),
        (["--region", "CN-GD", "--city", "Shanghai"], ["not allowed with"]),
        (["stray"], ["unexpected argument", "'stray'"]),
    ],
)
def test_argparse_errors_are_one_line_with_a_suggestion(argv, needles, capsys):
    with pytest.raises(SystemExit) as info:
        main(["query", "results", *argv])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: "), err
    assert all(n in err for n in needles), err
    assert "footprint-map query --help" in err


def test_mistyped_command_and_demo_flag(capsys):
    with pytest.raises(SystemExit):
        main(["qurey", "results"])
    assert "did you mean query?" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["demo", "--resoluton", "1km"])
    assert "did you mean --resolution?" in capsys.readouterr().err
