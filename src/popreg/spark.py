"""The local Spark session shared by the Spark engines (linkage and indicators).

One configuration for both, so whichever engine starts Spark first, the other finds what
it needs in the same session: Splink's string-distance UDFs (``spark.jars``) and a
checkpoint directory.  Needs the ``spark`` extra (pyspark) and Java 17.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any


def local_session() -> Any:
    """Get or create the local ``SparkSession`` (raises ImportError without pyspark)."""
    from pyspark.sql import SparkSession
    from splink.backends.spark import similarity_jar_location

    spark = (
        SparkSession.builder.master("local[2]")
        .appName("popreg")
        .config("spark.jars", similarity_jar_location())  # Splink's string-distance UDFs
        .config("spark.sql.shuffle.partitions", "8")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.memory", "2g")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    spark.sparkContext.setCheckpointDir(str(Path(tempfile.gettempdir()) / "popreg-spark-checkpoints"))
    return spark
