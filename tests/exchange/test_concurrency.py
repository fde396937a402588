"""The same message taken in by several requests at once is applied once; several new
messages of one subject at once (the subject's watermark created by one of them) are each
taken in once.

PostgreSQL only: the SQLite test database lives in memory with a shared cache, whose table
locks fail concurrent writers at once instead of waiting; concurrency on SQLite files is
covered by tests/exchange/test_loopback.py (gunicorn threads)."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from popreg.exchange import inbox
from popreg.exchange.models import InboxMessage

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("no_handlers")]


@pytest.fixture(autouse=True)
def _postgresql_only():
    if connection.vendor != "postgresql":
        pytest.skip("concurrent writers need a database server (see the module docstring)")


def _run_all(tokens):
    results, errors = [], []

    def work(token):
        try:
            results.append(inbox.receive(token).status)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(t,)) for t in tokens]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    return results


def test_same_message_at_once_is_applied_once(peer, remote, recording_handler):
    token = remote.sign(remote.message())
    results = _run_all([token] * 6)
    assert sorted(results) == ["applied"] + ["duplicate"] * 5
    assert len(recording_handler) == 1
    assert InboxMessage.objects.get().duplicate_count == 5


def test_new_messages_of_one_subject_at_once(peer, remote, recording_handler):
    now = timezone.now()
    msgs = [remote.message(created=now + timedelta(seconds=i)) for i in range(6)]
    results = _run_all([remote.sign(m) for m in msgs])
    # each taken in once: applied, or stale when a newer one of the subject came first
    assert len(results) == 6 and set(results) <= {"applied", "stale"}
    assert "applied" in results
    assert InboxMessage.objects.count() == 6
    assert len(recording_handler) == results.count("applied")
    newest = msgs[-1].id
    assert InboxMessage.objects.get(message_id=newest).status == "applied"
