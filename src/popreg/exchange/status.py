"""Reads for the status page and ``popreg exchange status``: counts per peer."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Max

from popreg.exchange.models import InboxMessage, InboxStatus, OutboxMessage, OutboxStatus, Peer


def peer_rows() -> list[dict[str, Any]]:
    """Per trusted peer (and per unknown sender seen in the inbox): outbox and inbox counts
    by status, the last delivery, the last error and the next attempt."""
    out_counts: dict[str, dict[str, int]] = {}
    for r in OutboxMessage.objects.values("recipient", "status").annotate(n=Count("id")):
        out_counts.setdefault(r["recipient"], {})[r["status"]] = r["n"]
    in_counts: dict[str, dict[str, int]] = {}
    for r in InboxMessage.objects.values("sender", "status").annotate(n=Count("id")):
        in_counts.setdefault(r["sender"], {})[r["status"]] = r["n"]
    peers = {p.code: p for p in Peer.objects.all()}
    rows = []
    for code in sorted(set(peers) | set(in_counts) | set(out_counts)):
        p = peers.get(code)
        out = OutboxMessage.objects.filter(recipient=code)
        last = out.aggregate(acked=Max("acked_at"), attempt=Max("last_attempt_at"), exported=Max("exported_at"))
        err = out.exclude(last_error="").order_by("-last_attempt_at").values("last_error", "last_attempt_at").first()
        nxt = (
            out.filter(status=OutboxStatus.PENDING).order_by("next_attempt_at")
            .values_list("next_attempt_at", flat=True).first()
        )  # fmt: skip
        rows.append({
            "code": code or "?",
            "trusted": p is not None,
            "url": p.url if p else "",
            "thumbprint": p.thumbprint if p else "",
            "outbox": {s: out_counts.get(code, {}).get(s, 0) for s in OutboxStatus.values},
            "inbox": {s: in_counts.get(code, {}).get(s, 0) for s in InboxStatus.values},
            "last_acked": last["acked"],
            "last_attempt": last["attempt"],
            "last_export": last["exported"],
            "last_error": err["last_error"] if err else "",
            "last_error_at": err["last_attempt_at"] if err else None,
            "next_attempt": nxt,
        })  # fmt: skip
    return rows


def refused_count() -> int:
    return InboxMessage.objects.filter(status=InboxStatus.REFUSED).count()
