"""Field lists for the door-to-door phase of a campaign (入户核对名单): PDF and Excel.

The campaign workflow calls these with plain dicts, so they work from the web app, a
management command or a test alike::

    pdf = render_field_list_pdf(village, persons, campaign)          # printable A4, Chinese
    parts = render_field_list_parts(village, persons, campaign, split_by="group")
    xlsx = build_field_workbook(village, persons, campaign)          # offline Excel round trip
    parsed = read_field_workbook(uploaded_bytes)                     # see _fieldworkbook.py

Inputs (extra keys are ignored):

``village``
    ``code`` (12 digits), ``name``; optional ``township_name``, ``county_name``.
``persons``
    one dict per registered person: ``person_id``, ``household_no``, ``name``, ``sex``
    (``M``/``F``), ``birth_date`` (date or ISO text), ``id_number``, ``relation`` (与户主关系,
    e.g. ``户主``), ``residence_type`` (snapshot code or Chinese); optional ``address``
    (door plate) and ``group_code`` (15-digit 村民小组 code).
``campaign``
    ``id``, ``name``; optional ``reference_moment``, ``show_full_id`` (default False: IDs are
    printed masked, ``4111**********0134``; the campaign decides).

CJK text needs a font with Chinese glyphs: the stylesheet names ``Noto Sans CJK SC`` (Debian
package fonts-noto-cjk, installed by ``make system-deps``) by family; nothing is downloaded.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from popreg.campaigns._fieldlist_rows import OUTCOMES as OUTCOMES
from popreg.campaigns._fieldlist_rows import RESIDENCE_TYPES_ZH as RESIDENCE_TYPES_ZH
from popreg.campaigns._fieldlist_rows import SEX_ZH as SEX_ZH
from popreg.campaigns._fieldlist_rows import FieldListError as FieldListError
from popreg.campaigns._fieldlist_rows import as_date as as_date
from popreg.campaigns._fieldlist_rows import format_date, sort_persons
from popreg.core.population import REGISTERED, sql_types
from popreg.core.privacy import mask_id

_CSS = Path(__file__).parent / "templates" / "campaigns" / "print" / "field_list.css"


def _require(mapping: Mapping[str, Any], keys: Iterable[str], what: str) -> None:
    missing = [k for k in keys if mapping.get(k) in (None, "")]
    if missing:
        raise FieldListError(
            f"{what}缺少{'、'.join(missing)} / {what} lacks {', '.join(missing)}"
        )


# ---------------------------------------------------------------------------------------
# splitting by group or door-plate range

_PLATE = re.compile(r"(\d+)\s*号")


def door_plate_number(address: str | None) -> int | None:
    """The door-plate number of an address (the last ``N号``), e.g. 东关村3组12号 → 12."""
    if not address:
        return None
    found = _PLATE.findall(address)
    if found:
        return int(found[-1])
    digits = re.findall(r"\d+", address)
    return int(digits[-1]) if digits else None


@dataclass(frozen=True)
class FieldListPart:
    """One printable part of a village list: a group or a door-plate range."""

    key: str
    label: str
    persons: tuple[Mapping[str, Any], ...]


def split_persons(
    persons: Sequence[Mapping[str, Any]],
    by: str,
    *,
    plate_ranges: Sequence[tuple[int, int]] | None = None,
    plate_range_size: int = 50,
    group_names: Mapping[str, str] | None = None,
) -> list[FieldListPart]:
    """Split a village's persons by ``group`` (村民小组 code) or ``door_plate`` ranges.

    A household stays whole: it goes where its head (first member) goes.  With
    ``door_plate`` and no ``plate_ranges``, ranges of ``plate_range_size`` plates are used.
    Persons without a group or plate number end up in a last part "未分组" / "无门牌号".
    """
    if by not in ("group", "door_plate"):
        raise FieldListError(
            f"不支持的拆分方式“{by}”：应为 group(按村民小组)或 door_plate(按门牌号段)/ "
            f"unknown split {by!r}: use 'group' or 'door_plate'"
        )
    households: dict[str, list[Mapping[str, Any]]] = {}
    for p in sort_persons(persons):
        households.setdefault(str(p.get("household_no") or ""), []).append(p)
    buckets: dict[str, list[Mapping[str, Any]]] = {}
    labels: dict[str, str] = {}
    order: dict[str, tuple[int, str]] = {}
    for members in households.values():
        head = members[0]
        if by == "group":
            code = str(head.get("group_code") or "")
            key = code or "~none"
            labels[key] = (
                (group_names or {}).get(code) or (f"第{int(code[-3:])}组" if code[-3:].isdigit() else code)
                if code else "未分组"
            )
            order[key] = (0 if code else 1, code)
        else:
            plate = door_plate_number(head.get("address"))
            if plate is None:
                key, labels[key] = "~none", "无门牌号"
                order[key] = (1, "")
            else:
                lo, hi = _plate_range(plate, plate_ranges, plate_range_size)
                key = f"{lo:06d}-{hi:06d}" if lo >= 0 else "~other"
                labels[key] = f"{lo}–{hi}号" if lo >= 0 else "其他门牌号"
                order[key] = (0 if lo >= 0 else 1, key)
        buckets.setdefault(key, []).extend(members)
    return [
        FieldListPart(key=k, label=labels[k], persons=tuple(buckets[k]))
        for k in sorted(buckets, key=lambda k: order[k])
    ]


def _plate_range(
    plate: int, ranges: Sequence[tuple[int, int]] | None, size: int
) -> tuple[int, int]:
    if ranges:
        for lo, hi in ranges:
            if lo <= plate <= hi:
                return lo, hi
        return -1, -1
    if size < 1:
        raise FieldListError("门牌号段大小至少为1 / plate_range_size must be at least 1")
    lo = (plate - 1) // size * size + 1 if plate > 0 else 0
    return lo, lo + size - 1 if plate > 0 else size - 1


# ---------------------------------------------------------------------------------------
# PDF


def _person_rows(persons: Sequence[Mapping[str, Any]], show_full_id: bool) -> list[dict[str, Any]]:
    """Rows for the template: a household header row before the members of each household."""
    rows: list[dict[str, Any]] = []
    current = None
    for n, p in enumerate(persons, start=1):
        household = str(p.get("household_no") or "")
        if household != current:
            current = household
            rows.append({"household": True, "household_no": household,
                         "address": p.get("address") or ""})
        rows.append({
            "household": False,
            "n": n,
            "household_no": household,
            "name": p.get("name") or "",
            "sex": SEX_ZH.get(str(p.get("sex") or ""), p.get("sex") or ""),
            "birth_date": format_date(p.get("birth_date")),
            "id_number": (p.get("id_number") or "") if show_full_id else mask_id(p.get("id_number")),
            "relation": p.get("relation") or "",
            "residence_type": RESIDENCE_TYPES_ZH.get(str(p.get("residence_type") or ""),
                                                     p.get("residence_type") or ""),
        })
    return rows


def _context(
    village: Mapping[str, Any], campaign: Mapping[str, Any], parts: Sequence[FieldListPart]
) -> dict[str, Any]:
    show_full = bool(campaign.get("show_full_id", False))
    place = "".join(str(village.get(k) or "") for k in ("county_name", "township_name"))
    return {
        "css": _CSS.read_text(encoding="utf-8"),
        "village": village,
        "campaign": campaign,
        "place": place,
        "reference_moment": format_date(campaign.get("reference_moment")),
        "show_full_id": show_full,
        "outcome_labels": list(OUTCOMES.values()),
        "parts": [
            {"label": part.label, "rows": _person_rows(part.persons, show_full),
             "count": len(part.persons),
             "households": len({p.get("household_no") for p in part.persons})}
            for part in parts
        ],
    }


class _GlyphWatch:
    """Collects WeasyPrint's ".notdef glyph rendered" warnings: characters no font has."""

    def __enter__(self) -> list[str]:
        import logging

        self.missing: list[str] = []
        missing = self.missing

        class _Handler(logging.Handler):
            def emit(self, record: logging.LogRecord) -> None:
                message = record.getMessage()
                if ".notdef" in message:
                    missing.append(message)

        self.handler = _Handler(logging.WARNING)
        self.logger = logging.getLogger("weasyprint")
        self.logger.addHandler(self.handler)
        return missing

    def __exit__(self, *exc: object) -> None:
        self.logger.removeHandler(self.handler)


