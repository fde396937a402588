"""The local Spark session shared by the Spark engines (linkage and indicators).

One configuration for both, so whichever engine starts Spark first, the other finds what
it needs in the same session: Splink's string-distance UDFs (``spark.jars``) and a
checkpoint directory.  Needs the ``spark`` extra (pyspark) and Java 17.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class SparkConfig:
    """Where Spark runs and with how much: from the ``POPREG_SPARK_*`` settings.

    ``master``: ``local[2]`` (the default: Spark inside this process, two cores) or a
    cluster's URL (``spark://host:7077``, ``yarn``, ``k8s://...``); ``driver_memory`` and
    ``executor_memory`` in Spark's notation (``2g``); ``shuffle_partitions``: partitions
    of a join or aggregation (a few per core of the cluster); ``checkpoint_dir``: where
    Splink's clustering writes checkpoints (a shared file system on a cluster).
    """

    master: str = "local[2]"
    driver_memory: str = "2g"
    executor_memory: str = "2g"
    shuffle_partitions: int = 8
    checkpoint_dir: str = str(Path(tempfile.gettempdir()) / "popreg-spark-checkpoints")

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> SparkConfig:
        env = os.environ if environ is None else environ
        default = cls()

        def text(name: str, fallback: str) -> str:
            return env.get(name, "").strip() or fallback

        partitions = text("POPREG_SPARK_SHUFFLE_PARTITIONS", str(default.shuffle_partitions))
        if not partitions.isdigit() or int(partitions) < 1:
            raise ValueError(
                f"POPREG_SPARK_SHUFFLE_PARTITIONS 必须是正整数，而不是 {partitions!r}。 / "
                f"POPREG_SPARK_SHUFFLE_PARTITIONS must be a positive integer, not {partitions!r}."
            )
        return cls(
            master=text("POPREG_SPARK_MASTER", default.master),
            driver_memory=text("POPREG_SPARK_DRIVER_MEMORY", default.driver_memory),
            executor_memory=text("POPREG_SPARK_EXECUTOR_MEMORY", default.executor_memory),
            shuffle_partitions=int(partitions),
            checkpoint_dir=text("POPREG_SPARK_CHECKPOINT_DIR", default.checkpoint_dir),
        )

    def options(self) -> dict[str, str]:
        """The Spark configuration this gives (besides Splink's jar and the UI switches)."""
        return {
            "spark.master": self.master,
            "spark.driver.memory": self.driver_memory,
            "spark.executor.memory": self.executor_memory,
            "spark.sql.shuffle.partitions": str(self.shuffle_partitions),
        }


def local_session(config: SparkConfig | None = None) -> Any:
    """Get or create the ``SparkSession`` (raises ImportError without pyspark).

    ``config``: default :meth:`SparkConfig.from_environ` (the ``POPREG_SPARK_*`` settings).
    A session that already exists in this process is returned as it is.
    """
    from pyspark.sql import SparkSession
    from splink.backends.spark import similarity_jar_location

    cfg = config or SparkConfig.from_environ()
    builder = SparkSession.builder.appName("popreg")
    for key, value in cfg.options().items():
        builder = builder.config(key, value)
    spark = (
        builder.config("spark.jars", similarity_jar_location())  # Splink's string-distance UDFs
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    spark.sparkContext.setCheckpointDir(cfg.checkpoint_dir)
    return spark
