import pytest


@pytest.fixture(scope="session")
def demo_tables():
    """The synthetic demo tables (built once: ~4 s)."""
    from pipeline.demo.mrio import make_demo_tables

    return make_demo_tables()
