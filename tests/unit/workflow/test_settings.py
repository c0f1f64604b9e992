"""Typed settings: one frozen dataclass per section, checked once, overridden into a new config."""

from __future__ import annotations

import dataclasses
import math

import pytest

from pipeline.errors import ConfigError, GridError
from pipeline.resources import config_file
from pipeline.workflow.config import (
    SCHEMA,
    SECTIONS,
    ClusterSettings,
    ConcordanceSettings,
    InventorySettings,
    MrioSettings,
    OutputSettings,
    RegionSettings,
    StorageSettings,
    StudyConfig,
    StudySettings,
    UncertaintySettings,
    load_config,
    toml_items,
)
from pipeline.workflow.keys import KEYS, naming_keys, with_keys

MINIMAL = """
[study]
country = "CHN"

[mrio]
global = "mrio/global"

[inventory]
files = {power = "power.tif"}

[regions]
boundaries = "b.geojson"

[concordance]
file = "c.csv"
"""


def write(tmp_path, text: str = MINIMAL, extra: str = ""):
    path = tmp_path / "study.toml"
    path.write_text(text + extra)
    return path


@pytest.fixture
def config(tmp_path) -> StudyConfig:
    return load_config(write(tmp_path))


def test_every_section_is_its_frozen_dataclass(config):
    classes = [StudySettings, MrioSettings, InventorySettings, RegionSettings]
    classes += [ConcordanceSettings, OutputSettings, ClusterSettings, UncertaintySettings]
    classes += [StorageSettings]
    assert list(SECTIONS.values()) == classes
    for name, cls in SECTIONS.items():
        section = getattr(config, name)
        assert type(section) is cls
        field = dataclasses.fields(section)[0].name
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(section, field, None)
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.output = config.output  # type: ignore[misc]


def test_defaults_fill_every_unset_key(config):
    assert (config.study.name, config.study.country, config.study.inputs) == ("study", "CHN", ".")
    assert config.study.domestic_regions is None
    mrio = config.mrio
    assert (mrio.global_, mrio.global_format, mrio.method, mrio.stressor) == (
        "mrio/global",
        "plain",
        "auto",
        "CO2",
    )
    assert (mrio.balance_rtol, mrio.total_rtol, mrio.layout) == (1e-6, 0.1, "plain")
    assert config.inventory.files == {"power": "power.tif"} and config.inventory.chunks is None
    regions = config.regions
    assert (regions.code_field, regions.outside, regions.raster_resampling) == (
        "code",
        "error",
        "nearest",
    )
    assert regions.aliases is None and regions.cities is None
    assert config.concordance.file == "c.csv"
    output = config.output
    assert (output.dtype, output.maps, output.hotspot_share, output.chunk_memory_mb) == (
        "float64",
        True,
        0.75,
        128,
    )
    cluster = config.cluster
    assert (cluster.kind, cluster.n_workers, cluster.threads_per_worker) == ("local", 2, 1)
    assert cluster.memory_limit == "3GiB" and cluster.address is None


def test_schema_lists_every_field_by_its_toml_key(config):
    assert SCHEMA["mrio"]["global"] == ((str,), ...)
    assert SCHEMA["output"]["chunk_memory_mb"] == ((int, float), 128)
    for name in SECTIONS:
        assert list(toml_items(getattr(config, name))) == list(SCHEMA[name])
    assert toml_items(config.mrio)["global"] == "mrio/global"


def test_the_demo_config_loads_typed():
    demo = load_config(config_file("demo.toml"))
    assert demo.mrio.layout == "nested" and demo.mrio.subnational == "mrio/provincial"
    assert demo.output.chunk_memory_mb == 128.0 and isinstance(demo.output.chunk_memory_mb, float)
    assert demo.cluster.memory_limit == "1.5GiB"
    assert demo.input_path("x.csv") == (demo.inputs / "x.csv").resolve()


