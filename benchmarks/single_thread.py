"""Import first, before numpy: BLAS and OpenMP run on one thread, as in a Spark Python worker
(Spark sets ``OMP_NUM_THREADS`` to ``spark.task.cpus`` there), so a rate measured in this
process is one core's. Values already set in the environment are kept."""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
