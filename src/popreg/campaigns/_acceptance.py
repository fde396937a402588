"""Acceptance: the seeded spot check of each village and the sign-off up the hierarchy
(village, township, county; the county's locks the township).  Public through
:mod:`popreg.campaigns.actions`.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from popreg.campaigns._common import (
    acting_user,
    campaign_error,
    check_phase,
    check_unlocked,
    fresh_campaign,
    unit_names,
    village_unit,
)
from popreg.campaigns.models import Campaign, FieldOutcome, ListedPerson, Phase, SignOff, SpotCheck
from popreg.campaigns.queries import (
    in_scope,
    open_items,
    prefix_of,
    scope_villages,
    village_checked,
)
from popreg.registry.access import Actor
from popreg.registry.audit import AuditAction, audit
from popreg.registry.models import AdminUnit
from popreg.registry.policy import Permission
from popreg.registry.vocabulary import chinese_label

# ---------------------------------------------------------------- acceptance


@transaction.atomic
def do_draw_spot_check(actor: Actor, campaign: Campaign, village_code: str) -> list[SpotCheck]:
    """Draw the village's spot-check sample: households with checked persons, seeded, so the
    same campaign and village always give the same households.  Drawing again returns the
    sample already drawn."""
    campaign = Campaign.objects.get(pk=campaign.pk)
    unit = village_unit(village_code)
    # the township or the county draws: never the village clerk whose work is checked
    actor.require(Permission.CAMPAIGN_ACCEPTANCE, unit.code)
    check_phase(campaign, (Phase.SUMMARY,), "抽查", "draw a spot check")
    check_unlocked(campaign, unit.code)
    existing = list(SpotCheck.objects.filter(campaign=campaign, unit=unit))
    if existing:
        return existing
    households = sorted({
        h for h in ListedPerson.objects.filter(
            campaign=campaign, unit=unit, household__isnull=False,
            person_id__in=FieldOutcome.objects.filter(campaign=campaign, unit=unit).values("person_id"),
        ).values_list("household_id", flat=True)
    })
    rng = random.Random(f"{campaign.seed}:{unit.code}")
    sample = sorted(rng.sample(households, min(campaign.spot_check_households, len(households))))
    checks = [SpotCheck.objects.create(campaign=campaign, unit=unit, household_id=h) for h in sample]
    audit(actor, AuditAction.CAMPAIGN_DRAW_SPOT_CHECK, campaign, unit_code=unit.code,
                   after={"households": sample}, detail={"seed": campaign.seed})
    return checks


@transaction.atomic
def do_record_spot_check(actor: Actor, spot_check: SpotCheck | int, *, agrees: bool, note: str = "") -> SpotCheck:
    """Record the re-verification of one sampled household: does it agree with the field outcomes?"""
    pk = spot_check if isinstance(spot_check, int) else spot_check.pk
    sc = SpotCheck.objects.select_for_update(of=("self",)).select_related("campaign").get(pk=pk)
    # the township or the county re-checks: never the village clerk whose work is checked
    actor.require(Permission.CAMPAIGN_ACCEPTANCE, sc.unit_id)
    check_phase(sc.campaign, (Phase.SUMMARY,), "录入抽查结果", "record a spot check")
    check_unlocked(sc.campaign, sc.unit_id)
    if own_work(actor, sc):
        raise campaign_error("该户的入户核对结果是您本人录入的，抽查须由其他人员复核",
                             "you recorded this household's door-to-door results; someone else must re-check it",
                             "result")
    if SignOff.objects.filter(campaign=sc.campaign, unit_id=sc.unit_id).exists():
        raise campaign_error("该村已签字验收，抽查结果不能再改", "the village is signed off; the spot check is final", "result")
    if not agrees and not (note or "").strip():
        raise campaign_error("复核不一致时请在备注中说明差错", "describe the error in the note", "note")
    before = {"result": sc.result}
    sc.result = SpotCheck.Result.AGREES if agrees else SpotCheck.Result.DIFFERS
    sc.note, sc.checked_by, sc.checked_at = (note or "").strip()[:200], acting_user(actor), timezone.now()
    sc.save()
    audit(actor, AuditAction.CAMPAIGN_RECORD_SPOT_CHECK, sc, unit_code=sc.unit_id, before=before,
                   after={"result": sc.result, "note": sc.note})
    return sc


def own_work(actor: Actor, spot_check: SpotCheck) -> bool:
    """Did the actor record a door-to-door result of the sampled household?  Then someone
    else must re-check it."""
    user = acting_user(actor)
    if user is None:
        return False
    persons = ListedPerson.objects.filter(campaign_id=spot_check.campaign_id, unit_id=spot_check.unit_id,
                                          household_id=spot_check.household_id).values("person_id")
    return FieldOutcome.objects.filter(campaign_id=spot_check.campaign_id, person_id__in=persons,
                                       recorded_by=user).exists()


@dataclass
class Acceptance:
    sampled: int
    checked: int
    errors: int
    threshold: float

    @property
    def error_rate(self) -> float:
        return self.errors / self.checked if self.checked else 0.0

    @property
    def complete(self) -> bool:
        return self.checked == self.sampled

    @property
    def passed(self) -> bool:
        return self.complete and self.error_rate < self.threshold


def spot_check_result(campaign: Campaign, village_code: str) -> Acceptance:
    checks = list(SpotCheck.objects.filter(campaign=campaign, unit_id=village_code).values_list("result", flat=True))
    done = [r for r in checks if r != SpotCheck.Result.PENDING]
    return Acceptance(len(checks), len(done), sum(r == SpotCheck.Result.DIFFERS for r in done), campaign.error_threshold)


@transaction.atomic
def do_sign_off(actor: Actor, campaign: Campaign, unit_code: str, *, level: str, note: str = "") -> SignOff:
    """Sign off a unit up the hierarchy.

    - ``village`` on a village: everyone on its list checked, no open item, spot check
      drawn, complete and with an error rate under the campaign's threshold;
    - ``township`` on a township: every village of it in scope signed at village level;
    - ``county`` on a township: the township signed; only county staff.  Locks the
      township's campaign data (and its villages').
    """
    c = fresh_campaign(campaign)
    check_phase(c, (Phase.SUMMARY,), "签字验收", "sign off")
    try:
        unit = AdminUnit.objects.get(code=(unit_code or "").strip())
    except AdminUnit.DoesNotExist:
        raise campaign_error(f"单位代码 {unit_code} 不存在", f"unit {unit_code} does not exist", "unit") from None
    # a village signs its own list; a township and the county sign above it
    above_village: dict[str, Permission] = {
        SignOff.Level.TOWNSHIP: Permission.CAMPAIGN_ACCEPTANCE,
        SignOff.Level.COUNTY: Permission.CAMPAIGN_COUNTY_SIGN_OFF,
    }
    needed = above_village.get(level, Permission.CAMPAIGN_FIELDWORK)
    actor.require(needed, unit.code)
    check_unlocked(c, unit.code)
    if not in_scope(c, unit.code) and not any(v.code.startswith(prefix_of(unit)) for v in scope_villages(c)):
        raise campaign_error(f"{unit.name} 不在本次整顿范围内", f"{unit.name} is outside the campaign's scope", "unit")
    if SignOff.objects.filter(campaign=c, unit=unit, level=level).exists():
        raise campaign_error(f"{unit.name} 已有{chinese_label(SignOff.Level(level))}签字", f"{unit.name} is already signed off at {level} level", "level")
    if level == SignOff.Level.VILLAGE:
        if unit.level != "village":
            raise campaign_error("村级签字只针对村(居)委会", "a village sign-off is for a village", "level")
        listed, checked = village_checked(c, unit.code)
        if checked < listed:
            raise campaign_error(f"{unit.name} 还有 {listed - checked} 人未核对", f"{unit.name}: {listed - checked} persons are not checked yet", "unit")
        n_open = open_items(c, unit.code)
        if n_open:
            raise campaign_error(f"{unit.name} 还有 {n_open} 个整改事项未办结", f"{unit.name}: {n_open} items are still open", "unit")
        acc = spot_check_result(c, unit.code)
        if listed and acc.sampled == 0:
            raise campaign_error("请先抽取并复核抽查户", "draw and re-verify the spot-check sample first", "spot_check")
        if not acc.complete:
            raise campaign_error(f"抽查户还有 {acc.sampled - acc.checked} 户未复核", f"{acc.sampled - acc.checked} sampled households are not re-verified", "spot_check")
        if acc.sampled and not acc.passed:
            raise campaign_error(f"抽查差错率 {acc.error_rate:.1%} 未低于上限 {c.error_threshold:.1%}，验收不通过，请重新核对后再抽查",
                       f"spot-check error rate {acc.error_rate:.1%} is not under {c.error_threshold:.1%}", "spot_check")
    elif level == SignOff.Level.TOWNSHIP:
        if unit.level != "township":
            raise campaign_error("乡镇级签字只针对乡镇(街道)", "a township sign-off is for a township", "level")
        villages = {v.code for v in scope_villages(c) if v.code.startswith(prefix_of(unit))}
        signed = set(SignOff.objects.filter(campaign=c, level=SignOff.Level.VILLAGE, unit_id__in=villages).values_list("unit_id", flat=True))
        missing = unit_names(sorted(villages - signed))
        if missing:
            raise campaign_error(f"以下村尚未村级签字：{'、'.join(missing)}", f"villages not signed off yet: {', '.join(missing)}", "unit")
    elif level == SignOff.Level.COUNTY:
        if unit.level != "township":
            raise campaign_error("县级签字逐个乡镇进行，请选择乡镇", "the county signs off township by township", "level")
        if not SignOff.objects.filter(campaign=c, unit=unit, level=SignOff.Level.TOWNSHIP).exists():
            raise campaign_error(f"{unit.name} 尚未乡镇级签字", f"{unit.name} has no township sign-off yet", "unit")
    else:
        raise campaign_error("签字层级应为 村级、乡镇级 或 县级", "level must be village, township or county", "level")
    s = SignOff.objects.create(campaign=c, unit=unit, level=level, signed_by=acting_user(actor),
                               signer_name=actor.name, note=(note or "").strip()[:200])
    audit(actor, AuditAction.CAMPAIGN_SIGN_OFF, s, unit_code=unit.code, after={"level": level, "note": s.note},
                   detail={"campaign": c.pk})
    return s
