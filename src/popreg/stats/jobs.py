"""Job kinds of the statistics app (see :mod:`popreg.registry.jobs`).

- ``stats_refresh`` and ``stats_dse`` (:mod:`popreg.stats.refresh`): a new statistics
  snapshot with its cube; the dual-system estimate of the latest snapshot.
- ``reconciliation``: the monthly reconciliation of the registry *as it stands now*.  The
  registry is written to a throw-away snapshot in a temporary directory (by the worker,
  never by a page), its source records linked and the month reconciled; the per-unit table
  and the unmatched records (from which the page creates items to verify) are the job's
  result data, which the result page (``assess:reconciliation_job``) shows.
"""

from __future__ import annotations

import json
import tempfile
from typing import Any

import pandas as pd
from django.urls import reverse
from django.utils.translation import gettext_noop

from popreg.registry import jobs as runner
from popreg.registry.errors import RegistryError
from popreg.registry.policy import Permission
from popreg.stats import refresh  # noqa: F401  (registers stats_refresh and stats_dse)
from popreg.stats.reconciliation import Month, ReconciliationError, link_sources, reconcile

RECONCILIATION_STAGES: dict[str, str] = {
    "snapshot": gettext_noop("Writing the registry as it is now to a temporary snapshot"),
    "linking": gettext_noop("Linking the hospital and death records with the registry"),
    "comparing": gettext_noop("Comparing births and deaths of %(month)s"),
    "done": gettext_noop("Reconciled %(month)s: %(reported)s reported, %(verified)s verified"),
}


def _plain_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """JSON-safe rows (NaN as null, numpy numbers as plain numbers)."""
    return list(json.loads(frame.to_json(orient="records", force_ascii=False)))


def run_reconciliation(ctx: runner.JobContext) -> None:
    """The ``reconciliation`` job: the registry as it stands now against its sources."""
    from popreg.registry.snapshot import write_registry_snapshot

    level = ctx.params.get("level") or "village"
    unit = ctx.params.get("unit") or None
    try:
        month = Month.parse(ctx.params["month"])
        with tempfile.TemporaryDirectory(prefix="popreg-recon-") as tmp:
            ctx.progress(0, 3, "snapshot")
            write_registry_snapshot(tmp)
            ctx.progress(1, 3, "linking")
            links = link_sources(tmp)  # a throw-away snapshot: its links are not kept
            ctx.progress(2, 3, "comparing", month=month.label)
            result = reconcile(tmp, [month], level=level, unit=unit, links=links)
    except ReconciliationError as exc:
        zh, _sep, en = str(exc).partition(" / ")
        raise RegistryError(zh, en or zh, "month") from None
    summary = result.summary
    totals = {k: int(summary[k].sum()) for k in ("reported", "verified")}
    unmatched = result.records[result.records["category"].isin(["registry_only", "source_only"])]
    with ctx.applying():
        ctx.progress(3, 3, "done", month=month.label, **totals)
        ctx.set_result(
            url=reverse("assess:reconciliation_job", args=[ctx.job.pk]),
            data={
                "month": month.label, "level": level, "totals": totals,
                "rows": _plain_records(summary), "unmatched": _plain_records(unmatched),
            },
        )  # fmt: skip


RECONCILIATION = runner.register(runner.JobKind(
    name="reconciliation", label=gettext_noop("Monthly reconciliation"),
    permission=Permission.VIEW_STATISTICS, handler=run_reconciliation,
    stages=RECONCILIATION_STAGES,
))  # fmt: skip
