"""``popreg sources import --kind KIND FILE``: hospital births, death notices or marriage
registrations into the running registry (docs/sources.md).

    popreg sources import --kind death_notices notices-2025-09.csv [--user NAME] [--errors REPORT.csv]

Reads and checks the file (CSV in UTF-8 or GBK, or .xlsx), prints every bad row with how to
fix it (``--errors`` writes the whole report) and imports nothing when a row is bad.
Otherwise links the records to registry persons, stores them and feeds the monthly
reconciliation and the campaign anomalies.  The same file again changes nothing.
Acts as ``--user`` (their role and jurisdiction) or, without it, as the county (system).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from popreg.registry.access import Actor, actor_for, system_actor
from popreg.registry.errors import RegistryError
from popreg.registry.importing import error_rows
from popreg.sources.jobs import import_file
from popreg.sources.reading import KINDS

SHOWN_ERRORS = 50


class Command(BaseCommand):
    help = "Import hospital births, death notices or marriage registrations into the registry."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="sub", required=True)
        p = sub.add_parser("import", help="read, check, link and import a source file")
        p.add_argument("file", help="CSV (UTF-8 or GBK) or .xlsx file")
        p.add_argument("--kind", required=True, choices=KINDS)
        p.add_argument("--user", default=None, help="act as this user (role and jurisdiction)")
        p.add_argument("--errors", default=None, help="write every row error to this CSV file")

    def handle(self, *args: Any, **opts: Any) -> None:
        actor = self._actor(opts["user"])
        path = Path(opts["file"])
        if not path.is_file():
            raise CommandError(f"找不到文件 {path} / file {path} not found")
        try:
            result = import_file(actor, path.read_bytes(), path.name, opts["kind"])
        except RegistryError as exc:
            raise CommandError(f"{exc.message_zh} / {exc.message_en}") from None
        if result.outcome == "errors":
            rows = error_rows(result.errors)
            if opts["errors"]:
                self._write_errors(Path(opts["errors"]), rows)
            for row, column, value, zh, en in rows[:SHOWN_ERRORS]:
                shown = f"“{value}”" if value else ""
                self.stderr.write(f"第 {row} 行 {column}{shown}：{zh} / row {row} {column}: {en}")
            if len(rows) > SHOWN_ERRORS:
                self.stderr.write(f"……共 {len(rows)} 处错误 / {len(rows)} errors in all")
            raise CommandError(
                f"文件有 {len(rows)} 处错误，未导入任何记录 / {len(rows)} errors: nothing was imported"
            )
        batch = result.batch
        assert batch is not None
        if result.outcome == "repeated":
            self.stdout.write(
                f"此文件已于 {batch.imported_at:%Y-%m-%d %H:%M} 导入（批次 {batch.pk}），未作任何更改 / "
                f"this file was imported before (batch {batch.pk}); nothing changed"
            )
        else:
            rec = batch.fed.get("reconciliation", {})
            self.stdout.write(
                f"已导入批次 {batch.pk}：{batch.new_records} 条新记录，{batch.known_records} 条已有；"
                f"关联 {json.dumps(batch.link_counts, ensure_ascii=False)}；"
                f"比对事项新增 {rec.get('created', 0)}，异常 {len(batch.fed.get('findings', []))} 条 / "
                f"imported batch {batch.pk}: {batch.new_records} new, {batch.known_records} known"
            )
        self.stdout.write(json.dumps({
            "outcome": result.outcome, "batch": batch.pk, "new_records": batch.new_records,
            "known_records": batch.known_records, "links": batch.link_counts,
            "reconciliation_items": batch.fed.get("reconciliation", {}),
            "findings": len(batch.fed.get("findings", [])),
        }, ensure_ascii=False))  # fmt: skip

    def _actor(self, username: str | None) -> Actor:
        if not username:
            return system_actor("sources")
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"用户 {username} 不存在 / no user {username}")
        return actor_for(user)

    def _write_errors(self, path: Path, rows: list[tuple[Any, ...]]) -> None:
        import csv

        with path.open("w", encoding="utf-8-sig", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["行号 Row", "列 Column", "内容 Value", "原因", "Reason"])
            for r in rows:
                w.writerow(["'" + str(v) if isinstance(v, str) and v[:1] in "=+-@" else v for v in r])
