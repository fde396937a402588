"""``popreg indicators SNAPSHOT_DIR --year YYYY --level LEVEL --out table.csv``.

Computes the indicator table (docs/indicators.md) of every unit of one level for the
periods of the given year(s) and writes it as CSV (UTF-8, header row, empty cell = no
value).  ``--pyramid-out`` also writes the population by sex and five-year age group at
the start and end of each period.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from popreg.stats.indicators import (
    ENGINES,
    LEVELS,
    PERIODS,
    POPULATIONS,
    IndicatorError,
    SnapshotIndicators,
)


def parse_years(text: str) -> list[int]:
    """``2024`` or ``2015-2024``."""
    m = re.fullmatch(r"\s*(\d{4})\s*(?:-\s*(\d{4})\s*)?", text)
    if not m:
        raise CommandError(
            f"年份格式不正确：{text!r}，应为 2024 或 2015-2024 / "
            f"--year must be a year such as 2024 or a range such as 2015-2024, got {text!r}"
        )
    lo = int(m.group(1))
    hi = int(m.group(2) or lo)
    if hi < lo:
        raise CommandError(
            f"年份范围颠倒：{text} / --year range is reversed: {text} (write the earlier year first)"
        )
    return list(range(lo, hi + 1))


class Command(BaseCommand):
    help = (
        "人口统计指标表 / indicator table per unit and period from a snapshot "
        "(population, births, deaths, migration, CBR, CDR, RNI, SRB with interval, TFR, ...)"
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("snapshot_dir", help="snapshot directory (popreg synth / snapshot)")
        parser.add_argument("--year", required=True, help="year, e.g. 2024, or range 2015-2024")
        parser.add_argument("--level", required=True, choices=LEVELS, help="unit level")
        parser.add_argument("--out", required=True, help="output CSV file")
        parser.add_argument("--period", default="year", choices=PERIODS, help="default: year")
        parser.add_argument(
            "--population",
            default="registered",
            choices=POPULATIONS,
            help="registered (户籍人口, default) or resident (常住人口)",
        )
        parser.add_argument(
            "--engine",
            default="duckdb",
            choices=ENGINES,
            help="duckdb (default) or spark (needs pyspark and Java 17; same SQL)",
        )
        parser.add_argument("--pyramid-out", help="also write population by sex and age (CSV)")

    def handle(self, *args: Any, **opts: Any) -> None:
        years = parse_years(opts["year"])
        started = time.perf_counter()
        try:
            engine = SnapshotIndicators(
                opts["snapshot_dir"], opts["population"], engine=opts["engine"]
            )
            table, pyramid = engine.compute(years, opts["level"], opts["period"])
        except IndicatorError as exc:
            raise CommandError(str(exc)) from None
        out = Path(opts["out"])
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            table.to_csv(out, index=False, encoding="utf-8")
            if opts["pyramid_out"]:
                Path(opts["pyramid_out"]).parent.mkdir(parents=True, exist_ok=True)
                pyramid.to_csv(opts["pyramid_out"], index=False, encoding="utf-8")
        except OSError as exc:
            raise CommandError(
                f"无法写入输出文件：{exc} / cannot write the output file: {exc}"
            ) from None
        self.stdout.write(
            f"指标表已写入 / indicator table written: {out} "
            f"({len(table)} rows, {opts['level']} × {opts['period']}, "
            f"{time.perf_counter() - started:.2f} s)"
        )
