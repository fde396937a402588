"""``popreg prune [--keep-snapshots N] [--keep-days D] [--dry-run]``: retention.

Deletes statistics snapshots past the newest ``POPREG_KEEP_SNAPSHOTS`` (never one an
unfinished job or a published result names; :mod:`popreg.stats.retention`) and the import
uploads and job result files under ``POPREG_HOME`` older than ``POPREG_KEEP_UPLOAD_DAYS``
days (never one an unfinished job names; :mod:`popreg.web.retention`).  Run it daily
(cron or a systemd timer); ``--dry-run`` lists what would go.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from popreg.stats.retention import prune_snapshots
from popreg.web.retention import prune_uploads


class Command(BaseCommand):
    help = (
        "删除过期的统计快照、导入上传文件和任务结果文件 / delete old statistics snapshots, "
        "import uploads and job result files"
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--keep-snapshots", type=int, default=None,
                            help="snapshots to keep (default POPREG_KEEP_SNAPSHOTS; 0 = all)")
        parser.add_argument("--keep-days", type=int, default=None,
                            help="days to keep uploads and job files (default POPREG_KEEP_UPLOAD_DAYS; 0 = all)")
        parser.add_argument("--dry-run", action="store_true", help="list what would be deleted, delete nothing")

    def handle(self, *args: Any, **opts: Any) -> None:
        for name in ("keep_snapshots", "keep_days"):
            if opts[name] is not None and opts[name] < 0:
                flag = "--" + name.replace("_", "-")
                raise CommandError(f"{flag} 不能为负数 / {flag} cannot be negative")
        verb = "将删除 / would delete" if opts["dry_run"] else "已删除 / deleted"
        snaps = prune_snapshots(opts["keep_snapshots"], dry_run=opts["dry_run"])
        for p in snaps:
            self.stdout.write(f"{verb}: snapshots/{p.name}")
        files = prune_uploads(opts["keep_days"], dry_run=opts["dry_run"])
        for p in files.folders:
            self.stdout.write(f"{verb}: {p.parent.name}/{p.name}")
        self.stdout.write(
            f"快照 {len(snaps)} 个，文件夹 {len(files.folders)} 个（{files.bytes / 2**20:.1f} MB）/ "
            f"{len(snaps)} snapshots, {len(files.folders)} folders ({files.bytes / 2**20:.1f} MB)"
        )
