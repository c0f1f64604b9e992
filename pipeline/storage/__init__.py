"""The storage layer (see README.md, architecture)."""
