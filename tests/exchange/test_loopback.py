"""Two deployments on loopback, A (110105) and B (330102): each serves HTTP on its own port
(a gunicorn process of its own) and sends with a ``popreg exchange deliver --loop``
process of its own, with its own SQLite file, key directory and identity URL (its port).
A sends B 1,000 notifications (plus two updates of one subject), B sends A 100, all over
HTTP, with injected faults:

* both peers are down when delivery starts (connection refused: back-off, retries),
  then both servers come up;
* duplicate delivery: 100 messages POSTed first by the test in reverse order, then again
  by the sender; 20 acks "lost" (set back to pending in the sender's database);
* reordering: of two updates of one subject, the newer arrives first; the older is stale;
* a tampered signature, a message signed by an unknown sender, one for another recipient;
* A's sender is killed (SIGKILL) in the middle and restarted;
* the other way, 10 of B's 100 messages are POSTed to A by the test as well (duplicates).

At B every valid message of A is applied exactly once (the handler logs each call), the
older update of the reordered pair is recorded as stale, every bad one is refused and
recorded with its reason, and every message of A ends acknowledged; at A each of B's 100
is applied exactly once, the 10 duplicates are counted, and all 100 end acknowledged at B.

The two deployments' databases are copies of the migrated test database's schema; with
PostgreSQL as the test database the test is skipped (it ran in the SQLite pass: it does
not depend on the test database's engine).
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from popreg.exchange import crypto
from popreg.exchange.messages import iso, new_id

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
N = 1000
N_BACK = 100  # B's notifications to A
A, B = "110105", "330102"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _db(path: Path) -> sqlite3.Connection:
    con = sqlite3.connect(path, timeout=30)
    con.row_factory = sqlite3.Row
    return con


def _scalar(path: Path, sql: str, *args) -> int:
    con = _db(path)
    try:
        return con.execute(sql, args).fetchone()[0]
    finally:
        con.close()


@pytest.fixture
def template_db(tmp_path, transactional_db) -> Path:
    """A migrated, empty SQLite database file: a copy of the test database's schema."""
    from django.db import connection

    if connection.vendor != "sqlite":
        pytest.skip("runs in the SQLite pass: the two deployments use SQLite files of their own")
    out = tmp_path / "template.sqlite3"
    connection.ensure_connection()
    dest = sqlite3.connect(out)
    connection.connection.backup(dest)
    dest.close()
    return out


class Deployment:
    def __init__(self, root: Path, code: str, template: Path) -> None:
        self.root, self.code = root, code
        root.mkdir()
        self.db = root / "db.sqlite3"
        shutil.copy(template, self.db)
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.env = {
            **os.environ, "DATABASE_URL": f"sqlite:///{self.db}", "POPREG_HOME": str(root),
            "POPREG_EXCHANGE_KEY_DIR": str(root / "keys"), "POPREG_TASKS_BACKEND": "database",
            "POPREG_EXCHANGE_BACKOFF_S": "0.2", "POPREG_EXCHANGE_BACKOFF_MAX_S": "1",
            "POPREG_EXCHANGE_HTTP_TIMEOUT_S": "5", "LOOPBACK_LOG": str(root / "applied.log"),
            "DJANGO_SETTINGS_MODULE": "popreg.web.settings", "PYTHONPATH": str(REPO),
        }  # fmt: skip
        self.env.pop("DJANGO_LIVE_TEST_SERVER_ADDRESS", None)

    def proc(self, *args: str) -> subprocess.Popen:
        return subprocess.Popen(list(args), env=self.env, cwd=REPO, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)  # fmt: skip

    def popen(self, *args: str, log: str) -> subprocess.Popen:
        fh = open(self.root / log, "w")  # noqa: SIM115 - closed with the process
        return subprocess.Popen(list(args), env=self.env, cwd=REPO, stdout=fh, stderr=subprocess.STDOUT)

    def serve(self) -> subprocess.Popen:
        """This deployment's web server on its own port (its inbox at /exchange/inbox/)."""
        return self.popen(str(BIN / "gunicorn"), "tests.exchange.loopback_app:application",
                          "--bind", f"127.0.0.1:{self.port}", "--workers", "1", "--threads", "4",
                          "--timeout", "60", log="gunicorn.log")  # fmt: skip

    def deliver(self, *flags: str, log: str) -> subprocess.Popen:
        return self.popen(str(BIN / "popreg"), "exchange", "deliver", "--loop", *flags, log=log)


def _together(*procs: subprocess.Popen) -> None:
    for p in procs:
        _out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err[-2000:]


def _post(port: int, token: str) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("POST", "/exchange/inbox/", body=token.encode(), headers={"Content-Type": "application/jose"})
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


def _wait(cond, timeout: float, what: str, step: float = 0.1) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return
        time.sleep(step)
    raise AssertionError(f"timed out waiting for {what}")


