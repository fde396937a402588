"""``popreg reconcile --month 2025-09 [--unit CODE] --out recon.csv``: monthly reconciliation (月月清).

Registry births and deaths against hospital births and death notices per unit and month
(docs/reconciliation.md).  Reads the registry database (written to a temporary snapshot
as it stood at ``--at``, default now) or, with ``--snapshot DIR``, a snapshot.
``--create-items`` turns the unmatched records into items for the responsible units.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pandas as pd
from django.core.management.base import BaseCommand, CommandError

from popreg.registry.access import system_actor
from popreg.snapshot.format import SnapshotError, parse_moment
from popreg.stats.reconciliation import LATE_DAYS, Month, ReconciliationError, reconcile


def read_links(path: str) -> pd.DataFrame:
    links = pd.read_csv(path, dtype=str, keep_default_na=False)
    if "match_probability" not in links.columns:
        links["match_probability"] = "1"
    links["match_probability"] = links["match_probability"].replace("", "0").astype(float)
    return links


class Command(BaseCommand):
    help = "月月清：登记与出生、死亡来源比对 / monthly reconciliation of registry events against sources"

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--month", required=True, action="append",
                            help="month YYYY-MM (repeat for several months)")
        parser.add_argument("--unit", help="restrict to this unit (county, township or village code) and below")
        parser.add_argument("--level", default="village", choices=("county", "township", "village"),
                            help="unit level of the summary rows (default village)")
        parser.add_argument("--out", required=True, help="summary CSV (one row per unit and month)")
        parser.add_argument("--records-out", help="also write every record with its category (CSV)")
        parser.add_argument("--snapshot", help="read this snapshot instead of the registry database")
        parser.add_argument("--at", help="registry as it stood at this moment (ISO date-time; default now)")
        parser.add_argument("--late-days", type=int, default=LATE_DAYS,
                            help=f"days after which a registration is late (default {LATE_DAYS})")
        parser.add_argument("--links", help="source links CSV from a previous run (default: link now)")
        parser.add_argument("--create-items", action="store_true",
                            help="create reconciliation items for the unmatched records (registry only)")

    def handle(self, *args: Any, **opts: Any) -> None:
        try:
            months = [Month.parse(m) for m in opts["month"]]
        except ReconciliationError as exc:
            raise CommandError(str(exc)) from None
        links = read_links(opts["links"]) if opts["links"] else None
        with tempfile.TemporaryDirectory(prefix="popreg-recon-") as tmp:
            snap = opts["snapshot"]
            if snap is None:
                from popreg.registry.snapshot import write_registry_snapshot

                try:
                    at = parse_moment(opts["at"]) if opts["at"] else None
                except SnapshotError as exc:
                    raise CommandError(f"--at {exc}") from None
                write_registry_snapshot(tmp, at)
                snap = tmp
            try:
                result = reconcile(snap, months, level=opts["level"], unit=opts["unit"],
                                   links=links, late_days=opts["late_days"])
            except ReconciliationError as exc:
                raise CommandError(str(exc)) from None
        try:
            Path(opts["out"]).parent.mkdir(parents=True, exist_ok=True)
            result.summary.to_csv(opts["out"], index=False, lineterminator="\n")
            if opts["records_out"]:
                result.records.to_csv(opts["records_out"], index=False, lineterminator="\n")
        except OSError as exc:
            raise CommandError(f"无法写入输出文件：{exc} / cannot write the output file: {exc}") from None
        s = result.summary
        msg = (f"比对结果已写入 / reconciliation written: {opts['out']} ({len(s)} rows; "
               f"reported {int(s['reported'].sum())}, verified {int(s['verified'].sum())})")
        if opts["create_items"]:
            from popreg.stats.actions import do_create_reconciliation_items

            created, existing = do_create_reconciliation_items(system_actor("popreg reconcile"), result.records)
            msg += f"; items created {created}, already there {existing}"
        self.stdout.write(msg)
