"""Every write of the exchange transport: this deployment's identity, trusted peers,
delivery, requeueing.  Bundles are :mod:`popreg.exchange.bundle` (export and import).

Each ``do_*`` checks ``MANAGE_EXCHANGE`` (county-wide) and writes an audit record; a
refused call changes nothing and raises :class:`~popreg.exchange.peers.ExchangeError`.
"""

from __future__ import annotations

import re
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from popreg.exchange import crypto, transport
from popreg.exchange.models import LocalIdentity, OutboxMessage, OutboxStatus, Peer
from popreg.exchange.peers import ExchangeError, local_identity
from popreg.registry.access import Actor
from popreg.registry.audit import AuditAction, audit
from popreg.registry.policy import Permission

IDENTITY_KIND = "popreg-exchange-identity"
_CODE = re.compile(r"^\d{6}(\d{3}){0,2}$")
_URL = re.compile(r"^https?://[^\s/?#]+(/[^\s?#]*)?$")


def check_code(code: str, field: str = "code") -> str:
    code = str(code or "").strip()
    if not _CODE.match(code):
        raise ExchangeError(
            f"代码 {code[:20]} 不是区划代码（6、9 或 12 位数字）",
            f"code {code[:20]} is not a division code (6, 9 or 12 digits)",
            field,
        )
    return code


def check_url(url: str, field: str = "url") -> str:
    url = str(url or "").strip()
    if not _URL.match(url):
        raise ExchangeError(
            f"网址 {url[:60]} 不正确：应为 http:// 或 https:// 开头的部署地址，如 https://popreg.example.gov.cn/",
            f"URL {url[:60]} is not valid: give the deployment's address starting with http:// or https://, e.g. https://popreg.example.gov.cn/",
            field,
        )
    return url if url.endswith("/") else url + "/"


def identity_document(ident: LocalIdentity) -> dict[str, Any]:
    """The public identity a peer trusts (no secret in it)."""
    return {
        "kind": IDENTITY_KIND,
        "v": 1,
        "code": ident.code,
        "url": ident.url,
        "public_jwk": ident.public_jwk,
        "thumbprint": ident.thumbprint,
    }


@transaction.atomic
def do_create_identity(actor: Actor, *, code: str, url: str) -> tuple[LocalIdentity, bool]:
    """Create this deployment's key pair if it has none (in ``POPREG_EXCHANGE_KEY_DIR``,
    mode 0600) and store its code, URL and public key.  Returns (identity, key created).
    The code of a deployment does not change once set; its URL may."""
    actor.require(Permission.MANAGE_EXCHANGE)
    code, url = check_code(code), check_url(url)
    key_dir = settings.POPREG_EXCHANGE_KEY_DIR
    key = crypto.load_private_key(key_dir)
    created = key is None
    if key is None:
        key = crypto.create_private_key(key_dir)
    jwk = crypto.public_jwk(key.public_key())
    thumb = crypto.thumbprint(jwk)
    before = local_identity()
    if before is not None and before.code != code:
        raise ExchangeError(
            f"本部署的代码已是 {before.code}，不能改为 {code}",
            f"this deployment's code is already {before.code}; it cannot become {code}",
            "code",
        )
    old = identity_document(before) if before is not None else None
    ident, _ = LocalIdentity.objects.update_or_create(
        pk=1, defaults={"code": code, "url": url, "public_jwk": jwk, "thumbprint": thumb}
    )
    audit(actor, AuditAction.EXCHANGE_IDENTITY, ident, unit_code=code, before=old,
          after=identity_document(ident), detail={"key_created": created})  # fmt: skip
    return ident, created


