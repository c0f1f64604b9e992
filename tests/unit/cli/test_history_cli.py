"""``history`` and object-storage ``--out``: bad locations end with one error line, exit 2."""

from __future__ import annotations

import pytest

from pipeline.cli.app import main
from pipeline.resources import config_file


def _one_error(capsys) -> str:
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


def test_history_of_a_directory_without_results_names_the_fix(tmp_path, capsys):
    assert main(["history", str(tmp_path)]) == 2
    assert "no result repository here; run `footprint-map run`" in _one_error(capsys)


@pytest.mark.parametrize(
    ("out", "env", "message"),
    [
        ("s3://Bad_Bucket/x", {}, "--out s3://Bad_Bucket/x: 'Bad_Bucket' is not a valid s3 bucket"),
        ("ftp://host/x", {}, "--out ftp://host/x: unknown scheme 'ftp'"),
        ("s3://key:pw@bucket/x", {}, "credentials never go in a URL"),
        ("s3://bucket/x", {"AWS_ENDPOINT_URL": "http://127.0.0.1:9"}, "is plain http; set"),
    ],
)
def test_run_with_a_bad_out_url_fails_before_anything_runs(
    tmp_path, capsys, monkeypatch, out, env, message
):
    monkeypatch.setenv("FOOTPRINT_MAP_WORK_DIR", str(tmp_path / "work"))
    monkeypatch.delenv("AWS_ALLOW_HTTP", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    args = ["run", str(config_file("demo.toml")), "--inputs", str(tmp_path), "--out", out]
    assert main(args) == 2
    line = _one_error(capsys)
    assert message in line and "pw" not in line
    assert not (tmp_path / "work").exists()


def test_a_bad_tag_is_refused_before_anything_runs(tmp_path, capsys):
    args = ["run", str(config_file("demo.toml")), "--inputs", str(tmp_path)]
    assert main([*args, "--out", str(tmp_path / "out"), "--tag", "no spaces"]) == 2
    assert "--tag 'no spaces': use 1-100 letters" in _one_error(capsys)
    assert not (tmp_path / "out" / "footprint").exists()
