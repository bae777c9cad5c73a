"""PAII history: markdown files as the source of truth, hybrid (FTS5 + chromadb) search over them."""

__version__ = "0.1.0"
