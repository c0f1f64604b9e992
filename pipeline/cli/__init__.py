"""The command line: ``footprint-map run|demo|query|report`` (entry point :func:`main`)."""

from pipeline.cli.app import main

__all__ = ["main"]
