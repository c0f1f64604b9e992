"""Every command has a --help with an example; flags and failures end in one stderr line.

(Bad input files are in tests/integration/test_bad_inputs.py.)
"""

import errno
import os

import pytest
from distributed.comm.core import CommClosedError

from pipeline.cli.app import _run_handler, main
from pipeline.errors import ConfigError


@pytest.mark.parametrize("command", ["run", "demo", "query", "report"])
def test_help_has_an_example(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    assert "example" in text.lower() and f"footprint-map {command}" in text


@pytest.mark.parametrize(
    ("flags", "names"),
    [
        (["--workers", "0"], ["--workers", "0", ">= 1"]),
        (["--workers", "-2"], ["--workers", "-2", ">= 1"]),
        (["--threads", "0"], ["--threads", ">= 1"]),
        (["--memory-limit", "garbage"], ["--memory-limit", "garbage", "3GiB"]),
        (["--memory-limit", "0"], ["--memory-limit", "3GiB"]),
        (["--scheduler", "not-an-address"], ["not-an-address", "tcp://127.0.0.1:8786"]),
        (["--scheduler", "http://x:1"], ["http://x:1", "tcp://"]),
    ],
)
@pytest.mark.parametrize("command", ["run", "demo"])
def test_bad_cluster_flags_are_refused_before_anything_starts(
    command, flags, names, tmp_path, capsys
):
    args = [command, "missing.toml"] if command == "run" else [command]
    code = main([*args, "--out", str(tmp_path / "out"), *flags])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and err.startswith("error: "), err
    assert all(name in err for name in names), err
    assert not (tmp_path / "out").exists()  # refused before the demo inputs or a lock


class Args:
    def __init__(self, out):
        self.out = out


def raising(exc):
    def handler(_args):
        raise exc

    return handler


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (
            OSError(errno.ENOSPC, "No space left on device", "/d/out/x.zarr/c/0"),
            "/d/out/x.zarr/c/0: No space left on device (ENOSPC); free disk space",
        ),
        (
            PermissionError(errno.EACCES, "Permission denied", "/d/out"),
            "/d/out: Permission denied (EACCES); check the file's permissions",
        ),
        (OSError(errno.EIO, "Input/output error", "/d/in.tif"), "(EIO)"),
        (OSError(errno.ELOOP, "Too many levels of symbolic links", "/d/l"), "loop"),
        (CommClosedError("in <TCP (closed)>: Stream is closed"), "Stream is closed; check"),
        (TimeoutError("timed out after 20 s"), "timed out after 20 s; check that the Dask"),
        (ConfigError("a.toml: [x] y bad\nsecond line"), "a.toml: [x] y bad second line"),
    ],
)
def test_failures_are_one_error_line_with_status_2(exc, expected, tmp_path, capsys):
    assert _run_handler(raising(exc), Args(tmp_path)) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and expected in err, err


def test_internal_error_says_so_and_logs_the_traceback(tmp_path, capsys):
    assert _run_handler(raising(KeyError("oops")), Args(tmp_path)) == 1
    err = capsys.readouterr().err
    log = tmp_path / "footprint-map-error.log"
    assert (
        err == f"internal error: KeyError: 'oops'; this is a bug in footprint-map; "
        f"the traceback is in {log}\n"
    )
    assert "Traceback" in log.read_text() and "KeyError: 'oops'" in log.read_text()


def test_internal_error_log_goes_to_a_temp_dir_if_out_is_unusable(tmp_path, capsys):
    unusable = tmp_path / "file"
    unusable.write_text("")
    assert _run_handler(raising(RuntimeError("x")), Args(unusable / "out")) == 1
    log = capsys.readouterr().err.rsplit("the traceback is in ", 1)[1].strip()
    with open(log) as fh:
        assert "footprint-map-error-" in log and "RuntimeError: x" in fh.read()
    os.unlink(log)
