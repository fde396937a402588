"""Transport pages of the exchange (status per peer, outbox, inbox, one message) and the
inbox endpoint other deployments POST to.

The endpoint ``exchange/inbox/`` has no session, no login and no CSRF token: it is
authenticated by the signature of each message alone (a trusted peer's key), and answers
with our signed ack, or a refusal with its reason (HTTP 403), recorded in the inbox.
"""

from __future__ import annotations

import json
from typing import Any

from django.contrib import messages as flash
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from popreg.core.privacy import mask_id
from popreg.exchange import actions, inbox, peers, status, transport
from popreg.exchange.models import (
    Channel,
    InboxMessage,
    InboxStatus,
    MessageType,
    OutboxMessage,
    OutboxStatus,
)
from popreg.exchange.peers import ExchangeError, local_identity
from popreg.registry import jobs
from popreg.registry.access import Actor
from popreg.registry.errors import PermissionDeniedError, RegistryError
from popreg.registry.policy import Permission
from popreg.registry.views import with_actor

MAX_BODY = 1_000_000
PAGE = 100


# --------------------------------------------------------------------------- endpoint


def _refusal(status_code: int, reason: str) -> JsonResponse:
    zh, _sep, en = reason.partition(" / ")
    return JsonResponse({"refused": True, "reason_zh": zh, "reason_en": en or zh}, status=status_code,
                        json_dumps_params={"ensure_ascii": False})  # fmt: skip


@csrf_exempt
def receive(request: HttpRequest) -> HttpResponse:
    """POST one signed message (``application/jose``, the compact JWS as the body)."""
    with peers.cached():
        return _receive(request)


