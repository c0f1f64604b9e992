"""Runs commit their results to DIR/footprint: history, tags, earlier snapshots, object storage."""

from __future__ import annotations

import numpy as np
import pytest
from helpers.demo_inputs import build_coarse_demo, demo_config

from pipeline import open_results
from pipeline.cli.app import main
from pipeline.errors import OutputError
from pipeline.storage import repository
from pipeline.storage.locations import parse_location
from pipeline.workflow.run import run_study

COMPARED = ("foreign_footprint", "attribution", "footprint_by_sector", "emissions")


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    return build_coarse_demo(tmp_path_factory.mktemp("repository-demo"))


def _assert_same(a, b, names=COMPARED):
    for name in names:
        np.testing.assert_array_equal(a.ds[name].values, b.ds[name].values, err_msg=name)


def test_two_runs_make_two_snapshots_and_the_first_stays_readable(inputs, tmp_path, capsys):
    out = tmp_path / "out"
    quiet = {"echo": lambda *_: None}
    first = run_study(demo_config(inputs, output__maps=False), out, tag="release-1", **quiet)
    first_checkout = open_results(out)
    first_values = {n: first_checkout.ds[n].values.copy() for n in COMPARED}
    second = run_study(
        demo_config(inputs, output__maps=False, output__dtype="float32"), out, **quiet
    )

    repo = repository.open_repository(parse_location(out / "footprint"))
    rows = repository.history(repo)
    assert len(rows) == 3 and rows[-1]["message"] == "Repository initialized"
    assert rows[1]["tags"] == ["release-1"] and rows[0]["tags"] == []
    assert rows[0]["message"].startswith("footprint-map result: config sha256:")
    assert "inventory_power=sha256:" in rows[0]["message"]
    assert set(rows[0]["metadata"]["input_checksums"]) == set(
        rows[1]["metadata"]["input_checksums"]
    )

    latest = open_results(out, snapshot=rows[0]["id"])
    _assert_same(latest, open_results(out))  # the checkout is the latest snapshot
    assert latest.ds["foreign_footprint"].dtype == np.float32
    assert latest.summary() == second and latest.summary()["foreign_total_t"] > 0

    earlier = open_results(out, snapshot=rows[1]["id"])
    assert earlier.ds["foreign_footprint"].dtype == np.float64
    for name, values in first_values.items():
        np.testing.assert_array_equal(earlier.ds[name].values, values, err_msg=name)
    assert earlier.summary() == first
    _assert_same(open_results(out, tag="release-1"), earlier)
    # the computed per-consumer cube reads from the snapshot too
    usa = earlier.layer(consumer="USA").values
    np.testing.assert_allclose(usa, first_checkout.layer(consumer="USA").values, rtol=1e-12)
    # scenarios were committed with their baseline
    tariff = open_results(out, scenario="us_tariff_25", snapshot=rows[1]["id"])
    assert tariff.scenario == "us_tariff_25"
    assert tariff.summary()["delta"]["foreign_total_t"]["change_t"] < 0

    assert main(["history", str(out)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3 and lines[2].split()[2] == "release-1"
    assert lines[1].split()[0] == rows[0]["id"]

    with pytest.raises(OutputError, match="already has this tag"):
        run_study(demo_config(inputs, output__maps=False), out, tag="release-1", **quiet)
    assert len(repository.history(repo)) == 3  # refused before anything ran
