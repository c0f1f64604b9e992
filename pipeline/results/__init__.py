"""The results layer (see README.md, architecture)."""