def _receive(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return _refusal(405, "只接受 POST / only POST is accepted")
    if int(request.META.get("CONTENT_LENGTH") or 0) > MAX_BODY:
        return _refusal(413, "消息过大 / the message is too large")
    if local_identity() is None:
        return _refusal(503, "本部署尚未建立交换身份 / this deployment has no exchange identity yet")
    token = request.body.decode("ascii", "replace").strip()
    receipt = inbox.receive(token, Channel.HTTP)
    if receipt.refused:
        return _refusal(403, receipt.reason)
    assert receipt.message is not None
    if receipt.status == inbox.ACK:
        payload: dict[str, Any] = {"status": "ack"}
    else:
        payload = receipt.ack_payload()
    try:
        ack = transport.sign_ack(receipt.message.sender, receipt.message.id, payload)
    except ExchangeError as exc:  # our key is missing: the sender retries, we ack the duplicate
        return _refusal(503, f"{exc.message_zh} / {exc.message_en}")
    return HttpResponse(ack, content_type=transport.CONTENT_TYPE)


# --------------------------------------------------------------------------- pages


def _require(actor: Actor, permission: Permission) -> None:
    try:
        actor.require(permission)
    except PermissionDeniedError as err:
        raise PermissionDenied(err.message) from None


def _choice_labels(choices: Any) -> list[tuple[str, str]]:
    return [(v, str(label)) for v, label in choices]


@with_actor
def status_page(request: HttpRequest, actor: Actor) -> HttpResponse:
    _require(actor, Permission.VIEW_EXCHANGE)
    rows = status.peer_rows()
    out_labels, in_labels = dict(OutboxStatus.choices), dict(InboxStatus.choices)
    for r in rows:
        r["outbox_counts"] = [(v, str(out_labels[v]), n) for v, n in r["outbox"].items() if n]
        r["inbox_counts"] = [(v, str(in_labels[v]), n) for v, n in r["inbox"].items() if n]
    return render(request, "exchange/status.html", {
        "identity": local_identity(),
        "rows": rows,
        "can_manage": actor.can(Permission.MANAGE_EXCHANGE),
        "failed": OutboxMessage.objects.filter(status=OutboxStatus.FAILED).count(),
    })  # fmt: skip


def _filtered(qs: QuerySet[Any], request: HttpRequest, fields: dict[str, list[str]]) -> tuple[QuerySet[Any], dict[str, str]]:
    chosen: dict[str, str] = {}
    for name, allowed in fields.items():
        value = request.GET.get(name, "").strip()
        if value and (not allowed or value in allowed):
            qs = qs.filter(**{name: value})
            chosen[name] = value
    return qs, chosen


def _page(request: HttpRequest, qs: QuerySet[Any]) -> Any:
    return Paginator(qs, PAGE).get_page(request.GET.get("page") or 1)


def _codes(model: Any, field: str) -> list[str]:
    return sorted({c for c in model.objects.values_list(field, flat=True).distinct() if c})


@with_actor
def outbox_list(request: HttpRequest, actor: Actor) -> HttpResponse:
    _require(actor, Permission.VIEW_EXCHANGE)
    codes = _codes(OutboxMessage, "recipient")
    qs, chosen = _filtered(OutboxMessage.objects.all(), request, {
        "recipient": codes, "status": list(OutboxStatus.values), "type": list(MessageType.values),
    })  # fmt: skip
    filters = [
        _filter("recipient", _("Peer"), [(c, c) for c in codes], chosen),
        _filter("status", _("Status"), _choice_labels(OutboxStatus.choices), chosen),
        _filter("type", _("Type"), _choice_labels(MessageType.choices), chosen),
    ]
    return render(request, "exchange/outbox.html", {
        "page": _page(request, qs), "filters": filters, "query": _query(chosen), "chosen": chosen,
    })  # fmt: skip


@with_actor
def inbox_list(request: HttpRequest, actor: Actor) -> HttpResponse:
    _require(actor, Permission.VIEW_EXCHANGE)
    codes = _codes(InboxMessage, "sender")
    qs, chosen = _filtered(InboxMessage.objects.all(), request, {
        "sender": codes, "status": list(InboxStatus.values),
        "type": [*MessageType.values, "bundle"], "channel": list(Channel.values),
    })  # fmt: skip
    filters = [
        _filter("sender", _("Sender"), [(c, c) for c in codes], chosen),
        _filter("status", _("Status"), _choice_labels(InboxStatus.choices), chosen),
        _filter("type", _("Type"), [*_choice_labels(MessageType.choices), ("bundle", _("Bundle"))], chosen),
        _filter("channel", _("Channel"), _choice_labels(Channel.choices), chosen),
    ]
    return render(request, "exchange/inbox.html", {
        "page": _page(request, qs), "filters": filters, "query": _query(chosen), "chosen": chosen,
    })  # fmt: skip


def _filter(name: str, label: str, options: list[tuple[str, str]], chosen: dict[str, str]) -> dict[str, Any]:
    return {"name": name, "label": label,
            "options": [(v, t, chosen.get(name) == v) for v, t in options]}  # fmt: skip


def _query(chosen: dict[str, str]) -> str:
    from urllib.parse import urlencode

    return urlencode(chosen)


#: Labels of the fields messages carry (English msgids); others show as "Other detail".
FIELD_LABELS = {
    "id_number": gettext_lazy("ID number"), "name": gettext_lazy("Name"), "sex": gettext_lazy("Sex"),
    "birth_date": gettext_lazy("Date of birth"), "residence_unit": gettext_lazy("Unit of residence (code)"),
    "residence_unit_name": gettext_lazy("Unit of residence"), "registered_unit": gettext_lazy("Unit of registration (code)"),
    "registered_unit_name": gettext_lazy("Unit of registration"), "origin_code": gettext_lazy("Place of origin (code)"),
    "arrival_date": gettext_lazy("Arrival date"), "reason": gettext_lazy("Reason for moving"), "employer": gettext_lazy("Employer"),
    "contact": gettext_lazy("Contact"), "ref": gettext_lazy("Reference"), "your_ref": gettext_lazy("Their reference"),
    "status": gettext_lazy("Outcome"), "first_status": gettext_lazy("Outcome when first received"),
    "left_on": gettext_lazy("Left on"), "permit_number": gettext_lazy("Residence permit number"),
    "issued_on": gettext_lazy("Issued on"), "expires_on": gettext_lazy("Expires on"), "person_id": gettext_lazy("Person no."),
    "reply": gettext_lazy("Reply"), "reply_id": gettext_lazy("Reply message"), "confirmed_on": gettext_lazy("Confirmed on"),
    "residence_type": gettext_lazy("Residence type"), "corrected": gettext_lazy("Corrected fields"),
    "candidates": gettext_lazy("Candidates"), "probability": gettext_lazy("Match probability"),
    "destination": gettext_lazy("Destination"), "seq": gettext_lazy("Sequence number"), "step": gettext_lazy("Step"),
}  # fmt: skip


def _label(key: str) -> str:
    label = FIELD_LABELS.get(key)
    return str(label) if label is not None else _("Other detail")


def _value(value: Any) -> str:
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return "—" if value is None or value == "" else str(value)


def _subject_rows(subject: dict[str, Any]) -> list[tuple[str, str]]:
    """Subject fields for display: the ID number masked (a full number is read on the
    person's page, where the read is audited)."""
    rows = []
    for key, value in (subject or {}).items():
        text = mask_id(str(value)) if key == "id_number" and value else _value(value)
        rows.append((_label(key), text))
    return rows


def _payload_rows(payload: dict[str, Any]) -> list[tuple[str, str]]:
    return [(_label(k), _value(v)) for k, v in (payload or {}).items()]


@with_actor
def outbox_detail(request: HttpRequest, actor: Actor, pk: int) -> HttpResponse:
    _require(actor, Permission.VIEW_EXCHANGE)
    msg = OutboxMessage.objects.filter(pk=pk).first()
    if msg is None:
        raise Http404(_("No such message."))
    return render(request, "exchange/message.html", {
        "msg": msg, "direction": "out", "subject_rows": _subject_rows(msg.subject),
        "payload_rows": _payload_rows(msg.payload), "ack_rows": _payload_rows(msg.ack_detail),
        "signed": bool(msg.token),
    })  # fmt: skip


@with_actor
def inbox_detail(request: HttpRequest, actor: Actor, pk: int) -> HttpResponse:
    _require(actor, Permission.VIEW_EXCHANGE)
    msg = InboxMessage.objects.filter(pk=pk).first()
    if msg is None:
        raise Http404(_("No such message."))
    return render(request, "exchange/message.html", {
        "msg": msg, "direction": "in", "subject_rows": _subject_rows(msg.subject),
        "payload_rows": _payload_rows(msg.payload), "detail_rows": _payload_rows(msg.detail),
        "signed": bool(msg.token),
    })  # fmt: skip


@require_POST
@with_actor
def deliver(request: HttpRequest, actor: Actor) -> HttpResponse:
    """Start an ``exchange_deliver`` job and show its progress."""
    try:
        job = jobs.start_job(actor, transport.JOB_KIND)
    except PermissionDeniedError as err:
        raise PermissionDenied(err.message) from None
    except RegistryError as err:
        flash.error(request, err.message)
        return redirect("exchange:status")
    return redirect("jobs:detail", pk=job.pk)


@require_POST
@with_actor
def requeue(request: HttpRequest, actor: Actor) -> HttpResponse:
    """Queue the failed messages (of one peer, if given) again."""
    recipient = request.POST.get("recipient", "").strip() or None
    try:
        n = actions.do_requeue_failed(actor, recipient=recipient)
    except PermissionDeniedError as err:
        raise PermissionDenied(err.message) from None
    flash.success(request, _("%(n)s failed messages were queued again.") % {"n": n})
    return redirect("exchange:status")