def test_mrio_layout_follows_format_then_subnational(config):
    assert config.with_overrides(mrio={"subnational": "prov"}).mrio.layout == "nested"
    plain = config.with_overrides(mrio={"subnational": "prov", "format": "plain"})
    assert plain.mrio.layout == "plain"
    with pytest.raises(ConfigError, match=r"\[mrio\] format = 'nested' needs \[mrio\] subnational"):
        config.with_overrides(mrio={"format": "nested"})


def _bounded() -> list[tuple[str, str, tuple, tuple]]:
    cases = []
    for name, cls in SECTIONS.items():
        for f in dataclasses.fields(cls):
            if f.metadata["bounds"] is not None:
                cases.append((name, f.metadata["toml"] or f.name, f.metadata["bounds"], f))
    return cases


@pytest.mark.parametrize(("section", "key", "bounds", "field"), _bounded())
def test_every_range_is_checked_and_nan_never_passes(config, section, key, bounds, field):
    low, high, low_in, high_in = bounds
    integer = float not in field.metadata["types"]
    step = 1 if integer else 1e-9 * max(1.0, abs(high))
    inside = [low if low_in else low + step, high if high_in else high - step]
    outside = [low - step if low_in else low, high + step if high_in else high]
    if integer:
        inside, outside = [int(v) for v in inside], [int(v) for v in outside]
    for value in inside:
        assert toml_items(getattr(config.with_overrides(**{section: {key: value}}), section))[
            key
        ] == pytest.approx(value)
    bad = [*outside, *([] if integer else [math.nan])]
    for value in bad:
        with pytest.raises(ConfigError, match=rf"\[{section}\] {key} = .* is out of range"):
            config.with_overrides(**{section: {key: value}})


def test_nan_in_the_file_is_refused(tmp_path):
    path = write(tmp_path, extra="\n[output]\nhotspot_share = nan\n")
    with pytest.raises(ConfigError, match=r"study.toml: \[output\] hotspot_share = nan is out of"):
        load_config(path)


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        ({"mrio": {"method": "cg"}}, r"\[mrio\] method = 'cg'; choose one of"),
        ({"output": {"dtype": "float16"}}, r"\[output\] dtype = 'float16'; choose one of"),
        (
            {"output": {"hotspot_shares": 0.5}},
            "unknown key in \\[output\\] 'hotspot_shares'; did you mean 'hotspot_share'",
        ),  # fmt: skip
        ({"outputs": {"maps": False}}, "unknown section 'outputs'; did you mean 'output'"),
        ({"output": {"maps": "yes"}}, r"\[output\] maps = 'yes' should be of type bool"),
        ({"cluster": {"n_workers": True}}, r"\[cluster\] n_workers = True should be of type int"),
        ({"inventory": {"chunks": 64.0}}, r"\[inventory\] chunks = 64.0 should be of type int"),
        ({"regions": {"raster": "r.tif"}}, r"\[regions\] needs exactly one of boundaries"),
        (
            {"regions": {"boundaries": None, "raster": "r.tif"}},
            r"\[regions\] raster needs raster_codes",
        ),
        ({"cluster": {"kind": "address"}}, r"\[cluster\] kind = 'address' needs \[cluster\] addr"),
        ({"cluster": {"memory_limit": "lots"}}, "memory_limit = 'lots': not a memory size"),
        ({"cluster": {"address": "http://x:1"}}, "is not a Dask scheduler address"),
        ({"regions": {"cities": "nowhere.csv"}}, r"\[regions\] cities = 'nowhere.csv': no CSV"),
    ],
)
def test_overrides_are_checked_like_the_file(config, overrides, match):
    with pytest.raises(ConfigError, match=match):
        config.with_overrides(**overrides)


def test_overrides_return_a_new_config_and_leave_the_old_one(config):
    new = config.with_overrides(output={"maps": False}, inventory={"chunks": 64})
    assert new is not config and isinstance(new, StudyConfig)
    assert (new.output.maps, new.inventory.chunks) == (False, 64)
    assert (config.output.maps, config.inventory.chunks) == (True, None)
    assert new.mrio is config.mrio or new.mrio == config.mrio
    assert (new.path, new.inputs, new.raw_text) == (config.path, config.inputs, config.raw_text)
    assert new.with_overrides(inventory={"chunks": None}).inventory.chunks is None  # unset
    assert config.with_overrides() == config  # checking again changes nothing


