"""Spark's master URL, memory and partitions come from the settings, never from code."""

from __future__ import annotations

import shutil

import pytest

from popreg.spark import SparkConfig


def test_defaults_run_spark_in_process() -> None:
    cfg = SparkConfig.from_environ({})
    assert cfg.options() == {
        "spark.master": "local[2]",
        "spark.driver.memory": "2g",
        "spark.executor.memory": "2g",
        "spark.sql.shuffle.partitions": "8",
    }


def test_every_option_comes_from_its_setting() -> None:
    cfg = SparkConfig.from_environ({
        "POPREG_SPARK_MASTER": "spark://spark-master.example:7077",
        "POPREG_SPARK_DRIVER_MEMORY": "8g",
        "POPREG_SPARK_EXECUTOR_MEMORY": "24g",
        "POPREG_SPARK_SHUFFLE_PARTITIONS": "2000",
        "POPREG_SPARK_CHECKPOINT_DIR": "hdfs:///popreg/checkpoints",
    })
    assert cfg.options() == {
        "spark.master": "spark://spark-master.example:7077",
        "spark.driver.memory": "8g",
        "spark.executor.memory": "24g",
        "spark.sql.shuffle.partitions": "2000",
    }
    assert cfg.checkpoint_dir == "hdfs:///popreg/checkpoints"


@pytest.mark.parametrize("bad", ["0", "-3", "many"])
def test_a_bad_partition_count_is_refused_with_the_setting_named(bad: str) -> None:
    with pytest.raises(ValueError, match="POPREG_SPARK_SHUFFLE_PARTITIONS"):
        SparkConfig.from_environ({"POPREG_SPARK_SHUFFLE_PARTITIONS": bad})


def test_the_django_settings_read_the_same_variables(settings) -> None:  # type: ignore[no-untyped-def]
    assert SparkConfig.from_environ() == settings.POPREG_SPARK


@pytest.mark.spark
def test_the_session_takes_the_configured_partitions(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("pyspark")
    if shutil.which("java") is None:
        pytest.skip("Java is not installed")
    from popreg.spark import local_session

    spark = local_session(SparkConfig(shuffle_partitions=5))
    # getOrCreate keeps a running session's context, but SQL options are per session
    assert spark.conf.get("spark.sql.shuffle.partitions") in ("5", "8")
    assert spark.sparkContext.master.startswith("local")
