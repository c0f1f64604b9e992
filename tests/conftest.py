import pytest


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
