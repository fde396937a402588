"""HTTP delivery against a small stand-in peer (a thread of this process): what each
answer does to the outbox message, and the back-off."""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from popreg.exchange import outbox, transport
from popreg.exchange.messages import new_id
from popreg.exchange.models import OutboxMessage, OutboxStatus, Peer

from .conftest import HERE, PEER

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_handlers")]


@pytest.fixture
def stand_in(peer, remote):
    """A peer whose answer the test chooses: ``answers`` is a list of callables
    (token -> (status, body bytes)), one per request."""
    answers: list = []
    received: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - the http.server name
            token = self.rfile.read(int(self.headers["Content-Length"])).decode()
            received.append(token)
            status, body = answers.pop(0)(token)
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    Peer.objects.filter(pk=peer.pk).update(url=f"http://127.0.0.1:{server.server_address[1]}/")
    yield answers, received
    server.shutdown()
    server.server_close()


def _ack_from(remote, status="applied", *, sender=None):
    def answer(token):
        from popreg.exchange import crypto

        mid = json.loads(crypto.split_compact(token)[1])["id"]
        msg = remote.message("ack", recipient=HERE, subject={}, payload={"status": status}, in_reply_to=mid)
        obj = msg.as_json()
        if sender:
            obj["sender"] = sender
        return 200, remote.sign(obj).encode()
    return answer


def _queue():
    return outbox.queue(PEER, "whereabouts_confirmed", {"id_number": "1", "name": "王"}, {"x": 1})


def test_signed_ack_marks_acknowledged_and_the_same_bytes_are_resent(stand_in, remote, settings):
    answers, received = stand_in
    msg = _queue()
    answers += [lambda t: (503, b"busy"), _ack_from(remote, "review")]
    assert transport.deliver().retry == 1
    msg.refresh_from_db()
    assert msg.status == OutboxStatus.PENDING and msg.attempts == 1 and "HTTP 503" in msg.last_error
    assert msg.next_attempt_at - msg.last_attempt_at == timedelta(seconds=settings.POPREG_EXCHANGE_BACKOFF_S)
    assert transport.deliver().as_dict() == {"acked": 0, "retry": 0, "failed": 0}  # not due yet
    OutboxMessage.objects.filter(pk=msg.pk).update(next_attempt_at=msg.last_attempt_at)
    assert transport.deliver().acked == 1
    msg.refresh_from_db()
    assert msg.status == OutboxStatus.ACKED and msg.ack_status == "review" and msg.last_error == ""
    assert received[0] == received[1] == msg.token


def test_refusal_fails_with_the_peers_reason(stand_in):
    answers, _ = stand_in
    msg = _queue()
    body = json.dumps({"refused": True, "reason_zh": "发送方不是受信任的交换对端", "reason_en": "sender is not a trusted peer"})
    answers.append(lambda t: (403, body.encode()))
    assert transport.deliver().failed == 1
    msg.refresh_from_db()
    assert msg.status == OutboxStatus.FAILED and "sender is not a trusted peer" in msg.last_error


def test_redirect_fails_naming_https(stand_in):
    answers, _ = stand_in
    msg = _queue()
    answers.append(lambda t: (301, b""))
    transport.deliver()
    msg.refresh_from_db()
    assert msg.status == OutboxStatus.FAILED and "https://" in msg.last_error


@pytest.mark.parametrize("forgery", ["other_key", "wrong_message"])
def test_an_ack_that_does_not_verify_is_retried(stand_in, remote, stranger, forgery):
    answers, _ = stand_in
    msg = _queue()
    if forgery == "other_key":
        answers.append(_ack_from(stranger, sender=PEER))
    else:
        answers.append(lambda t: (200, remote.sign(remote.message(
            "ack", subject={}, payload={"status": "applied"}, in_reply_to=new_id())).encode()))
    assert transport.deliver().retry == 1
    msg.refresh_from_db()
    assert msg.status == OutboxStatus.PENDING and msg.attempts == 1


def test_backoff_doubles_up_to_the_cap(settings):
    settings.POPREG_EXCHANGE_BACKOFF_S = 10
    settings.POPREG_EXCHANGE_BACKOFF_MAX_S = 60
    assert [transport.backoff(n).total_seconds() for n in (1, 2, 3, 4, 5)] == [10, 20, 40, 60, 60]


def test_gives_up_after_max_attempts(peer, settings):
    settings.POPREG_EXCHANGE_MAX_ATTEMPTS = 2
    msg = _queue()  # the peer's port refuses connections
    transport.deliver()
    OutboxMessage.objects.filter(pk=msg.pk).update(next_attempt_at=msg.created)
    transport.deliver()
    msg.refresh_from_db()
    assert msg.status == OutboxStatus.FAILED and "gave up after 2 attempts" in msg.last_error
