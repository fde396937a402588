"""Dates and times as the county reads them: one time zone for everything shown and printed.

The database keeps moments in UTC (``USE_TZ``); pages, PDFs, workbooks and messages show
them in the county's time zone, ``settings.TIME_ZONE`` (``POPREG_TIME_ZONE``, default
``Asia/Shanghai``; docs/settings.md).  A moment's *date* is the local date too: the
reference moment 2026-12-01 00:00 (+08:00) is stored as 2026-11-30 16:00 UTC and printed as
2026-12-01.  A naive moment (a snapshot's reference moment, a form's value before saving)
is already local time and is kept as it is.

    local_date(campaign.reference_moment)        # date(2026, 12, 1)
    format_moment(job.created_at)                # "2026-12-01 00:00"
    format_date("2026-11-30T16:00:00+00:00")     # "2026-12-01"

Templates need nothing of this: Django's ``date`` filter already shows an aware moment in
the current time zone.  This is for Python code that formats a moment itself
(``strftime``, f-strings, ``isoformat()``, ``.date()``), and for moments kept as ISO text
(JSON files, job parameters).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from django.utils import timezone

__all__ = ["format_date", "format_moment", "local", "local_date", "parse_moment"]


def local(moment: datetime) -> datetime:
    """``moment`` in the county's time zone (a naive moment is local already)."""
    return timezone.localtime(moment) if timezone.is_aware(moment) else moment


def parse_moment(value: Any) -> datetime | None:
    """A moment from a ``datetime`` or ISO text, in local time; ``None`` when it is none."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return local(value)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    try:
        return local(datetime.fromisoformat(str(value).strip()))
    except ValueError:
        return None


def local_date(value: Any) -> date | None:
    """The local date of a moment (``datetime`` or ISO text); a ``date`` is itself."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    moment = parse_moment(value)
    return None if moment is None else moment.date()


def format_moment(value: Any, *, seconds: bool = False) -> str:
    """"2026-12-01 00:00" (with ``seconds``: "2026-12-01 00:00:00"); "" for no moment."""
    moment = parse_moment(value)
    if moment is None:
        return "" if value in (None, "") else str(value)
    return moment.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


def format_date(value: Any) -> str:
    """"2026-12-01": the local date of a moment; "" for no date."""
    day = local_date(value)
    if day is None:
        return "" if value in (None, "") else str(value)
    return day.isoformat()
