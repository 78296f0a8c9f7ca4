"""Helpers for tests that need real Spark infrastructure (e.g. a standalone cluster)."""
