"""Linking incoming exchange notifications to local persons: cost per 10,000 incoming
records, precision and recall, against exact-ID matching measured in the same run.

Run by hand (never in the test suite)::

    .venv/bin/python bench/bench_exchange_linking.py [--records 30000] [--seed 7]

Generated records with truth (``popreg.linkage.testdata``: traditional forms, homophones,
variants, ID typos and transpositions, 15-digit numbers, missing numbers, date swaps and
±1 day/year, twins, namesakes): the first record of each person is loaded into a fresh
SQLite registry; every other record of the person is an incoming subject, as another
county would hold it; records of a second generated county (not registered here) are
incoming subjects that must stay unlinked.  Each subject goes through
``popreg.exchange.apply.link_subject`` (blocking queries on the registry's indexes, the
engine's comparison levels, the shipped model's m/u).

Figures: linked (precision, recall), sent to review, unmatched; seconds per 10,000
subjects for ``link_subject`` and for the baseline (one indexed query on the exact ID
number, nothing else), and their ratio.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path


def _registry_number(raw: str | None) -> str | None:
    """The number as the registry stores it: compact, legacy 15-digit numbers upgraded."""
    from popreg.core import idnumber

    number = idnumber.normalize(raw or "")
    if len(number) == 15 and number.isdigit():
        number = idnumber.upgrade_15_to_18(number)
    return number if len(number) == 18 else None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--records", type=int, default=30000, help="generated records of the home county")
    ap.add_argument("--strangers", type=int, default=3000, help="subjects from a county not registered here")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--show-wrong", action="store_true", help="print every wrong link")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="bench-link-"))
    os.environ["DATABASE_URL"] = f"sqlite:///{tmp / 'db.sqlite3'}"
    os.environ["POPREG_HOME"] = str(tmp)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "popreg.web.settings")
    import django

    django.setup()
    from datetime import date

    from django.core.management import call_command

    from popreg.exchange.apply import Subject, link_subject
    from popreg.linkage.testdata import generate_records
    from popreg.registry.models import AdminUnit, Person
    from popreg.registry.search import name_keys

    t0 = time.perf_counter()
    call_command("migrate", verbosity=0)
    home = generate_records(args.records, seed=args.seed, county="411423")
    strangers = generate_records(args.strangers, seed=args.seed + 1, county="330102")
    units = {"411423000000": ("示例县", "county", None)}
    for v in sorted(set(home["village_code"])):
        units.setdefault(v[:9] + "000", (f"乡镇{v[6:9]}", "township", "411423000000"))
        units[v] = (f"村{v[9:]}", "village", v[:9] + "000")
    AdminUnit.objects.bulk_create([AdminUnit(code=c, name=n, level=lv, parent_id=p, valid_from=date(2000, 1, 1))
                                   for c, (n, lv, p) in sorted(units.items(), key=lambda x: len(x[0][:9].rstrip("0")))])
    first = home.drop_duplicates("entity_id", keep="first")
    rest = home[~home.index.isin(first.index)]
    seen: set[str] = set()
    persons = []
    for r in first.itertuples():
        number = _registry_number(r.id_number)
        if number in seen:
            number = None  # the registry keeps one active record per number, 18 characters
        if number:
            seen.add(number)
        key, py = name_keys(r.name)
        persons.append(Person(name=r.name, name_key=key, name_pinyin=py, sex=r.sex,
                              birth_date=date.fromisoformat(r.birth_date) if r.birth_date else None,
                              id_number=number, registered_unit_id=r.village_code,
                              residence_type="registered", status="active"))
    Person.objects.bulk_create(persons, batch_size=2000)
    entity_of = dict(zip(Person.objects.order_by("id").values_list("id", flat=True), first["entity_id"], strict=True))
    print(f"registry: {len(persons):,} persons; incoming: {len(rest):,} of them, {len(strangers):,} strangers "
          f"(setup {time.perf_counter() - t0:.1f} s)")

    def subject(r) -> Subject:
        return Subject(id_number=r.id_number or "", name=r.name, sex=r.sex,
                       birth_date=date.fromisoformat(r.birth_date) if r.birth_date else None)

    incoming = [(subject(r), r.entity_id) for r in rest.itertuples()]
    incoming += [(subject(r), None) for r in strangers.itertuples()]

    counts = {"linked": 0, "right": 0, "review": 0, "unmatched": 0}
    t = time.perf_counter()
    for s, entity in incoming:
        link = link_subject(s)
        if link.status == "linked" and link.person is not None:
            counts["linked"] += 1
            ok = entity_of.get(link.person.pk) == entity
            counts["right"] += ok
            if not ok and args.show_wrong:
                p = link.person
                print(f"  wrong link: {s} -> {p.name} {p.id_number} {p.sex} {p.birth_date} "
                      f"{link.candidates[0].levels} p={link.candidates[0].probability:.4f}")
        else:
            counts[link.status] += 1
    took = time.perf_counter() - t

    t = time.perf_counter()
    base_right = base_linked = 0
    for s, entity in incoming:
        p = Person.objects.filter(id_number=s.id_number).only("id").first() if s.id_number else None
        if p is not None:
            base_linked += 1
            base_right += entity_of.get(p.pk) == entity
    base_took = time.perf_counter() - t

    n = len(incoming)
    wanted = len(rest)
    per10k, base10k = took / n * 10_000, base_took / n * 10_000
    print(f"link_subject: linked {counts['linked']:,} (right {counts['right']:,}), review {counts['review']:,}, "
          f"unmatched {counts['unmatched']:,}")
    print(f"  precision {counts['right'] / max(counts['linked'], 1):.4f}, recall {counts['right'] / wanted:.4f}")
    print(f"exact ID only: linked {base_linked:,} (right {base_right:,}): precision "
          f"{base_right / max(base_linked, 1):.4f}, recall {base_right / wanted:.4f}")
    print(f"cost per 10,000 incoming: link_subject {per10k:.1f} s, exact ID {base10k:.2f} s "
          f"(ratio {per10k / base10k:.1f}x)")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
