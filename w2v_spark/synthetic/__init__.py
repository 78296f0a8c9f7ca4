"""Generated corpora and item sequences with planted structure (demo and tests)."""
