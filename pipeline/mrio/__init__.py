"""MRIO tables: data model, loaders, subnational nesting and the attribution engine."""

from pipeline.mrio.engine import attribute, attribution_shares, solve_final_demand
from pipeline.mrio.model import MRIO, SubnationalTable, from_pymrio
from pipeline.mrio.nesting import NestingReport, nest
from pipeline.mrio.plain import read_plain, read_subnational, write_plain, write_subnational

__all__ = [
    "MRIO",
    "NestingReport",
    "SubnationalTable",
    "attribute",
    "attribution_shares",
    "from_pymrio",
    "nest",
    "read_plain",
    "read_subnational",
    "solve_final_demand",
    "write_plain",
    "write_subnational",
]
