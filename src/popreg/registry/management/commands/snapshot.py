from __future__ import annotations

from datetime import datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from popreg.registry.snapshot import write_registry_snapshot


class Command(BaseCommand):
    help = "Write the registry as a format-v1 snapshot directory (导出快照)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--out", required=True, help="output directory")
        parser.add_argument("--at", help="reference moment, e.g. 2025-11-01T00:00 (default: now)")

    def handle(self, *args: Any, **opts: Any) -> None:
        at = None
        if opts["at"]:
            try:
                at = datetime.fromisoformat(opts["at"])
            except ValueError:
                raise CommandError(
                    f"时点格式不正确：{opts['at']}，应为 2025-11-01T00:00 / bad moment, use ISO format"
                ) from None
        manifest = write_registry_snapshot(opts["out"], at)
        counts = ", ".join(f"{k} {v:,}" for k, v in manifest["row_counts"].items())
        self.stdout.write(f"快照已写入 / snapshot written to {opts['out']}: {counts}")
