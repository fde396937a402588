from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from popreg.registry.access import system_actor
from popreg.registry.actions import do_repair_history
from popreg.registry.history import rebuild_person
from popreg.registry.models import Person


class Command(BaseCommand):
    help = (
        "Re-derive every person's state from baseline + events and compare with the stored "
        "state (核对历史). --repair writes the derived state back through do_repair_history "
        "(one audit record per repaired person)."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--repair", action="store_true")

    def handle(self, *args: Any, **opts: Any) -> None:
        checked = bad = 0
        actor = system_actor("verify_history")
        for person in Person.objects.order_by("id").iterator(chunk_size=2000):
            checked += 1
            fields = rebuild_person(person)
            if fields and opts["repair"]:
                fields = do_repair_history(actor, person.pk)
            if fields:
                bad += 1
                self.stdout.write(f"person {person.pk}: {', '.join(fields)}")
        self.stdout.write(f"核对 {checked:,} 人，不一致 {bad:,} 人 / checked {checked:,}, differing {bad:,}")
        if bad and not opts["repair"]:
            raise CommandError("存在与历史不一致的记录 / stored state differs from history")
