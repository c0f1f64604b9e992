"""``footprint-map demo --foreign N`` and ``--resolution``: bad values end in one line, exit 2."""

import pytest

from pipeline.cli.app import _demo_config, main
from pipeline.resources import config_file
from pipeline.workflow.config import load_config


@pytest.mark.parametrize(
    ("flags", "names"),
    [
        (["--foreign", "11"], ["--foreign 11", "from 12 to 189"]),
        (["--foreign", "190"], ["--foreign 190", "from 12 to 189"]),
        (["--foreign", "many"], ["--foreign 'many'", "from 12 to 189"]),
        (["--resolution", "50m"], ["--resolution '50m'", "between 100 m and 100 km"]),
    ],
)
def test_bad_demo_flags_exit_2_with_one_line_before_anything_is_written(
    flags, names, tmp_path, capsys
):
    code = main(["demo", "--out", str(tmp_path / "out"), *flags])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and err.startswith("error: "), err
    assert all(name in err for name in names), err
    assert not (tmp_path / "out").exists()


def test_help_names_the_foreign_range_and_the_fine_resolutions(capsys):
    with pytest.raises(SystemExit):
        main(["demo", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--foreign N" in text and "12 (default: 11 named countries and ROW) to 189" in text
    assert "500m or 250m" in text and "--foreign 159" in text


def test_study_name_says_how_many_foreign_regions(tmp_path):
    config = load_config(config_file("demo.toml"), inputs=tmp_path)
    assert _demo_config(config, 12) is config
    assert "in a 12-region world" in config.study.name
    assert "in a 159-region world" in _demo_config(config, 159).study.name
