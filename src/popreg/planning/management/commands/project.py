"""``popreg project``: cohort-component population projection (人口预测).

Two forms (docs/cli.md, docs/projection.md):

* explicit inputs — ``popreg project --inputs FILE.csv --steps K --srb R [--radix 100000]
  --out POP.csv [--births-out BIRTHS.csv]``: five-year groups and steps, PHG Box 6.2 with
  "even" migration (:func:`popreg.core.projection.project_five_year`);
* from the registry — ``popreg project --snapshot DIR --unit CODE --base-year Y --years N
  --scenario low|medium|high|constant [--out FILE.csv]``: handed to the planning app's
  ``popreg.planning.forecast.project_registry``.

The explicit form writes nothing unless every input is good and the projection succeeds;
both files are written next to their targets and renamed into place at the end.
"""

from __future__ import annotations

import contextlib
import csv
import math
import os
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from popreg.core.projection import (
    SEX_LABELS,
    FiveYearProjection,
    NegativePopulationError,
    ProjectionError,
    ProjectionInputs,
    parse_projection_csv,
    project_five_year,
)

SCENARIOS = ("low", "medium", "high", "constant")
_EXPLICIT = ("steps", "srb", "radix", "births_out")
_REGISTRY = ("unit", "base_year", "years", "scenario")
MAX_STEPS = 100


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _population_rows(inputs: ProjectionInputs, res: FiveYearProjection) -> Iterable[list[str]]:
    for step in range(res.population.shape[0]):
        for s, label in enumerate(SEX_LABELS):
            for g, age in enumerate(inputs.age_starts):
                yield [str(step), label, str(age), _fmt(res.population[step, s, g])]


def _birth_rows(inputs: ProjectionInputs, res: FiveYearProjection) -> Iterable[list[str]]:
    for step in range(res.births_by_mother_age.shape[0]):
        for g, age in enumerate(inputs.age_starts):
            yield [str(step + 1), str(age), _fmt(res.births_by_mother_age[step, g])]


def _fmt(value: float) -> str:
    text = f"{float(value):.6f}"
    return "0.000000" if text == "-0.000000" else text


def _write_all(files: Sequence[tuple[Path, Sequence[str], Iterable[list[str]]]]) -> None:
    """Write each file to a temporary sibling, then rename all into place (none on error)."""
    temps: list[tuple[str, Path]] = []
    try:
        for target, header, rows in files:
            fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
            temps.append((tmp, target))
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
                writer = csv.writer(f, lineterminator="\n")
                writer.writerow(header)
                writer.writerows(rows)
        for tmp, target in temps:
            os.replace(tmp, target)
        temps.clear()
    finally:
        for tmp, _ in temps:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)


def _output_path(text: str, flag: str) -> Path:
    path = Path(text)
    if path.is_dir():
        raise CommandError(
            f"{flag} {text}: 这是一个目录,请给出文件名 / this is a directory: give a file name"
        )
    if not path.parent.is_dir():
        raise CommandError(
            f"{flag} {text}: 所在目录不存在,请先创建 / its directory does not exist: create it first"
        )
    return path


