"""Locations: paths and URLs with their connection options ([storage] over AWS_* variables)."""

from __future__ import annotations

import os

import pytest

from pipeline.errors import ConfigError
from pipeline.storage.locations import (
    DEFAULT_MAX_TRIES,
    Location,
    parse_location,
    storage_options,
)

SEAWEED = {"AWS_ENDPOINT_URL": "http://127.0.0.1:8333", "AWS_ALLOW_HTTP": "true"}


def test_plain_and_file_paths_are_absolute_local_locations(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    plain = parse_location("out/run1", env={})
    assert (plain.scheme, plain.bucket, plain.path) == ("file", "", str(tmp_path / "out/run1"))
    assert plain.is_local and plain.local_path == tmp_path / "out" / "run1"
    url = parse_location("file:///data/my%20out", env={})
    assert url.path == "/data/my out" and url.url == "/data/my out"
    assert parse_location("file://localhost/data/x", env={}).path == "/data/x"
    assert plain.child("footprint").path == str(tmp_path / "out/run1/footprint")


def test_s3_url_splits_bucket_and_prefix_and_takes_options_from_env():
    loc = parse_location(
        "s3://my-bucket/studies/china/", env={**SEAWEED, "AWS_REGION": "eu-west-1"}
    )
    assert (loc.scheme, loc.bucket, loc.path) == ("s3", "my-bucket", "studies/china")
    assert loc.url == "s3://my-bucket/studies/china" and not loc.is_local
    assert loc.child("footprint").url == "s3://my-bucket/studies/china/footprint"
    assert parse_location("s3://my-bucket", env={}).child("footprint").path == "footprint"
    opts = loc.options
    assert (opts.endpoint_url, opts.region, opts.allow_http, opts.anonymous) == (
        "http://127.0.0.1:8333",
        "eu-west-1",
        True,
        False,
    )
    assert opts.max_tries == DEFAULT_MAX_TRIES == 10
    with pytest.raises(ConfigError, match="no local path"):
        _ = loc.local_path


def test_storage_keys_win_over_the_environment():
    env = {**SEAWEED, "AWS_REGION": "eu-west-1", "AWS_ENDPOINT_URL_S3": "https://s3.example.org"}
    given = {"endpoint_url": "https://minio.lab:9000", "region": "us-east-2"}
    given.update(allow_http=False, anonymous=True, max_tries=3)
    loc = parse_location("s3://b-1/p", storage_options(given, env=env))
    assert loc.options.endpoint_url == "https://minio.lab:9000"
    assert (loc.options.region, loc.options.allow_http, loc.options.anonymous) == (
        "us-east-2",
        False,
        True,
    )
    assert loc.options.max_tries == 3
    # the service-specific variable wins over the general one, as in the AWS SDKs
    assert parse_location("s3://b-1/p", env=env).options.endpoint_url == "https://s3.example.org"
    assert parse_location("s3://b-1", env={"AWS_DEFAULT_REGION": "ap-south-1"}).options.region == (
        "ap-south-1"
    )


def test_s3_arguments_take_credentials_from_the_environment_only():
    loc = parse_location("s3://bkt/x", env=SEAWEED)
    env = {"AWS_ACCESS_KEY_ID": "AK", "AWS_SECRET_ACCESS_KEY": "SK", "AWS_SESSION_TOKEN": "T"}
    args = loc.s3_arguments(env)
    assert args == {
        "bucket": "bkt",
        "prefix": "x",
        "region": None,
        "endpoint_url": "http://127.0.0.1:8333",
        "allow_http": True,
        "force_path_style": True,
        "access_key_id": "AK",
        "secret_access_key": "SK",
        "session_token": "T",
    }
    chain = parse_location("s3://bkt/x", env={}).s3_arguments({})
    assert chain["from_env"] is True and chain["force_path_style"] is False
    assert "access_key_id" not in chain
    options = storage_options({"anonymous": True}, env={})
    anonymous = parse_location("s3://bkt/x", options).s3_arguments(env)
    assert anonymous["anonymous"] is True and "access_key_id" not in anonymous
    with pytest.raises(ConfigError, match="AWS_SECRET_ACCESS_KEY is not set but its partner"):
        loc.s3_arguments({"AWS_ACCESS_KEY_ID": "AK"})


@pytest.mark.parametrize(
    ("value", "env", "message"),
    [
        ("http://host/x", {}, "unknown scheme 'http'; use s3://"),
        ("s3://AK:hunter2@bucket/x", {}, r"s3://\*\*\*@bucket/x: credentials never go in a URL"),
        ("s3://Bad_Bucket/x", {}, "'Bad_Bucket' is not a valid s3 bucket name"),
        ("s3://ab/x", {}, "'ab' is not a valid s3 bucket name"),
        ("s3://bucket/a/../b", {}, r"has an empty, '\.' or '\.\.' part"),
        ("s3://bucket/x?versionId=1", {}, "no '\\?' or '#' part"),
        ("file://server/share/out", {}, "file:// URLs name a local path"),
        ("s3://bucket/x", {"AWS_ENDPOINT_URL": "http://h:1"}, "is plain http; set \\[storage\\]"),
        ("s3://bucket/x", {"AWS_ENDPOINT_URL": "h:9000", "AWS_ALLOW_HTTP": "1"}, "not an endpoint"),
        ("s3://bucket/x", {"AWS_ALLOW_HTTP": "maybe"}, "AWS_ALLOW_HTTP='maybe' is not a boolean"),
        ("s3://bucket/x", {"AWS_REGION": "US East"}, "AWS_REGION='US East' is not a region"),
    ],
)
def test_bad_locations_fail_with_one_line_naming_the_fix(value, env, message):
    with pytest.raises(ConfigError, match=message) as info:
        parse_location(value, env=env)
    assert "\n" not in str(info.value)
    assert "hunter2" not in str(info.value)


def test_icechunk_storage_of_a_local_path_writes_there(tmp_path):
    import icechunk

    loc = parse_location(tmp_path / "repo", env={})
    repo = icechunk.Repository.create(loc.icechunk_storage(), config=loc.repository_config())
    assert (tmp_path / "repo").is_dir() and any((tmp_path / "repo").iterdir())
    assert repo.config.storage.retries.max_tries == DEFAULT_MAX_TRIES


def test_azure_needs_an_account_from_the_environment(monkeypatch):
    monkeypatch.delenv("AZURE_STORAGE_ACCOUNT_NAME", raising=False)
    monkeypatch.delenv("AZURE_STORAGE_ACCOUNT", raising=False)
    loc = parse_location("az://container/p", env={})
    assert (loc.bucket, loc.path) == ("container", "p")
    with pytest.raises(ConfigError, match="set AZURE_STORAGE_ACCOUNT_NAME"):
        loc.icechunk_storage()
    assert os.environ.get("AZURE_STORAGE_ACCOUNT_NAME") is None


def test_a_location_is_plain_data():
    loc = Location("s3", "b-1", "p")
    assert loc.options.max_tries == DEFAULT_MAX_TRIES and str(loc) == "s3://b-1/p"
