from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from popreg.migrants.sync import sync_migrants
from popreg.registry.access import system_actor
from popreg.registry.errors import RegistryError


class Command(BaseCommand):
    help = ("Create the missing in- and out-migrant records of floating_in / floating_out persons "
            "(建立流动人口记录); `popreg load` does this itself after loading.")

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--snapshot", default=None,
                            help="snapshot the registry was loaded from (arrival_date, migration_reason, "
                                 "destination_code columns)")

    def handle(self, *args: Any, **opts: Any) -> None:
        try:
            counts = sync_migrants(system_actor("migrants_sync"), opts["snapshot"])
        except (RegistryError, OSError) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"流入人口 {counts['in_migrants']} 条，流出人口 {counts['out_migrants']} 条 / "
                          f"in-migrants {counts['in_migrants']}, out-migrants {counts['out_migrants']}")
