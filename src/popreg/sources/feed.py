"""What live source records feed: the monthly reconciliation and the campaign anomalies.

Every snapshot of the registry (``popreg.registry.snapshot.write_registry_snapshot``, used
by the live reconciliation, ``popreg audit``, a campaign's item generation and ``popreg
snapshot``) holds the death notices and hospital births imported here in its
``sources/death_notices`` and ``sources/hospital_births`` tables (:func:`snapshot_rows`,
registered in ``SourcesConfig.ready``), with two more columns: ``link_decided`` (the link
was accepted, automatically or by a reviewer, or rejected) and ``link_person_id`` (the
person it is linked to; empty for "nobody in the registry").  Reconciliation and the
anomaly rules take those links as they are and link the other records themselves.

:func:`feed_records` does at once what a month's reconciliation and a campaign's item
generation would do later for the records just imported or decided: the reconciliation
items of their months (for the records the registry lacks) and the anomaly findings about
them, added as items to every open campaign the actor manages.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import asdict
from typing import Any

import pandas as pd

from popreg.registry.access import Actor
from popreg.registry.errors import RegistryError
from popreg.registry.policy import Permission
from popreg.sources.models import LinkStatus, SourceEntry, SourceLink

#: The source kinds the reconciliation and the anomaly rules read, with the link role.
FED_KINDS = {"death_notices": "deceased", "hospital_births": "child"}


def snapshot_rows(name: str) -> Iterable[tuple[str, dict[str, Any]]]:
    """``(record_id, data)`` of every live record of source table ``name``."""
    role = FED_KINDS.get(name)
    if role is None:
        return []
    out = []
    qs = SourceEntry.objects.filter(kind=name).order_by("id").prefetch_related("links")
    for entry in qs.iterator(chunk_size=2000):
        link = next((lk for lk in entry.links.all() if lk.role == role), None)
        decided = link is not None and link.status in (LinkStatus.ACCEPTED, LinkStatus.REJECTED)
        data = {k: (v or None) for k, v in entry.data.items()}
        data["link_decided"] = decided
        data["link_person_id"] = link.person_id if decided and link is not None else None
        out.append((entry.record_id, data))
    return out


def live_links() -> pd.DataFrame:
    """The links of every live death notice and hospital birth as reconciliation takes them
    (``source, record_id, person_id, match_probability``): the decided person, else the
    engine's proposal made on arrival (what the engine would find again), else none.
    Records of the first load are not linked here: only the live records' categories are
    used, and a live record linked to the same person as an earlier one is still seen as
    its duplicate."""
    rows = []
    qs = SourceLink.objects.filter(entry__kind__in=list(FED_KINDS)).select_related("entry").order_by("id")
    for link in qs.iterator(chunk_size=2000):
        if link.role != FED_KINDS[link.entry.kind]:
            continue
        if link.status == LinkStatus.ACCEPTED:
            pid = link.person_id
        elif link.status == LinkStatus.PROPOSED:
            pid = link.proposed_person_id
        else:
            pid = None
        rows.append({"source": link.entry.kind, "record_id": link.entry.record_id,
                     "person_id": str(pid) if pid else "", "match_probability": link.probability or 1.0})
    return pd.DataFrame(rows, columns=["source", "record_id", "person_id", "match_probability"])


def feed_records(actor: Actor, entries: Sequence[SourceEntry]) -> dict[str, Any]:
    """Reconciliation items and campaign anomaly items for ``entries`` (call inside the
    transaction that wrote them).  Returns what was fed, for the batch page."""
    from popreg.campaigns.anomalies import detect_anomalies
    from popreg.registry.snapshot import write_registry_snapshot
    from popreg.stats.reconciliation import Month, reconcile

    fed: dict[str, Any] = {"reconciliation": {"created": 0, "existing": 0, "skipped": ""},
                           "findings": [], "campaigns": []}
    entries = [e for e in entries if e.kind in FED_KINDS]
    if not entries:
        return fed
    ids = {(e.kind, e.record_id) for e in entries}
    months = sorted({(e.event_date.year, e.event_date.month) for e in entries})
    links = live_links()
    given = {(str(r["source"]), str(r["record_id"])): int(r["person_id"])
             for r in links.to_dict("records") if r["person_id"]}
    with tempfile.TemporaryDirectory(prefix="popreg-sources-") as tmp:
        write_registry_snapshot(tmp)
        records = reconcile(tmp, [Month(y, m) for y, m in months], links=links).records
        findings = detect_anomalies(tmp, source_links=given)
    ours_mask = [(s, str(r)) in ids for s, r in zip(records["source"], records["record_id"], strict=True)]
    mine = records[pd.Series(ours_mask, index=records.index, dtype=bool) & (records["category"] == "source_only")]
    fed["reconciliation"] = _reconciliation_items(actor, mine)
    persons = _linked_persons(entries)
    ours = [f for f in findings
            if (f.source, f.record_id) in ids
            or (f.anomaly_type == "death_not_deregistered" and f.person_id in persons)]
    fed["findings"] = [{k: v for k, v in asdict(f).items() if k != "scope_units"} for f in ours]
    fed["campaigns"] = _campaign_items(actor, ours)
    return fed


def _linked_persons(entries: Iterable[SourceEntry]) -> set[int]:
    out = set()
    for e in entries:
        for link in e.links.all():
            pid = link.person_id or (link.proposed_person_id if link.status == LinkStatus.PROPOSED else None)
            if pid:
                out.add(int(pid))
    return out


def _reconciliation_items(actor: Actor, records: Any) -> dict[str, Any]:
    from popreg.stats.actions import do_create_reconciliation_items

    if records.empty:
        return {"created": 0, "existing": 0, "skipped": ""}
    if not actor.can(Permission.RECONCILE):
        return {"created": 0, "existing": 0, "skipped": "permission"}
    created, existing = do_create_reconciliation_items(actor, records)
    return {"created": created, "existing": existing, "skipped": ""}


def _campaign_items(actor: Actor, findings: list[Any]) -> list[dict[str, Any]]:
    from popreg.campaigns.actions import do_generate_items
    from popreg.campaigns.models import Campaign, Phase

    if not findings or not actor.can(Permission.MANAGE_CAMPAIGNS):
        return []
    out = []
    open_phases = (Phase.PREPARATION, Phase.VERIFICATION, Phase.RECTIFICATION)
    for campaign in Campaign.objects.filter(phase__in=open_phases).order_by("id"):
        try:
            result = do_generate_items(actor, campaign, findings=findings)
        except RegistryError as exc:  # a campaign locked or out of the actor's reach
            out.append({"campaign": campaign.pk, "name": campaign.name, "error": exc.message_zh})
            continue
        out.append({"campaign": campaign.pk, "name": campaign.name, "created": result.created,
                    "existing": result.existing})
    return out
