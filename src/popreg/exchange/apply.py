"""What incoming exchange messages do (the handler of every message type).

The transport (``popreg.exchange.inbox``) verifies, de-duplicates and drops stale messages,
then calls the handler registered here for the message's type, inside a transaction,
with the system actor.  A handler never inserts a person: it links the message's subject
to a local record and changes that record through the action layer, or sends the message
to the review queue (``popreg.exchange.review``).

At the place of registration (户籍地), ``migrant_registered``, ``migrant_moved`` and
``permit_issued`` say where one of our registered persons lives: exactly one confident
link → :func:`popreg.migrants.actions.record_whereabouts` (``floating_out``, the sender's
unit as an external residence unit, confirmed on the message's date, source
``notification``), then the reply to the sender, ``whereabouts_confirmed`` or
``record_corrected`` when our record's name, ID number, sex or birth date differ from the
subject's.  ``migrant_departed`` keeps the person ``floating_out`` with the destination
unknown.

At the place of residence (居住地), ``whereabouts_confirmed`` marks the in-migrant's origin
confirmed and ``record_corrected`` corrects the in-migrant's recorded identity with the
registry's correction action.

Linking (:func:`link_subject`) uses the linkage engine's comparisons and the m/u
probabilities of its shipped model (``docs/linkage.md``), evaluated here in Python for one
incoming record against the few local records found by the engine's blocking keys (region
+ birth date of the ID number, pinyin + birth year or month-day, name + village), each an
indexed query: a Splink run per message would cost seconds, this a few queries
(bench/bench_exchange_linking.py gives the cost, precision and recall).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cache
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from popreg.core import idnumber, names
from popreg.registry.access import Actor
from popreg.registry.audit import AuditAction, audit
from popreg.registry.errors import RegistryError
from popreg.registry.models import Person, ResidenceType, Status
from popreg.registry.policy import Permission

# --- the subject of a message ------------------------------------------------------------

#: Message types sent by the place of residence to the place of registration.
WHEREABOUTS_TYPES = ("migrant_registered", "migrant_moved", "permit_issued")
#: Replies of the place of registration.
REPLY_TYPES = ("whereabouts_confirmed", "record_corrected")

#: A link is made when one candidate reaches this match probability and no other
#: candidate reaches :data:`PLAUSIBLE`; anything less confident goes to review.
CONFIDENT = 0.9
PLAUSIBLE = 0.4  # the shipped model's own threshold for duplicates
#: Candidates listed for review (best first).
REVIEW_CANDIDATES = 5
REVIEW_MIN_PROBABILITY = 0.001
#: Most local records scored for one subject (a common name without a birth date).
MAX_SCORED = 200


@dataclass(frozen=True)
class Subject:
    """The person a message is about, as the sender holds them."""

    id_number: str = ""
    name: str = ""
    sex: str = ""
    birth_date: date | None = None
    village_code: str = ""  # our village of registration, when the sender knows it

    @classmethod
    def from_message(cls, subject: Mapping[str, Any], payload: Mapping[str, Any] | None = None,
                     local_code: str = "") -> Subject:
        payload = payload or {}
        sex = str(subject.get("sex") or "").strip().upper()
        sex = {"男": "M", "女": "F", "1": "M", "2": "F"}.get(sex, sex)
        origin = str(payload.get("origin_unit") or subject.get("registered_unit") or "").strip()
        village = origin if len(origin) == 12 and origin.isdigit() and origin.startswith(local_code) else ""
        return cls(
            id_number=str(subject.get("id_number") or "").strip(),
            name=str(subject.get("name") or "").strip(),
            sex=sex if sex in ("M", "F") else "",
            birth_date=_parse_date(subject.get("birth_date")),
            village_code=village if local_code else "",
        )


def _parse_date(value: Any) -> date | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    from popreg.linkage.prepare import parse_birth_date

    return parse_birth_date(value)


# --- the linkage engine's comparisons, for one pair -------------------------------------


@dataclass(frozen=True)
class _Prepared:
    """The pre-computed columns of ``popreg.linkage.prepare`` for one record."""

    name_norm: str | None
    surname: str | None
    readings: frozenset[str]
    id_norm: str | None
    id18: str | None
    id_valid: bool
    dob: date | None
    sex: str | None
    village: str | None


def _prepare(id_number: str | None, name: str | None, sex: str | None, birth: date | None,
             village: str | None) -> _Prepared:
    norm = idnumber.normalize(id_number or "") or None
    id18: str | None = None
    valid = False
    if norm and len(norm) == 15 and norm.isdigit():
        try:
            id18 = idnumber.upgrade_15_to_18(norm)
        except ValueError:
            id18 = None
    elif norm and len(norm) == 18 and norm[:17].isdigit():
        id18 = norm
        valid = idnumber.check_character(norm[:17]) == norm[17]
    name_norm = names.normalize_name(name) or None
    surname = names.split_surname(name_norm)[0] or None if name_norm else None
    readings = frozenset(names.pinyin_readings(name_norm)) if name_norm else frozenset()
    return _Prepared(name_norm, surname, readings, norm, id18, valid, birth, sex or None, village or None)


def _levenshtein(a: str, b: str, transpositions: bool = False) -> int:
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb))
            if transpositions and i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        prev2, prev = prev, cur
    return prev[-1]


def _swapped(d: date) -> date | None:
    if d.day > 12 or d.day == d.month:
        return None
    try:
        return date(d.year, d.day, d.month)
    except ValueError:
        return None


def comparison_levels(left: _Prepared, right: _Prepared) -> dict[str, str]:
    """The level reached by each comparison of ``popreg.linkage.comparisons`` (its labels)."""
    out: dict[str, str] = {}
    # name
    if left.name_norm is None or right.name_norm is None:
        out["name"] = "null"
    elif left.name_norm == right.name_norm:
        out["name"] = "same characters"
    elif left.readings & right.readings:
        out["name"] = "same reading (homophone / variant)"
    elif (left.surname and left.surname == right.surname
          and abs(len(left.name_norm) - len(right.name_norm)) <= 1
          and max(len(left.name_norm), len(right.name_norm)) >= 3
          and _levenshtein(left.name_norm, right.name_norm) <= 1):
        # The engine's level asks for equal lengths; between two deployments a given-name
        # character left out (徐倩艳 / 徐艳) is seen as well, and weighs the same (m 1e-7).
        out["name"] = "one given-name character differs"
    else:
        out["name"] = "different"
    # id_number
    if left.id_norm is None or right.id_norm is None:
        out["id_number"] = "null"
    elif left.id_norm == right.id_norm:
        out["id_number"] = "same number"
    elif left.id18 is not None and left.id18 == right.id18:
        out["id_number"] = "same after 15 to 18 upgrade"
    elif left.id_valid and right.id_valid and (left.id18 or "")[:14] == (right.id18 or "")[:14]:
        out["id_number"] = "both valid, only sequence differs (twins / namesakes)"
    elif left.id_valid and right.id_valid:
        out["id_number"] = "both valid, different"
    elif left.id18 and right.id18 and _levenshtein(left.id18, right.id18, transpositions=True) <= 1:
        out["id_number"] = "one typo or adjacent transposition (not both valid)"
    else:
        out["id_number"] = "different"
    # birth_date
    a, b = left.dob, right.dob
    if a is None or b is None:
        out["birth_date"] = "null"
    elif a == b:
        out["birth_date"] = "same date"
    elif _swapped(a) == b or _swapped(b) == a:
        out["birth_date"] = "day and month exchanged"
    elif abs((a - b).days) <= 1:
        out["birth_date"] = "one day apart"
    elif (a.month, a.day) == (b.month, b.day) and abs(a.year - b.year) == 1:
        out["birth_date"] = "one year apart, same day"
    else:
        out["birth_date"] = "different"
    # sex
    if left.sex is None or right.sex is None:
        out["sex"] = "null"
    else:
        out["sex"] = "same" if left.sex == right.sex else "different"
    # address (village of registration; no household number in a message)
    if left.village is None or right.village is None:
        out["address"] = "null"
    elif left.village == right.village:
        out["address"] = "same village"
    elif left.village[:9] == right.village[:9]:
        out["address"] = "same township"
    else:
        out["address"] = "different township"
    return out


# A wrong sex code is a known register error (docs/linkage.md leaves sex out of the
# hospital-birth match for that reason); the shipped model, trained on records that never
# carry it, gives "different" an m of 1e-18, which would let one wrong code veto an exact
# ID number, name and birth date.  Between two deployments the floor below applies.
_M_FLOOR = {("sex", "different"): 1e-3}


@cache
def _weights() -> tuple[float, dict[str, dict[str, float]]]:
    """(log2 prior odds, {comparison: {level label: log2 Bayes factor}}) of the shipped model."""
    from popreg.linkage.model import load_model

    model = load_model()
    settings = model.splink or {}
    lam = float(settings.get("probability_two_random_records_match", 1e-5))
    weights: dict[str, dict[str, float]] = {}
    for comp in settings.get("comparisons", []):
        levels: dict[str, float] = {}
        for level in comp["comparison_levels"]:
            if level.get("is_null_level"):
                continue
            label = str(level.get("label_for_charts", ""))
            m = max(float(level["m_probability"]), _M_FLOOR.get((comp["output_column_name"], label), 0.0))
            u = float(level["u_probability"])
            levels[label] = math.log2(m / u)
        weights[comp["output_column_name"]] = levels
    return math.log2(lam / (1 - lam)), weights


def match_weight(levels: Mapping[str, str]) -> float:
    prior, weights = _weights()
    total = prior
    for comparison, label in levels.items():
        if label != "null":
            total += weights[comparison][label]
    return total


def _probability(weight: float) -> float:
    if weight > 60:
        return 1.0
    if weight < -60:
        return 0.0
    odds: float = 2.0**weight
    return odds / (1 + odds)


# --- linking a subject to local persons ---------------------------------------------------


@dataclass
class Candidate:
    person: Person
    probability: float
    weight: float
    levels: dict[str, str]

    def as_json(self) -> dict[str, Any]:
        p = self.person
        return {
            "person_id": p.pk,
            "name": p.name,
            "id_number": p.id_number or "",
            "sex": p.sex,
            "birth_date": p.birth_date.isoformat() if p.birth_date else "",
            "registered_unit": p.registered_unit_id,
            "residence_type": p.residence_type,
            "probability": round(self.probability, 6),
            "weight": round(self.weight, 2),
            "levels": self.levels,
        }


@dataclass
class Link:
    """The result of linking one subject: ``linked`` (``person`` set), ``review`` or
    ``unmatched`` (``candidates`` best first, for the review queue)."""

    status: str
    person: Person | None = None
    candidates: list[Candidate] = field(default_factory=list)
    reason: str = ""

    def candidates_json(self) -> list[dict[str, Any]]:
        return [c.as_json() for c in self.candidates]


def linkable_persons() -> Any:
    """Local records a notification about one of our registered persons may concern:
    active, not merged, registered here (an in-migrant's record belongs to its origin)."""
    return Person.objects.filter(status=Status.ACTIVE, merged_into__isnull=True).exclude(
        residence_type__in=(ResidenceType.FLOATING_IN, ResidenceType.FOREIGN)
    )


def _prefix(field: str, key: str) -> Q:
    """Rows whose ``field`` starts with ``key``, as a range the btree index serves (see
    ``popreg.registry.search._prefix``)."""
    return Q(**{f"{field}__startswith": key, f"{field}__gte": key, f"{field}__lt": key + "\U0010ffff"})


def _candidates(subject: Subject, prepared: _Prepared, base: Any) -> list[Person]:
    """The engine's blocking rules (docs/linkage.md) for one record, each as a query one
    index serves (an OR of them would scan the table): same region and birth date in the
    ID (covers the same number and the same first 17 characters: a wrong check character
    or a typo in the sequence, and brings twins and namesakes in, to be scored apart); a
    legacy or malformed number as written; same pinyin key with the same birth year or
    month-day (ID missing or mistyped; traditional forms and homophones share the key);
    same name in the same village."""
    found: dict[int, Person] = {}
    rows = base.select_related("registered_unit")
    queries = []
    if prepared.id18:  # the range holds the number itself too
        queries.append(rows.filter(_prefix("id_number", prepared.id18[:14])))
    if prepared.id_norm and prepared.id_norm != prepared.id18:
        queries.append(rows.filter(id_number=prepared.id_norm))
    if prepared.name_norm:
        same_key = rows.filter(name_pinyin=names.pinyin_key(prepared.name_norm))
        b = subject.birth_date
        if b is not None:  # evaluated on the rows of the name_pinyin index only
            same_key = same_key.filter(Q(birth_date__range=(date(b.year, 1, 1), date(b.year, 12, 31)))
                                       | Q(birth_date__month=b.month, birth_date__day=b.day)
                                       | Q(birth_date__isnull=True))
        queries.append(same_key)
        if subject.village_code:
            queries.append(rows.filter(name_key=prepared.name_norm, registered_unit_id=subject.village_code))
    for q in queries:
        for p in q.order_by()[:MAX_SCORED]:
            found.setdefault(p.pk, p)
    return [found[k] for k in sorted(found)[:MAX_SCORED]]


def score_candidates(subject: Subject, persons: Iterable[Person]) -> list[Candidate]:
    """Every person scored against ``subject``, best first."""
    left = _prepare(subject.id_number, subject.name, subject.sex, subject.birth_date,
                    subject.village_code)
    out = []
    for p in persons:
        right = _prepare(p.id_number, p.name, p.sex, p.birth_date,
                         p.registered_unit_id if left.village else None)
        levels = comparison_levels(left, right)
        w = match_weight(levels)
        out.append(Candidate(p, _probability(w), w, levels))
    out.sort(key=lambda c: (-c.weight, c.person.pk))
    return out


#: ID-number levels that say "the same number, as written or with one slip".
ID_AGREES = frozenset({"same number", "same after 15 to 18 upgrade",
                       "one typo or adjacent transposition (not both valid)"})


NEAR_DATES = frozenset({"day and month exchanged", "one day apart", "one year apart, same day"})


def _firm(c: Candidate, base: Any) -> bool:
    """Without an ID number that agrees, a link needs the same birth date and the same
    name (or a homophone), or the same written name held by no one else here with a birth
    date one slip away.  The model scores every name alike (no term frequencies here):
    a common name one year off is too often someone else whose own record we do not hold,
    and a wrong link moves a person (measured: bench/bench_exchange_linking.py)."""
    if c.levels["id_number"] in ID_AGREES:
        return True
    name, born = c.levels["name"], c.levels["birth_date"]
    if born == "same date" and name in ("same characters", "same reading (homophone / variant)"):
        return True
    if born in NEAR_DATES and name == "same characters" and c.person.name_key:
        return int(base.filter(name_key=c.person.name_key).count()) == 1
    return False


def link_subject(subject: Subject, persons: Any = None) -> Link:
    """Link an incoming subject to one local person, or say why not.

    ``linked`` when exactly one candidate reaches :data:`CONFIDENT`, no other reaches
    :data:`PLAUSIBLE` and the link is firm (:func:`_firm`); ``review`` when some candidate
    is plausible or shares the ID number
    (a near ID number is only ever a candidate: it links when name, sex and birth date
    carry it over the threshold); ``unmatched`` otherwise.
    """
    prepared = _prepare(subject.id_number, subject.name, subject.sex, subject.birth_date,
                        subject.village_code)
    if not (prepared.id_norm or prepared.name_norm):
        return Link("unmatched", reason="no_identity")
    base = linkable_persons() if persons is None else persons
    found = _candidates(subject, prepared, base)
    scored = score_candidates(subject, found)
    plausible = [c for c in scored if c.probability >= PLAUSIBLE]
    listed = [c for c in scored if c.probability >= REVIEW_MIN_PROBABILITY
              or c.levels["id_number"] in ("same number", "same after 15 to 18 upgrade")]
    listed = listed[:REVIEW_CANDIDATES]
    if len(plausible) == 1 and plausible[0].probability >= CONFIDENT and _firm(plausible[0], base):
        return Link("linked", person=plausible[0].person, candidates=plausible)
    if len(plausible) > 1:
        return Link("review", candidates=listed, reason="several_candidates")
    if listed:
        return Link("review", candidates=listed, reason="not_confident")
    return Link("unmatched", reason="no_candidate")


# --- replies -----------------------------------------------------------------------------


def _iso(d: date | None) -> str:
    return d.isoformat() if d else ""


def identity_differences(person: Person, subject: Subject) -> dict[str, dict[str, str]]:
    """Fields where our record (authoritative at the place of registration) differs from
    the subject as the sender holds it: ``{field: {"from": theirs, "to": ours}}``."""
    out: dict[str, dict[str, str]] = {}
    ours_id = person.id_number or ""
    theirs_id = idnumber.normalize(subject.id_number) if subject.id_number else ""
    if len(theirs_id) == 15 and theirs_id.isdigit():
        with contextlib.suppress(ValueError):
            theirs_id = idnumber.upgrade_15_to_18(theirs_id)
    if ours_id and ours_id != theirs_id:
        out["id_number"] = {"from": subject.id_number, "to": ours_id}
    if person.name and person.name.strip() != subject.name.strip():
        out["name"] = {"from": subject.name, "to": person.name}
    if person.birth_date and person.birth_date != subject.birth_date:
        out["birth_date"] = {"from": _iso(subject.birth_date), "to": _iso(person.birth_date)}
    if person.sex and subject.sex and person.sex != subject.sex:
        out["sex"] = {"from": subject.sex, "to": person.sex}
    return out


def queue_reply(message: Any, person: Person) -> Any:
    """Queue ``whereabouts_confirmed`` or ``record_corrected`` to the sender of ``message``."""
    from popreg.exchange import outbox

    subject = Subject.from_message(message.subject or {}, message.payload or {})
    differences = identity_differences(person, subject)
    unit = person.registered_unit
    payload: dict[str, Any] = {
        "registered_unit": person.registered_unit_id,
        "registered_unit_name": unit.name if unit is not None else "",
        "name": person.name,
        "id_number": person.id_number or "",
        "sex": person.sex,
        "birth_date": _iso(person.birth_date),
        "your_ref": (message.payload or {}).get("ref", ""),
    }
    kind = "whereabouts_confirmed"
    if differences:
        kind = "record_corrected"
        payload["corrected"] = {k: v["to"] for k, v in differences.items()}
        payload["previous"] = {k: v["from"] for k, v in differences.items()}
    reply_subject = dict(message.subject or {})
    return outbox.queue(message.sender, kind, reply_subject, payload, in_reply_to=message.message_id)


# --- effects (shared by the handlers and the review decisions) -----------------------------


def message_date(message: Any) -> date:
    """The day the sender wrote the message (local date; never after today, whatever the
    sender's clock says)."""
    created = getattr(message, "created", None)
    if isinstance(created, datetime):
        day = timezone.localtime(created).date() if timezone.is_aware(created) else created.date()
    elif isinstance(created, date):
        day = created
    else:
        day = _parse_date(created) or timezone.localdate()
    return min(day, timezone.localdate())


def residence_unit_code(message: Any) -> str:
    """The sender's unit where the person lives: a code under the sender's own code
    (payload ``residence_unit``), else the sender's county itself as a 12-digit code."""
    sender = str(message.sender)
    code = str((message.payload or {}).get("residence_unit") or "").strip()
    if code.isdigit() and code.startswith(sender) and len(code) in (6, 9, 12):
        return code.ljust(12, "0")
    return sender.ljust(12, "0")[:12] if sender.isdigit() else code


def apply_whereabouts(actor: Actor, message: Any, person: Person) -> dict[str, Any]:
    """The person is linked: record where they live, then queue the reply."""
    from popreg.migrants import actions as migrants
    from popreg.migrants.models import OutMigrant

    payload = message.payload or {}
    code = residence_unit_code(message)
    on = message_date(message)
    known = OutMigrant.objects.filter(person=person).values_list("last_confirmed", flat=True).first()
    older = known is not None and on < known
    if not older:  # a newer confirmation (own report, campaign) stays; the reply still goes
        migrants.record_whereabouts(
            actor, person,
            residence_unit_code=code,
            residence_unit_name=str(payload.get("residence_unit_name") or ""),
            employer=str(payload.get("employer") or ""),
            contact=str(payload.get("contact") or ""),
            confirmed_on=on,
            source="notification",
        )  # fmt: skip
    reply = queue_reply(message, person)
    return {"person_id": person.pk, "residence_unit": code, "reply": reply.type,
            "reply_id": reply.message_id, "older_than_recorded": older}


def apply_departed(actor: Actor, message: Any, person: Person) -> dict[str, Any]:
    """The person left the sender's place: floating_out stays, destination unknown, the
    last confirmed date stays (:func:`popreg.migrants.actions.record_whereabouts_unknown`)."""
    from popreg.migrants import actions as migrants

    left = _parse_date((message.payload or {}).get("departure_date")) or message_date(message)
    here = person.residence_unit_id
    if person.residence_type != ResidenceType.FLOATING_OUT or (here and not here.startswith(str(message.sender))):
        # back home already, or known to live elsewhere since: the departure changes nothing
        return {"person_id": person.pk, "whereabouts": "unchanged", "left_on": left.isoformat()}
    migrants.record_whereabouts_unknown(actor, person, left_on=min(left, timezone.localdate()),
                                        source="notification")
    return {"person_id": person.pk, "whereabouts": "unknown", "left_on": left.isoformat()}


def confirm_origin(actor: Actor, person: Person, *, message: Any) -> None:
    """The place of registration confirmed this in-migrant (their reply is the record;
    this writes the audit line the person's history shows)."""
    actor.require(Permission.EDIT_REGISTRY, person.residence_unit_id)
    payload = message.payload or {}
    audit(actor, AuditAction.EXCHANGE_ORIGIN_CONFIRMED, person, unit_code=person.residence_unit_id or "",
          after={"registered_unit": payload.get("registered_unit", ""),
                 "registered_unit_name": payload.get("registered_unit_name", "")},
          detail={"message_id": message.message_id, "sender": message.sender, "type": message.type,
                  "corrected": sorted((payload.get("corrected") or {}).keys())})


def origin_confirmed(person: Person) -> Any:
    """The latest applied confirmation of an in-migrant's origin, if any."""
    from popreg.exchange.models import InboxMessage, InboxStatus

    return (InboxMessage.objects.filter(person=person, status=InboxStatus.APPLIED,
                                        type__in=("whereabouts_confirmed", "record_corrected"))
            .order_by("-created").first())


def apply_confirmed(actor: Actor, message: Any, person: Person) -> dict[str, Any]:
    """At the place of residence: the place of registration confirmed the in-migrant's
    origin (the applied message is the confirmation; audited)."""
    confirm_origin(actor, person, message=message)
    return {"person_id": person.pk, "origin_confirmed": True}


def apply_corrected(actor: Actor, message: Any, person: Person) -> dict[str, Any]:
    """At the place of residence: correct the in-migrant's identity as the origin holds it."""
    from popreg.registry.actions import do_correct_person

    payload = message.payload or {}
    corrected = dict(payload.get("corrected") or {})
    changes: dict[str, Any] = {}
    for key in ("name", "id_number", "sex"):
        if key in corrected and corrected[key] and corrected[key] != getattr(person, key):
            changes[key] = corrected[key]
    if "birth_date" in corrected:
        d = _parse_date(corrected["birth_date"])
        if d is not None and d != person.birth_date:
            changes["birth_date"] = d
    if changes:
        do_correct_person(
            actor, person, changes=changes,
            reason=f"户籍地 {message.sender} 更正通知 / correction notified by the place of "
                   f"registration {message.sender} (message {message.message_id})",
            correction_date=message_date(message),
        )  # fmt: skip
        person.refresh_from_db()
    result = apply_confirmed(actor, message, person)
    result["corrected"] = sorted(changes)
    return result


EFFECTS: dict[str, Callable[[Actor, Any, Person], dict[str, Any]]] = {
    "migrant_registered": apply_whereabouts,
    "migrant_moved": apply_whereabouts,
    "permit_issued": apply_whereabouts,
    "migrant_departed": apply_departed,
    "whereabouts_confirmed": apply_confirmed,
    "record_corrected": apply_corrected,
}


# --- finding the person a message is about ---------------------------------------------------


def in_migrants() -> Any:
    """Local in-migrant records (a reply from the place of registration concerns one)."""
    return Person.objects.filter(status=Status.ACTIVE, merged_into__isnull=True,
                                 residence_type=ResidenceType.FLOATING_IN)


def _local_code() -> str:
    from popreg.exchange import peers

    try:
        return peers.local_code()
    except RegistryError:
        return ""


def find_person(message: Any) -> Link:
    """The local person ``message`` is about (see :func:`link_subject`)."""
    subject = Subject.from_message(message.subject or {}, message.payload or {}, _local_code())
    if message.type not in REPLY_TYPES:
        return link_subject(subject)
    # A reply names our own record (``your_ref``: the reference we sent); it must still be
    # the in-migrant the subject describes.
    # Only in-migrants whose origin is the sender's county: a peer answers for its own people.
    theirs = in_migrants().filter(registered_unit_id__startswith=str(message.sender))
    ref = str((message.payload or {}).get("your_ref") or "")
    if ref.isdigit():
        person = theirs.filter(pk=int(ref)).select_related("registered_unit").first()
        if person is not None:
            scored = score_candidates(subject, [person])[0]
            if scored.probability >= CONFIDENT:
                return Link("linked", person=person, candidates=[scored])
    return link_subject(subject, theirs)


#: Why a message waits for review (stored on the inbox row, Chinese / English).
REASONS = {
    "no_identity": "通知中既无身份证号也无姓名 / the notification carries neither an ID number nor a name",
    "several_candidates": "有多名可能的候选人员，需人工确认 / several candidates match: a person decides",
    "not_confident": "候选人员的匹配程度不足以自动关联 / no candidate matches well enough to link automatically",
    "no_candidate": "本地找不到对应人员 / no local person matches",
}


# --- the handlers ----------------------------------------------------------------------------


def handle(actor: Actor, message: Any) -> Any:
    """The handler of every non-ack message type (registered with the transport below)."""
    from popreg.exchange.handlers import Outcome

    effect = EFFECTS.get(message.type)
    if effect is None:
        return Outcome("review", {"reason": "unknown_type"})
    link = find_person(message)
    message.candidates = link.candidates_json()
    if link.status != "linked" or link.person is None:
        message.reason = REASONS.get(link.reason, link.reason)
        detail = {"reason": link.reason, "candidates": len(link.candidates)}
        return Outcome("review", detail) if link.candidates else Outcome("unmatched", detail)
    try:
        with transaction.atomic():
            detail = effect(actor, message, link.person)
    except RegistryError as exc:
        # The registry refused the change (an ID number held by another record, a closed
        # record): a person decides.
        message.reason = f"登记库拒绝了这项更改：{exc.message_zh} / the registry refused the change: {exc.message_en}"
        return Outcome("review", {"reason": "refused", "error_zh": exc.message_zh,
                                  "error_en": exc.message_en})
    message.person = link.person
    detail["probability"] = round(link.candidates[0].probability, 6) if link.candidates else None
    return Outcome("applied", detail)


def register_handlers() -> None:
    from popreg.exchange import handlers

    for kind in EFFECTS:
        handlers.register(kind, handle)


register_handlers()
