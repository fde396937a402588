from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from popreg.registry.snapshot import write_registry_snapshot
from popreg.snapshot.format import SnapshotError, parse_moment


class Command(BaseCommand):
    help = "Write the registry as a format-v1 snapshot directory (导出快照)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--out", required=True, help="output directory")
        parser.add_argument("--at", help="reference moment, e.g. 2025-11-01T00:00 (default: now)")

    def handle(self, *args: Any, **opts: Any) -> None:
        try:
            at = parse_moment(opts["at"]) if opts["at"] else None
        except SnapshotError as exc:
            raise CommandError(str(exc)) from None
        manifest = write_registry_snapshot(opts["out"], at)
        counts = ", ".join(f"{k} {v:,}" for k, v in manifest["row_counts"].items())
        self.stdout.write(f"快照已写入 / snapshot written to {opts['out']}: {counts}")
