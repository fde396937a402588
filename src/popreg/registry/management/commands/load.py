from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from popreg.registry.access import system_actor
from popreg.registry.errors import RegistryError
from popreg.registry.loading import load_snapshot, registry_is_empty, stderr_progress


class Command(BaseCommand):
    help = "Load a format-v1 snapshot directory into an empty registry (载入快照)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("snapshot_dir")
        parser.add_argument("--if-empty", action="store_true",
                            help="do nothing (and succeed) when the registry already has data")

    def handle(self, *args: Any, **opts: Any) -> None:
        if opts["if_empty"] and not registry_is_empty():
            self.stdout.write("登记库已有数据，跳过载入 / registry not empty, load skipped")
            return
        start = time.perf_counter()
        try:
            counts = load_snapshot(opts["snapshot_dir"], system_actor("load"), stderr_progress)
        except RegistryError as exc:
            raise CommandError(str(exc)) from exc
        took = time.perf_counter() - start
        summary = ", ".join(f"{k} {v:,}" for k, v in counts.items())
        self.stdout.write(f"载入完成 / loaded in {took:.1f} s: {summary}")
