"""``popreg match SOURCE --against SNAPSHOT_DIR --out links.csv``: link an outside source.

Thin wrapper around :func:`popreg.linkage.sources.match_source`; see docs/linkage.md.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from popreg.linkage.engine import ENGINES
from popreg.linkage.management.commands.dedupe import check_output_path, write_csv_atomically
from popreg.linkage.model import ModelError
from popreg.linkage.prepare import LinkageInputError
from popreg.linkage.sources import KINDS, match_source


class Command(BaseCommand):
    help = (
        "把外部来源（出生、死亡、入户核对名单）与登记人口匹配 / Link an outside source "
        "(hospital births, death notices, a door-to-door list) to registry persons."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "source", help="CSV or Parquet file, or a snapshot table such as sources/death_notices"
        )
        parser.add_argument("--against", required=True, help="registry snapshot directory")
        parser.add_argument(
            "--out",
            required=True,
            help="links.csv: record_id, person_id, match_probability, status",
        )
        parser.add_argument("--kind", choices=KINDS, help="source kind (default: guessed)")
        parser.add_argument("--engine", choices=ENGINES, default="duckdb")
        parser.add_argument("--model", help="model JSON (default: the shipped model)")
        parser.add_argument("--threshold", type=float, help="match probability to accept")

    def handle(self, *args: Any, **options: Any) -> None:
        out = Path(options["out"])
        check_output_path(out, "--out")
        if not (Path(options["against"]) / "manifest.json").is_file():
            raise CommandError(
                f"{options['against']} 不是快照目录（缺少 manifest.json）。\n"
                f"{options['against']} is not a snapshot directory (no manifest.json)."
            )
        started = time.monotonic()
        try:
            links = match_source(
                options["source"],
                options["against"],
                kind=options["kind"],
                engine=options["engine"],
                model=options["model"],
                threshold=options["threshold"],
            )
        except (LinkageInputError, ModelError) as exc:
            raise CommandError(str(exc)) from exc
        write_csv_atomically(links, out)
        matched = int((links["status"] == "matched").sum())
        self.stdout.write(
            f"{len(links)} 条来源记录：匹配 {matched} 条，未匹配 {len(links) - matched} 条；"
            f"用时 {time.monotonic() - started:.1f} 秒\n"
            f"{len(links)} source records: {matched} matched, {len(links) - matched} unmatched"
        )
