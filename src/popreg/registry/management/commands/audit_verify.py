from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from popreg.registry.audit_chain import verify_chain


class Command(BaseCommand):
    help = (
        "Walk the audit records in id order and recompute their hash chain (核对审计链); "
        "print OK with the number of records, or name the first broken record and exit non-zero."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--database", default="default")

    def handle(self, *args: Any, **opts: Any) -> None:
        result = verify_chain(using=opts["database"])
        if result.ok:
            self.stdout.write(
                f"OK：审计链完整，共 {result.checked:,} 条 / OK: {result.checked:,} audit records, "
                "chain intact"
            )
            return
        raise CommandError(
            f"审计记录 {result.broken_id} 被篡改或链断开 / audit record {result.broken_id} "
            f"breaks the chain (after {result.checked:,} intact records): {result.problem}"
        )