def _html(village: Mapping[str, Any], campaign: Mapping[str, Any], parts: Sequence[FieldListPart]) -> str:
    from django.template.loader import render_to_string

    _require(village, ("code", "name"), "村(居)信息 / village")
    _require(campaign, ("id", "name"), "清查活动 / campaign")
    return str(render_to_string("campaigns/print/field_list.html", _context(village, campaign, parts)))


#: Label of the part that lists the in-migrants living in the village (migrants).
RESIDENTS_LABEL = "居住在本村的流入人口"


def _parts(persons: Sequence[Mapping[str, Any]], split_by: str | None,
           plate_ranges: Sequence[tuple[int, int]] | None, plate_range_size: int) -> list[FieldListPart]:
    # The people living in the village but registered elsewhere (floating_in) come last, in
    # their own part: they are checked at their door too, but are not the village's register.
    residents = [p for p in persons if p.get("residence_type") == "floating_in"]
    registered = [p for p in persons if p.get("residence_type") != "floating_in"]
    if split_by:
        parts = list(split_persons(registered, split_by, plate_ranges=plate_ranges,
                                   plate_range_size=plate_range_size))
    else:
        parts = [FieldListPart("all", "", tuple(sort_persons(registered)))] if registered or not residents else []
    if residents:
        parts.append(FieldListPart("residents", RESIDENTS_LABEL, tuple(sort_persons(residents))))
    return parts


