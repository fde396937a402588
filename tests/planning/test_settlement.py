"""Settlement structure of the default synthetic county: its village size distribution is
exact by construction (87 villages under 200 people, 35 under 100)."""

from __future__ import annotations

from popreg.planning.events import open_snapshot
from popreg.planning.settlement import settlement_structure, size_class


def test_size_classes():
    assert [size_class(n) for n in (0, 99, 100, 199, 200, 499, 500, 999, 1000)] == [
        "under_100", "under_100", "100_199", "100_199", "200_499", "200_499", "500_999", "500_999", "1000_plus"]


def test_default_county_structure(default_county):
    with open_snapshot(default_county) as con:
        s = settlement_structure(con, "140122", {"140122100000": 100.0})
    classes = {c["key"]: c for c in s["classes"]}
    assert classes["under_100"]["villages_now"] == 35
    assert classes["under_100"]["villages_now"] + classes["100_199"]["villages_now"] == 87
    assert sum(c["villages_now"] for c in s["classes"]) == 343
    assert sum(c["population_now"] for c in s["classes"]) == s["total_now"]
    assert s["then"] == "2015-11-01" and s["total_then"] < s["total_now"]
    assert abs(sum(t["share_now"] for t in s["townships"]) - 1) < 1e-9
    town = next(t for t in s["townships"] if t["code"] == "140122100000")
    assert town["density"] == town["population_now"] / 100.0
    assert all(t["density"] is None for t in s["townships"] if t["code"] != "140122100000")
