"""Finished embeddings in memory: queries and evaluation."""