def residents_of(village_code: str, exclude: Iterable[Any] = ()) -> list[dict[str, Any]]:
    """The in-migrants living in the village (active, ``floating_in``, residence unit in the
    village), read from the live registry, as field-list persons; ``exclude``: person_ids
    already on the list.  Their migrant record adds the address they gave here."""
    from popreg.migrants.models import InMigrant, InMigrantStatus
    from popreg.registry.models import Person

    skip = {int(x) for x in exclude if x is not None}
    addresses = dict(InMigrant.objects.filter(status=InMigrantStatus.ACTIVE,
                                              residence_unit_id__startswith=village_code[:12])
                     .values_list("person_id", "address"))
    out = []
    for p in (Person.objects.filter(status="active", merged_into__isnull=True, residence_type="floating_in",
                                    residence_unit_id__startswith=village_code[:12])
              .exclude(pk__in=skip).order_by("id")):
        out.append({"person_id": p.pk, "household_no": "", "name": p.name, "sex": p.sex,
                    "birth_date": p.birth_date, "id_number": p.id_number or "", "relation": "",
                    "residence_type": "floating_in", "address": addresses.get(p.pk, ""), "group_code": ""})
    return out


def field_list_html(
    village: Mapping[str, Any],
    persons: Sequence[Mapping[str, Any]],
    campaign: Mapping[str, Any],
    *,
    split_by: str | None = None,
) -> str:
    """The HTML of :func:`render_field_list_pdf`, for the export layer to stamp and render.

    The campaign's list of the registry (``persons``) gains the in-migrants living in the
    village now (:func:`residents_of`), in a last part of their own."""
    residents = residents_of(str(village["code"]), (p.get("person_id") for p in persons))
    return _html(village, campaign, _parts([*persons, *residents], split_by, None, 50))


def _render(village: Mapping[str, Any], campaign: Mapping[str, Any],
            parts: Sequence[FieldListPart], strict: bool) -> bytes:
    from weasyprint import HTML

    html = _html(village, campaign, parts)
    with _GlyphWatch() as missing:
        pdf: bytes = HTML(string=html).write_pdf()
    if missing and strict:
        chars = "；".join(dict.fromkeys(m.split(":", 1)[-1].strip() for m in missing))
        raise FieldListError(
            f"名单中有字体无法显示的字符：{chars}；请安装 fonts-noto-cjk 或更正该姓名 / "
            f"characters no installed font can draw: {chars}"
        )
    return pdf


def render_field_list_pdf(
    village: Mapping[str, Any],
    persons: Sequence[Mapping[str, Any]],
    campaign: Mapping[str, Any],
    *,
    split_by: str | None = None,
    plate_ranges: Sequence[tuple[int, int]] | None = None,
    plate_range_size: int = 50,
    strict: bool = False,
) -> bytes:
    """One A4 landscape PDF for the village; with ``split_by`` each part starts a new page.

    ``strict``: raise :class:`FieldListError` when a character has no glyph in any installed
    font (it would print as an empty box) instead of writing the PDF.
    """
    return _render(village, campaign, _parts(persons, split_by, plate_ranges, plate_range_size), strict)


