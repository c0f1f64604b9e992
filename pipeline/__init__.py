"""footprint-map: where on the ground consumers' final demand drives CO2 emissions."""

from pipeline.errors import FootprintError

__version__ = "0.1.0"

__all__ = ["FootprintError", "__version__"]
