"""``popreg exchange``: this deployment's identity, trusted peers, delivery and bundles.

    popreg exchange identity --code 330102 --url https://popreg.example.gov.cn/ --out me.json
    popreg exchange trust peer.json [--replace]
    popreg exchange deliver [--to CODE] [--loop] [--until-idle]
    popreg exchange export --to CODE --out FILE
    popreg exchange import FILE          # last stdout line: the JSON summary
    popreg exchange backfill --to CODE
    popreg exchange status
    popreg exchange requeue [--to CODE]

Acts as the system actor (the county itself), like every command.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from popreg.exchange import actions, bundle, status, transport
from popreg.registry.access import system_actor
from popreg.registry.errors import RegistryError
from popreg.registry.policy import Permission


class Command(BaseCommand):
    help = "Exchange with other counties' deployments: identity, trust, delivery, bundles."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="sub", required=True)
        p = sub.add_parser("identity", help="create this deployment's key pair (if none) and write its public identity")
        p.add_argument("--code", required=True, help="this county's division code")
        p.add_argument("--url", required=True, help="this deployment's address, e.g. https://popreg.example.gov.cn/")
        p.add_argument("--out", required=True, help="file for the public identity (give it to the peers)")
        p = sub.add_parser("trust", help="trust a peer from its identity file")
        p.add_argument("file")
        p.add_argument("--replace", action="store_true", help="accept a changed key of a known peer")
        p = sub.add_parser("deliver", help="send the due messages over HTTP")
        p.add_argument("--to", default=None)
        p.add_argument("--loop", action="store_true", help="keep delivering as messages fall due")
        p.add_argument("--until-idle", action="store_true", help="with --loop: stop when nothing is pending")
        p = sub.add_parser("export", help="write a signed bundle of the messages for a peer not yet acknowledged")
        p.add_argument("--to", required=True)
        p.add_argument("--out", required=True)
        p = sub.add_parser("import", help="take in a bundle; the last line is a JSON summary")
        p.add_argument("file")
        p = sub.add_parser("backfill", help="queue notifications of existing migrants for a peer")
        p.add_argument("--to", required=True)
        sub.add_parser("status", help="counts per peer")
        p = sub.add_parser("requeue", help="queue failed messages again")
        p.add_argument("--to", default=None)

    def handle(self, *args: Any, **opts: Any) -> None:
        actor = system_actor("exchange")
        try:
            getattr(self, f"_{opts['sub']}")(actor, opts)
        except RegistryError as exc:
            raise CommandError(f"{exc.message_zh}\n{exc.message_en}") from None

    def _identity(self, actor: Any, opts: dict[str, Any]) -> None:
        ident, created = actions.do_create_identity(actor, code=opts["code"], url=opts["url"])
        doc = actions.identity_document(ident)
        Path(opts["out"]).write_text(json.dumps(doc, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        self.stdout.write(
            f"{'已生成新密钥' if created else '沿用已有密钥'} / {'new key pair' if created else 'existing key kept'}: "
            f"{ident.code} {ident.url} thumbprint {ident.thumbprint} → {opts['out']}"
        )

    def _trust(self, actor: Any, opts: dict[str, Any]) -> None:
        try:
            doc = json.loads(Path(opts["file"]).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise CommandError(
                f"无法读取身份文件 {opts['file']}：应为对方 popreg exchange identity 生成的 JSON\n"
                f"cannot read the identity file {opts['file']}: it must be the JSON the peer's popreg exchange identity wrote"
            ) from exc
        peer, what = actions.do_trust_peer(actor, doc, replace=opts["replace"])
        self.stdout.write(f"{peer.code} {peer.url} thumbprint {peer.thumbprint}: {what}")

    def _deliver(self, actor: Any, opts: dict[str, Any]) -> None:
        if opts["loop"]:
            actor.require(Permission.MANAGE_EXCHANGE)
            report = transport.deliver_loop(stop_when_idle=opts["until_idle"], log_fn=self.stdout.write)
        else:
            report = actions.do_deliver(actor, recipient=opts["to"])
        self.stdout.write(json.dumps(report.as_dict()))

    def _export(self, actor: Any, opts: dict[str, Any]) -> None:
        summary = bundle.do_export_bundle(actor, opts["to"], opts["out"])
        self.stdout.write(json.dumps(summary))

    def _import(self, actor: Any, opts: dict[str, Any]) -> None:
        text = bundle.read_bundle_file(opts["file"])
        summary = bundle.do_import_bundle(actor, text, name=Path(opts["file"]).name)
        if summary.bundle_refused:
            self.stdout.write(f"拒收 / refused: {summary.bundle_refused}")
        else:
            self.stdout.write(json.dumps({"acks": summary.acks, "acks_queued": summary.acks_queued,
                                          "rejected": summary.rejected}))  # fmt: skip
        self.stdout.write(summary.line())
        if summary.bundle_refused:
            raise CommandError(summary.bundle_refused)

    def _backfill(self, actor: Any, opts: dict[str, Any]) -> None:
        from popreg.exchange.backfill import backfill

        n = backfill(opts["to"], self.stdout)
        self.stdout.write(json.dumps({"queued": n}))

    def _status(self, actor: Any, opts: dict[str, Any]) -> None:
        actor.require(Permission.VIEW_EXCHANGE)
        for row in status.peer_rows():
            self.stdout.write(json.dumps(row, default=str, ensure_ascii=False))

    def _requeue(self, actor: Any, opts: dict[str, Any]) -> None:
        n = actions.do_requeue_failed(actor, recipient=opts["to"])
        self.stdout.write(json.dumps({"requeued": n}))
