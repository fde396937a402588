from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from popreg.registry.backup import read_backup, restore_backup
from popreg.registry.errors import RegistryError


class Command(BaseCommand):
    help = "Restore a backup file into an empty database and verify every table (恢复登记库)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("file", help="backup file written by popreg backup")
        parser.add_argument("--check", action="store_true",
                            help="only read and verify the file; restore nothing")

    def handle(self, *args: Any, **opts: Any) -> None:
        key = getattr(settings, "POPREG_BACKUP_KEY", "") or None
        path = Path(opts["file"])
        start = time.perf_counter()
        try:
            if opts["check"]:
                manifest = read_backup(path, key)
                rows = sum(t["rows"] for t in manifest["tables"].values())
                self.stdout.write(
                    f"备份文件完好 / backup file intact: {manifest['vendor']}, made {manifest['created_at']}, "
                    f"{len(manifest['tables'])} tables, {rows:,} rows"
                )
                return
            report = restore_backup(path, key, progress=lambda m: self.stderr.write(m))
        except RegistryError as exc:
            raise CommandError(str(exc)) from exc
        took = time.perf_counter() - start
        width = max((len(t.table) for t in report.tables), default=10)
        for t in report.tables:
            mark = "ok" if t.ok else f"DIFFERS: expected {t.expected_rows:,} rows {t.expected_checksum[:12]}"
            self.stdout.write(f"{t.table:<{width}}  {t.found_rows:>10,}  {t.found_checksum[:12]}  {mark}")
        if not report.ok:
            bad = ", ".join(t.table for t in report.tables if not t.ok)
            raise CommandError(
                f"恢复后的数据与备份清单不符：{bad}；不要使用这个数据库，请换一份备份。 / "
                f"the restored data differ from the backup's manifest: {bad}; do not use this database, "
                "restore another backup"
            )
        if report.missing_migrations:
            self.stdout.write(
                f"备份之后本版本还有 {len(report.missing_migrations)} 个迁移：请运行 popreg migrate。 / "
                f"this version has {len(report.missing_migrations)} migrations newer than the backup: "
                "run popreg migrate"
            )
        rows = sum(t.found_rows for t in report.tables)
        self.stdout.write(
            f"恢复完成并已核对 / restored and verified in {took:.1f} s: "
            f"{len(report.tables)} tables, {rows:,} rows, counts and checksums identical"
        )
