"""Simultaneous writes through the web forms against a file-based SQLite database.

Run by ``test_integrity.py`` in a child process (the test database of the suite is SQLite
in memory, which shares one connection and cannot show the file locking):

    python -m tests.registry.sqlite_writers DB_PATH [THREADS] [TRANSACTION_MODE]

Half the threads register a birth, half correct an existing person (both read before they
write); all start together.  Prints JSON: the HTTP status of every request and the rows
written.  ``TRANSACTION_MODE`` (e.g. ``DEFERRED``) overrides the setting, to measure the
behaviour without ``BEGIN IMMEDIATE``.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import traceback
from datetime import date, timedelta


def main(path: str, threads: int = 70, mode: str = "") -> dict[str, object]:
    os.environ["DATABASE_URL"] = f"sqlite:///{path}"
    os.environ["DJANGO_SETTINGS_MODULE"] = "popreg.web.settings"
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection, connections
    from django.test import Client

    from popreg.registry import actions
    from popreg.registry.access import actor_for
    from popreg.registry.models import AdminUnit, Assignment, Event, Person

    if mode:
        connections.settings["default"]["OPTIONS"]["transaction_mode"] = mode or None
    call_command("migrate", verbosity=0)
    for code, name, level, parent in (
        ("110105000000", "示例县", "county", None), ("110105001000", "城关镇", "township", "110105000000"),
        ("110105001001", "东关村民委员会", "village", "110105001000"),
    ):
        AdminUnit.objects.create(code=code, name=name, level=level, parent_id=parent,
                                 valid_from=date(2000, 1, 1))
    user = get_user_model().objects.create_user(username="clerk", password="x-pass-123")
    Assignment.objects.create(user=user, role="village_clerk", unit_id="110105001001")
    actor = actor_for(user)
    targets = [actions.do_register_birth(actor, name=f"测试{i}", sex="F", birth_date=date(1990, 1 + i % 12, 1 + i % 28),
                                         registered_unit_code="110105001001").pk
               for i in range(threads // 2)]
    persons_before, events_before = Person.objects.count(), Event.objects.count()
    clients = []
    for _ in range(threads):
        c = Client(raise_request_exception=False)
        c.force_login(user)
        clients.append(c)
    connection.close()

    start = threading.Barrier(threads)
    codes: list[int] = [0] * threads
    errors: list[str] = []

    def work(i: int) -> None:
        try:
            start.wait()
            if i % 2:
                r = clients[i].post(f"/persons/{targets[i // 2]}/correct/",
                                    {"ethnicity": "回族", "reason": "并发测试"})
            else:
                r = clients[i].post("/register/birth/", {
                    # three days apart: the entry check does not take one for a duplicate of another
                    "name": f"并发{i}", "sex": "M", "birth_date": (date(2024, 1, 1) + timedelta(days=3 * i)).isoformat(),
                    "registered_unit": "110105001001", "household_no": "", "id_number": "",
                    "ethnicity": "汉族", "mother": "", "father": ""})
            codes[i] = r.status_code
            if r.status_code >= 500:
                errors.append(r.content.decode(errors="replace")[-300:])
        except Exception:  # noqa: BLE001 - reported to the test
            errors.append(traceback.format_exc()[-1500:])
        finally:
            connections.close_all()

    pool = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return {
        "codes": codes, "errors": errors[:3],
        "persons_written": Person.objects.count() - persons_before,
        "events_written": Event.objects.count() - events_before,
    }


if __name__ == "__main__":
    args = sys.argv[1:]
    print(json.dumps(main(args[0], int(args[1]) if len(args) > 1 else 70, args[2] if len(args) > 2 else "")))