def _up(port: int) -> bool:
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
        conn.request("GET", "/exchange/inbox/")
        ok = conn.getresponse().status == 405
        conn.close()
        return ok
    except OSError:
        return False


def _stop(proc: subprocess.Popen | None) -> None:
    if proc is not None and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_thousand_notifications_over_http_with_faults(tmp_path, template_db):
    t0 = time.monotonic()
    a = Deployment(tmp_path / "a", A, template_db)
    b = Deployment(tmp_path / "b", B, template_db)
    # Each deployment's key is made here so that both identity files exist before either
    # deployment starts: then one process per deployment (at once) runs ``exchange
    # identity`` (which keeps the key), ``exchange trust`` of the other, and the queueing.
    for d in (a, b):
        key = crypto.create_private_key(d.root / "keys")
        jwk = crypto.public_jwk(key.public_key())
        (tmp_path / f"{d.code}.peer.json").write_text(json.dumps({
            "kind": "popreg-exchange-identity", "v": 1, "code": d.code, "url": d.url,
            "public_jwk": jwk, "thumbprint": crypto.thumbprint(jwk)}))  # fmt: skip
    _together(*(d.proc(sys.executable, "-m", "tests.exchange.loopback_app", "setup", d.code, d.url,
                       str(tmp_path / f"{d.code}.json"), str(tmp_path / f"{other.code}.peer.json"),
                       str(N if d is a else N_BACK), other.code, "pair" if d is a else "-")
                for d, other in ((a, b), (b, a))))  # fmt: skip
    for d in (a, b):  # what ``exchange identity`` wrote is what the peer trusted
        assert json.loads((tmp_path / f"{d.code}.json").read_text()) == json.loads(
            (tmp_path / f"{d.code}.peer.json").read_text())
    t_setup = time.monotonic() - t0
    con = _db(a.db)
    rows = con.execute("SELECT message_id, token FROM exchange_outboxmessage ORDER BY id").fetchall()
    con.close()
    assert len(rows) == N + 2
    ids = [r["message_id"] for r in rows]
    tokens = {r["message_id"]: r["token"] for r in rows}
    older, newer = ids[-2], ids[-1]
    con = _db(b.db)
    back = con.execute("SELECT message_id, token, recipient FROM exchange_outboxmessage ORDER BY id").fetchall()
    con.close()
    assert len(back) == N_BACK and {r["recipient"] for r in back} == {A}
    back_ids = [r["message_id"] for r in back]
    acked_sql = "SELECT COUNT(*) FROM exchange_outboxmessage WHERE status = 'acked'"
    refused_sql = "SELECT COUNT(*) FROM exchange_outboxmessage WHERE attempts > 0 AND last_error LIKE '%cannot reach%'"

    sender = receiver = a_server = b_sender = None
    try:
        # 1. both peers are down: each sender's attempts fail and back off
        sender = a.deliver(log="deliver1.log")
        b_sender = b.deliver("--until-idle", log="deliver-b.log")
        _wait(lambda: _scalar(a.db, refused_sql) >= 3, 30, "failed attempts")
        _wait(lambda: _scalar(b.db, refused_sql) >= 1, 30, "B's failed attempts")
        time.sleep(1.0)
        assert _scalar(a.db, acked_sql) == 0
        assert _scalar(b.db, acked_sql) == 0
        # 2. both servers come up, each on its own port
        receiver, a_server = b.serve(), a.serve()
        _wait(lambda: _up(b.port), 30, "the receiver to start")
        _wait(lambda: _up(a.port), 30, "A's server to start")
        t_up = time.monotonic()
        # the other way: 10 of B's messages POSTed to A by the test too (B's sender sends
        # them as well, before or after: one of the two is a duplicate either way)
        for r in back[:10]:
            assert _post(a.port, r["token"])[0] == 200
        # 3. reordering and duplicates: the newer update of one subject first, then 100
        #    messages in reverse order (the sender sends them again later)
        assert _post(b.port, tokens[newer])[0] == 200
        for mid in reversed(ids[N - 100:N]):
            status, _body = _post(b.port, tokens[mid])
            assert status == 200
        # 4. bad messages: tampered signature, unknown sender, wrong recipient
        head, body, sig = tokens[ids[5]].split(".")
        tampered = f"{head}.{body}.{sig[:20]}{'A' if sig[20] != 'A' else 'B'}{sig[21:]}"
        stranger = Ed25519PrivateKey.generate()
        unknown = crypto.sign_json(stranger, _message("440103", B), kid="x")
        a_key = crypto.load_private_key(a.root / "keys")
        wrong = crypto.sign_json(a_key, _message(A, "440103"), kid="x")
        refusals = {}
        for name, token in (("tampered", tampered), ("unknown", unknown), ("wrong", wrong)):
            status, body_ = _post(b.port, token)
            assert status == 403, (name, status)
            refusals[name] = json.loads(body_)["reason_en"]
        assert "does not verify" in refusals["tampered"]
        assert "not a trusted peer" in refusals["unknown"]
        assert "is not this deployment" in refusals["wrong"]
        # 5. kill the sender in the middle
        _wait(lambda: _scalar(a.db, acked_sql) >= 400, 60, "400 acks")
        sender.send_signal(signal.SIGKILL)
        sender.wait()
        done_at_kill = _scalar(a.db, acked_sql)
        assert done_at_kill < N + 2, "the sender finished before it could be killed"
        # 6. 20 acks lost: those messages are pending again and will be sent twice
        con = _db(a.db)
        now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
        con.execute("UPDATE exchange_outboxmessage SET status = 'pending', next_attempt_at = ? WHERE id IN "
                    "(SELECT id FROM exchange_outboxmessage WHERE status = 'acked' ORDER BY id LIMIT 20)", (now,))
        con.commit()
        con.close()
        # 7. restart the sender: it finishes what is pending
        sender = a.deliver("--until-idle", log="deliver2.log")
        sender.wait(90)
        assert sender.returncode == 0, (a.root / "deliver2.log").read_text()[-2000:]
        b_sender.wait(30)  # B's 100 are long done: it stops when nothing is pending
        assert b_sender.returncode == 0, (b.root / "deliver-b.log").read_text()[-2000:]
        t_done = time.monotonic()
    finally:
        for p in (sender, b_sender, receiver, a_server):
            _stop(p)

    # the sender: every message acknowledged, the older update as stale
    con = _db(a.db)
    statuses = dict(con.execute("SELECT status, COUNT(*) FROM exchange_outboxmessage GROUP BY status").fetchall())
    assert statuses == {"acked": N + 2}, statuses
    ack_of = dict(con.execute("SELECT message_id, ack_status FROM exchange_outboxmessage").fetchall())
    con.close()
    assert ack_of[older] == "stale"
    assert set(ack_of.values()) <= {"applied", "duplicate", "stale"}
    # the receiver: each valid message applied exactly once, the rest recorded
    applied_log = (b.root / "applied.log").read_text().split()
    valid = set(ids) - {older}
    assert len(applied_log) == len(valid) == N + 1
    assert set(applied_log) == valid
    con = _db(b.db)
    inbox = dict(con.execute("SELECT status, COUNT(*) FROM exchange_inboxmessage GROUP BY status").fetchall())
    assert inbox == {"applied": N + 1, "stale": 1, "refused": 3}, inbox
    assert con.execute("SELECT status FROM exchange_inboxmessage WHERE message_id = ?", (older,)).fetchone()[0] == "stale"
    duplicates = con.execute("SELECT SUM(duplicate_count) FROM exchange_inboxmessage").fetchone()[0]
    assert duplicates >= 100 + 1 + 20
    reasons = [r[0] for r in con.execute("SELECT reason FROM exchange_inboxmessage WHERE status = 'refused'")]
    con.close()
    assert all(reasons) and len(reasons) == 3
    # the other way: each of B's messages applied exactly once at A, all acknowledged at B
    back_log = (a.root / "applied.log").read_text().split()
    assert sorted(back_log) == sorted(back_ids)
    con = _db(a.db)
    inbox_a = dict(con.execute("SELECT status, COUNT(*) FROM exchange_inboxmessage GROUP BY status").fetchall())
    back_dups = con.execute("SELECT SUM(duplicate_count) FROM exchange_inboxmessage").fetchone()[0]
    con.close()
    assert inbox_a == {"applied": N_BACK}, inbox_a
    assert back_dups >= 10
    con = _db(b.db)
    statuses_b = dict(con.execute("SELECT status, COUNT(*) FROM exchange_outboxmessage GROUP BY status").fetchall())
    acks_b = {r[0] for r in con.execute("SELECT ack_status FROM exchange_outboxmessage")}
    con.close()
    assert statuses_b == {"acked": N_BACK}, statuses_b
    assert acks_b <= {"applied", "duplicate"}
    print(f"loopback: {N + 2} messages, {duplicates} duplicates acknowledged, killed at {done_at_kill} acked; "
          f"{N_BACK} back to A ({back_dups} duplicates); "
          f"setup {t_setup:.1f} s, delivery {t_done - t_up:.1f} s after the servers came up, "
          f"{time.monotonic() - t0:.1f} s in all")


def _message(sender: str, recipient: str) -> dict:
    return {"v": 1, "id": new_id(), "sender": sender, "recipient": recipient, "type": "migrant_registered",
            "created": iso(datetime.now(UTC)), "subject": {"id_number": "110105199901010000", "name": "某"},
            "payload": {}, "in_reply_to": None}
