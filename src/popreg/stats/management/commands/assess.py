"""``popreg assess SNAPSHOT_DIR --year YYYY --level village --rules rules.json --targets targets.xlsx --out scorecards.csv``.

Scores every unit of one level against a rule set and the yearly targets, ranks units
among peers, flags the lagging ones and compares with the previous year
(docs/assessment.md).  The same inputs give the same CSV bytes as the web page's export.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
from django.core.management.base import BaseCommand, CommandError

from popreg.stats.assessment import (
    AssessmentError,
    assess,
    level_units,
    read_rule_set,
    read_targets,
    target_template,
    to_xlsx_bytes,
    write_csv,
)


class Command(BaseCommand):
    help = "年度考核评分、排名与后进名单 / yearly assessment: scorecards, ranking, lagging list"

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("snapshot_dir", help="snapshot directory")
        parser.add_argument("--year", required=True, type=int, help="assessment year, e.g. 2024")
        parser.add_argument("--level", default="village", choices=("county", "township", "village"))
        parser.add_argument("--rules", required=True, help="rule set (JSON)")
        parser.add_argument("--targets", help="yearly targets (.xlsx or .csv); none = the rules' defaults")
        parser.add_argument("--out", help="scorecards CSV")
        parser.add_argument("--xlsx", help="also write an Excel workbook (scorecards, lagging list, inputs)")
        parser.add_argument("--lagging-percent", type=float, default=10.0, help="bottom share of each peer group (default 10)")
        parser.add_argument("--population", default="registered", choices=("registered", "resident"))
        parser.add_argument("--links", help="source links CSV (source,record_id,person_id[,match_probability]); default: link now")
        parser.add_argument("--template", help="write an empty targets template (.xlsx) for the level and year, then stop")

    def handle(self, *args: Any, **opts: Any) -> None:
        try:
            rule_set = read_rule_set(opts["rules"])
            if opts["template"]:
                units = level_units(opts["snapshot_dir"], opts["level"])
                target_template(opts["template"], opts["year"], units.items(), rule_set)
                self.stdout.write(f"目标模板已写入 / targets template written: {opts['template']}")
                return
            if not opts["out"] and not opts["xlsx"]:
                raise CommandError("请给出 --out 或 --xlsx / give --out or --xlsx")
            targets = []
            if opts["targets"]:
                targets = read_targets(
                    opts["targets"],
                    units=level_units(opts["snapshot_dir"], None),
                    indicators=[r.indicator for r in rule_set.rules],
                )
            links = None
            if opts["links"]:
                links = pd.read_csv(opts["links"], dtype=str, keep_default_na=False)
                if "match_probability" not in links.columns:
                    links["match_probability"] = "1"
                links["match_probability"] = links["match_probability"].replace("", "0").astype(float)
            result = assess(
                opts["snapshot_dir"], opts["year"], opts["level"], rule_set, targets,
                lagging_percent=opts["lagging_percent"], population=opts["population"], links=links,
            )  # fmt: skip
        except AssessmentError as exc:
            raise CommandError(str(exc)) from None
        try:
            if opts["out"]:
                write_csv(result, opts["out"])
            if opts["xlsx"]:
                Path(opts["xlsx"]).parent.mkdir(parents=True, exist_ok=True)
                Path(opts["xlsx"]).write_bytes(to_xlsx_bytes(result, "popreg assess"))
        except OSError as exc:
            raise CommandError(f"无法写入输出文件：{exc} / cannot write the output file: {exc}") from None
        for note in result.notes:
            self.stderr.write(note)
        self.stdout.write(
            f"考核结果已写入 / scorecards written: {opts['out'] or opts['xlsx']} ({len(result.table)} units, "
            f"{int(result.table['lagging'].sum())} lagging, {int(result.table['vetoed'].sum())} vetoed; "
            f"rules {rule_set.name} v{rule_set.version} sha256 {rule_set.checksum()[:12]}, "
            f"targets sha256 {result.targets_checksum[:12]}, snapshot {result.snapshot_checksum[:12]})"
        )
