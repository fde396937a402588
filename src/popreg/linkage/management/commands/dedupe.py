"""``popreg dedupe INPUT.csv --out clusters.csv``: find duplicate persons (重口) in a CSV.

Thin wrapper around :func:`popreg.linkage.engine.dedupe`; see docs/linkage.md.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd
from django.core.management.base import BaseCommand, CommandError, CommandParser

from popreg.linkage.engine import ENGINES, dedupe
from popreg.linkage.model import ModelError
from popreg.linkage.prepare import LinkageInputError


def write_csv_atomically(df: pd.DataFrame, path: Path) -> None:
    """Write next to the target, then rename: a failed run leaves nothing half-written."""
    fd, tmp = tempfile.mkstemp(prefix=".popreg-", suffix=".csv", dir=path.parent)
    os.close(fd)
    try:
        df.to_csv(tmp, index=False, encoding="utf-8")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def check_output_path(path: Path, option: str) -> None:
    if not path.parent.is_dir():
        raise CommandError(
            f"{option} 的目录 {path.parent} 不存在：请先创建目录。\n"
            f"The directory {path.parent} of {option} does not exist: create it first."
        )


class Command(BaseCommand):
    help = (
        "查找重复人口记录（重口）并输出聚类 / Find duplicate person records and write clusters. "
        "INPUT needs columns record_id, name, sex, birth_date, id_number, village_code, "
        "household_no."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("input", help="input CSV (UTF-8, UTF-8 with BOM or GBK)")
        parser.add_argument("--out", required=True, help="clusters.csv: record_id, cluster_id")
        parser.add_argument("--pairs", help="also write the scored pairs here")
        parser.add_argument(
            "--review",
            help="also write the uncertain pairs here (below the threshold down to the review "
                 "floor, and pairs the clustering refused): for a reviewer, never merged",
        )
        parser.add_argument("--engine", choices=ENGINES, default="duckdb")
        parser.add_argument("--model", help="model JSON (default: the shipped model)")
        parser.add_argument(
            "--threshold", type=float, help="match probability to merge (default: the model's)"
        )
        parser.add_argument(
            "--train", action="store_true", help="re-estimate the model on this input first"
        )
        parser.add_argument(
            "--labels", help="review decisions CSV: record_id_l, record_id_r, is_match"
        )
        parser.add_argument("--save-model", help="write the model used (after training) here")
        parser.add_argument(
            "--compare-valid-ids", action="store_true",
            help="also score pairs of two different valid ID numbers (finds one person "
                 "registered under two numbers; slower on large files)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        out = Path(options["out"])
        pairs_path = Path(options["pairs"]) if options["pairs"] else None
        review_path = Path(options["review"]) if options["review"] else None
        save_model = Path(options["save_model"]) if options["save_model"] else None
        check_output_path(out, "--out")
        if pairs_path:
            check_output_path(pairs_path, "--pairs")
        if review_path:
            check_output_path(review_path, "--review")
        if save_model:
            check_output_path(save_model, "--save-model")
        threshold = options["threshold"]
        if threshold is not None and not 0 < threshold < 1:
            raise CommandError(
                f"--threshold 必须在 0 和 1 之间（当前 {threshold}）。\n"
                f"--threshold must be between 0 and 1 (got {threshold})."
            )
        started = time.monotonic()
        try:
            result = dedupe(
                options["input"],
                engine=options["engine"],
                model=options["model"],
                threshold=threshold,
                train=options["train"],
                labels=options["labels"],
                compare_valid_ids=options["compare_valid_ids"],
            )
        except (LinkageInputError, ModelError) as exc:
            raise CommandError(str(exc)) from exc
        write_csv_atomically(result.clusters, out)
        if pairs_path:
            write_csv_atomically(result.pairs, pairs_path)
        if review_path:
            write_csv_atomically(result.review, review_path)
        if save_model:
            result.model.save(save_model)
        n_records = len(result.clusters)
        n_clusters = result.clusters["cluster_id"].nunique()
        self.stdout.write(
            f"{n_records} 条记录 → {n_clusters} 人；{n_records - n_clusters} 条重复记录；"
            f"用时 {time.monotonic() - started:.1f} 秒\n"
            f"{n_records} records → {n_clusters} persons; {n_records - n_clusters} duplicate "
            f"records; {len(result.pairs)} scored pairs written"
        )
