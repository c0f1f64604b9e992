"""The workflow layer (see README.md, architecture)."""
