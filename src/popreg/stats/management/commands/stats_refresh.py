"""``popreg stats_refresh [--at MOMENT] [--no-dse] [--keep N]``.

Writes the registry as a new statistics snapshot into ``$POPREG_HOME/snapshots/<moment>/``
and computes the dashboard cube next to it (indicators of every unit for the last ten full
years, pyramids, the population at the moment and, unless ``--no-dse``, the dual-system
estimate of births, which links the hospital births with the linkage engine).  The
dashboards then use this snapshot.  It runs ``do_refresh_statistics`` (the action behind
the page's refresh job) as the system actor, so it is audited the same way.
"""

from __future__ import annotations

import shutil
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from popreg.registry.access import system_actor
from popreg.registry.errors import RegistryError
from popreg.snapshot.format import SnapshotError, parse_moment
from popreg.stats.dashboard import list_snapshots, snapshots_root
from popreg.stats.refresh import do_refresh_statistics


class Command(BaseCommand):
    help = (
        "刷新统计快照并计算统计看板数据 / write a statistics snapshot of the registry and "
        "compute the dashboard cube"
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--at", help="reference moment, e.g. 2025-11-01T00:00 (default: now)")
        parser.add_argument("--no-dse", action="store_true",
                            help="skip linking hospital births (the dual-system estimate)")
        parser.add_argument("--keep", type=int, default=0,
                            help="delete all but the newest N snapshots afterwards (0 = keep all)")

    def handle(self, *args: Any, **opts: Any) -> None:
        try:
            at = parse_moment(opts["at"]) if opts["at"] else None
        except SnapshotError as exc:
            raise CommandError(f"--at {exc}") from None
        if opts["keep"] < 0:
            raise CommandError("--keep 不能为负数 / --keep cannot be negative")
        started = time.perf_counter()
        try:
            snap = do_refresh_statistics(
                system_actor("stats_refresh"), at=at, with_dse=not opts["no_dse"]
            )
        except RegistryError as exc:
            raise CommandError(str(exc)) from exc
        if opts["keep"]:
            for old in list_snapshots(snapshots_root())[: -opts["keep"]]:
                shutil.rmtree(old)
        self.stdout.write(
            f"统计快照已写入 / statistics snapshot written: {snap} "
            f"({time.perf_counter() - started:.1f} s)"
        )
