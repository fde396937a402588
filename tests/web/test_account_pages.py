"""The pages of users and roles, API tokens and the second factor, in both languages."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from popreg.registry.models import ApiToken, Assignment, AuditRecord

from ..conftest import VILLAGE_A1

GOOD = "晴天-river-4471-lantern"


def test_admin_manages_users_through_the_pages(login, users):
    c = login("admin")
    page = c.get("/users/")
    assert page.status_code == 200 and "clerk_a1" in page.content.decode() and "新建用户" in page.content.decode()
    r = c.post("/users/new/", {"username": "xinren", "full_name": "王芳", "role": "village_clerk",
                               "unit_code": VILLAGE_A1, "password": GOOD})
    assert r.status_code == 302
    new = get_user_model().objects.get(username="xinren")
    assert Assignment.objects.get(user=new).unit_id == VILLAGE_A1
    # a weak password is refused next to its field, nothing is created
    r = c.post("/users/new/", {"username": "ruo", "role": "village_clerk", "unit_code": VILLAGE_A1,
                               "password": "12345678"})
    assert r.status_code == 400 and "密码不符合要求" in r.content.decode()
    assert not get_user_model().objects.filter(username="ruo").exists()
    assert c.post(f"/users/{new.pk}/password/", {"password": GOOD + "x"}).status_code == 302
    assert c.post(f"/users/{new.pk}/deactivate/").status_code == 302
    new.refresh_from_db()
    assert not new.is_active and new.check_password(GOOD + "x")
    assert {"create_user", "assign_role", "reset_password", "deactivate_user"} <= set(
        AuditRecord.objects.values_list("action", flat=True))


def test_user_pages_in_english(login, users):
    c = login("admin")
    c.cookies["django_language"] = "en"
    body = c.get("/users/").content.decode()
    assert "Create a user" in body and "Reset password" in body


@pytest.mark.parametrize("name", ["clerk_a1", "officer_a", "statistician", "auditor"])
def test_user_pages_refused_for_non_admins(login, users, name):
    c = login(name)
    before = AuditRecord.objects.count()
    assert c.get("/users/").status_code == 403
    assert c.post("/users/new/", {"username": "x", "role": "auditor", "unit_code": VILLAGE_A1,
                                  "password": GOOD}).status_code == 403
    assert c.post(f"/users/{users['clerk_b1'].pk}/deactivate/").status_code == 403
    assert c.post(f"/users/{users['clerk_b1'].pk}/password/", {"password": GOOD}).status_code == 403
    users["clerk_b1"].refresh_from_db()
    assert users["clerk_b1"].is_active and AuditRecord.objects.count() == before


def test_token_page_creates_shows_once_and_revokes(login, users, client):
    c = login("clerk_a1")
    r = c.post("/tokens/", {"name": "nightly", "days": 7})
    assert r.status_code == 200
    secret = r.context["secret"]
    assert secret.startswith("prg_") and secret in r.content.decode()
    assert secret not in c.get("/tokens/").content.decode()  # shown once
    token = ApiToken.objects.get(owner=users["clerk_a1"])
    assert c.post(f"/tokens/{token.pk}/revoke/").status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None
    # another user cannot revoke someone else's token
    other = login("clerk_b1")
    t2 = ApiToken.objects.create(owner=users["clerk_a1"], name="x", prefix="prg_x", digest="0" * 64,
                                 expires_at=token.expires_at)
    assert other.post(f"/tokens/{t2.pk}/revoke/").status_code == 403


def test_second_factor_required_in_production_for_admins_and_auditors(login, users, settings):
    from django_otp.oath import totp
    from django_otp.plugins.otp_totp.models import TOTPDevice

    settings.POPREG_DEPLOYMENT = "production"
    c = login("admin")
    r = c.get("/")
    assert r.status_code == 302 and r["Location"].startswith("/otp/")
    assert c.get("/api/units").status_code == 403
    page = c.get("/otp/")
    assert page.status_code == 200 and page.context["enrolling"]
    device = TOTPDevice.objects.get(user=users["admin"])
    assert c.post("/otp/", {"code": "000000" if totp(device.bin_key) != 0 else "111111"}).status_code == 400
    device.refresh_from_db()
    device.throttle_reset()  # a failure throttles the device for a second; the test needn't wait
    code = f"{totp(device.bin_key, step=device.step, digits=device.digits):06d}"
    r = c.post("/otp/?next=/users/", {"code": code})
    assert r.status_code == 302 and r["Location"] == "/users/"
    device.refresh_from_db()
    assert device.confirmed
    assert c.get("/").status_code == 200


def test_second_factor_not_required_for_clerks_nor_in_development(login, users, settings):
    settings.POPREG_DEPLOYMENT = "production"
    assert login("clerk_a1").get("/").status_code == 200
    settings.POPREG_DEPLOYMENT = "development"
    assert login("auditor").get("/").status_code == 200
