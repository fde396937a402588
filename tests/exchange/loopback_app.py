"""The deployments of the loopback test (tests/exchange/test_loopback.py).

As a WSGI module (``gunicorn tests.exchange.loopback_app:application``) it is either
deployment's web server (both serve the inbox, each on its own port) with a trivial
handler for ``migrant_registered`` that only records receipt: it appends the message id
to the file ``$LOOPBACK_LOG`` (one line per call, so a message applied twice would show
twice), independent of the semantics handlers.

As a script (``python -m tests.exchange.loopback_app setup ...``) it makes a deployment's
identity and trusts the other; with N > 0 it also queues N signed notifications for the
other, and with ``pair`` two updates of one subject (the older first) for the stale check.
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "popreg.web.settings")

if __name__ != "__main__":
    from django.core.wsgi import get_wsgi_application

    application = get_wsgi_application()

    from popreg.exchange import handlers
    from popreg.exchange.handlers import Outcome

    def _record_receipt(actor, message):  # noqa: ANN001
        with open(os.environ["LOOPBACK_LOG"], "a", encoding="ascii") as fh:
            fh.write(message.message_id + "\n")
        return Outcome("applied", {"recorded": True})

    handlers.register("migrant_registered", _record_receipt)


def setup(code: str, url: str, out: str, peer_identity: str, n: int, recipient: str, pair: bool) -> None:
    """This deployment's identity (its key is already in the key directory), trust in the
    peer, (``n`` > 0) ``n`` signed notifications queued for ``recipient`` and (``pair``)
    two updates of one subject."""
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import transaction

    from popreg.exchange import outbox, transport
    from popreg.exchange.models import OutboxMessage

    call_command("exchange", "identity", "--code", code, "--url", url, "--out", out)
    call_command("exchange", "trust", peer_identity)
    if not n:
        return
    with transaction.atomic():
        for i in range(n):
            outbox.queue(recipient, "migrant_registered",
                         {"id_number": f"{code}19900101{i:04d}", "name": f"测试{i}"},
                         {"residence_unit": f"{code}001001", "seq": i})  # fmt: skip
        for step in ("older", "newer") if pair else ():
            outbox.queue(recipient, "migrant_registered", {"id_number": "110105198001010000", "name": "同一人"},
                         {"residence_unit": "110105001001", "step": step})  # fmt: skip
    for row in OutboxMessage.objects.order_by("id"):
        transport.ensure_token(row)


if __name__ == "__main__":
    if sys.argv[1] == "setup":
        setup(*sys.argv[2:6], int(sys.argv[6]), sys.argv[7], sys.argv[8] == "pair")
