"""Benchmark: statistics dashboard pages on the default synthetic county.

Steps (as a user would run them):

1. ``popreg synth --seed 20251101 --out DIR`` and ``popreg load DIR`` into a scratch SQLite
   database under a temporary ``POPREG_HOME`` (skipped with ``--home`` pointing at a home
   that is already loaded);
2. a statistics snapshot of the registry at the census moment (``refresh_snapshot``,
   without the cube, which the first page builds: "cold");
3. the pages with Django's test client as a county statistician: the county overview (the
   first request builds the cube of the snapshot), the same page with the resident
   population and another sort, a township page, a village page, the dual-system estimate
   page, and the annual report as Excel and PDF.  Each page: cold (first request),
   warm (median of 5 more), and "new process" (in-memory cache dropped, cube on disk);
4. baseline in the same run: the figures of the county page (population at the start and
   end of each of the ten years, births, deaths, CBR/CDR/RNI and SRB for the county and
   each township, and the age pyramid) computed straight from the registry tables with
   the ORM: current population minus the events dated after each moment, grouped counts
   per year and township.

    .venv/bin/python bench/bench_dashboard.py
    .venv/bin/python bench/bench_dashboard.py --home /path/to/loaded/home   # reuse a load
    .venv/bin/python bench/bench_dashboard.py --persons 20000               # quick run
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime
from pathlib import Path

MOMENT = datetime(2025, 11, 1)


def run(cmd: list[str], env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0


def orm_baseline() -> dict[str, object]:
    """The county page's figures straight from the registry tables (no snapshot, no cube)."""
    from django.db.models import Count, Q
    from django.db.models.functions import ExtractYear, Substr

    from popreg.core import demography as demo
    from popreg.registry.models import AdminUnit, Event, Person

    county = AdminUnit.objects.get(level="county")
    towns = list(AdminUnit.objects.filter(parent=county, level="township").order_by("code"))
    years = list(range(MOMENT.year - 9, MOMENT.year))
    types = ("registered", "floating_out")
    active = (
        Person.objects.filter(status="active", residence_type__in=types)
        .annotate(t=Substr("registered_unit_id", 1, 9)).values("t").annotate(n=Count("id"))
    )
    now = {r["t"]: r["n"] for r in active}
    events = (
        Event.objects.filter(person__residence_type__in=types, event_date__gte=date(years[0], 1, 1))
        .annotate(y=ExtractYear("event_date"), t=Substr("unit_code", 1, 9))
        .values("y", "t", "event_type", "person__sex").annotate(n=Count("id"))
    )
    inflow = ("birth", "move_in", "discharge")
    outflow = ("death", "move_out", "enlistment")
    per: dict[tuple[int, str], dict[str, int]] = {}
    for r in events:
        d = per.setdefault((r["y"], r["t"]), {"in": 0, "out": 0, "births": 0, "male": 0, "female": 0, "deaths": 0})
        if r["event_type"] in inflow:
            d["in"] += r["n"]
        elif r["event_type"] in outflow:
            d["out"] += r["n"]
        if r["event_type"] == "birth":
            d["births"] += r["n"]
            d["male" if r["person__sex"] == "M" else "female"] += r["n"]
        elif r["event_type"] == "death":
            d["deaths"] += r["n"]

    def figures(prefixes: list[str]) -> list[dict[str, object]]:
        out = []
        for y in years:
            def after(moment_year: int, key: str) -> int:
                return sum(v[key] for (yy, t), v in per.items() if yy >= moment_year and t in prefixes)

            base = sum(now.get(p, 0) for p in prefixes)
            start = base - after(y, "in") + after(y, "out")
            end = base - after(y + 1, "in") + after(y + 1, "out")
            births = sum(per.get((y, p), {}).get("births", 0) for p in prefixes)
            deaths = sum(per.get((y, p), {}).get("deaths", 0) for p in prefixes)
            male = sum(per.get((y, p), {}).get("male", 0) for p in prefixes)
            female = sum(per.get((y, p), {}).get("female", 0) for p in prefixes)
            avg = demo.average_population(start, end)
            out.append({"year": y, "start": start, "end": end, "births": births, "deaths": deaths,
                        "cbr": demo.crude_birth_rate(births, avg), "cdr": demo.crude_death_rate(deaths, avg),
                        "rni": demo.rate_of_natural_increase(births, deaths, avg),
                        "srb": demo.sex_ratio_at_birth(male, female)})
        return out

    result: dict[str, object] = {"county": figures([t.code[:9] for t in towns])}
    for t in towns:
        result[t.code] = figures([t.code[:9]])
    pyramid = (
        Person.objects.filter(status="active", residence_type__in=types, birth_date__isnull=False)
        .annotate(by=ExtractYear("birth_date")).values("by", "sex").annotate(n=Count("id"))
    )
    result["pyramid"] = list(pyramid)
    result["living_elsewhere"] = Person.objects.filter(
        Q(status="active") & ~Q(residence_unit_id=None)).count()
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--home", help="an existing POPREG_HOME with the county loaded (skip synth and load)")
    ap.add_argument("--persons", type=int, default=None, help="county size (default: the default county)")
    ap.add_argument("--seed", type=int, default=20251101)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()

    tmp = None
    if args.home:
        home = Path(args.home).resolve()
    else:
        tmp = tempfile.TemporaryDirectory(prefix="popreg-bench-dash-")
        home = Path(tmp.name)
    os.environ["POPREG_HOME"] = str(home)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "popreg.web.settings")
    popreg = str(Path(sys.executable).with_name("popreg"))
    env = dict(os.environ)
    if not args.home:
        county = home / "county"
        cmd = [popreg, "synth", "--seed", str(args.seed), "--out", str(county)]
        if args.persons:
            cmd += ["--persons", str(args.persons)]
        print(f"synth: {run(cmd, env):.1f} s")
        print(f"migrate: {run([popreg, 'migrate', '-v0'], env):.1f} s")
        print(f"load: {run([popreg, 'load', str(county)], env):.1f} s")

    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.test import Client
    from django.test.utils import setup_test_environment

    from popreg.registry.models import AdminUnit, Assignment, Person
    from popreg.stats import dashboard

    setup_test_environment()
    print(f"registry: {Person.objects.count():,} person records")
    t0 = time.perf_counter()
    snap = dashboard.refresh_snapshot(MOMENT, build=False)  # into $POPREG_HOME/snapshots
    print(f"statistics snapshot written (registry → Parquet): {time.perf_counter() - t0:.1f} s")

    county = AdminUnit.objects.get(level="county")
    town = AdminUnit.objects.filter(parent=county, level="township").order_by("code").first()
    assert town is not None
    village = AdminUnit.objects.filter(parent=town, level="village").order_by("code").first()
    assert village is not None
    user, _ = get_user_model().objects.get_or_create(username="bench-statistician")
    Assignment.objects.update_or_create(user=user, defaults={"role": "county_statistician", "unit": county})
    client = Client()
    client.force_login(user)

    pages = [
        ("county overview", f"/stats/units/{county.code}/"),
        ("county, resident, sorted by RNI", f"/stats/units/{county.code}/?population=resident&sort=rni"),
        ("township overview", f"/stats/units/{town.code}/"),
        ("village overview", f"/stats/units/{village.code}/"),
        ("county DSE page", f"/stats/units/{county.code}/dse/"),
        ("county report .xlsx", f"/stats/units/{county.code}/report.xlsx"),
        ("county report .pdf", f"/stats/units/{county.code}/report.pdf"),
    ]

    def get(url: str) -> float:
        t = time.perf_counter()
        response = client.get(url)
        elapsed = time.perf_counter() - t
        assert response.status_code == 200, (url, response.status_code)
        return elapsed

    rows = []
    for name, url in pages:
        cold = get(url)
        warm = statistics.median(get(url) for _ in range(args.repeat))
        rows.append([name, cold, warm])
    for row in rows:
        dashboard.clear_cache()
        row.append(get(dict(pages)[row[0]]))

    t0 = time.perf_counter()
    base = orm_baseline()
    t_orm = time.perf_counter() - t0
    t0 = time.perf_counter()
    orm_baseline()
    t_orm2 = time.perf_counter() - t0
    assert base["county"]

    print()
    print(f"{'page':34} {'cold s':>8} {'warm s':>8} {'new process s':>14}")
    for name, cold, warm, fresh in rows:
        print(f"{name:34} {cold:8.3f} {warm:8.3f} {fresh:14.3f}")
    print("(cold = first request after the snapshot: the county overview builds the cube;\n"
          " warm = median of the next requests; new process = in-memory cache dropped, cube read from disk)")
    print()
    warm_county = rows[0][2]
    print(f"baseline, county page figures from the registry tables with the ORM: {t_orm:.3f} s "
          f"(again: {t_orm2:.3f} s)")
    print(f"ratio ORM baseline / warm county page: {min(t_orm, t_orm2) / warm_county:.1f}x")
    print(f"ratio ORM baseline / new-process county page: {min(t_orm, t_orm2) / rows[0][3]:.1f}x")
    print(f"snapshot: {snap}")
    if tmp is not None:
        tmp.cleanup()


if __name__ == "__main__":
    main()
