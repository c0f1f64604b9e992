"""``--resume`` stage keys: what changes them and what does not."""

from __future__ import annotations

import tomllib

import pytest

from pipeline import __version__
from pipeline.storage.provenance import stage_key
from pipeline.workflow.config import SCHEMA, load_config
from pipeline.workflow.run import STAGE_KEYS, _Plan

STUDY = """
[study]
name = "keys"
country = "CHN"

[mrio]
global = "mrio/global"
subnational = "mrio/provincial"
total_rtol = 0.2

[inventory]
files = {power = "power.tif", cement = "cement.tif"}
units = "t"

[regions]
boundaries = "b.geojson"
outside = "error"

[concordance]
file = "c.csv"

[output]
hotspot_share = 0.8

[cluster]
n_workers = 3
"""
CHECKSUMS = {
    "mrio_global": "sha256:1",
    "inventory_power": "sha256:2",
    "boundaries": "sha256:3",
    "concordance": "sha256:4",
}


class _Layers:
    class emissions:  # noqa: N801 - stands in for the lazy inventory
        class data:  # noqa: N801
            chunksize = (2, 64, 64)


@pytest.fixture
def config(tmp_path):
    path = tmp_path / "study.toml"
    path.write_text(STUDY)
    return load_config(path)


def keys(config) -> dict[str, str]:
    plan = _Plan(config, None, CHECKSUMS, _Layers, resume=True, echo=print)
    return {stage: plan.key(stage) for stage in STAGE_KEYS}


def test_keys_equal_the_keys_of_the_config_as_string_keyed_sections(config):
    """Hashing the typed sections gives the keys the dict-based config gave (same stores)."""
    raw = tomllib.loads(STUDY)
    old = {
        name: {
            key: (
                float(raw[name][key])
                if key in raw.get(name, {}) and float in types and isinstance(raw[name][key], int)
                else raw.get(name, {}).get(key, default)
            )
            for key, (types, default) in SCHEMA[name].items()
            if (name, key) not in {("output", "maps"), ("study", "inputs")}
        }
        for name in SCHEMA
    }
    for stage, (inputs, sections) in STAGE_KEYS.items():
        picked = {k: v for k, v in CHECKSUMS.items() if k.startswith(inputs)}
        expected = stage_key(
            stage=stage,
            version=__version__,
            inputs=picked,
            config={name: old[name] for name in sections},
            chunks=(64, 64),
        )
        assert keys(config)[stage] == expected


@pytest.mark.parametrize(
    ("section", "key", "value", "changed"),
    [
        ("inventory", "units", "kt", {"ingest", "footprint"}),
        ("regions", "outside", "ROW", {"ingest", "footprint"}),
        ("mrio", "method", "lu", {"shares", "footprint"}),
        ("mrio", "total_rtol", 0.3, {"shares", "footprint"}),
        ("output", "dtype", "float32", {"footprint"}),
        ("output", "hotspot_share", 0.9, {"footprint"}),
        ("study", "name", "other", {"footprint"}),
        ("concordance", "file", "d.csv", {"footprint"}),
        ("output", "maps", False, set()),
        ("study", "inputs", "elsewhere", set()),
        ("cluster", "n_workers", 5, set()),
        ("cluster", "address", "tcp://127.0.0.1:8786", set()),
        ("cluster", "memory_limit", "1GiB", set()),
    ],
)
def test_a_setting_changes_the_keys_of_the_stages_it_feeds(config, section, key, value, changed):
    before = keys(config)
    after = keys(config.with_overrides(**{section: {key: value}}))
    assert {stage for stage in STAGE_KEYS if after[stage] != before[stage]} == changed


def test_checking_again_keeps_the_keys(config):
    """An override of nothing (the CLI always applies its flags) keys like the file."""
    assert keys(config.with_overrides()) == keys(config)
    assert keys(config.with_overrides(output={"maps": False})) == keys(config)
    unset = load_config(config.path).with_overrides(output={"chunk_memory_mb": None})
    assert keys(unset) == keys(config)


def test_keys_change_with_inputs_chunks_and_extras(config):
    plan = _Plan(config, None, CHECKSUMS, _Layers, resume=True, echo=print)
    other = _Plan(config, None, {**CHECKSUMS, "mrio_global": "sha256:9"}, _Layers, resume=True,
                  echo=print)  # fmt: skip
    assert other.key("shares") != plan.key("shares")
    assert other.key("ingest") == plan.key("ingest")  # the MRIO is no input of the ingest
    assert plan.key("shares", producers=["A"]) != plan.key("shares", producers=["B"])
    plan.chunks = (128, 128)
    assert plan.key("ingest") != other.key("ingest")
