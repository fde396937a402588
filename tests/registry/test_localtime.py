"""One time zone for every date and time shown and printed (``POPREG_TIME_ZONE``).

The midnight boundary: the reference moment 2026-12-01 00:00 in Beijing is 2026-11-30
16:00 UTC, the value the database holds; pages and printed files must say 2026-12-01.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from popreg.registry.localtime import format_date, format_moment, local_date, parse_moment

MIDNIGHT_UTC = datetime(2026, 11, 30, 16, 0, tzinfo=UTC)  # 2026-12-01 00:00 +08:00


def test_a_moment_is_shown_in_the_countys_time_zone(settings):
    settings.TIME_ZONE = "Asia/Shanghai"
    assert local_date(MIDNIGHT_UTC) == date(2026, 12, 1)
    assert format_date(MIDNIGHT_UTC) == "2026-12-01"
    assert format_moment(MIDNIGHT_UTC) == "2026-12-01 00:00"
    assert format_moment("2026-11-30T16:00:00+00:00", seconds=True) == "2026-12-01 00:00:00"
    assert format_date("2026-11-30T16:00:00+00:00") == "2026-12-01"
    # a naive moment is local time already; a date is itself
    assert format_moment(datetime(2026, 12, 1, 0, 0)) == "2026-12-01 00:00"
    assert local_date(date(2026, 11, 30)) == date(2026, 11, 30)
    assert parse_moment(None) is None and format_date("") == "" and format_date("not a date") == "not a date"
    # another county's zone moves the date with it
    settings.TIME_ZONE = "Asia/Urumqi"  # +06:00
    assert format_moment(MIDNIGHT_UTC) == "2026-11-30 22:00"
    assert format_date(MIDNIGHT_UTC) == "2026-11-30"


def test_campaign_field_list_prints_the_local_date_of_the_reference_moment(settings):
    from popreg.campaigns.fieldlists import render_field_list_pdf
    from popreg.core.idnumber import compose
    from tests.campaigns.pdfcheck import text

    settings.TIME_ZONE = "Asia/Shanghai"
    village = {"code": "411122100001", "name": "东关村民委员会", "township_name": "城关镇",
               "county_name": "临颍县"}
    person = {"person_id": 1, "household_no": "300000001", "name": "王秀英", "sex": "F",
              "birth_date": date(1980, 5, 4), "id_number": compose("411122", date(1980, 5, 4), 2),
              "relation": "户主", "residence_type": "registered", "address": "东关村1号",
              "group_code": "411122100001001"}
    # the campaign as the database gives it back: an aware moment in UTC
    campaign = {"id": 7, "name": "2026年户口整顿", "reference_moment": MIDNIGHT_UTC}
    got = text(render_field_list_pdf(village, [person], campaign))
    assert "标准时点：2026-12-01" in got
    assert "2026-11-30" not in got


def test_campaign_stored_at_local_midnight_prints_that_day(db, settings):
    """The whole way: a campaign for 2026-12-01 00:00 local time, read back from the
    database (which keeps UTC) into the mapping the field-list job prints from."""
    from popreg.campaigns.fieldlists import render_field_list_pdf
    from popreg.campaigns.models import Campaign
    from popreg.campaigns.queries import campaign_info
    from tests.campaigns.pdfcheck import text

    settings.TIME_ZONE = "Asia/Shanghai"
    day = date(2026, 12, 1)
    made = Campaign.objects.create(
        name="2026年户口整顿", reference_moment=datetime(2026, 12, 1, 0, 0, tzinfo=ZoneInfo("Asia/Shanghai")),
        **{f"{phase}_{end}": day for phase in ("preparation", "verification", "rectification", "summary")
           for end in ("start", "end")},
    )
    stored = Campaign.objects.get(pk=made.pk)
    assert stored.reference_moment.astimezone(UTC) == MIDNIGHT_UTC
    village = {"code": "411122100001", "name": "东关村民委员会"}
    got = text(render_field_list_pdf(village, [], campaign_info(stored)))
    assert "标准时点：2026-12-01" in got and "2026-11-30" not in got


def test_recent_imports_show_local_times(client, users, settings, tmp_path):
    from popreg.registry.import_jobs import ImportFolder

    settings.POPREG_HOME = tmp_path
    settings.TIME_ZONE = "Asia/Shanghai"
    user = users["officer_a"]
    folder = ImportFolder(uuid.uuid4().hex)
    folder.dir.mkdir(parents=True)
    folder.write("meta.json", {"owner": user.pk, "file_name": "people.csv", "size": 10,
                               "created": MIDNIGHT_UTC.isoformat()})
    client.force_login(user)
    page = client.get("/import/").content.decode()
    assert "people.csv" in page
    assert "2026-12-01 00:00" in page
    assert "2026-11-30" not in page and "+00:00" not in page


def _settings_zone(zone: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "POPREG_TIME_ZONE": zone, "DJANGO_SETTINGS_MODULE": "popreg.web.settings"}
    env.pop("DATABASE_URL", None)
    return subprocess.run(
        [sys.executable, "-c", "from django.conf import settings; print(settings.TIME_ZONE)"],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )


def test_the_time_zone_is_a_setting():
    done = _settings_zone("Asia/Urumqi")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "Asia/Urumqi"
    done = _settings_zone("")
    assert done.stdout.strip() == "Asia/Shanghai"
    bad = _settings_zone("Mars/Olympus")
    assert bad.returncode != 0
    assert "POPREG_TIME_ZONE" in bad.stderr and "Asia/Shanghai" in bad.stderr


def test_exported_moments_are_local_in_csv_and_workbook(actors, settings):
    """An aware moment in an exported row (an audit time, a job's start) is the county's
    wall-clock time in the CSV text and in the workbook cell."""
    import csv
    import io

    from openpyxl import load_workbook

    from popreg.registry.audit import AuditAction
    from popreg.registry.exports import Column, Export, export_bytes
    from popreg.registry.policy import Permission

    settings.TIME_ZONE = "Asia/Shanghai"

    def export(fmt: str) -> bytes:
        table = Export(title="时刻 moments", filename=f"moments.{fmt}", format=fmt,  # type: ignore[arg-type]
                       action=AuditAction.EXPORT_PERSONS, columns=[Column("时间 time"), Column("说明 note")],
                       rows=[(MIDNIGHT_UTC, "reference moment")])
        return export_bytes(actors["admin"], table, permission=Permission.EXPORT_PERSONS, unit_code=None)

    rows = list(csv.reader(io.StringIO(export("csv").decode("utf-8-sig"))))
    assert ["2026-12-01 00:00:00", "reference moment"] in rows
    ws = load_workbook(io.BytesIO(export("xlsx"))).worksheets[0]
    cells = [c for row in ws.iter_rows(values_only=True) for c in row]
    assert datetime(2026, 12, 1, 0, 0) in cells
