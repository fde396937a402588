from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from popreg.migrants.importing import error_report_csv, import_in_migrants
from popreg.registry.access import actor_for, system_actor
from popreg.registry.errors import RegistryError

SHOWN_ERRORS = 200


class Command(BaseCommand):
    help = ("Register in-migrants from an .xlsx or CSV file (批量登记流入人口): every row is checked, "
            "every error is listed, and nothing is written unless every row passes.")

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("file", help=".xlsx workbook or CSV file (UTF-8 or GBK)")
        parser.add_argument("--user", help="username whose jurisdiction applies (default: the county, as the system)")
        parser.add_argument("--check", action="store_true", help="check only, write nothing")
        parser.add_argument("--errors", metavar="CSV", help="write the error report to this file")

    def handle(self, *args: Any, **opts: Any) -> None:
        path = Path(opts["file"])
        if not path.is_file():
            raise CommandError(f"文件不存在：{path} / no such file: {path}")
        if opts["user"]:
            User = get_user_model()
            user = User.objects.filter(username=opts["user"]).first()
            if user is None:
                raise CommandError(f"用户 {opts['user']} 不存在 / no user {opts['user']}")
            try:
                actor = actor_for(user)
            except RegistryError as exc:
                raise CommandError(str(exc)) from exc
        else:
            actor = system_actor("import_migrants")

        def progress(stage: str, done: int, total: int) -> None:
            shown = f"{done:,}/{total:,}" if total else f"{done:,}"
            print(f"\r{stage}: {shown}", end="", file=sys.stderr, flush=True)

        start = time.perf_counter()
        try:
            res = import_in_migrants(actor, path.read_bytes(), path.name, commit=not opts["check"],
                                     progress=progress)
        except RegistryError as exc:
            raise CommandError(str(exc)) from exc
        print(file=sys.stderr)
        bad_rows = len({e.row for e in res.errors})
        self.stdout.write(f"{path.name}: {res.total_rows:,} 行 rows, {res.total_rows - bad_rows:,} 行无误 "
                          f"without errors, {len(res.errors):,} 处错误 errors ({res.file_format})")
        if opts["errors"] and res.errors:
            Path(opts["errors"]).write_bytes(error_report_csv(actor, res))
            self.stdout.write(f"错误报告 / error report: {opts['errors']}")
        for e in res.errors[:SHOWN_ERRORS]:
            self.stdout.write(f"  第 {e.row} 行 [{e.column}] “{e.value}”：{e.message_zh} / "
                              f"row {e.row} [{e.column}] {e.value!r}: {e.message_en}")
        if len(res.errors) > SHOWN_ERRORS:
            more = len(res.errors) - SHOWN_ERRORS
            self.stdout.write(f"  … 另有 {more} 处 / and {more} more (see --errors)")
        if res.errors:
            raise CommandError("文件有错误，未登记任何人员 / the file has errors; nothing was written")
        if opts["check"]:
            self.stdout.write("检查通过；去掉 --check 执行登记 / check passed; run without --check to register")
            return
        took = time.perf_counter() - start
        self.stdout.write(f"登记完成 / registered {res.imported:,} in-migrants in {took:.1f} s")
