"""MRIO tables: data model, loaders, subnational nesting and the attribution engine."""

from pipeline.mrio.engine import attribute, attribution_shares, solve_final_demand
from pipeline.mrio.formats import GLOBAL_FORMATS, load_global, read_netcdf, write_netcdf
from pipeline.mrio.model import MRIO, SubnationalTable
from pipeline.mrio.nesting import NestingReport, nest
from pipeline.mrio.plain import read_plain, read_subnational, write_plain, write_subnational
from pipeline.mrio.pymrio_adapter import from_pymrio

__all__ = [
    "GLOBAL_FORMATS",
    "MRIO",
    "NestingReport",
    "SubnationalTable",
    "attribute",
    "attribution_shares",
    "from_pymrio",
    "load_global",
    "nest",
    "read_netcdf",
    "read_plain",
    "read_subnational",
    "solve_final_demand",
    "write_netcdf",
    "write_plain",
    "write_subnational",
]
