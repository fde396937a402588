"""``popreg benefits eligibility | payments | disclosure``: the benefits contract commands.

``popreg benefits eligibility --programme childcare_subsidy --month 2025-10 [--snapshot DIR]
--out FILE.csv``
    One row per person considered: ``person_id, eligible (true|false), amount_yuan,
    reasons``.  With ``--snapshot`` the rules are evaluated over that snapshot and nothing
    is recorded; without it the live registry is evaluated and the run is recorded (as
    the system actor), as the page does.
``popreg benefits payments --programme P --month YYYY-MM --out FILE.csv``
    The month's payment file.
``popreg benefits disclosure --programme P --month YYYY-MM --unit CODE --out DIR``
    ``notice.pdf`` and ``list.csv`` of that village's public list (latest recorded run).

docs/benefits-rules.md describes the programmes and their rules; docs/cli.md the commands.
"""

from __future__ import annotations

import csv
import re
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
from django.core.management.base import BaseCommand, CommandError, CommandParser

from popreg.benefits.programmes import CODES

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")

#: Columns of the eligibility CSV (the contract).
ELIGIBILITY_COLUMNS = ("person_id", "eligible", "amount_yuan", "reasons")


def parse_month(text: str) -> date:
    m = _MONTH.match(text.strip())
    if not m or not 1 <= int(m.group(2)) <= 12:
        raise CommandError(f"--month {text}：应为 YYYY-MM，例如 2025-10 / --month {text}: use YYYY-MM, e.g. 2025-10")
    return date(int(m.group(1)), int(m.group(2)), 1)


def _yuan(value: float) -> str:
    text = f"{value:.2f}"
    return text[:-3] if text.endswith(".00") else text


