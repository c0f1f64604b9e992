"""Every command has a --help with an example (bad input is in test_bad_inputs.py)."""

import pytest

from pipeline.cli import main


@pytest.mark.parametrize("command", ["run", "demo", "query", "report"])
def test_help_has_an_example(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    assert "example" in text.lower() and f"footprint-map {command}" in text