class Command(BaseCommand):
    help = (
        "人口预测(队列要素法)/ cohort-component population projection: from an explicit "
        "input file (--inputs, five-year groups, PHG Box 6.2) or from the registry "
        "(--snapshot, single years, scenarios)"
    )

    def add_arguments(self, parser: CommandParser) -> None:
        explicit = parser.add_argument_group("explicit inputs (five-year groups)")
        explicit.add_argument(
            "--inputs",
            help="CSV: sex (F|M), age_start, population, nLx, asfr, net_migrants; "
            "five-year groups, the last one open",
        )
        explicit.add_argument("--steps", type=int, help="number of five-year steps (≥ 1)")
        explicit.add_argument(
            "--srb", type=float, help="sex ratio at birth, males per female (1.05)"
        )
        explicit.add_argument(
            "--radix", type=float, help="life-table radix of nLx (default 100000)"
        )
        explicit.add_argument("--births-out", help="CSV: step, mother_age_start, births")
        registry = parser.add_argument_group("from the registry (single years)")
        registry.add_argument("--snapshot", help="snapshot directory (popreg snapshot / synth)")
        registry.add_argument("--unit", help="unit code (county, township or village)")
        registry.add_argument("--base-year", type=int, help="base year, e.g. 2025")
        registry.add_argument("--years", type=int, help="years to project, e.g. 10")
        registry.add_argument("--scenario", choices=SCENARIOS, help="scenario")
        parser.add_argument(
            "--out",
            help="output CSV (explicit: step, sex, age_start, population; "
            "registry: year, sex, age, population)",
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        if opts["inputs"] is not None and opts["snapshot"] is not None:
            raise CommandError(
                "--inputs 与 --snapshot 只能选一个 / --inputs and --snapshot cannot be used "
                "together: give --inputs FILE.csv for explicit inputs, or --snapshot DIR for a "
                "projection from the registry"
            )
        if opts["inputs"] is not None:
            self._explicit(opts)
        elif opts["snapshot"] is not None:
            self._registry(opts)
        else:
            raise CommandError(
                "请给出 --inputs FILE.csv 或 --snapshot DIR / give either --inputs FILE.csv "
                "(explicit inputs) or --snapshot DIR (from the registry); see popreg project --help"
            )

    def _refuse_others(self, opts: dict[str, Any], names: Iterable[str], form: str) -> None:
        for name in names:
            if opts[name] is not None:
                raise CommandError(
                    f"{_flag(name)} 不属于 {form} 形式,请删去 / {_flag(name)} does not belong to "
                    f"the {form} form: remove it"
                )

    def _require(self, opts: dict[str, Any], names: Iterable[str], form: str) -> None:
        missing = [_flag(n) for n in names if opts[n] is None]
        if missing:
            raise CommandError(
                f"{form} 形式缺少 {', '.join(missing)} / the {form} form needs {', '.join(missing)}"
            )

    def _explicit(self, opts: dict[str, Any]) -> None:
        self._refuse_others(opts, _REGISTRY, "--inputs")
        self._require(opts, ("steps", "srb", "out"), "--inputs")
        steps, srb = opts["steps"], opts["srb"]
        radix = 100000.0 if opts["radix"] is None else opts["radix"]
        if not 1 <= steps <= MAX_STEPS:
            raise CommandError(
                f"--steps {steps}: 须在 1 与 {MAX_STEPS} 之间 / must lie between 1 and {MAX_STEPS}"
            )
        if not (math.isfinite(srb) and 0 < srb <= 2):
            raise CommandError(
                f"--srb {srb:g}: 出生性别比写作每名女婴对应的男婴数,如 1.05(不是 105)/ the sex "
                "ratio at birth is males per female, e.g. 1.05 (not 105)"
            )
        if not (math.isfinite(radix) and radix > 0):
            raise CommandError(f"--radix {radix:g}: 须为正数 / must be a positive number")
        out = _output_path(opts["out"], "--out")
        births_out = (
            None if opts["births_out"] is None else _output_path(opts["births_out"], "--births-out")
        )
        if births_out is not None and births_out.resolve() == out.resolve():
            raise CommandError(
                "--births-out 与 --out 是同一文件,请换一个名字 / --births-out and --out are the "
                "same file: give two names"
            )
        source = Path(opts["inputs"])
        try:
            raw = source.read_bytes()
        except FileNotFoundError:
            raise CommandError(f"--inputs {source}: 文件不存在 / the file does not exist") from None
        except IsADirectoryError:
            raise CommandError(
                f"--inputs {source}: 这是一个目录,请给出 CSV 文件 / this is a directory: give "
                "the CSV file"
            ) from None
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            try:  # Excel on a Chinese Windows saves CSV as GBK
                text = raw.decode("gb18030")
            except UnicodeDecodeError:
                raise CommandError(
                    f"--inputs {source}: 既不是 UTF-8 也不是 GBK 编码的文本(第 {exc.start} 字节),"
                    f"请另存为 UTF-8 CSV / neither UTF-8 nor GBK text (byte {exc.start}): save "
                    "it as a UTF-8 CSV"
                ) from None
        try:
            inputs = parse_projection_csv(text, radix)
            res = project_five_year(
                inputs.population, inputs.nlx, inputs.asfr, inputs.net_migrants, steps, srb, radix
            )
        except NegativePopulationError as exc:
            lines = inputs.lines[exc.sex]
            near = ", ".join(str(lines[g]) for g in sorted({max(exc.group - 1, 0), exc.group}))
            raise CommandError(
                f"--inputs {source}: {exc} (第 {near} 行「net_migrants」列 / line {near}, "
                "column net_migrants)"
            ) from None
        except ProjectionError as exc:
            raise CommandError(f"--inputs {source}: {exc}") from None
        files: list[tuple[Path, Sequence[str], Iterable[list[str]]]] = [
            (out, ("step", "sex", "age_start", "population"), _population_rows(inputs, res))
        ]
        if births_out is not None:
            files.append(
                (births_out, ("step", "mother_age_start", "births"), _birth_rows(inputs, res))
            )
        try:
            _write_all(files)
        except OSError as exc:
            raise CommandError(f"无法写出结果 / cannot write the results: {exc.strerror}") from None
        first, last = res.population[0].sum(), res.population[-1].sum()
        self.stdout.write(
            f"预测完成 / projected {steps} five-year step(s): population {first:,.0f} → "
            f"{last:,.0f}; births {res.births.sum():,.0f}, deaths {res.deaths.sum():,.0f}, "
            f"net migrants {res.net_migrants.sum():,.0f}; written to {out}"
            + (f" and {births_out}" if births_out is not None else "")
        )

    def _registry(self, opts: dict[str, Any]) -> None:
        self._refuse_others(opts, _EXPLICIT, "--snapshot")
        self._require(opts, _REGISTRY, "--snapshot")
        snapshot = Path(opts["snapshot"])
        if not snapshot.is_dir():
            raise CommandError(f"--snapshot {snapshot}: 目录不存在 / the directory does not exist")
        if opts["years"] < 1:
            raise CommandError(f"--years {opts['years']}: 至少 1 年 / must be at least 1")
        out = None if opts["out"] is None else _output_path(opts["out"], "--out")
        try:
            from popreg.planning.forecast import project_registry
        except ModuleNotFoundError as exc:
            if exc.name != "popreg.planning.forecast":
                raise
            raise CommandError(
                "此版本尚无按登记数据的预测 / this version has no projection from the registry "
                "yet: use --inputs"
            ) from None
        try:
            project_registry(
                snapshot=snapshot,
                unit=opts["unit"],
                base_year=opts["base_year"],
                years=opts["years"],
                scenario=opts["scenario"],
                out=out,
                stdout=self.stdout,
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from None
