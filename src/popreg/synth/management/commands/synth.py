"""``popreg synth``: write a synthetic county snapshot (format v1) with ground truth."""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from popreg.synth.counties import MAX_COUNTIES, generate_counties
from popreg.synth.generator import DEFAULT_REFERENCE, generate


def _moment(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text)
    except ValueError as exc:
        raise CommandError(
            f"--reference-moment {text!r}: 不是 ISO 8601 时刻,例如 2025-11-01T00:00:00 / "
            "not an ISO 8601 date-time, e.g. 2025-11-01T00:00:00"
        ) from exc


class Command(BaseCommand):
    help = (
        "生成合成县快照 / Generate a synthetic county snapshot (persons, households, events, "
        "outside sources, ground truth). The same seed gives byte-identical files."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--seed", type=int, required=True, help="random seed (integer)")
        parser.add_argument("--out", required=True, help="output directory (new or empty)")
        parser.add_argument(
            "--persons", type=int, default=None,
            help="registered people (default: the 157,000-person county); large values stream",
        )
        parser.add_argument(
            "--reference-moment", default=DEFAULT_REFERENCE.isoformat(),
            help="snapshot moment, ISO 8601 (default 2025-11-01T00:00:00); events cover ten years before it",
        )
        parser.add_argument(
            "--counties", type=int, default=None,
            help=f"2 to {MAX_COUNTIES} neighbouring counties that share migrants: one snapshot per county "
                 "in DIR/<county code>/ and DIR/truth/migrants.csv (--persons is per county)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        out = Path(options["out"])
        if out.exists() and (not out.is_dir() or any(out.iterdir())):
            raise CommandError(
                f"--out {out}: 目录已存在且不为空,请换一个目录或先删除它 / "
                "the directory exists and is not empty: choose another one or remove it first"
            )
        persons = options["persons"]
        if persons is not None and persons < 1000:
            raise CommandError(f"--persons {persons}: 至少 1000 人 / must be at least 1000")
        if persons is not None and persons > 10_400_000:
            raise CommandError(
                f"--persons {persons}: 最多 10,400,000 人(乡镇代码只有三位)/ "
                "at most 10,400,000 (township codes have three digits)"
            )
        moment = _moment(options["reference_moment"])
        began = time.monotonic()
        counties = options["counties"]
        if counties is not None:
            if not 2 <= counties <= MAX_COUNTIES:
                raise CommandError(
                    f"--counties {counties}: 请给 2 到 {MAX_COUNTIES} 个县 / give 2 to {MAX_COUNTIES} counties"
                )
            try:
                summary = generate_counties(out, seed=options["seed"], counties=counties, persons=persons,
                                            reference=moment, progress=self.stderr)
            except ValueError as exc:
                raise CommandError(str(exc)) from exc
            pairs = ", ".join(f"{pair.replace('>', ' → ')} {n:,}" for pair, n in summary["migrants"].items())
            self.stdout.write(
                f"{counties} 个县已写入 / {counties} counties written to {out}: "
                f"{', '.join(summary['counties'])}; {summary['total']:,} shared migrants ({pairs}) "
                f"in {time.monotonic() - began:.1f} s"
            )
            return
        manifest = generate(out, seed=options["seed"], persons=persons, reference=moment, progress=self.stderr)
        rows = manifest["row_counts"]
        self.stdout.write(
            f"合成县已写入 / synthetic county written to {out}: "
            f"{rows['persons']:,} persons, {rows['households']:,} households, "
            f"{rows['events']:,} events in {time.monotonic() - began:.1f} s"
        )