def write_eligibility_csv(decisions: pd.DataFrame, out: Path) -> int:
    """Write the contract CSV; returns the number of rows."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(ELIGIBILITY_COLUMNS)
        for pid, elig, amount, reasons in zip(
            decisions["person_id"].to_numpy(), decisions["eligible"].to_numpy(),
            decisions["amount_yuan"].to_numpy(), decisions["reasons"].astype(str).to_numpy(), strict=True,
        ):
            w.writerow((int(pid), "true" if elig else "false", _yuan(float(amount)), reasons))
    return len(decisions)


def _family(opts: dict[str, Any]) -> Any:
    from popreg.benefits.facts import CERTIFICATE_COLUMNS, DISABILITY_COLUMNS, FamilyFacts

    if not opts.get("certificates") and not opts.get("disabilities"):
        return None
    kwargs: dict[str, pd.DataFrame] = {}
    for key, cols in (("certificates", CERTIFICATE_COLUMNS), ("disabilities", DISABILITY_COLUMNS)):
        path = opts.get(key)
        if not path:
            continue
        try:
            frame = pd.read_csv(path, dtype=str, keep_default_na=False).replace("", None)
        except OSError as exc:
            raise CommandError(f"--{key}：无法读取文件 / --{key}: cannot read the file ({exc.strerror})") from None
        missing = [c for c in cols if c not in frame.columns]
        if missing:
            raise CommandError(
                f"--{key}：缺少列 {', '.join(missing)} / --{key}: columns missing: {', '.join(missing)} "
                f"(expected {', '.join(cols)})"
            )
        kwargs[key] = frame
    return FamilyFacts(**kwargs)


class Command(BaseCommand):
    help = "家庭福利：资格评估、发放文件、公示 / family benefits: eligibility, payment file, public disclosure"

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, metavar="{eligibility,payments,disclosure}")
        elig = sub.add_parser("eligibility", help="资格评估 / evaluate eligibility")
        elig.add_argument("--programme", required=True, choices=CODES)
        elig.add_argument("--month", required=True, help="YYYY-MM")
        elig.add_argument("--snapshot", help="snapshot directory (default: the live registry, run recorded)")
        elig.add_argument("--out", required=True, help="output CSV")
        elig.add_argument("--certificates", help="with --snapshot: certificates CSV (person_id,kind,number,issued_date,child_person_id)")
        elig.add_argument("--disabilities", help="with --snapshot: disabilities CSV (person_id,grade,recorded_date)")
        pay = sub.add_parser("payments", help="月度发放文件 / monthly payment file")
        pay.add_argument("--programme", required=True, choices=CODES)
        pay.add_argument("--month", required=True, help="YYYY-MM")
        pay.add_argument("--out", required=True, help="output CSV")
        dis = sub.add_parser("disclosure", help="村级公示（PDF 和 CSV） / village public list (PDF and CSV)")
        dis.add_argument("--programme", required=True, choices=CODES)
        dis.add_argument("--month", required=True, help="YYYY-MM")
        dis.add_argument("--unit", required=True, help="village code")
        dis.add_argument("--out", required=True, help="output directory")

    def handle(self, *args: Any, **opts: Any) -> None:
        action = opts["action"]
        month = parse_month(opts["month"])
        if action == "eligibility":
            self._eligibility(opts, month)
        elif action == "payments":
            self._payments(opts, month)
        else:
            self._disclosure(opts, month)

    def _eligibility(self, opts: dict[str, Any], month: date) -> None:
        from popreg.core.eligibility import RuleError

        out = Path(opts["out"])
        family = _family(opts)
        try:
            if opts.get("snapshot"):
                from popreg.benefits.evaluate import evaluate_programme
                from popreg.snapshot.format import SnapshotError

                snapshot = Path(opts["snapshot"])
                if not (snapshot / "manifest.json").is_file():
                    raise CommandError(
                        f"--snapshot：{snapshot} 不是快照目录（缺少 manifest.json） / "
                        f"--snapshot: {snapshot} is not a snapshot directory (no manifest.json)"
                    )
                try:
                    result = evaluate_programme(opts["programme"], month, snapshot, family)
                except SnapshotError as exc:
                    raise CommandError(f"--snapshot：{exc}") from None
                run_note = ""
            else:
                if family is not None:
                    raise CommandError(
                        "--certificates/--disabilities 只能与 --snapshot 一起使用（登记库中已有家庭信息） / "
                        "--certificates/--disabilities go with --snapshot only (the registry holds its own family facts)"
                    )
                run_live = self._run_live()
                with _refusals():
                    run, result = run_live(programme=opts["programme"], month=month, unit_code=None)
                run_note = f"; run {getattr(run, 'pk', run)} recorded"
        except RuleError as exc:
            raise CommandError(f"--programme {opts['programme']} --month {opts['month']}: {exc}") from None
        n = write_eligibility_csv(result.decisions, out)
        eligible = int(result.decisions["eligible"].sum())
        total = float(result.decisions["amount_yuan"].sum())
        self.stdout.write(
            f"{n} 人评估，{eligible} 人符合，合计 {_yuan(total)} 元 / {n} considered, {eligible} eligible, "
            f"{_yuan(total)} yuan; rules {result.rules_version[:12]}, snapshot {result.snapshot_sha256[:12]}{run_note}"
        )

    @staticmethod
    def _run_live() -> Any:
        try:
            from popreg.benefits.runs import run_live
        except ImportError:
            raise CommandError(
                "登记库评估尚不可用，请用 --snapshot DIR 评估快照 / evaluating the live registry is not "
                "available yet: evaluate a snapshot with --snapshot DIR"
            ) from None
        return run_live

    def _payments(self, opts: dict[str, Any], month: date) -> None:
        try:
            from popreg.benefits.payments import write_payment_file
        except ImportError:
            raise CommandError("发放文件尚不可用 / the payment file is not available yet") from None
        with _refusals():
            result = write_payment_file(opts["programme"], month, Path(opts["out"]))
        said = f"发放文件已写入 / payment file written: {opts['out']}"
        if isinstance(result, dict) and {"lines", "total_yuan"} <= result.keys():
            said += f" ({result['lines']} lines, {result['total_yuan']} yuan)"
        self.stdout.write(said)

    def _disclosure(self, opts: dict[str, Any], month: date) -> None:
        try:
            from popreg.benefits.disclosure import write_disclosure
        except ImportError:
            raise CommandError("公示文件尚不可用 / the public list is not available yet") from None
        out_dir = Path(opts["out"])
        with _refusals():
            write_disclosure(opts["programme"], month, opts["unit"], out_dir)
        self.stdout.write(f"公示已写入 / public list written: {out_dir / 'notice.pdf'}, {out_dir / 'list.csv'}")


class _refusals:
    """A write the benefits app refuses (no approved run, no recorded run...) becomes a
    command error with its Chinese and English message, not a traceback."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        from popreg.registry.errors import RegistryError

        if exc is not None and isinstance(exc, RegistryError):
            raise CommandError(str(exc)) from None
