"""The pipeline's stages, one module each: DataFrames in, DataFrames out."""
