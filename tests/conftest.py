"""Session fixtures shared by every folder, and the markers the folders decide.

``tests/unit/<layer>/`` mirrors ``pipeline/``'s subpackages (fast, no cluster);
every test under ``tests/integration/`` is marked ``integration`` and every test
under ``tests/cluster/`` is marked ``cluster``, so
``pytest -m "not integration and not cluster"`` is the fast path.
Shared helpers are in ``tests/helpers/`` (imported as ``helpers.<module>``).
"""

from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
#: First folder under tests/ -> the marker every test in it gets.
FOLDER_MARKERS = {"integration": "integration", "cluster": "cluster"}


@pytest.hookimpl(tryfirst=True)  # before -m deselects by marker
def pytest_collection_modifyitems(items):
    for item in items:
        try:
            folder = item.path.resolve().relative_to(TESTS).parts[0]
        except ValueError:  # a test file outside tests/
            continue
        if folder in FOLDER_MARKERS:
            item.add_marker(FOLDER_MARKERS[folder])


@pytest.fixture(scope="session")
def demo_tables():
    """The synthetic demo tables (built once: ~4 s)."""
    from pipeline.demo.mrio import make_demo_tables

    return make_demo_tables()


@pytest.fixture(scope="session")
def shared_results(tmp_path_factory):
    """One coarse demo run per test session, shared by the results/query/report tests."""
    import shutil

    from helpers.demo_inputs import build_coarse_demo, demo_config

    from pipeline.workflow.run import SYNTHETIC_NOTE, run_study

    root = tmp_path_factory.getbasetemp() / "shared-footprint-results"
    shutil.rmtree(root, ignore_errors=True)
    inputs = build_coarse_demo(root)
    config = demo_config(inputs, output__maps=False)
    run_study(config, root / "out", echo=lambda *_: None, note=SYNTHETIC_NOTE)
    return root / "out"


@pytest.fixture(scope="session")
def geographic_results(tmp_path_factory):
    """The Japan/Korea EPSG:4326 study (``helpers.geographic_study``), run once per session."""
    from helpers.geographic_study import build_study

    return build_study(tmp_path_factory.mktemp("geographic-session"))[0]
