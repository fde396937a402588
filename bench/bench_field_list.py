"""Field list PDF of the largest village of a synthetic county, and its workbook.

    .venv/bin/python bench/bench_field_list.py [--persons N] [--seed 20251101] [--snapshot DIR]

Generates a county (default: the 157,000-person county) unless ``--snapshot`` names one,
takes the village with the most registered people, and times in the same run:

- baseline: the PDF of the first 100 persons of that village;
- the PDF of the whole village (strict: refused if a character has no glyph), checked by
  extracting the text again (every name, in list order);
- the Excel workbook of the whole village, and reading it back.

Prints seconds, milliseconds per person and the ratio of per-person cost to the baseline.
"""

from __future__ import annotations

import argparse
import io
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int)
    parser.add_argument("--seed", type=int, default=20251101)
    parser.add_argument("--snapshot")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "popreg.web.settings")
    import django

    django.setup()
    with tempfile.TemporaryDirectory(prefix="bench-fieldlist-") as tmp:
        snap = Path(args.snapshot) if args.snapshot else Path(tmp) / "county"
        if not args.snapshot:
            cmd = [str(ROOT / ".venv" / "bin" / "popreg"), "synth", "--seed", str(args.seed),
                   "--out", str(snap)] + (["--persons", str(args.persons)] if args.persons else [])
            subprocess.run(cmd, check=True, env=os.environ | {"PYTHONPATH": str(ROOT / "src")})
        run(snap)


def run(snap: Path) -> None:
    import duckdb
    from pypdf import PdfReader

    from popreg.campaigns.fieldlists import (
        build_field_workbook,
        field_list_from_snapshot,
        read_field_workbook,
        render_field_list_pdf,
        sort_persons,
    )

    code = duckdb.sql(
        f"""SELECT substr(registered_unit, 1, 12) AS v, count(*) AS n
            FROM '{snap / "persons.parquet"}'
            WHERE status = 'active' AND residence_type IN ('registered', 'floating_out')
            GROUP BY v ORDER BY n DESC, v LIMIT 1"""
    ).fetchall()[0][0]
    village, persons = field_list_from_snapshot(snap, code)
    campaign = {"id": 1, "name": "户口整顿"}
    n = len(persons)
    print(f"largest village: {village['name']} ({code}), {n:,} registered persons")

    render_field_list_pdf(village, persons[:5], campaign)  # fonts loaded once
    start = time.perf_counter()
    render_field_list_pdf(village, sort_persons(persons)[:100], campaign)
    base = time.perf_counter() - start
    print(f"baseline  PDF of 100 persons: {base:7.2f} s  {base * 10:6.1f} ms/person")

    start = time.perf_counter()
    pdf = render_field_list_pdf(village, persons, campaign, strict=True)
    whole = time.perf_counter() - start
    print(f"village   PDF of {n:,} persons: {whole:7.2f} s  {whole / n * 1000:6.1f} ms/person "
          f"({whole / n / (base / 100):.2f}x the baseline per person), "
          f"{len(PdfReader(io.BytesIO(pdf)).pages)} pages, {len(pdf) / 1e6:.1f} MB")
    text = re.sub(r"\s+", "", "".join(p.extract_text() or "" for p in PdfReader(io.BytesIO(pdf)).pages))
    pos, missing = 0, 0
    for p in sort_persons(persons):
        if p["name"]:
            found = text.find("".join(p["name"].split()), pos)
            if found < 0:
                missing += 1
            else:
                pos = found
    print(f"          text read back: {n - missing:,} of {n:,} names found in order")

    start = time.perf_counter()
    xlsx = build_field_workbook(village, persons, campaign)
    built = time.perf_counter() - start
    start = time.perf_counter()
    parsed = read_field_workbook(xlsx)
    read = time.perf_counter() - start
    print(f"workbook  build {built:6.2f} s, read back {read:6.2f} s "
          f"({parsed.listed:,} rows, {len(parsed.problems)} problems, {len(xlsx) / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
