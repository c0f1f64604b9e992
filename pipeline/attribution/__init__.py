"""The attribution layer (see README.md, architecture)."""
