"""The version of lwbench (one home; pyproject.toml says the same)."""

__version__ = "0.1.0"
