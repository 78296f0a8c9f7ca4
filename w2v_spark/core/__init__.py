"""Pure NumPy core of w2v_spark: sampling, windows, the SGNS kernel and model merging.

Nothing in this package imports Spark, pandas or does I/O; randomness comes in as arguments.
"""
