"""``popreg linkage_index [--rebuild]``: the index of blocking keys of the duplicate check at
data entry (docs/linkage.md, *Duplicate check at data entry*)."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from popreg.linkage import index


class Command(BaseCommand):
    help = (
        "录入查重索引：补齐或重建 / The duplicate-check index at data entry: bring it up to "
        "date, or rebuild it (--rebuild)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--rebuild", action="store_true",
                            help="drop the index and rebuild it from every registry person")

    def handle(self, *args: Any, **options: Any) -> None:
        started = time.perf_counter()
        if options["rebuild"]:
            def progress(done: int, total: int) -> None:
                if options["verbosity"] > 1:
                    self.stdout.write(f"{done}/{total}")

            result = index.rebuild(progress)
            self.stdout.write(
                f"已重建录入查重索引：{result['persons']} 人，{result['keys']} 个键，"
                f"用时 {time.perf_counter() - started:.1f} 秒 / rebuilt: {result['persons']} persons, "
                f"{result['keys']} keys in {time.perf_counter() - started:.1f} s"
            )
            return
        added = index.catch_up(limit=10**9)
        self.stdout.write(f"已补入 {added} 人 / indexed {added} persons not yet in the index")
