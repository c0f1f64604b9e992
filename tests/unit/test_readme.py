"""README.md stays true: its config table lists exactly the keys the config accepts, and
its architecture picture names every package folder and module."""

import re

from helpers import REPO_ROOT

from pipeline.workflow import scenarios
from pipeline.workflow.config import SCHEMA

README = REPO_ROOT / "README.md"
#: A row of the configuration table: its section (``scenario.final_demand`` for an array
#: of tables) and its backquoted keys (``[groups]``'s free names are in italics, not keys).
ROW = re.compile(r"^\| ([\w.]+) \| ((?:`\w+`(?:, )?)+) \|", re.MULTILINE)


def documented_keys() -> set[tuple[str, str]]:
    """(section, key) pairs of the README's configuration table."""
    pairs = set()
    for section, keys in ROW.findall(README.read_text(encoding="utf-8")):
        pairs.update((section, key) for key in re.findall(r"`(\w+)`", keys))
    return pairs


def test_config_table_matches_schema():
    tables = {**SCHEMA, **scenarios.SCHEMA}
    accepted = {(section, key) for section, keys in tables.items() for key in keys}
    documented = documented_keys()
    assert len(documented) > 30
    assert accepted - documented == set(), "config keys missing from README's table"
    assert documented - accepted == set(), "README documents keys the config rejects"


def architecture_lines() -> dict[str, str]:
    """Folder name -> the text of its entry in the README's architecture picture."""
    text = README.read_text(encoding="utf-8")
    start = text.index("```text\npipeline/")
    block = text[start : text.index("```", start + 8)].splitlines()[1:]
    entries: dict[str, str] = {}
    current = None
    for line in block:
        found = re.match(r"^\s{0,2}(\w+)/\s", line)
        if found:
            current = found.group(1)
            entries[current] = line
        elif current:
            entries[current] += " " + line
    return entries


def test_architecture_picture_matches_the_folders():
    entries = architecture_lines()
    missing = []
    for folder in [*sorted((REPO_ROOT / "pipeline").iterdir()), REPO_ROOT / "cluster"]:
        if not (folder / "__init__.py").exists():
            continue
        text = entries.get(folder.name)
        if text is None:
            missing.append(f"{folder.name}/")
            continue
        for module in sorted(folder.glob("*.py")):
            if module.stem != "__init__" and not re.search(rf"\b{module.stem}\b", text):
                missing.append(f"{folder.name}/{module.name}")
    assert missing == [], f"README's architecture picture does not name {missing}"