def parse_identity(doc: Any) -> dict[str, Any]:
    """Check a peer's identity document; return its fields."""
    if not isinstance(doc, dict) or doc.get("kind") != IDENTITY_KIND:
        raise ExchangeError(
            "文件不是 popreg 交换身份文件（由对方的 popreg exchange identity 生成）",
            "the file is not a popreg exchange identity (made by the peer's popreg exchange identity)",
            "file",
        )
    code = check_code(str(doc.get("code", "")))
    url = check_url(str(doc.get("url", "")))
    jwk = doc.get("public_jwk")
    try:
        crypto.public_from_jwk(jwk if isinstance(jwk, dict) else {})
    except crypto.SignatureError as exc:
        raise ExchangeError(exc.message_zh, exc.message_en, "public_jwk") from None
    assert isinstance(jwk, dict)
    jwk = {"kty": jwk["kty"], "crv": jwk["crv"], "x": jwk["x"]}
    thumb = crypto.thumbprint(jwk)
    if doc.get("thumbprint") != thumb:
        raise ExchangeError(
            "身份文件中的指纹与公钥不符（文件可能被改动）",
            "the identity's thumbprint does not match its public key (the file may have been altered)",
            "thumbprint",
        )
    return {"code": code, "url": url, "public_jwk": jwk, "thumbprint": thumb}


@transaction.atomic
def do_trust_peer(actor: Actor, doc: Any, *, replace: bool = False) -> tuple[Peer, str]:
    """Trust the deployment described by ``doc``.  Returns (peer, what happened:
    ``added`` | ``unchanged`` | ``url_changed`` | ``key_replaced``).  A known peer with a
    different key is refused unless ``replace``."""
    actor.require(Permission.MANAGE_EXCHANGE)
    fields = parse_identity(doc)
    me = local_identity()
    if me is not None and fields["code"] == me.code:
        raise ExchangeError(
            f"{fields['code']} 是本部署自己的代码，不能作为对端",
            f"{fields['code']} is this deployment's own code; it cannot be a peer",
            "code",
        )
    existing = Peer.objects.select_for_update().filter(code=fields["code"]).first()
    before = None
    if existing is None:
        peer = Peer.objects.create(**fields)
        what = "added"
    else:
        before = {"url": existing.url, "thumbprint": existing.thumbprint}
        if existing.thumbprint != fields["thumbprint"] and not replace:
            raise ExchangeError(
                f"对端 {existing.code} 的公钥已变（原指纹 {existing.thumbprint}，新指纹 {fields['thumbprint']}）："
                "请与对方核实后加 --replace 重新信任",
                f"peer {existing.code}'s key has changed (was {existing.thumbprint}, now {fields['thumbprint']}): "
                "check with the peer, then trust again with --replace",
                "public_jwk",
            )
        what = (
            "key_replaced" if existing.thumbprint != fields["thumbprint"]
            else "url_changed" if existing.url != fields["url"] else "unchanged"
        )  # fmt: skip
        for k, v in fields.items():
            setattr(existing, k, v)
        existing.save()
        peer = existing
    audit(actor, AuditAction.EXCHANGE_TRUST_PEER, peer, unit_code=peer.code, before=before,
          after={"url": peer.url, "thumbprint": peer.thumbprint}, detail={"what": what})  # fmt: skip
    return peer, what


def do_deliver(actor: Actor, *, recipient: str | None = None) -> transport.DeliveryReport:
    """Send the due messages over HTTP once (each message's state is written as its
    delivery ends: network calls cannot share one transaction).  Audited when anything
    was attempted."""
    actor.require(Permission.MANAGE_EXCHANGE)
    report = transport.deliver(recipient=recipient)
    audit(actor, AuditAction.EXCHANGE_DELIVER, None, detail={"recipient": recipient or "", **report.as_dict()})
    return report


@transaction.atomic
def do_requeue_failed(actor: Actor, *, recipient: str | None = None, ids: list[int] | None = None) -> int:
    """Put failed messages back in the queue (after the cause was fixed: the peer trusts us
    now, its URL was corrected...): pending, due now, attempts from zero."""
    actor.require(Permission.MANAGE_EXCHANGE)
    qs = OutboxMessage.objects.filter(status=OutboxStatus.FAILED)
    if recipient:
        qs = qs.filter(recipient=recipient)
    if ids is not None:
        qs = qs.filter(pk__in=ids)
    picked = list(qs.values_list("message_id", flat=True)[:10_000])
    n = OutboxMessage.objects.filter(message_id__in=picked).update(
        status=OutboxStatus.PENDING, attempts=0, next_attempt_at=timezone.now(), last_error=""
    )
    audit(actor, AuditAction.EXCHANGE_REQUEUE, None, detail={"recipient": recipient or "", "messages": n})
    if n:
        transaction.on_commit(transport.start_delivery_job)
    return n
