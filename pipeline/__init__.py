"""footprint-map: where on the ground consumers' final demand drives CO2 emissions."""

from pipeline.errors import FootprintError

__version__ = "0.1.0"

__all__ = ["FootprintError", "__version__", "open_results"]


def __getattr__(name: str):
    """Import :func:`pipeline.results.api.open_results` on first use (keeps imports light)."""
    if name == "open_results":
        from pipeline.results.api import open_results

        return open_results
    raise AttributeError(f"module 'pipeline' has no attribute {name!r}")
