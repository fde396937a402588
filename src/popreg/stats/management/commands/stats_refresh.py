"""``popreg stats_refresh [--at MOMENT|loaded|now] [--no-dse] [--keep N]``.

``--at`` is the statistics' reference moment: a date-time in the county's time zone
(``POPREG_TIME_ZONE``), ``now`` (the default), or ``loaded``: the reference moment of the
snapshot loaded into the registry by ``popreg load``, where a synthetic county's data end
(``make demo`` uses it, so the dashboard does not count the months after the county's
reference moment as months without births and deaths).

Old snapshots are pruned afterwards (``popreg.stats.retention``): the newest
``POPREG_KEEP_SNAPSHOTS`` (or ``--keep N``) are kept, and any still named.

Writes the registry as a new statistics snapshot into ``$POPREG_HOME/snapshots/<moment>/``
and computes the dashboard cube next to it (indicators of every unit for the last ten full
years, pyramids, the population at the moment and, unless ``--no-dse``, the dual-system
estimate of births, which links the hospital births with the linkage engine).  The
dashboards then use this snapshot.  It runs ``do_refresh_statistics`` (the action behind
the page's refresh job) as the system actor, so it is audited the same way.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from popreg.registry.access import system_actor
from popreg.registry.errors import RegistryError
from popreg.snapshot.format import SnapshotError, parse_moment
from popreg.stats.refresh import do_refresh_statistics, loaded_reference_moment
from popreg.stats.retention import prune_snapshots


class Command(BaseCommand):
    help = (
        "刷新统计快照并计算统计看板数据 / write a statistics snapshot of the registry and "
        "compute the dashboard cube"
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--at", default="now",
                            help="reference moment, e.g. 2025-11-01T00:00; 'now' (default) or 'loaded': "
                                 "the reference moment of the snapshot loaded with popreg load")
        parser.add_argument("--no-dse", action="store_true",
                            help="skip linking hospital births (the dual-system estimate)")
        parser.add_argument("--keep", type=int, default=None,
                            help="keep the newest N snapshots afterwards, and any still named by an "
                                 "unfinished job or a published result (default: POPREG_KEEP_SNAPSHOTS; "
                                 "0 = keep all)")

    def handle(self, *args: Any, **opts: Any) -> None:
        at: datetime | None = None
        raw = (opts["at"] or "now").strip()
        try:
            if raw == "loaded":
                at = loaded_reference_moment()
            elif raw != "now":
                at = parse_moment(raw)
        except SnapshotError as exc:
            raise CommandError(f"--at {exc}") from None
        except RegistryError as exc:
            raise CommandError(f"--at loaded: {exc}") from None
        if opts["keep"] is not None and opts["keep"] < 0:
            raise CommandError("--keep 不能为负数 / --keep cannot be negative")
        started = time.perf_counter()
        try:
            snap = do_refresh_statistics(
                system_actor("stats_refresh"), at=at, with_dse=not opts["no_dse"]
            )
        except RegistryError as exc:
            raise CommandError(str(exc)) from exc
        if opts["keep"] is not None:
            prune_snapshots(opts["keep"], also_keep={snap.name})
        self.stdout.write(
            f"统计快照已写入 / statistics snapshot written: {snap} "
            f"({time.perf_counter() - started:.1f} s)"
        )
