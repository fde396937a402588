"""A verification campaign on a generated county: list freezing, anomaly items, the workbook
round trip of the largest village, and the summary table.

    .venv/bin/python bench/bench_campaign.py [--persons 6000] [--villages 30] [--seed 1]

Builds a county in a fresh SQLite database in a temporary directory through the registry's
action layer (``do_create_household``, ``do_register_birth``; one adult in fifty without an
ID number, so the anomaly rules find something), then times, as a county-wide actor:

- ``do_create_campaign`` over the county (freezes every village's list);
- ``do_generate_items`` (registry snapshot + anomaly rules + items);
- the largest village's workbook: build, fill every row as confirmed, upload — against the
  baseline, in the same run on the same village of a second campaign: the same outcomes
  recorded one person at a time the way the web form does (one transaction each);
- ``progress`` and ``summary_xlsx`` for the whole county.

Prints seconds for each step and the upload/web-form ratio.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

DATES = {
    "preparation_start": date(2025, 9, 1),
    "preparation_end": date(2025, 9, 30),
    "verification_start": date(2025, 10, 1),
    "verification_end": date(2025, 10, 31),
    "rectification_start": date(2025, 11, 1),
    "rectification_end": date(2025, 11, 30),
    "summary_start": date(2025, 12, 1),
    "summary_end": date(2025, 12, 15),
}


def timed(label: str, fn, *args, **kwargs):
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    seconds = time.perf_counter() - start
    print(f"{label:55s} {seconds:8.2f} s")
    return result, seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--persons", type=int, default=6000)
    ap.add_argument("--villages", type=int, default=30)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="popreg-bench-campaign-") as tmp:
        os.environ.update({"POPREG_HOME": tmp, "DJANGO_SETTINGS_MODULE": "popreg.web.settings"})
        import django
        from django.core.management import call_command

        django.setup()
        call_command("migrate", verbosity=0)
        timed(f"build the county ({args.persons} persons, registry actions)", build_county, args)
        run(args)


def build_county(args: argparse.Namespace) -> None:
    from popreg.core.idnumber import compose
    from popreg.registry import actions
    from popreg.registry.access import system_actor
    from popreg.registry.models import AdminUnit

    rng = random.Random(args.seed)
    actor = system_actor("bench")
    county = "140122000000"
    AdminUnit.objects.create(
        code=county, name="示例县", level="county", valid_from=date(2000, 1, 1)
    )
    villages = []
    for t in range(3):
        town = f"140122{t + 100:03d}000"
        AdminUnit.objects.create(
            code=town,
            name=f"第{t + 1}镇",
            level="township",
            parent_id=county,
            valid_from=date(2000, 1, 1),
        )
        for v in range(args.villages // 3):
            code = town[:9] + f"{v + 1:03d}"
            AdminUnit.objects.create(
                code=code,
                name=f"第{t + 1}镇{v + 1}村民委员会",
                level="village",
                parent_id=town,
                valid_from=date(2000, 1, 1),
            )
            villages.append(code)
    weights = [rng.paretovariate(1.5) for _ in villages]  # a few big villages, many small
    seq = 0
    made = 0
    while made < args.persons:
        village = rng.choices(villages, weights)[0]
        hh = actions.do_create_household(actor, unit_code=village, address=f"{made // 3 + 1}号")
        for _ in range(rng.randint(1, 5)):
            sex = rng.choice("MF")
            born = date(1940, 1, 1) + timedelta(days=rng.randrange(365 * 84))
            seq += 1
            number = compose("140122", born, (seq * 2 + (sex == "M")) % 1000)
            if born.year < 2005 and rng.random() < 0.02:
                number = None
            try:
                actions.do_register_birth(
                    actor,
                    name=rng.choice("王李张刘陈杨赵黄周吴") + rng.choice("伟芳娜敏静丽强磊军洋"),
                    sex=sex,
                    birth_date=born,
                    registered_unit_code=village,
                    household=hh,
                    id_number=number,
                )
            except Exception:  # an ID number already used: skip that person
                continue
            made += 1


def run(args: argparse.Namespace) -> None:
    from django.db.models import Count
    from openpyxl import load_workbook

    from popreg.campaigns import actions, fieldlists
    from popreg.campaigns.models import ListedPerson, RectificationItem
    from popreg.campaigns.queries import campaign_info, field_list_persons, progress, village_info
    from popreg.campaigns.summary import summary_table, summary_xlsx
    from popreg.registry.access import system_actor
    from popreg.registry.models import AdminUnit

    actor = system_actor("bench")
    county = AdminUnit.objects.get(level="county")

    def create(name: str):
        return actions.do_create_campaign(
            actor,
            name=name,
            scope_codes=[county.code],
            reference_moment=datetime(2025, 11, 1),
            dates=DATES,
        )

    c1, _ = timed("do_create_campaign (freeze the lists)", create, "bench 1")
    print(f"{'  persons listed':55s} {ListedPerson.objects.filter(campaign=c1).count():8d}")
    result, _ = timed(
        "do_generate_items (snapshot + anomaly rules)", actions.do_generate_items, actor, c1
    )
    print(f"{'  items opened':55s} {result.created:8d}")
    actions.do_advance_phase(actor, c1)
    top = (
        ListedPerson.objects.filter(campaign=c1)
        .values("unit_id")
        .annotate(n=Count("id"))
        .order_by("-n")
        .first()
    )
    village = AdminUnit.objects.select_related("parent__parent").get(code=top["unit_id"])
    print(f"{'  largest village: ' + village.name:55s} {top['n']:8d}")
    data, _ = timed(
        "build_field_workbook (largest village)",
        fieldlists.build_field_workbook,
        village_info(village),
        field_list_persons(c1, village.code),
        campaign_info(c1),
    )
    wb = load_workbook(io.BytesIO(data))
    ws = wb["核对名单"]
    for r in range(2, ws.max_row + 1):
        ws.cell(r, 9).value = "核实无误"
    buf = io.BytesIO()
    wb.save(buf)
    report, upload_s = timed(
        "do_upload_workbook (all rows confirmed)",
        actions.do_upload_workbook,
        actor,
        c1,
        buf.getvalue(),
        village_code=village.code,
    )
    assert report.accepted, [str(p) for p in report.problems[:5]]
    _, again_s = timed(
        "do_upload_workbook again (same file: no-op)",
        actions.do_upload_workbook,
        actor,
        c1,
        buf.getvalue(),
        village_code=village.code,
    )

    c2, _ = timed("do_create_campaign (baseline campaign)", create, "bench 2")
    actions.do_advance_phase(actor, c2)
    ids = list(
        ListedPerson.objects.filter(campaign=c2, unit=village).values_list("person_id", flat=True)
    )

    def one_by_one() -> None:
        for pid in ids:
            actions.do_record_outcome(actor, c2, pid, outcome="confirmed")

    _, baseline_s = timed("baseline: the same outcomes one by one (web form path)", one_by_one)
    rows, _ = timed("progress (every unit)", progress, c1)
    _, _ = timed("summary_xlsx (county)", lambda: summary_xlsx(summary_table(c1, actor)))
    print(f"{'  summary rows':55s} {len(rows):8d}")
    print(f"{'  items total':55s} {RectificationItem.objects.filter(campaign=c1).count():8d}")
    print(
        f"upload vs one-by-one: {baseline_s / upload_s:.2f}x faster ({len(ids)} persons); "
        f"second upload of the same file {again_s * 1000:.0f} ms"
    )


if __name__ == "__main__":
    main()