def render_field_list_parts(
    village: Mapping[str, Any],
    persons: Sequence[Mapping[str, Any]],
    campaign: Mapping[str, Any],
    *,
    split_by: str,
    plate_ranges: Sequence[tuple[int, int]] | None = None,
    plate_range_size: int = 50,
    strict: bool = False,
) -> list[tuple[FieldListPart, bytes]]:
    """One PDF per group or door-plate range (each with its own page numbers)."""
    parts = split_persons(persons, split_by, plate_ranges=plate_ranges,
                          plate_range_size=plate_range_size)
    return [(part, _render(village, campaign, [part], strict)) for part in parts]


def field_list_from_snapshot(
    snapshot_dir: str | Path, village_code: str
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """``(village, persons)`` of a village's field list, read from a snapshot.

    The list holds the village's registered population (active, residence type
    ``registered`` or ``floating_out``, registered in the village or one of its groups), then
    the people living in the village but registered elsewhere (active ``floating_in`` with
    their residence unit in the village).
    """
    from popreg.snapshot.connection import connect

    with connect(snapshot_dir, tables=("units", "households", "persons")) as con:
        found = con.rows(
            """SELECT v.name, t.name, c.name FROM units v
               LEFT JOIN units t ON t.unit_code = v.parent_code
               LEFT JOIN units c ON c.unit_code = t.parent_code
               WHERE v.unit_code = ?""",
            [village_code],
        )
        if not found:
            raise FieldListError(f"快照中没有村（居）{village_code} / village {village_code} is not in the snapshot")
        cols = {r[0] for r in con.rows("DESCRIBE households")}
        head = "h.head_person_id" if "head_person_id" in cols else "NULL"
        rows = con.rows(
            f"""SELECT p.person_id, h.household_no, p.name, p.sex, p.birth_date, p.id_number,
                      CASE WHEN {head} = p.person_id THEN '户主' ELSE '' END, p.residence_type,
                      h.address, CASE WHEN length(p.registered_unit) = 15 THEN p.registered_unit END
               FROM persons p LEFT JOIN households h USING (household_id)
               WHERE p.status = 'active' AND ((p.residence_type IN ({sql_types(REGISTERED)})
                 AND substr(p.registered_unit, 1, 12) = ?) OR (p.residence_type = 'floating_in'
                 AND substr(p.residence_unit, 1, 12) = ? AND substr(p.registered_unit, 1, 12) <> ?))
               ORDER BY p.person_id""",
            [village_code, village_code, village_code],
        )
    name, township, county = found[0]
    village = {"code": village_code, "name": name, "township_name": township or "",
               "county_name": county or ""}
    keys = ("person_id", "household_no", "name", "sex", "birth_date", "id_number", "relation",
            "residence_type", "address", "group_code")
    return village, [dict(zip(keys, r, strict=True)) for r in rows]


def build_field_workbook(
    village: Mapping[str, Any], persons: Sequence[Mapping[str, Any]], campaign: Mapping[str, Any]
) -> bytes:
    """The offline Excel workbook (see :mod:`popreg.campaigns._fieldworkbook`)."""
    from popreg.campaigns._fieldworkbook import build_workbook  # openpyxl and Django: on use

    return build_workbook(village, persons, campaign)


def fill_field_workbook(
    wb: Any, village: Mapping[str, Any], persons: Sequence[Mapping[str, Any]], campaign: Mapping[str, Any]
) -> None:
    """Fill ``wb`` with the offline workbook, for the export layer (which neutralises and
    stamps it); see :mod:`popreg.campaigns._fieldworkbook`."""
    from popreg.campaigns._fieldworkbook import fill_workbook  # openpyxl and Django: on use

    fill_workbook(wb, village, persons, campaign)


def read_field_workbook(data: bytes) -> Any:
    """Parse and validate a filled workbook (see :mod:`popreg.campaigns._fieldworkbook`)."""
    from popreg.campaigns._fieldworkbook import read_workbook  # openpyxl and Django: on use

    return read_workbook(data)
