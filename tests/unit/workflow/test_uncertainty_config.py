"""``[uncertainty]``: defaults (a deterministic run), ranges, the per-sector table, the CLI."""

from __future__ import annotations

import pytest

from pipeline.cli.app import main
from pipeline.errors import ConfigError
from pipeline.workflow.config import DEFAULT_QUANTILES, load_config

from .test_settings import MINIMAL, write


def test_absent_section_is_a_deterministic_run(tmp_path):
    settings = load_config(write(tmp_path)).uncertainty
    assert not settings.enabled and settings.realizations == 0
    assert settings.levels == DEFAULT_QUANTILES == (0.05, 0.5, 0.95)
    assert (settings.seed, settings.mrio_cv, settings.inventory_cv) == (0, 0.0, 0.0)


def test_section_is_read_typed_with_a_sector_table(tmp_path):
    extra = """
[uncertainty]
realizations = 50
seed = 7
quantiles = [0.1, 0.9]
mrio_cv = 0.04
inventory_cv = { power = 0.05, cement = 0.2 }
"""
    settings = load_config(write(tmp_path, extra=extra)).uncertainty
    assert settings.enabled and settings.realizations == 50 and settings.seed == 7
    assert settings.levels == (0.1, 0.9) and settings.mrio_cv == 0.04
    assert settings.inventory_cv_of("cement") == 0.2 and settings.inventory_cv_of("x") == 0.0


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("realizations", -1, r"realizations = -1 is out of range; use a value in \[0, 100000\]"),
        ("realizations", 1.5, "realizations = 1.5 should be of type int"),
        ("seed", -3, r"seed = -3 is out of range"),
        ("mrio_cv", -0.1, r"mrio_cv = -0.1 is out of range; use a value in \[0, 10\]"),
        ("mrio_cv", float("nan"), "mrio_cv = nan is out of range"),
        ("mrio_cv", "4%", "mrio_cv = '4%' should be of type float or int"),
        ("inventory_cv", 11, r"inventory_cv = 11.0 is out of range"),
        ("inventory_cv", {"power": -1}, r"inventory_cv.power = -1 is out of range"),
        ("inventory_cv", {"power": "high"}, "inventory_cv.power = 'high' should be a number"),
        ("quantiles", [], "give a non-empty list of numbers in"),
        ("quantiles", [0.5, 1.2], "give a non-empty list of numbers in"),
        ("quantiles", [0.5, True], "give a non-empty list of numbers in"),
        ("quantiles", [0.9, 0.1], "must increase strictly"),
        ("quantiles", [0.5, 0.5], "must increase strictly"),
        ("realisations", 3, "did you mean 'realizations'"),
    ],
)
def test_bad_values_name_the_key_and_the_fix(tmp_path, key, value, message):
    config = load_config(write(tmp_path))
    with pytest.raises(ConfigError, match=message) as found:
        config.with_overrides(uncertainty={key: value})
    assert "[uncertainty]" in str(found.value)


def test_cli_bad_value_is_one_error_line_with_status_2(tmp_path, capsys):
    path = write(tmp_path, extra="\n[uncertainty]\nquantiles = [0.95, 0.05]\n")
    code = main(["run", str(path), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and err.startswith("error: "), err
    assert "[uncertainty] quantiles" in err


def test_cli_negative_realizations_is_refused(tmp_path, capsys):
    code = main(["run", str(write(tmp_path)), "--out", str(tmp_path / "o"), "--realizations", "-2"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1, err
    assert "command line: [uncertainty] realizations = -2 is out of range" in err


def test_realizations_override_keeps_the_other_keys(tmp_path):
    config = load_config(write(tmp_path, MINIMAL, "\n[uncertainty]\nmrio_cv = 0.1\n"))
    changed = config.with_overrides(uncertainty={"realizations": 20})
    assert changed.uncertainty.realizations == 20 and changed.uncertainty.mrio_cv == 0.1