def test_an_override_names_its_source(config):
    with pytest.raises(ConfigError, match=r"^command line: \[cluster\] n_workers = 0 is out of"):
        config.with_overrides(source="command line", cluster={"n_workers": 0})
    with pytest.raises(ConfigError, match=r"study.toml: \[output\] hotspot_share = 2"):
        config.with_overrides(output={"hotspot_share": 2})


def test_cluster_settings_are_checked_when_the_config_loads(tmp_path, config):
    attached = config.with_overrides(cluster={"address": "tcp://127.0.0.1:8786"})
    assert (attached.cluster.kind, attached.cluster.address) == ("address", "tcp://127.0.0.1:8786")
    with pytest.raises(ConfigError, match="memory_limit = 'many': not a memory size"):
        load_config(write(tmp_path, extra='\n[cluster]\nmemory_limit = "many"\n'))


def test_every_library_name_maps_to_a_schema_key():
    for name, key in KEYS.items():
        section, option = key[1:].split("] ")
        assert option in SCHEMA[section], (name, key)


def test_naming_keys_rewrites_library_arguments_as_keys():
    with pytest.raises(GridError, match=r"^f.tif: no CRS; set \[inventory\] crs$"):
        with naming_keys():
            raise GridError("f.tif: no CRS; set `crs`")
    original = GridError("no argument named here; run `footprint-map run`")
    with pytest.raises(GridError) as info:
        with naming_keys():
            raise original
    assert info.value is original
    assert with_keys("set `country` or list `domestic_regions`") == (
        "set [study] country or list [study] domestic_regions"
    )


# ------------------------------------------------------------------ [storage]
def _load_storage(tmp_path, storage: str):
    return load_config(write(tmp_path, extra="[storage]\n" + storage))


def test_storage_defaults_leave_everything_to_the_environment(tmp_path):
    config = _load_storage(tmp_path, "")
    s = config.storage
    assert (s.endpoint_url, s.region, s.anonymous, s.allow_http, s.max_tries) == (
        None,
        None,
        False,
        None,
        10,
    )
    env = {"AWS_ENDPOINT_URL": "http://127.0.0.1:9000", "AWS_ALLOW_HTTP": "true"}
    opts = config.storage_options({**env, "AWS_REGION": "eu-west-3"})
    assert (opts.endpoint_url, opts.allow_http, opts.region) == (
        "http://127.0.0.1:9000",
        True,
        "eu-west-3",
    )


def test_storage_keys_are_used_over_the_environment(tmp_path):
    config = _load_storage(
        tmp_path,
        'endpoint_url = "http://minio.lab:9000"\nregion = "us-west-2"\nallow_http = true\n'
        "anonymous = true\nmax_tries = 4\n",
    )
    opts = config.storage_options({"AWS_REGION": "eu-west-3", "AWS_ALLOW_HTTP": "false"})
    assert (opts.endpoint_url, opts.region, opts.allow_http, opts.anonymous, opts.max_tries) == (
        "http://minio.lab:9000",
        "us-west-2",
        True,
        True,
        4,
    )


@pytest.mark.parametrize(
    ("storage", "message"),
    [
        ('endpoint_url = "minio:9000"', r"\[storage\] endpoint_url = 'minio:9000' is not an end"),
        ('endpoint_url = "http://m:9000"\nallow_http = false', "is plain http; set"),
        ('region = "Europe West"', r"\[storage\] region = 'Europe West' is not a region name"),
        ("max_tries = 0", r"\[storage\] max_tries = 0 is out of range; use a value in \[1, 100\]"),
        ('anonymous = "yes"', r"\[storage\] anonymous = 'yes' should be of type bool"),
        ('access_key = "AK"', r"unknown key in \[storage\] 'access_key'"),
    ],
)
def test_bad_storage_keys_are_refused_naming_the_key(tmp_path, storage, message):
    with pytest.raises(ConfigError, match=message):
        _load_storage(tmp_path, storage + "\n")
