"""Exchange transport: notifications per second end to end, over HTTP and by bundle.

    .venv/bin/python bench/bench_exchange.py [--messages 1000] [--json] [--keep DIR]

Two deployments on this machine, as in tests/exchange/test_loopback.py: a sender (A) and a
receiver (B) with their own SQLite database (migrated once, then copied), key directory and
identity, trusting each other.  B runs under gunicorn (1 worker, 4 threads) with a handler
that only records receipt (so the semantics of the messages are not measured).

* **HTTP, signed**: A queues N ``migrant_registered`` notifications, then one
  ``transport.deliver()`` signs each (Ed25519 over RFC 8785 JSON), POSTs it to B's inbox,
  B verifies, de-duplicates, checks staleness, applies, answers a signed ack, A verifies
  the ack and marks the message acknowledged.  Timed inside A from the first POST to the
  last acknowledgement (the process start is not counted).
* **HTTP, baseline**: the same payloads (new ids) as unsigned JSON POSTs over one
  keep-alive connection to a plain Django view of the same server (same middleware), which
  parses the JSON, stores an inbox row and calls the same handler in one transaction, and
  answers a JSON ack; A writes one row per answer, as delivery does.
* **Bundle, signed**: N new notifications: A exports a bundle, B imports it (verify the
  bundle and each message, take each in, queue its ack), B exports its acks, A imports
  them.  Each step timed inside its process; end to end = the sum.
* **Bundle, baseline**: the same payloads as one unsigned JSON file: A writes it, B reads
  it and stores each message (one transaction each, as the import) with the same handler.

Prints notifications per second for each, and the ratios signed/baseline.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
A, B = "110105", "330102"
PLAIN_PATH = "/bench/plain/"

# --------------------------------------------------------------------------- the server (B)

if os.environ.get("BENCH_EXCHANGE_SERVER") == "1":
    # The receiver: the site's URL map plus the baseline's plain endpoint (this module is
    # the URL configuration), both through the same Django stack and middleware.
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "popreg.web.settings")
    import django
    from django.conf import settings as _settings

    django.setup()
    _settings.ROOT_URLCONF = "bench_exchange"
    from django.core.wsgi import get_wsgi_application
    from django.db import transaction as _transaction
    from django.http import HttpResponse as _HttpResponse
    from django.urls import include as _include
    from django.urls import path as _path
    from django.views.decorators.csrf import csrf_exempt as _csrf_exempt

    from popreg.exchange import handlers as _handlers
    from popreg.exchange.handlers import Outcome as _Outcome
    from popreg.exchange.models import InboxMessage as _InboxMessage

    def _record(actor, message):  # noqa: ANN001 - the handler signature
        with open(os.environ["BENCH_LOG"], "a", encoding="ascii") as fh:
            fh.write(message.message_id + "\n")
        return _Outcome("applied", {})

    _handlers.register("migrant_registered", _record)

    @_csrf_exempt
    def _plain(request):  # noqa: ANN001, ANN202 - a view
        obj = json.loads(request.body)
        with _transaction.atomic():
            row = _InboxMessage.objects.create(
                message_id=obj["id"], sender=obj["sender"], recipient=obj["recipient"], type=obj["type"],
                subject=obj["subject"], payload=obj["payload"], status="received",
            )  # fmt: skip
            row.status = _record(None, row).status
            row.save(update_fields=["status"])
        return _HttpResponse(json.dumps({"in_reply_to": obj["id"], "status": "applied"}),
                             content_type="application/json")  # fmt: skip

    urlpatterns = [_path(PLAIN_PATH.strip("/") + "/", _plain), _path("", _include("popreg.web.urls"))]
    application = get_wsgi_application()


# --------------------------------------------------------------------------- child steps


def _messages(n: int, tag: str) -> list[tuple[dict, dict]]:
    return [({"id_number": f"11010519900101{i:04d}", "name": f"测试{tag}{i}"},
             {"residence_unit": "110105001001", "arrival_date": "2026-03-01", "reason": "work",
              "employer": "某某电子厂", "contact": "13800000000", "seq": i}) for i in range(n)]  # fmt: skip


def child(step: str, args: list[str]) -> dict:
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import transaction

    from popreg.exchange import bundle, handlers, outbox, transport
    from popreg.exchange.handlers import Outcome
    from popreg.exchange.models import OutboxMessage
    from popreg.registry.access import system_actor

    actor = system_actor("bench")
    if step == "setup":
        code, url, out, peer_file = args
        call_command("exchange", "identity", "--code", code, "--url", url, "--out", out)
        call_command("exchange", "trust", peer_file)
        return {}
    if step == "queue":
        n, tag = int(args[0]), args[1]
        with transaction.atomic():
            for subject, payload in _messages(n, tag):
                outbox.queue(B, "migrant_registered", subject, payload)
        return {}
    if step == "deliver":
        t = time.perf_counter()
        report = transport.deliver()
        return {"seconds": time.perf_counter() - t, **report.as_dict()}
    if step == "plain_post":
        port, n = int(args[0]), int(args[1])
        from django.utils import timezone

        from popreg.exchange.messages import Message, new_id

        rows = list(OutboxMessage.objects.order_by("id")[:n])
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        t = time.perf_counter()
        for row, (subject, payload) in zip(rows, _messages(n, "plain"), strict=True):
            msg = Message(new_id(), A, B, "migrant_registered", timezone.now(), subject, payload, None)
            conn.request("POST", PLAIN_PATH, body=json.dumps(msg.as_json()).encode(),
                         headers={"Content-Type": "application/json"})  # fmt: skip
            resp = conn.getresponse()
            ack = json.loads(resp.read())
            assert resp.status == 200 and ack["in_reply_to"] == msg.id
            OutboxMessage.objects.filter(pk=row.pk).update(last_attempt_at=timezone.now())
        conn.close()
        return {"seconds": time.perf_counter() - t, "acked": n}
    if step == "export":
        to, out = args
        t = time.perf_counter()
        summary = bundle.do_export_bundle(actor, to, out)
        return {"seconds": time.perf_counter() - t, **summary}
    if step == "import":
        log = args[1]

        def record(actor, message):  # noqa: ANN001
            with open(log, "a", encoding="ascii") as fh:
                fh.write(message.message_id + "\n")
            return Outcome("applied", {})

        handlers.register("migrant_registered", record)
        t = time.perf_counter()
        text = bundle.read_bundle_file(args[0])
        s = bundle.do_import_bundle(actor, text)
        return {"seconds": time.perf_counter() - t, **json.loads(s.line()), "acks": s.acks}
    if step == "plain_write":
        n, out = int(args[0]), args[1]
        from django.utils import timezone

        from popreg.exchange.messages import Message, new_id

        t = time.perf_counter()
        items = [Message(new_id(), A, B, "migrant_registered", timezone.now(), s, p, None).as_json()
                 for s, p in _messages(n, "plainfile")]  # fmt: skip
        Path(out).write_text(json.dumps(items, ensure_ascii=False), encoding="utf-8")
        return {"seconds": time.perf_counter() - t}
    if step == "plain_read":
        from popreg.exchange.models import InboxMessage

        path, log = args
        t = time.perf_counter()
        for obj in json.loads(Path(path).read_text(encoding="utf-8")):
            with transaction.atomic():
                row = InboxMessage.objects.create(
                    message_id=obj["id"], sender=obj["sender"], recipient=obj["recipient"], type=obj["type"],
                    subject=obj["subject"], payload=obj["payload"], status="received", channel="bundle",
                )  # fmt: skip
                with open(log, "a", encoding="ascii") as fh:
                    fh.write(row.message_id + "\n")
                row.status = "applied"
                row.save(update_fields=["status"])
        return {"seconds": time.perf_counter() - t}
    raise SystemExit(f"unknown step {step}")


# --------------------------------------------------------------------------- driver


class Deployment:
    def __init__(self, root: Path, code: str, template: Path) -> None:
        self.root, self.code = root, code
        root.mkdir(parents=True)
        self.db = root / "db.sqlite3"
        shutil.copy(template, self.db)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}/"
        self.env = {
            **os.environ, "DATABASE_URL": f"sqlite:///{self.db}", "POPREG_HOME": str(root),
            "POPREG_EXCHANGE_KEY_DIR": str(root / "keys"), "POPREG_TASKS_BACKEND": "database",
            "DJANGO_SETTINGS_MODULE": "popreg.web.settings", "BENCH_LOG": str(root / "applied.log"),
        }  # fmt: skip

    def run(self, step: str, *args: str) -> dict:
        r = subprocess.run([sys.executable, __file__, "--child", step, *args], env=self.env, cwd=REPO,
                           capture_output=True, text=True)  # fmt: skip
        if r.returncode != 0:
            raise SystemExit(f"{step} failed:\n{r.stderr[-3000:]}")
        return json.loads(r.stdout.strip().splitlines()[-1])


def _wait_up(port: int) -> None:
    for _ in range(300):
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            c.request("GET", "/exchange/inbox/")
            if c.getresponse().status == 405:
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("the receiver did not start")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--messages", type=int, default=1000)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--keep", default=None, help="work in this directory and keep it")
    ap.add_argument("--child", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    opts = ap.parse_args()
    if opts.child:
        print(json.dumps(child(opts.child[0], opts.child[1:])))
        return
    from popreg.exchange import crypto

    n = opts.messages
    work = Path(opts.keep) if opts.keep else Path(tempfile.mkdtemp(prefix="bench-exchange-"))
    work.mkdir(parents=True, exist_ok=True)
    template = work / "template.sqlite3"
    subprocess.run([BIN / "popreg", "migrate", "-v0"], check=True, cwd=REPO,
                   env={**os.environ, "DATABASE_URL": f"sqlite:///{template}", "POPREG_HOME": str(work)})  # fmt: skip
    a, b = Deployment(work / "a", A, template), Deployment(work / "b", B, template)
    for d in (a, b):
        key = crypto.create_private_key(d.root / "keys")
        jwk = crypto.public_jwk(key.public_key())
        (work / f"{d.code}.json").write_text(json.dumps({
            "kind": "popreg-exchange-identity", "v": 1, "code": d.code, "url": d.url,
            "public_jwk": jwk, "thumbprint": crypto.thumbprint(jwk)}))  # fmt: skip
    a.run("setup", A, a.url, str(work / "a-id.json"), str(work / f"{B}.json"))
    b.run("setup", B, b.url, str(work / "b-id.json"), str(work / f"{A}.json"))
    server = subprocess.Popen(
        [BIN / "gunicorn", "bench_exchange:application", "--pythonpath", str(REPO / "bench"),
         "--bind", f"127.0.0.1:{b.port}", "--workers", "1", "--threads", "4", "--timeout", "120"],
        env={**b.env, "BENCH_EXCHANGE_SERVER": "1"}, cwd=REPO,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    results: dict[str, dict] = {}
    try:
        _wait_up(b.port)
        a.run("queue", str(n), "http")
        results["http_signed"] = a.run("deliver")
        assert results["http_signed"]["acked"] == n, results["http_signed"]
        results["http_plain"] = a.run("plain_post", str(b.port), str(n))
    finally:
        server.terminate()
        server.wait(30)
    a.run("queue", str(n), "bundle")
    results["bundle_export"] = a.run("export", B, str(work / "a-to-b.jws"))
    results["bundle_import"] = b.run("import", str(work / "a-to-b.jws"), str(b.root / "bundle.log"))
    assert results["bundle_import"]["applied"] == n, results["bundle_import"]
    results["ack_export"] = b.run("export", A, str(work / "b-to-a.jws"))
    results["ack_import"] = a.run("import", str(work / "b-to-a.jws"), str(a.root / "acks.log"))
    assert results["ack_import"]["acks"] == n, results["ack_import"]
    results["plain_write"] = a.run("plain_write", str(n), str(work / "plain.json"))
    results["plain_read"] = b.run("plain_read", str(work / "plain.json"), str(b.root / "plain.log"))

    def rate(*keys: str) -> float:
        return n / sum(results[k]["seconds"] for k in keys)

    figures = {
        "messages": n,
        "http_signed_per_s": rate("http_signed"),
        "http_plain_per_s": rate("http_plain"),
        "bundle_one_way_per_s": rate("bundle_export", "bundle_import"),
        "bundle_end_to_end_per_s": rate("bundle_export", "bundle_import", "ack_export", "ack_import"),
        "bundle_plain_per_s": rate("plain_write", "plain_read"),
        "bundle_bytes_per_message": results["bundle_export"]["bytes"] / n,
        "plain_file_bytes_per_message": (work / "plain.json").stat().st_size / n,
    }
    figures["http_ratio"] = figures["http_signed_per_s"] / figures["http_plain_per_s"]
    figures["bundle_one_way_ratio"] = figures["bundle_one_way_per_s"] / figures["bundle_plain_per_s"]
    if opts.json:
        print(json.dumps({"figures": figures, "steps": results}, indent=2, default=str))
    else:
        print(f"{n} notifications, sender and receiver on this machine (SQLite, gunicorn 1x4)")
        print(f"HTTP signed end to end (sign, POST, verify, apply, signed ack, verify): {figures['http_signed_per_s']:8.1f}/s")
        print(f"HTTP unsigned JSON POST baseline (store + same handler, JSON ack):     {figures['http_plain_per_s']:8.1f}/s"
              f"  ratio signed/baseline {figures['http_ratio']:.2f}")
        print(f"bundle one way (export + import):                                      {figures['bundle_one_way_per_s']:8.1f}/s")
        print(f"bundle unsigned JSON file baseline (write + read and store):          {figures['bundle_plain_per_s']:8.1f}/s"
              f"  ratio signed/baseline {figures['bundle_one_way_ratio']:.2f}")
        print(f"bundle end to end with the acks back (4 steps):                        {figures['bundle_end_to_end_per_s']:8.1f}/s")
        print(f"bytes per message: bundle {figures['bundle_bytes_per_message']:.0f}, plain JSON "
              f"{figures['plain_file_bytes_per_message']:.0f}")
    if not opts.keep:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
