from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from popreg.registry.access import actor_for
from popreg.registry.bulk import ImportRefused, do_import_persons
from popreg.registry.errors import RegistryError
from popreg.registry.importing import error_report_csv, validate_file

SHOWN_ERRORS = 50


class Command(BaseCommand):
    help = (
        "Check (and with --commit import) persons and households from an .xlsx or CSV file "
        "as USER, through the same checks and action as the web import (批量导入人员)."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("file", help=".xlsx workbook or CSV file (UTF-8 or GBK)")
        parser.add_argument("--user", required=True, help="username whose jurisdiction applies")
        parser.add_argument("--commit", action="store_true",
                            help="write the rows when the file has no errors (default: check only)")
        parser.add_argument("--errors", metavar="CSV", help="write the error report to this file")

    def handle(self, *args: Any, **opts: Any) -> None:
        path = Path(opts["file"])
        if not path.is_file():
            raise CommandError(f"文件不存在：{path} / no such file: {path}")
        User = get_user_model()
        try:
            user = User.objects.get(username=opts["user"])
        except User.DoesNotExist:
            raise CommandError(f"用户 {opts['user']} 不存在 / no user {opts['user']}") from None
        try:
            actor = actor_for(user)
        except RegistryError as exc:
            raise CommandError(str(exc)) from exc

        def progress(stage: str, done: int, total: int) -> None:
            shown = f"{done:,}/{total:,}" if total else f"{done:,}"
            print(f"\r{stage}: {shown}", end="", file=sys.stderr, flush=True)

        start = time.perf_counter()
        try:
            result = validate_file(actor, path.read_bytes(), path.name, progress)
        except RegistryError as exc:
            raise CommandError(str(exc)) from exc
        print(file=sys.stderr)
        valid = result.total_rows - len({e.row for e in result.errors})
        self.stdout.write(
            f"{path.name}: {result.total_rows:,} 行 rows, {valid:,} 行无误 without errors, "
            f"{len(result.errors):,} 处错误 errors ({result.file_format}, sha256 {result.sha256[:12]}…)"
        )
        if result.ignored_headers:
            self.stdout.write("忽略的列 / ignored columns: " + ", ".join(result.ignored_headers))
        if opts["errors"] and result.errors:
            Path(opts["errors"]).write_bytes(error_report_csv(actor, result.errors))
            self.stdout.write(f"错误报告 / error report: {opts['errors']}")
        for e in result.errors[:SHOWN_ERRORS]:
            self.stdout.write(f"  第 {e.row} 行 row {e.row} [{e.column}] {e.value!r}: {e.message}")
        if len(result.errors) > SHOWN_ERRORS:
            self.stdout.write(f"  … 另有 {len(result.errors) - SHOWN_ERRORS} 处 / and "
                              f"{len(result.errors) - SHOWN_ERRORS} more")
        if result.errors:
            raise CommandError("文件有错误，未导入 / the file has errors; nothing was imported")
        if not opts["commit"]:
            self.stdout.write("检查通过；加 --commit 执行导入 / check passed; add --commit to import")
            return
        try:
            summary = do_import_persons(actor, result.rows, path.name, result.sha256,
                                        progress=progress, labels=result.headers)
        except ImportRefused as exc:
            print(file=sys.stderr)
            for e in exc.errors[:SHOWN_ERRORS]:
                self.stdout.write(f"  第 {e.row} 行 row {e.row} [{e.column}]: {e.message}")
            raise CommandError(str(exc)) from exc
        print(file=sys.stderr)
        took = time.perf_counter() - start
        self.stdout.write(
            f"导入完成 / imported in {took:.1f} s: {summary.persons:,} 人 persons, "
            f"{summary.households_created:,} 新户 new households, {summary.households_joined:,} "
            f"已有户 existing households joined (audit {summary.audit_id})"
        )
