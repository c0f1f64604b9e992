"""Shared test helpers: input builders, oracles and process runners (not tests themselves).

``[tool.pytest.ini_options] pythonpath`` puts ``tests/`` on ``sys.path``, so a test
imports them as ``from helpers.study_tables import oracle_footprint``.
"""

from pathlib import Path

#: The repository root (README.md, pyproject.toml, data/).
REPO_ROOT = Path(__file__).resolve().parents[2]
