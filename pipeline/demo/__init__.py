"""Synthetic demonstration data (all numbers are made up)."""
