"""spark-submit entry point: the same sub-commands and options as ``w2v-spark``.

    spark-submit --master spark://host:7077 --py-files dist/w2v_spark.zip \
        jobs/w2v_job.py run --input hdfs:///corpus --output hdfs:///w2v --config conf/cluster.toml

The master, executors and memory come from spark-submit; the job only parses its arguments
and calls the library.
"""

from __future__ import annotations

import sys

from w2v_spark.cli import main

if __name__ == "__main__":
    sys.exit(main())
