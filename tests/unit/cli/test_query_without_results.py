"""``footprint-map query`` / ``report`` without a finished run: ``--help`` and a missing folder.

Moved from ``tests/integration/test_query_cli.py``, whose other tests query the
session's shared demo run.
"""

from __future__ import annotations

import pytest

from pipeline.cli.app import main


def run(capsys, *argv):
    code = main(["query", *map(str, argv)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_missing_results_dir(capsys, tmp_path):
    code, _, err = run(capsys, tmp_path / "nothing")
    assert code == 2 and "footprint-map run" in err


@pytest.mark.parametrize("command", ["query", "report"])
def test_help_has_example(capsys, command):
    with pytest.raises(SystemExit) as info:
        main([command, "--help"])
    assert info.value.code == 0
    assert "example" in capsys.readouterr().out
