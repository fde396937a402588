"""Job kinds of the statistics app (see :mod:`popreg.registry.jobs`).

- ``stats_refresh`` and ``stats_dse`` (:mod:`popreg.stats.refresh`): a new statistics
  snapshot with its cube; the dual-system estimate of the latest snapshot.
- ``reconciliation``: the monthly reconciliation of the registry *as it stands now*.  The
  registry is written to a throw-away snapshot in a temporary directory (by the worker,
  never by a page), its source records linked and the month reconciled; the per-unit table
  and the unmatched records (from which the page creates items to verify) are the job's
  result data, which the result page (``assess:reconciliation_job``) shows.
- ``assessment``: the scorecards of every unit of a level from a stored snapshot, a rule
  set version and the stored targets (what ``popreg assess`` computes).  The table is
  written as ``$POPREG_HOME/assessments/<job id>/`` (a hidden folder renamed into place)
  and the result page (``assess:assessment_job``) reads it back with :func:`load_assessment`.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd
from django.conf import settings
from django.urls import reverse
from django.utils.translation import gettext_noop

from popreg.core.rules import parse_rule_set
from popreg.registry import jobs as runner
from popreg.registry.errors import RegistryError
from popreg.registry.policy import Permission
from popreg.stats import refresh  # noqa: F401  (registers stats_refresh and stats_dse)
from popreg.stats.assessment import Assessment, AssessmentError, assess
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
    """The ``reconciliation`` job: the registry as it stands now against its sources, or a
    stored statistics snapshot (``snapshot``: its name) with the links kept beside it."""
    from popreg.registry.snapshot import write_registry_snapshot
    from popreg.stats.assessment import source_links
    from popreg.stats.snapshots import snapshot_path

    level = ctx.params.get("level") or "village"
    unit = ctx.params.get("unit") or None
    stored = ctx.params.get("snapshot") or ""
    try:
        month = Month.parse(ctx.params["month"])
        if stored:
            path = snapshot_path(stored)
            if path is None:
                raise RegistryError(f"统计快照 {stored} 不存在，请重新选择",
                                    f"the statistics snapshot {stored} does not exist; choose another", "snapshot")
            ctx.progress(1, 3, "linking")
            links = source_links(path)
            ctx.progress(2, 3, "comparing", month=month.label)
            result = reconcile(path, [month], level=level, unit=unit, links=links)
        else:
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
                "month": month.label, "level": level, "snapshot": stored, "totals": totals,
                "rows": _plain_records(summary), "unmatched": _plain_records(unmatched),
            },
        )  # fmt: skip


RECONCILIATION = runner.register(runner.JobKind(
    name="reconciliation", label=gettext_noop("Monthly reconciliation"),
    permission=Permission.VIEW_STATISTICS, handler=run_reconciliation,
    stages=RECONCILIATION_STAGES,
))  # fmt: skip


ASSESSMENT_STAGES: dict[str, str] = {
    "scoring": gettext_noop("Computing the scorecards of every unit for %(year)s"),
    "saving": gettext_noop("Saving the scorecards"),
    "scored": gettext_noop("Scored %(n)s units"),
}
ABOUT_FIELDS = ("year", "level", "reference_moment", "snapshot_checksum", "targets_checksum",
                "previous_available", "notes")  # fmt: skip


def assessment_root() -> Path:
    """``$POPREG_HOME/assessments``: one folder per assessment job."""
    return Path(settings.POPREG_HOME) / "assessments"


def load_assessment(job_id: int, definition: Any) -> Assessment | None:
    """The assessment a job stored (None when its folder is gone)."""
    folder = assessment_root() / str(int(job_id))
    if not (folder / "about.json").is_file():
        return None
    about = json.loads((folder / "about.json").read_text(encoding="utf-8"))
    table = pd.read_parquet(folder / "scorecards.parquet")
    return Assessment(rule_set=parse_rule_set(definition), table=table, scorecards={},
                      **{k: about[k] for k in ABOUT_FIELDS})  # fmt: skip


def run_assessment(ctx: runner.JobContext) -> None:
    """The ``assessment`` job: score the units, store the table, link the result page."""
    from popreg.stats import actions
    from popreg.stats.models import RuleSetVersion
    from popreg.stats.snapshots import snapshot_path

    p = ctx.params
    snap = snapshot_path(p["snapshot"])
    rule_set = RuleSetVersion.objects.filter(pk=p["rules"]).first()
    if snap is None or rule_set is None:
        raise RegistryError("请选择快照和考核规则", "choose a snapshot and a rule set", "snapshot")
    year = int(p["year"])
    ctx.progress(0, 2, "scoring", year=year)
    try:
        result = assess(snap, year, p["level"], parse_rule_set(rule_set.definition),
                        actions.target_rows(year - 1, year), lagging_percent=float(p["lagging"]))
    except AssessmentError as exc:
        zh, _sep, en = str(exc).partition(" / ")
        raise RegistryError(zh, en or zh) from None
    ctx.progress(1, 2, "saving")
    root = assessment_root()
    root.mkdir(parents=True, exist_ok=True)
    tmp = root / f".{ctx.job.pk}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        result.table.to_parquet(tmp / "scorecards.parquet", index=False)
        about = {k: getattr(result, k) for k in ABOUT_FIELDS}
        (tmp / "about.json").write_text(json.dumps(about, ensure_ascii=False), encoding="utf-8")
        with ctx.applying():
            final = root / str(ctx.job.pk)
            shutil.rmtree(final, ignore_errors=True)  # a retried job replaces its table
            tmp.rename(final)
            ctx.progress(2, 2, "scored", n=len(result.table))
            ctx.set_result(url=reverse("assess:assessment_job", args=[ctx.job.pk]),
                           data={"units": len(result.table), "year": year, "level": p["level"],
                                 "snapshot": p["snapshot"], "rules": rule_set.pk})  # fmt: skip
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


ASSESSMENT = runner.register(runner.JobKind(
    name="assessment", label=gettext_noop("Annual assessment"),
    permission=Permission.VIEW_STATISTICS, handler=run_assessment, stages=ASSESSMENT_STAGES,
))  # fmt: skip
