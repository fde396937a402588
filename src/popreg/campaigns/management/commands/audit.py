"""``popreg audit``: automatic anomaly detection over the registry or a snapshot.

    popreg audit [--unit CODE] --out findings.csv [--snapshot DIR] [--at MOMENT]
                 [--pending-days 180] [--clusters clusters.csv]
                 [--links death_notices=links.csv] [--links hospital_births=links.csv]

Writes a UTF-8 CSV with the columns record_id, source, anomaly_type, detail (a contract the
verification tools rely on).  Without ``--snapshot`` the live registry is first written as
a snapshot into a temporary directory.  Rules: docs/anomalies.md.
"""

from __future__ import annotations

import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from popreg.campaigns.anomalies import (
    ANOMALY_TYPES,
    AuditError,
    detect_anomalies,
    read_clusters_csv,
    read_links_csv,
    write_findings_csv,
)


class Command(BaseCommand):
    help = "自动发现户籍问题(应销未销、人户分离、身份证号错误等)/ detect registry anomalies"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--out", required=True, help="findings CSV to write")
        parser.add_argument("--unit", help="restrict to a unit (12-digit code; group: 15)")
        parser.add_argument("--snapshot", help="snapshot directory (default: the live registry)")
        parser.add_argument("--at", dest="moment", help="reference moment (default: the snapshot's)")
        parser.add_argument("--pending-days", type=int, default=180,
                            help="pending registrations older than this are findings (default 180)")
        parser.add_argument("--clusters",
                            help="duplicate clusters from popreg dedupe (record_id = person_id)")
        parser.add_argument("--links", action="append", default=[], metavar="SOURCE=FILE",
                            help="links from popreg match for death_notices or hospital_births")

    def handle(self, *args: Any, **options: Any) -> None:
        out = Path(options["out"])
        if not out.parent.is_dir():
            raise CommandError(f"输出目录不存在:{out.parent} / output directory {out.parent} does not exist")
        if options["pending_days"] < 0:
            raise CommandError("--pending-days 不能为负数 / --pending-days must not be negative")
        try:
            if options["snapshot"]:
                findings = self._detect(Path(options["snapshot"]), options)
            else:
                findings = self._detect_live(options)
        except AuditError as exc:
            raise CommandError(str(exc)) from exc
        # write to a temporary name first: a failed run leaves no half-written file
        tmp = out.with_name(out.name + ".part")
        n = write_findings_csv(findings, tmp)
        tmp.replace(out)
        counts = Counter(f.anomaly_type for f in findings)
        for anomaly_type, label in ANOMALY_TYPES.items():
            if counts[anomaly_type]:
                self.stdout.write(f"{counts[anomaly_type]:8d}  {anomaly_type:28s} {label}")
        self.stdout.write(f"{n:8d}  findings written to {out}")

    def _detect(self, snapshot: Path, options: dict[str, Any]) -> list[Any]:
        if not (snapshot / "manifest.json").is_file():
            raise CommandError(
                f"{snapshot} 不是快照目录(缺少 manifest.json)/ {snapshot} is not a snapshot directory"
            )
        clusters = read_clusters_csv(options["clusters"]) if options["clusters"] else None
        links: dict[tuple[str, str], int] = {}
        for spec in options["links"]:
            source, sep, path = spec.partition("=")
            if not sep:
                raise AuditError(
                    f"--links 应写作 来源=文件，例如 death_notices=links.csv，实为“{spec}” / "
                    f"--links takes SOURCE=FILE, e.g. death_notices=links.csv, not {spec!r}"
                )
            links.update(read_links_csv(path, source))
        return detect_anomalies(
            snapshot,
            unit=options["unit"],
            reference_moment=options["moment"],
            pending_days=options["pending_days"],
            duplicate_clusters=clusters,
            source_links=links or None,
        )

    def _detect_live(self, options: dict[str, Any]) -> list[Any]:
        try:
            from popreg.registry.snapshot import write_registry_snapshot
        except ImportError as exc:
            raise CommandError(
                "本版本尚不能从户籍库直接生成快照,请用 --snapshot DIR 指定快照目录 / "
                "writing a snapshot of the live registry is not available in this version: "
                "pass --snapshot DIR"
            ) from exc
        with tempfile.TemporaryDirectory(prefix="popreg-audit-") as tmp:
            write_registry_snapshot(tmp)
            return self._detect(Path(tmp), options)
