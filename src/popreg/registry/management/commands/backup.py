from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from popreg.registry.backup import write_backup
from popreg.registry.errors import RegistryError


class Command(BaseCommand):
    help = "Back up the whole registry database into one file (备份登记库)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--out", required=True, help="backup file to write")

    def handle(self, *args: Any, **opts: Any) -> None:
        key = getattr(settings, "POPREG_BACKUP_KEY", "") or None
        out = Path(opts["out"])
        start = time.perf_counter()
        try:
            manifest = write_backup(out, key)
        except RegistryError as exc:
            raise CommandError(str(exc)) from exc
        took = time.perf_counter() - start
        tables = manifest["tables"]
        rows = sum(t["rows"] for t in tables.values())
        state = "已加密 / encrypted" if key else "未加密 / not encrypted"
        self.stdout.write(
            f"备份完成 / backup written to {out} in {took:.1f} s: {len(tables)} tables, {rows:,} rows, "
            f"{out.stat().st_size:,} bytes, {state}"
        )
