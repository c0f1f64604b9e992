"""README.md stays true: its config table lists exactly the keys the config accepts."""

import re

from helpers import REPO_ROOT

from pipeline.workflow.config import SCHEMA

README = REPO_ROOT / "README.md"
ROW = re.compile(r"^\| (\w+) \| ((?:`\w+`(?:, )?)+) \|", re.MULTILINE)


def documented_keys() -> set[tuple[str, str]]:
    """(section, key) pairs of the README's configuration table."""
    pairs = set()
    for section, keys in ROW.findall(README.read_text(encoding="utf-8")):
        pairs.update((section, key) for key in re.findall(r"`(\w+)`", keys))
    return pairs


def test_config_table_matches_schema():
    accepted = {(section, key) for section, keys in SCHEMA.items() for key in keys}
    documented = documented_keys()
    assert len(documented) > 30
    assert accepted - documented == set(), "config keys missing from README's table"
    assert documented - accepted == set(), "README documents keys the config rejects"
